//! Administration codes of the control plane that `mqadmin` and the dashboard use.
//!
//! Codes answered from control-plane state alone (configs, connections) reply at once; those
//! that need queue or store facts (topic stats, consume stats, runtime info, reset by time)
//! return a [`gather::Plan`] and are finished by [`finish`] once every shard answered; those
//! a consumer client answers (GET_CONSUMER_RUNNING_INFO, CONSUME_MESSAGE_DIRECTLY) are
//! resolved to the client's connection here and relayed by [`crate::relay`].

pub(crate) mod gather;
mod ha_status;
pub(crate) mod runtime_info;

use std::collections::BTreeMap;

use ringmq_engine::types::PhysicalOffset;
use ringmq_protocol::body::admin::{
    Connection, ConsumeStats, ConsumerConnection, GroupList, OffsetWrapper, ProducerConnection,
    ResetOffsetBody, TopicOffset, TopicStatsTable,
};
use ringmq_protocol::body::consumer::MessageQueue;
use ringmq_protocol::body::topic_config::{PERM_READ, PERM_WRITE};
use ringmq_protocol::body::JsonBody;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::admin::{
    GetBrokerConfigResponseHeader, GetConsumeStatsRequestHeader,
    GetProducerConnectionListRequestHeader, ResetOffsetRequestHeader, TopicRequestHeader,
};
use ringmq_protocol::header::client::{
    ConsumeMessageDirectlyResultRequestHeader, ConsumerGroupRequestHeader,
    GetConsumerRunningInfoRequestHeader,
};
use ringmq_protocol::mq_version::{version_desc, V3_1_8_SNAPSHOT};
use ringmq_protocol::{record, request_code as code, response_code};

use self::gather::{Finish, Gathered, Plan, QueueProbe, ShardQuery};
use crate::control::clients::ClientChannel;
use crate::control::{ControlPlane, Outcome};
use crate::error::{response, success, HandlerError};
use crate::message::{Origin, Response};
use crate::relay::RelayTarget;
use crate::shard::BrokerShard;

/// Broker settings UPDATE_BROKER_CONFIG may change while running.
const RUNTIME_KEYS: [&str; 1] = ["brokerPermission"];

pub(crate) fn handle(
    control: &mut ControlPlane,
    shard: &mut BrokerShard,
    _origin: &Origin,
    request: RemotingCommand,
) -> Result<Outcome, HandlerError> {
    match request.code {
        code::GET_BROKER_CONFIG => {
            let mut answer = success(&request);
            answer.command.body = control.context.config.print_all().into_bytes().into();
            GetBrokerConfigResponseHeader {
                version: control.topics.version().counter.to_string(),
            }
            .write_to(&mut answer.command);
            Ok(Outcome::Reply(request, answer))
        }
        code::UPDATE_BROKER_CONFIG => update_broker_config(control, shard, request),
        code::GET_BROKER_RUNTIME_INFO => {
            let now_ms = shard.engine.now().as_i64();
            let table = runtime_info::control_part(
                &control.context,
                &control.sampler,
                now_ms,
                control.delay_offsets.all(),
            );
            let plan = Plan {
                query: ShardQuery::Store,
                finish: Finish::RuntimeInfo(table),
            };
            Ok(Outcome::Gather(request, plan))
        }
        code::GET_BROKER_HA_STATUS => {
            let plan = Plan {
                query: ShardQuery::Ha,
                finish: Finish::HaStatus,
            };
            Ok(Outcome::Gather(request, plan))
        }
        code::GET_TOPIC_STATS_INFO => topic_stats(control, request),
        code::GET_TOPIC_CONFIG => topic_config(control, request),
        code::GET_CONSUMER_CONNECTION_LIST => consumer_connections(control, request),
        code::GET_PRODUCER_CONNECTION_LIST => producer_connections(control, request),
        code::GET_CONSUME_STATS => consume_stats(control, request),
        code::INVOKE_BROKER_TO_RESET_OFFSET => reset_offset(control, request),
        code::QUERY_TOPIC_CONSUME_BY_WHO => topic_consumers(control, request),
        code::GET_CONSUMER_RUNNING_INFO => {
            let header = GetConsumerRunningInfoRequestHeader::from_command(&request)?;
            let target = consumer_client(control, &header.consumer_group, &header.client_id)?;
            Ok(Outcome::Relay(request, target, None))
        }
        code::CONSUME_MESSAGE_DIRECTLY => consume_directly(control, request),
        _ => Ok(crate::control::unsupported(request)),
    }
}

