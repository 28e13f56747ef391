//! Control-plane request codes: heartbeats and clients, consumer offsets, topic and group
//! administration, auto-creation of topics on send, orderly-consumption locks.

use ringmq_protocol::body::consumer::{
    ConsumerIdList, LockBatchRequestBody, LockBatchResponseBody, SubscriptionGroupConfig,
};
use ringmq_protocol::body::heartbeat::HeartbeatData;
use ringmq_protocol::body::topic_config::{TopicConfig, PERM_READ, PERM_WRITE};
use ringmq_protocol::body::JsonBody;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::admin::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, TopicRequestHeader,
};
use ringmq_protocol::header::client::{ConsumerGroupRequestHeader, UnregisterClientRequestHeader};
use ringmq_protocol::header::offset::{
    OffsetResponseHeader, QueryConsumerOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use ringmq_protocol::header::send::{ConsumerSendMsgBackRequestHeader, SendMessageRequestHeader};
use ringmq_protocol::{request_code as code, response_code};

use super::clients::ClientChannel;
use super::topics::{validate_topic_name, DLQ_PREFIX, RETRY_PREFIX};
use super::{ControlPlane, Outcome, QueueLock};
use crate::error::{not_supported, response, success, HandlerError};
use crate::message::{Origin, Response};
use crate::routing::SEND_BACK_RESOLVED;
use crate::shard::BrokerShard;

/// Ext key a re-routed QUERY_CONSUMER_OFFSET carries when the group has no offset, so the
/// queue's owner answers from the queue's state (RocketMQ's "min offset 0 and in memory").
pub(crate) const OFFSET_NOT_FOUND_MARK: &str = "_ringmqOffsetNotFound";

type ControlResult = Result<Outcome, HandlerError>;

fn reply(request: RemotingCommand, response: Response) -> Outcome {
    Outcome::Reply(request, response)
}

/// SUCCESS with no body.
fn acknowledge(request: RemotingCommand) -> Outcome {
    let answer = success(&request);
    Outcome::Reply(request, answer)
}

pub(super) fn handle(
    control: &mut ControlPlane,
    shard: &mut BrokerShard,
    origin: &Origin,
    request: RemotingCommand,
) -> Outcome {
    let result = match request.code {
        code::SEND_MESSAGE | code::SEND_MESSAGE_V2 | code::SEND_BATCH_MESSAGE => {
            auto_create_topic(control, shard, request.clone())
        }
        code::HEART_BEAT => heartbeat(control, shard, origin, request.clone()),
        code::CONSUMER_SEND_MSG_BACK => resolve_send_back(control, shard, request.clone()),
        code::UNREGISTER_CLIENT => unregister(control, shard, origin, request.clone()),
        code::GET_CONSUMER_LIST_BY_GROUP => consumer_list(control, request.clone()),
        code::QUERY_CONSUMER_OFFSET => query_offset(control, request.clone()),
        code::UPDATE_CONSUMER_OFFSET => update_offset(control, request.clone()),
        code::UPDATE_AND_CREATE_TOPIC => create_topic(control, shard, request.clone()),
        code::DELETE_TOPIC_IN_BROKER => delete_topic(control, shard, request.clone()),
        code::GET_ALL_TOPIC_CONFIG => {
            let mut answer = success(&request);
            answer.command.body = control.topics.wrapper().encode().into();
            Ok(reply(request.clone(), answer))
        }
        code::LOCK_BATCH_MQ => lock_batch(control, shard, request.clone(), true),
        code::UNLOCK_BATCH_MQ => lock_batch(control, shard, request.clone(), false),
        code::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => update_group(control, shard, request.clone()),
        code::DELETE_SUBSCRIPTIONGROUP => delete_group(control, shard, request.clone()),
        code::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => {
            let mut answer = success(&request);
            answer.command.body = control.groups.wrapper().encode().into();
            Ok(reply(request.clone(), answer))
        }
        code::GET_ALL_DELAY_OFFSET => {
            let mut answer = success(&request);
            answer.command.body = control.delay_offsets.wrapper().encode().into();
            Ok(reply(request.clone(), answer))
        }
        code::GET_ALL_CONSUMER_OFFSET => {
            let mut answer = success(&request);
            answer.command.body = control.offsets.wrapper().encode().into();
            Ok(reply(request.clone(), answer))
        }
        _ => crate::admin::handle(control, shard, origin, request.clone()),
    };
    result.unwrap_or_else(|error| {
        let answer = error.into_response(&request);
        Outcome::Reply(request, answer)
    })
}

/// A send to an unknown topic: create it from its default topic if allowed, then route it.
fn auto_create_topic(
    control: &mut ControlPlane,
    shard: &BrokerShard,
    request: RemotingCommand,
) -> ControlResult {
    let header = SendMessageRequestHeader::from_request(&request)?;
    validate_topic_name(&header.topic).map_err(HandlerError::MessageIllegal)?;
    if control.topics.get(&header.topic).is_none() {
        let created =
            if header.topic.starts_with(RETRY_PREFIX) || header.topic.starts_with(DLQ_PREFIX) {
                Some(retry_topic_config(&header.topic))
            } else if control.context.config.auto_create_topic {
                control.topics.inherit(
                    &header.topic,
                    &header.default_topic,
                    header.default_topic_queue_nums,
                    0,
                )
            } else {
                None
            };
        let Some(config) = created else {
            return Err(HandlerError::TopicNotExist(format!(
                "topic[{}] not exist, apply first please!",
                header.topic
            )));
        };
        put_topic(control, shard, config)?;
    }
    Ok(Outcome::Route(request))
}

/// CONSUMER_SEND_MSG_BACK, first step: the group must exist (or be auto-created) and its retry
/// topic too; then the request goes to the shard holding the record with the group's
/// maxReconsumeTimes attached (see `handlers::send_back`).
fn resolve_send_back(
    control: &mut ControlPlane,
    shard: &BrokerShard,
    mut request: RemotingCommand,
) -> ControlResult {
    let header = ConsumerSendMsgBackRequestHeader::from_command(&request)?;
    let now = shard.engine.now().as_i64();
    let auto = control.context.config.auto_create_subscription_group;
    let group = control
        .groups
        .find_or_create(&header.group, auto, now)
        .map_err(|error| HandlerError::System(error.to_string()))?
        .cloned()
        .ok_or_else(|| {
            HandlerError::SubscriptionGroupNotExist(format!(
                "subscription group not exist, {}",
                header.group
            ))
        })?;
    let retry_topic = format!("{RETRY_PREFIX}{}", header.group);
    if control.topics.get(&retry_topic).is_none() {
        put_topic(control, shard, retry_topic_config(&retry_topic))?;
    }
    let max = header.max_reconsume_times.unwrap_or(group.retry_max_times);
    request.ext_fields.insert(SEND_BACK_RESOLVED, max);
    Ok(Outcome::Route(request))
}

fn retry_topic_config(topic: &str) -> TopicConfig {
    TopicConfig {
        topic_name: topic.to_owned(),
        read_queue_nums: 1,
        write_queue_nums: 1,
        perm: PERM_READ | PERM_WRITE,
        ..TopicConfig::default()
    }
}

/// Persist a topic, publish it to the shards and re-register with the name servers.
pub(crate) fn put_topic(
    control: &mut ControlPlane,
    shard: &BrokerShard,
    config: TopicConfig,
) -> Result<(), HandlerError> {
    let now = shard.engine.now().as_i64();
    control
        .topics
        .put(config, now)
        .map_err(|error| HandlerError::System(format!("persisting topics.json failed: {error}")))?;
    control.mark_changed();
    control.register_now(shard.engine.monotonic());
    Ok(())
}

fn heartbeat(
    control: &mut ControlPlane,
    shard: &mut BrokerShard,
    origin: &Origin,
    request: RemotingCommand,
) -> ControlResult {
    let data = HeartbeatData::decode(&request.body)
        .map_err(|error| HandlerError::System(error.to_string()))?;
    let now = shard.engine.now().as_i64();
    let channel = ClientChannel {
        client_id: data.client_id.clone(),
        peer: origin.peer,
        language: request.language.clone(),
        version: request.version,
        last_heartbeat_ms: now,
    };
    let mut changed_groups = Vec::new();
    for consumer in &data.consumer_data_set {
        let auto = control.context.config.auto_create_subscription_group;
        control
            .groups
            .find_or_create(&consumer.group_name, auto, now)
            .map_err(|error| HandlerError::System(error.to_string()))?;
        let retry_topic = format!("{RETRY_PREFIX}{}", consumer.group_name);
        if control.topics.get(&retry_topic).is_none() {
            put_topic(control, shard, retry_topic_config(&retry_topic))?;
        }
        if control
            .clients
            .register_consumer(consumer, origin.connection, channel.clone())
        {
            changed_groups.push(consumer.group_name.clone());
        }
        control.mark_changed();
    }
    for producer in &data.producer_data_set {
        control
            .clients
            .register_producer(&producer.group_name, origin.connection, channel.clone());
    }
    for (connection, command) in control.consumer_ids_changed(&changed_groups) {
        shard.push_command(connection, command);
    }
    let mut answer = success(&request);
    answer
        .command
        .ext_fields
        .insert("IS_SUPPORT_HEART_BEAT_V2", true);
    answer.command.ext_fields.insert("IS_SUB_CHANGE", true);
    Ok(reply(request, answer))
}

fn unregister(
    control: &mut ControlPlane,
    shard: &mut BrokerShard,
    origin: &Origin,
    request: RemotingCommand,
) -> ControlResult {
    let header = UnregisterClientRequestHeader::from_command(&request)?;
    let changed = control.clients.unregister(
        origin.connection,
        header.producer_group.as_deref(),
        header.consumer_group.as_deref(),
    );
    if !changed.is_empty() {
        control.mark_changed();
        for (connection, command) in control.consumer_ids_changed(&changed) {
            shard.push_command(connection, command);
        }
    }
    Ok(acknowledge(request))
}

fn consumer_list(control: &ControlPlane, request: RemotingCommand) -> ControlResult {
    let header = ConsumerGroupRequestHeader::from_command(&request)?;
    let ids = control.clients.consumer_ids(&header.consumer_group);
    if ids.is_empty() {
        let remark = format!("no consumer for this group, {}", header.consumer_group);
        return Ok(reply(
            request.clone(),
            response(&request, response_code::SYSTEM_ERROR, Some(remark)),
        ));
    }
    let mut answer = success(&request);
    answer.command.body = ConsumerIdList {
        consumer_id_list: ids,
    }
    .encode()
    .into();
    Ok(reply(request, answer))
}

fn query_offset(control: &ControlPlane, mut request: RemotingCommand) -> ControlResult {
    let header = QueryConsumerOffsetRequestHeader::from_command(&request)?;
    if let Some(offset) =
        control
            .offsets
            .query(&header.topic, &header.consumer_group, header.queue_id)
    {
        let mut answer = success(&request);
        OffsetResponseHeader { offset }.write_to(&mut answer.command);
        return Ok(reply(request, answer));
    }
    if header.set_zero_if_not_found == Some(false) {
        let remark = "Not found, do not set to zero, maybe this group boot first".to_owned();
        return Ok(reply(
            request.clone(),
            response(&request, response_code::QUERY_NOT_FOUND, Some(remark)),
        ));
    }
    request.ext_fields.insert(OFFSET_NOT_FOUND_MARK, true);
    Ok(Outcome::Route(request))
}

fn update_offset(control: &mut ControlPlane, request: RemotingCommand) -> ControlResult {
    let header = UpdateConsumerOffsetRequestHeader::from_command(&request)?;
    control.offsets.commit(
        &header.topic,
        &header.consumer_group,
        header.queue_id,
        header.commit_offset,
    );
    if request.is_oneway() {
        return Ok(Outcome::NoReply);
    }
    Ok(acknowledge(request))
}

fn create_topic(
    control: &mut ControlPlane,
    shard: &BrokerShard,
    request: RemotingCommand,
) -> ControlResult {
    let header = CreateTopicRequestHeader::from_command(&request)?;
    validate_topic_name(&header.topic).map_err(HandlerError::InvalidParameter)?;
    if header.topic == super::topics::AUTO_CREATE_TOPIC && !control.context.config.auto_create_topic
    {
        return Err(HandlerError::NoPermission(
            "the topic TBW102 is a system topic".to_owned(),
        ));
    }
    if header.read_queue_nums <= 0 || header.write_queue_nums <= 0 {
        return Err(HandlerError::InvalidParameter(
            "readQueueNums and writeQueueNums must be positive".to_owned(),
        ));
    }
    let config = TopicConfig {
        topic_name: header.topic.clone(),
        read_queue_nums: header.read_queue_nums,
        write_queue_nums: header.write_queue_nums,
        perm: header.perm,
        topic_filter_type: header.topic_filter_type,
        topic_sys_flag: header.topic_sys_flag.unwrap_or(0),
        order: header.order,
        ..TopicConfig::default()
    };
    put_topic(control, shard, config)?;
    Ok(acknowledge(request))
}

fn delete_topic(
    control: &mut ControlPlane,
    shard: &BrokerShard,
    request: RemotingCommand,
) -> ControlResult {
    let header = TopicRequestHeader::from_command(&request)?;
    let now = shard.engine.now().as_i64();
    control
        .topics
        .remove(&header.topic, now)
        .map_err(|error| HandlerError::System(error.to_string()))?;
    control.offsets.remove_topic(&header.topic);
    control.mark_changed();
    control.register_now(shard.engine.monotonic());
    Ok(acknowledge(request))
}

fn update_group(
    control: &mut ControlPlane,
    shard: &BrokerShard,
    request: RemotingCommand,
) -> ControlResult {
    let config = SubscriptionGroupConfig::decode(&request.body)
        .map_err(|error| HandlerError::InvalidParameter(error.to_string()))?;
    if config.group_name.is_empty() {
        return Err(HandlerError::InvalidParameter(
            "groupName is empty".to_owned(),
        ));
    }
    for (key, value) in [
        ("brokerId", config.broker_id),
        (
            "whichBrokerWhenConsumeSlowly",
            config.which_broker_when_consume_slowly,
        ),
    ] {
        if value < 0 {
            return Err(HandlerError::InvalidParameter(format!(
                "{key}={value} of group {} names no broker: expected 0 (the master) or a \
                 slave's brokerId (1 and up)",
                config.group_name
            )));
        }
    }
    let now = shard.engine.now().as_i64();
    control
        .groups
        .put(config, now)
        .map_err(|error| HandlerError::System(error.to_string()))?;
    Ok(acknowledge(request))
}

fn delete_group(
    control: &mut ControlPlane,
    shard: &BrokerShard,
    request: RemotingCommand,
) -> ControlResult {
    let header = DeleteSubscriptionGroupRequestHeader::from_command(&request)?;
    let now = shard.engine.now().as_i64();
    control
        .groups
        .remove(&header.group_name, now)
        .map_err(|error| HandlerError::System(error.to_string()))?;
    if header.clean_offset == Some(true) {
        control.offsets.remove_group(&header.group_name);
    }
    Ok(acknowledge(request))
}

/// LOCK_BATCH_MQ / UNLOCK_BATCH_MQ: a queue is locked by one client of a group at a time.
fn lock_batch(
    control: &mut ControlPlane,
    shard: &BrokerShard,
    request: RemotingCommand,
    lock: bool,
) -> ControlResult {
    let body = LockBatchRequestBody::decode(&request.body)
        .map_err(|error| HandlerError::InvalidParameter(error.to_string()))?;
    let now = shard.engine.monotonic();
    let mut locked = Vec::new();
    for queue in body.mq_set {
        let key = (body.consumer_group.clone(), queue.clone());
        if !lock {
            if control
                .locks
                .get(&key)
                .is_some_and(|held| held.client_id == body.client_id)
            {
                control.locks.remove(&key);
            }
            continue;
        }
        let free = control
            .locks
            .get(&key)
            .is_none_or(|held| held.client_id == body.client_id);
        if free {
            control.locks.insert(
                key,
                QueueLock {
                    client_id: body.client_id.clone(),
                    renewed: now,
                },
            );
            locked.push(queue);
        }
    }
    let mut answer = success(&request);
    if lock {
        answer.command.body = LockBatchResponseBody {
            lock_ok_mq_set: locked,
        }
        .encode()
        .into();
    }
    Ok(reply(request, answer))
}

/// Codes neither the data plane nor the control plane handles.
pub(crate) fn unsupported(request: RemotingCommand) -> Outcome {
    let answer = not_supported(&request);
    reply(request, answer)
}