/// The connection of client `client_id` of consumer group `group`, to relay a tool's request
/// to, or RocketMQ's refusal (`callConsumer`): not online, or a client older than V3_1_8.
fn consumer_client(
    control: &ControlPlane,
    group: &str,
    client_id: &str,
) -> Result<RelayTarget, HandlerError> {
    let found = control.clients.consumer_group(group).and_then(|members| {
        members
            .members
            .iter()
            .find(|(_, channel)| channel.client_id == client_id)
    });
    let Some((connection, channel)) = found else {
        return Err(HandlerError::System(format!(
            "The Consumer <{group}> <{client_id}> not online"
        )));
    };
    if channel.version < V3_1_8_SNAPSHOT {
        return Err(HandlerError::System(format!(
            "The Consumer <{client_id}> Version <{}> too low to finish, please upgrade it to \
             V3_1_8_SNAPSHOT",
            version_desc(channel.version)
        )));
    }
    Ok(RelayTarget {
        connection: *connection,
        peer: channel.peer,
        group: group.to_owned(),
        client_id: client_id.to_owned(),
    })
}

/// CONSUME_MESSAGE_DIRECTLY (309): the client consumes the stored message `msgId` (an
/// offsetMsgId) at once. The client gets the broker's name and the topic's and group's system
/// flags as RocketMQ adds them, and the record as the body.
fn consume_directly(
    control: &ControlPlane,
    mut request: RemotingCommand,
) -> Result<Outcome, HandlerError> {
    let header = ConsumeMessageDirectlyResultRequestHeader::from_command(&request)?;
    let client_id = header.client_id.clone().unwrap_or_default();
    let target = consumer_client(control, &header.consumer_group, &client_id)?;
    let msg_id = header.msg_id.as_deref().unwrap_or_default();
    let Some((_, offset)) = record::decode_offset_msg_id(msg_id) else {
        return Err(HandlerError::InvalidParameter(format!(
            "msgId [{msg_id}] is not an offsetMsgId (32 hex digits of store host and commitlog \
             offset)"
        )));
    };
    let offset = PhysicalOffset(u64::try_from(offset).unwrap_or(u64::MAX));
    if offset.shard().0 >= control.context.shard_count {
        return Err(HandlerError::System(format!(
            "can not find message by the offset, {}",
            offset.0
        )));
    }
    request
        .ext_fields
        .insert("brokerName", control.context.config.broker_name.as_str());
    let topic = header.topic.as_deref().filter(|topic| !topic.is_empty());
    if let Some(config) = topic.and_then(|topic| control.topics.get(topic)) {
        request
            .ext_fields
            .insert("topicSysFlag", config.topic_sys_flag);
    }
    if let Some(config) = control.groups.get(&header.consumer_group) {
        request
            .ext_fields
            .insert("groupSysFlag", config.group_sys_flag);
    }
    Ok(Outcome::Relay(request, target, Some(offset)))
}

/// The probes for queues `0..count` of `topic`.
fn probes(topic: &str, count: i32) -> Vec<QueueProbe> {
    (0..u32::try_from(count).unwrap_or(0))
        .map(|queue_id| QueueProbe {
            topic: topic.to_owned(),
            queue_id,
            at: None,
        })
        .collect()
}

fn topic_not_exist(topic: &str) -> HandlerError {
    HandlerError::TopicNotExist(format!("topic[{topic}] not exist"))
}

fn topic_stats(control: &ControlPlane, request: RemotingCommand) -> Result<Outcome, HandlerError> {
    let header = TopicRequestHeader::from_command(&request)?;
    let config = control
        .topics
        .get(&header.topic)
        .ok_or_else(|| topic_not_exist(&header.topic))?;
    let plan = Plan {
        query: ShardQuery::Queues(probes(&header.topic, config.write_queue_nums)),
        finish: Finish::TopicStats,
    };
    Ok(Outcome::Gather(request, plan))
}

fn topic_config(control: &ControlPlane, request: RemotingCommand) -> Result<Outcome, HandlerError> {
    let header = TopicRequestHeader::from_command(&request)?;
    let config = control
        .topics
        .get(&header.topic)
        .ok_or_else(|| topic_not_exist(&header.topic))?;
    let mut answer = success(&request);
    answer.command.body = config.encode().into();
    Ok(Outcome::Reply(request, answer))
}

fn connection(channel: &ClientChannel) -> Connection {
    Connection {
        client_addr: channel.peer.to_string(),
        client_id: channel.client_id.clone(),
        language: channel.language.name().to_owned(),
        version: channel.version,
    }
}

fn consumer_connections(
    control: &ControlPlane,
    request: RemotingCommand,
) -> Result<Outcome, HandlerError> {
    let header = ConsumerGroupRequestHeader::from_command(&request)?;
    let Some(group) = control.clients.consumer_group(&header.consumer_group) else {
        let remark = format!("the consumer group[{}] not online", header.consumer_group);
        let answer = response(&request, response_code::CONSUMER_NOT_ONLINE, Some(remark));
        return Ok(Outcome::Reply(request, answer));
    };
    let mut connections: Vec<Connection> = group.members.values().map(connection).collect();
    connections.sort();
    let body = ConsumerConnection {
        connection_set: connections,
        consume_from_where: Some(group.consume_from_where.clone()).filter(|v| !v.is_empty()),
        consume_type: Some(group.consume_type.clone()).filter(|v| !v.is_empty()),
        message_model: Some(group.message_model.clone()).filter(|v| !v.is_empty()),
        subscription_table: group.subscriptions.clone(),
    };
    let mut answer = success(&request);
    answer.command.body = body.encode().into();
    Ok(Outcome::Reply(request, answer))
}

fn producer_connections(
    control: &ControlPlane,
    request: RemotingCommand,
) -> Result<Outcome, HandlerError> {
    let header = GetProducerConnectionListRequestHeader::from_command(&request)?;
    let Some(members) = control.clients.producer_group(&header.producer_group) else {
        let remark = format!("the producer group[{}] not exist", header.producer_group);
        let answer = response(&request, response_code::SYSTEM_ERROR, Some(remark));
        return Ok(Outcome::Reply(request, answer));
    };
    let mut connections: Vec<Connection> = members.values().map(connection).collect();
    connections.sort();
    let mut answer = success(&request);
    answer.command.body = ProducerConnection {
        connection_set: connections,
    }
    .encode()
    .into();
    Ok(Outcome::Reply(request, answer))
}

/// QUERY_TOPIC_CONSUME_BY_WHO (300): groups online and subscribed to the topic, and groups with
/// committed offsets in it (RocketMQ's `queryTopicConsumeByWho` ∪ `whichGroupByTopic`).
fn topic_consumers(
    control: &ControlPlane,
    request: RemotingCommand,
) -> Result<Outcome, HandlerError> {
    let header = TopicRequestHeader::from_command(&request)?;
    let mut body = GroupList::default();
    for (group, topics) in control.clients.subscriptions() {
        if topics.contains_key(&header.topic) {
            body.group_list.insert(group);
        }
    }
    // Offset keys are `topic@group`; topic names cannot contain '@'. The copy is the price of
    // not widening the offset table's API for a rare admin request.
    for key in control.offsets.wrapper().offset_table.keys() {
        if let Some((topic, group)) = key.split_once('@') {
            if topic == header.topic {
                body.group_list.insert(group.to_owned());
            }
        }
    }
    let mut answer = success(&request);
    answer.command.body = body.encode().into();
    Ok(Outcome::Reply(request, answer))
}

fn consume_stats(
    control: &ControlPlane,
    request: RemotingCommand,
) -> Result<Outcome, HandlerError> {
    let header = GetConsumeStatsRequestHeader::from_command(&request)?;
    let group = header.consumer_group.clone();
    let topics = match header.topic.as_deref().filter(|topic| !topic.is_empty()) {
        Some(topic) => vec![topic.to_owned()],
        None => control.offsets.topics_of_group(&group),
    };
    let mut queue_probes = Vec::new();
    let mut committed = BTreeMap::new();
    for topic in topics {
        let Some(config) = control.topics.get(&topic) else {
            continue;
        };
        for mut probe in probes(&topic, config.read_queue_nums) {
            let queue = i32::try_from(probe.queue_id).unwrap_or(i32::MAX);
            let offset = control.offsets.query(&topic, &group, queue).unwrap_or(0);
            probe.at = u64::try_from(offset - 1).ok();
            committed.insert((topic.clone(), probe.queue_id), offset);
            queue_probes.push(probe);
        }
    }
    let plan = Plan {
        query: ShardQuery::GroupQueues {
            group,
            queues: queue_probes,
        },
        finish: Finish::ConsumeStats {
            committed,
            consume_tps: control.sampler.group_tps(&header.consumer_group),
        },
    };
    Ok(Outcome::Gather(request, plan))
}

fn reset_offset(control: &ControlPlane, request: RemotingCommand) -> Result<Outcome, HandlerError> {
    let header = ResetOffsetRequestHeader::from_command(&request)?;
    let config = control
        .topics
        .get(&header.topic)
        .ok_or_else(|| topic_not_exist(&header.topic))?;
    let mut queues = probes(&header.topic, config.read_queue_nums);
    if let Some(only) = header.queue_id.and_then(|queue| u32::try_from(queue).ok()) {
        queues.retain(|probe| probe.queue_id == only);
    }
    let plan = Plan {
        query: ShardQuery::OffsetsAt {
            queues,
            timestamp_ms: header.timestamp,
        },
        finish: Finish::ResetOffset {
            group: header.group,
            topic: header.topic,
            timestamp_ms: header.timestamp,
            offset: header.offset.filter(|offset| *offset >= 0),
        },
    };
    Ok(Outcome::Gather(request, plan))
}

/// UPDATE_BROKER_CONFIG (25): the body is `key=value` lines. Only [`RUNTIME_KEYS`] change at
/// run time; a request naming any other key is refused as a whole, saying which keys.
fn update_broker_config(
    control: &mut ControlPlane,
    shard: &BrokerShard,
    request: RemotingCommand,
) -> Result<Outcome, HandlerError> {
    let text = String::from_utf8_lossy(&request.body).into_owned();
    let settings: Vec<(String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('!'))
        .filter_map(|line| line.split_once(['=', ':']))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let refused: Vec<&str> = settings
        .iter()
        .map(|(key, _)| key.as_str())
        .filter(|key| !RUNTIME_KEYS.contains(key))
        .collect();
    if !refused.is_empty() {
        return Err(HandlerError::InvalidParameter(format!(
            "updateBrokerConfig: ringmq cannot change {} while running; set it in the broker's \
             .properties file and restart. Changeable at run time: {}",
            refused.join(", "),
            RUNTIME_KEYS.join(", ")
        )));
    }
    for (_, value) in &settings {
        let permission: i32 = value.parse().map_err(|_| {
            HandlerError::InvalidParameter(format!(
                "brokerPermission={value}: expected 2 (write), 4 (read) or 6 (read and write)"
            ))
        })?;
        control.broker_permission = permission & (PERM_READ | PERM_WRITE);
        control.mark_changed();
        control.register_now(shard.engine.monotonic());
        control.context.log.info(&format!(
            "brokerPermission changed to {} by updateBrokerConfig",
            control.broker_permission
        ));
    }
    let answer = success(&request);
    Ok(Outcome::Reply(request, answer))
}

fn message_queue(broker_name: &str, topic: &str, queue_id: u32) -> MessageQueue {
    MessageQueue {
        broker_name: broker_name.to_owned(),
        queue_id: i32::try_from(queue_id).unwrap_or(i32::MAX),
        topic: topic.to_owned(),
    }
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Build the reply of a gathered request (on the shard that scattered it).
pub(crate) fn finish(
    shard: &mut BrokerShard,
    request: &RemotingCommand,
    finish: Finish,
    gathered: Gathered,
) -> Response {
    let broker_name = shard.context.config.broker_name.clone();
    let body = match finish {
        Finish::TopicStats => {
            let mut table = TopicStatsTable::default();
            for (probe, facts) in gathered.queues {
                let queue = message_queue(&broker_name, &probe.topic, probe.queue_id);
                let offsets = TopicOffset {
                    last_update_timestamp: facts.last_store_ms,
                    max_offset: as_i64(facts.max),
                    min_offset: as_i64(facts.min),
                };
                table.offset_table.insert(queue, offsets);
            }
            table.encode()
        }
        Finish::ConsumeStats {
            committed,
            consume_tps,
        } => {
            let mut stats = ConsumeStats {
                consume_tps,
                ..ConsumeStats::default()
            };
            for (probe, facts) in gathered.queues {
                let consumer_offset = committed
                    .get(&(probe.topic.clone(), probe.queue_id))
                    .copied()
                    .unwrap_or(0);
                let queue = message_queue(&broker_name, &probe.topic, probe.queue_id);
                // RocketMQ: max(committed, the group's latest pull), so a group that commits
                // ahead of its pulls shows no negative in-flight figure.
                let pulled = facts.pulled.map_or(consumer_offset, as_i64);
                let wrapper = OffsetWrapper {
                    broker_offset: as_i64(facts.max),
                    consumer_offset,
                    last_timestamp: facts.at_store_ms,
                    pull_offset: consumer_offset.max(pulled),
                };
                stats.offset_table.insert(queue, wrapper);
            }
            stats.encode()
        }
        Finish::ResetOffset {
            group,
            topic,
            timestamp_ms,
            offset,
        } => reset_offsets(shard, &group, &topic, timestamp_ms, offset, gathered).encode(),
        Finish::RuntimeInfo(mut table) => {
            runtime_info::complete(&mut table, &gathered.store);
            ringmq_protocol::body::kv_table::KvTable { table }.encode()
        }
        Finish::HaStatus => {
            let config = &shard.context.config;
            ha_status::runtime_info(
                config.broker_role,
                u64::from(config.ha_max_gap_not_in_sync),
                shard.engine.now().as_i64(),
                &gathered.ha,
            )
            .encode()
        }
    };
    let mut answer = success(request);
    answer.command.body = body.into();
    answer
}

/// Commit the offsets found for the reset, then tell the group's online members
/// (RESET_CONSUMER_CLIENT_OFFSET, 220) so they drop their in-memory progress.
fn reset_offsets(
    shard: &mut BrokerShard,
    group: &str,
    topic: &str,
    timestamp_ms: i64,
    explicit: Option<i64>,
    gathered: Gathered,
) -> ResetOffsetBody {
    let broker_name = shard.context.config.broker_name.clone();
    let mut body = ResetOffsetBody::default();
    for (probe, facts) in gathered.queues {
        let offset = explicit.unwrap_or(as_i64(facts.offset_at));
        let offset = offset.clamp(as_i64(facts.min), as_i64(facts.max));
        let queue = message_queue(&broker_name, &probe.topic, probe.queue_id);
        body.offset_table.insert(queue, offset);
    }
    let Some(control) = shard.control.as_mut() else {
        return body;
    };
    for (queue, offset) in &body.offset_table {
        control
            .offsets
            .commit(topic, group, queue.queue_id, *offset);
    }
    let members: Vec<_> = control
        .clients
        .consumer_group(group)
        .map(|group| group.members.keys().copied().collect())
        .unwrap_or_default();
    for connection in members {
        let mut command = RemotingCommand::request(code::RESET_CONSUMER_CLIENT_OFFSET);
        ResetOffsetRequestHeader {
            group: group.to_owned(),
            topic: topic.to_owned(),
            timestamp: timestamp_ms,
            ..ResetOffsetRequestHeader::default()
        }
        .write_to(&mut command);
        command.body = body.encode().into();
        shard.push_command(connection, command);
    }
    body
}
