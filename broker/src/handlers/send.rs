//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320) on the queue's
//! owning shard.
//!
//! Validation follows RocketMQ's codes: topic rules and forbidden topics (NO_PERMISSION),
//! write permission (NO_PERMISSION), queue range (INVALID_PARAMETER), body and properties
//! size (MESSAGE_ILLEGAL). With ASYNC_FLUSH the reply goes out once the record's O_DIRECT
//! write completed (RocketMQ's page-cache write: it survives a process crash); with
//! SYNC_FLUSH (and the message's WAIT not false) it waits until an fdatasync covers the
//! record, or answers FLUSH_DISK_TIMEOUT after `syncFlushTimeout` (the record stays stored).
//!
//! A message with a `DELAY` level is not stored in its topic: it is re-routed, as an internal
//! send, to queue `level - 1` of `SCHEDULE_TOPIC_XXXX` with `REAL_TOPIC`/`REAL_QID` set, and
//! [`crate::schedule`] delivers it to its real queue when the level's delay has passed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use ringmq_engine::types::PhysicalOffset;
use ringmq_protocol::body::topic_config::{TopicConfig, PERM_WRITE};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::send::{SendMessageRequestHeader, SendMessageResponseHeader};
use ringmq_protocol::record::{self, MessageDraft, PROPERTIES_BYTES_MAX};
use ringmq_protocol::{batch, properties, request_code, response_code};

use super::Handled;
use crate::config::{BrokerRole, FlushDiskType};
use crate::context::Counters;
use crate::control::topics::{is_forbidden_for_send, validate_topic_name, SCHEDULE_TOPIC};
use crate::error::{success, HandlerError};
use crate::message::{Origin, Response};
use crate::routing::{INTERNAL_BORN_HOST, INTERNAL_SEND};
use crate::shard::{BrokerShard, PendingAck, ReplicaWait};

/// Region name RocketMQ reports when none is configured.
const DEFAULT_REGION: &str = "DefaultRegion";

/// Check the topic and queue of a send against the topic's config.
pub(crate) fn check_topic(
    shard: &BrokerShard,
    header: &SendMessageRequestHeader,
    internal: bool,
) -> Result<TopicConfig, HandlerError> {
    validate_topic_name(&header.topic).map_err(HandlerError::MessageIllegal)?;
    if is_forbidden_for_send(&header.topic) && !internal {
        return Err(HandlerError::NoPermission(format!(
            "Sending message to topic[{}] is forbidden.",
            header.topic
        )));
    }
    let Some(config) = shard.snapshot.topic(&header.topic).cloned() else {
        return Err(HandlerError::TopicNotExist(format!(
            "topic[{}] not exist, apply first please!",
            header.topic
        )));
    };
    if config.perm & PERM_WRITE == 0 || shard.snapshot.broker_permission & PERM_WRITE == 0 {
        return Err(HandlerError::NoPermission(format!(
            "the broker[{}] sending message is forbidden",
            shard.context.broker_addr()
        )));
    }
    let queues = config.read_queue_nums.max(config.write_queue_nums);
    if header.queue_id >= queues {
        return Err(HandlerError::InvalidParameter(format!(
            "request queueId[{}] is illegal, {config:?} Producer: {}",
            header.queue_id, header.producer_group
        )));
    }
    Ok(config)
}

/// A UNIQ_KEY for messages that arrive without one (5.x brokers add it too).
fn unique_key(shard: &BrokerShard, sequence: u64) -> String {
    let ip = match shard.context.store_host.ip() {
        std::net::IpAddr::V4(ip) => Some(ip.octets()),
        std::net::IpAddr::V6(_) => None,
    };
    unique_key_of(
        ip,
        std::process::id(),
        shard.index,
        shard.engine.now().0,
        sequence,
    )
}

/// Upper-case hex of: the IPv4 store host (nothing for IPv6), the pid's and the shard's low
/// 16 bits, and the wall clock's and the sequence's low 32 bits.
fn unique_key_of(ip: Option<[u8; 4]>, pid: u32, shard: u16, wall: u64, sequence: u64) -> String {
    let mut key = String::with_capacity(32);
    if let Some(ip) = ip {
        record::push_hex_upper(&ip, &mut key);
    }
    let mut rest = [0u8; 12];
    rest[..2].copy_from_slice(&pid.to_be_bytes()[2..]);
    rest[2..4].copy_from_slice(&shard.to_be_bytes());
    rest[4..8].copy_from_slice(&wall.to_be_bytes()[4..]);
    rest[8..].copy_from_slice(&sequence.to_be_bytes()[4..]);
    record::push_hex_upper(&rest, &mut key);
    key
}

fn check_sizes(shard: &BrokerShard, body: &[u8], properties: &str) -> Result<(), HandlerError> {
    let max = usize::try_from(shard.context.config.max_message_bytes).unwrap_or(usize::MAX);
    if body.len() > max {
        return Err(HandlerError::MessageIllegal(format!(
            "the message body size over max value, MAX: {max}"
        )));
    }
    if properties.len() > PROPERTIES_BYTES_MAX {
        return Err(HandlerError::MessageIllegal(format!(
            "the message properties size over max value, MAX: {PROPERTIES_BYTES_MAX}"
        )));
    }
    Ok(())
}

/// One message to append: body and properties (with UNIQ_KEY) as stored.
struct Outgoing<'a> {
    flag: i32,
    body: &'a [u8],
    properties: String,
}

pub(crate) fn handle(
    shard: &mut BrokerShard,
    origin: &Origin,
    request: &RemotingCommand,
) -> Handled {
    let header = SendMessageRequestHeader::from_request(request)?;
    check_topic(shard, &header, request.ext(INTERNAL_SEND).is_some())?;
    let header_properties = header.properties.clone().unwrap_or_default();
    if request.code != request_code::SEND_BATCH_MESSAGE && header.topic != SCHEDULE_TOPIC {
        if let Some(level) = delay_level(shard, &header_properties) {
            check_sizes(shard, &request.body, &header_properties)?;
            let scheduled = to_schedule_queue(request, &header, &header_properties, level);
            shard.on_request(origin.clone(), scheduled);
            return Ok(None);
        }
    }
    let messages = if request.code == request_code::SEND_BATCH_MESSAGE {
        let entries = batch::decode(&request.body)
            .map_err(|error| HandlerError::MessageIllegal(error.to_string()))?;
        if entries.is_empty() {
            return Err(HandlerError::MessageIllegal(
                "the batch is empty".to_owned(),
            ));
        }
        entries
            .iter()
            .map(|e| Outgoing {
                flag: e.flag,
                body: e.body,
                properties: e.properties.to_owned(),
            })
            .collect()
    } else {
        vec![Outgoing {
            flag: header.flag,
            body: &request.body,
            properties: header_properties,
        }]
    };
    append_all(shard, origin, request, &header, messages)
}

fn append_one(
    shard: &mut BrokerShard,
    header: &SendMessageRequestHeader,
    message: &Outgoing<'_>,
    born_host: std::net::SocketAddr,
) -> Result<ringmq_engine::shard::AppendOutcome, HandlerError> {
    let draft = MessageDraft {
        topic: &header.topic,
        queue_id: header.queue_id,
        flag: message.flag,
        body: message.body,
        properties: &message.properties,
        sys_flag: header.sys_flag,
        born_timestamp: header.born_timestamp,
        born_host,
        store_host: shard.context.store_host,
        reconsume_times: header.reconsume_times.unwrap_or(0),
        prepared_transaction_offset: 0,
    };
    Ok(shard.engine.append(&draft)?)
}

/// The message's UNIQ_KEY, added when it has none (as 5.x brokers do), and whether it lets
/// its send wait for the flush (`WAIT` is not `false`). One pass over the properties.
fn unique_key_and_wait(
    shard: &BrokerShard,
    message: &mut Outgoing<'_>,
    position: usize,
) -> (String, bool) {
    let [unique, wait] = properties::find_all(
        &message.properties,
        [properties::UNIQ_KEY, properties::WAIT],
    );
    let wait = wait != Some("false");
    if let Some(unique) = unique {
        return (unique.to_owned(), wait);
    }
    let sequence = shard.engine.stats().commitlog.records_appended;
    let key = unique_key(shard, sequence + u64::try_from(position).unwrap_or(0));
    message.properties = properties::with(&message.properties, properties::UNIQ_KEY, &key);
    (key, wait)
}

fn append_all(
    shard: &mut BrokerShard,
    origin: &Origin,
    request: &RemotingCommand,
    header: &SendMessageRequestHeader,
    mut messages: Vec<Outgoing<'_>>,
) -> Handled {
    // Comma-separated, as RocketMQ answers a batch.
    let mut msg_id = String::with_capacity((record::OFFSET_MSG_ID_CHARS_MAX + 1) * messages.len());
    let mut first_queue_offset = None;
    let mut last_end = PhysicalOffset(0);
    let mut wait = true;
    let mut transaction_id = None;
    let born_host = request
        .ext(INTERNAL_BORN_HOST)
        .and_then(|host| host.parse().ok())
        .unwrap_or(origin.peer);
    for (position, message) in messages.iter_mut().enumerate() {
        check_sizes(shard, message.body, &message.properties)?;
        let (unique, waits) = unique_key_and_wait(shard, message, position);
        wait &= waits;
        transaction_id = Some(unique);
        let outcome = append_one(shard, header, message, born_host)?;
        first_queue_offset.get_or_insert(outcome.queue_offset.0);
        last_end = outcome.appended.end;
        if position > 0 {
            msg_id.push(',');
        }
        record::push_offset_msg_id(
            shard.context.store_host,
            outcome.appended.offset.as_i64(),
            &mut msg_id,
        );
        Counters::add(&shard.context.counters.messages_put, 1);
        Counters::add(
            &shard.context.counters.bytes_put,
            u64::from(outcome.appended.size),
        );
    }
    // A delayed message reports the queue it was sent to, as RocketMQ does.
    let reported_queue = messages
        .first()
        .filter(|_| header.topic == SCHEDULE_TOPIC)
        .and_then(|message| properties::find(&message.properties, properties::REAL_QID))
        .and_then(|queue| queue.parse().ok())
        .unwrap_or(header.queue_id);
    let mut reply = send_response(
        request,
        &SendMessageResponseHeader {
            msg_id,
            queue_id: reported_queue,
            queue_offset: i64::try_from(first_queue_offset.unwrap_or(0)).unwrap_or(i64::MAX),
            transaction_id: if messages.len() == 1 {
                transaction_id
            } else {
                None
            },
            ..SendMessageResponseHeader::default()
        },
    );
    let replicas = replicas_to_wait_for(shard, wait, &mut reply);
    let sync_flush = shard.context.config.flush_disk_type == FlushDiskType::SyncFlush;
    // Under ASYNC_FLUSH the answer still waits until the record is written (RocketMQ answers
    // once it is in the page cache): before that neither a pull nor VIEW_MESSAGE_BY_ID can
    // read it, and a process crash would lose a message the client saw SEND_OK for.
    // A oneway send has nobody to answer: complete_acks would reply to it.
    let deferred = replicas != ReplicaWait::None
        || (sync_flush && wait)
        || (!sync_flush && last_end > shard.engine.visible());
    if deferred && !request.is_oneway() {
        // Two waits with their own timeouts, as RocketMQ's flush and replica futures
        // (`CommitLog.handleDiskFlushAndHA`): the local one `syncFlushTimeout`, the slaves'
        // `slaveTimeout` (4.9.3 and later, and 5.x `CommitLog.handleHA`).
        let now = shard.engine.monotonic();
        let config = &shard.context.config;
        shard.pending_acks.push_back(PendingAck {
            end: last_end,
            origin: origin.clone(),
            response: reply,
            flush_deadline: now + config.sync_flush_timeout,
            replica_deadline: now + config.slave_timeout,
            replicas,
        });
        return Ok(None);
    }
    Ok(Some(reply))
}

/// How many slave acknowledgements a send waits for: none when it is not a SYNC_MASTER or the
/// message's WAIT is false.
///
/// A SYNC_MASTER waits for one slave as in RocketMQ 4.x; `inSyncReplicas` (which counts the
/// master) raises that to `inSyncReplicas - 1` slaves as in 5.x. A slave is in sync while it
/// is connected and less than `haMaxGapNotInSync` bytes behind.
/// Too few slaves in sync: RocketMQ 4.x answers SLAVE_NOT_AVAILABLE at once (the message is
/// stored on the master; clients treat the code as a stored send), and so does this, unless
/// HA connections have not sent their first report yet. RocketMQ counts a slave from its
/// accept, so the decision waits for those reports ([`ReplicaWait::Undecided`]).
fn replicas_to_wait_for(shard: &BrokerShard, wait: bool, reply: &mut Response) -> ReplicaWait {
    let config = &shard.context.config;
    if config.broker_role != BrokerRole::SyncMaster || !wait {
        return ReplicaWait::None;
    }
    let needed = usize::try_from(config.in_sync_replicas.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .max(1);
    let in_sync = shard.ha_master.in_sync(
        shard.engine.written(),
        u64::from(config.ha_max_gap_not_in_sync),
    );
    if in_sync >= needed {
        ReplicaWait::Acks(needed)
    } else if shard.context.ha_unclaimed.load(Ordering::Relaxed) > 0 {
        ReplicaWait::Undecided(needed)
    } else {
        reply.command.code = response_code::SLAVE_NOT_AVAILABLE;
        ReplicaWait::None
    }
}

/// Decide a send that found too few slaves in sync while HA connections had not reported:
/// wait for acknowledgements once enough slaves of this log are in sync, or answer
/// SLAVE_NOT_AVAILABLE once no connection is left unreported or `slaveTimeout` passed.
fn settle(pending: &mut PendingAck, in_sync: usize, unclaimed: usize, now: Duration) {
    let ReplicaWait::Undecided(needed) = pending.replicas else {
        return;
    };
    if in_sync >= needed {
        pending.replicas = ReplicaWait::Acks(needed);
    } else if unclaimed == 0 || pending.replica_deadline <= now {
        pending.replicas = ReplicaWait::None;
        pending.response.command.code = response_code::SLAVE_NOT_AVAILABLE;
    }
}

/// A send's SUCCESS with its header and the ext fields Java clients read after it.
fn send_response(request: &RemotingCommand, header: &SendMessageResponseHeader) -> Response {
    let mut reply = success(request);
    header.write_to(&mut reply.command);
    reply
        .command
        .ext_fields
        .insert(properties::MSG_REGION, DEFAULT_REGION);
    reply.command.ext_fields.insert(properties::TRACE_ON, true);
    reply
}

/// Answer sends whose records became durable (and replicated, under SYNC_MASTER), time out
/// those that waited too long, and fail the rest if the log latched read-only.
pub(crate) fn complete_acks(shard: &mut BrokerShard) {
    let visible = shard.engine.visible();
    let now = shard.engine.monotonic();
    let latch = shard.engine.latch().map(ToString::to_string);
    let in_sync = shard.ha_master.in_sync(
        shard.engine.written(),
        u64::from(shard.context.config.ha_max_gap_not_in_sync),
    );
    let unclaimed = shard.context.ha_unclaimed.load(Ordering::Relaxed);
    while let Some(front) = shard.pending_acks.front_mut() {
        settle(front, in_sync, unclaimed, now);
        let stored = front.end <= visible;
        let replicated = match front.replicas {
            ReplicaWait::None => true,
            ReplicaWait::Acks(needed) => shard.ha_master.acked_at_least(front.end) >= needed,
            ReplicaWait::Undecided(_) => false,
        };
        // Each wait ends when it succeeds or its own deadline passes; the reply goes out once
        // both ended, judged as they stand then.
        let flush_over = stored || front.flush_deadline <= now;
        let replica_over = replicated || front.replica_deadline <= now;
        if !(flush_over && replica_over) && latch.is_none() {
            break;
        }
        let Some(mut pending) = shard.pending_acks.pop_front() else {
            break;
        };
        // As in RocketMQ, the replica status wins when both waits failed.
        let failure = match (&latch, stored, replicated) {
            (Some(reason), false, _) => {
                Some((response_code::SERVICE_NOT_AVAILABLE, reason.clone()))
            }
            (_, _, false) => Some((
                response_code::FLUSH_SLAVE_TIMEOUT,
                "wait for the slave to acknowledge the message timed out".to_owned(),
            )),
            (_, false, true) => Some((
                response_code::FLUSH_DISK_TIMEOUT,
                "flush data to disk timeout".to_owned(),
            )),
            _ => None,
        };
        // SLAVE_NOT_AVAILABLE was decided at send time and, being the replica status, wins.
        let slave_unavailable = pending.response.command.code == response_code::SLAVE_NOT_AVAILABLE;
        let failure = failure
            .filter(|(code, _)| !(slave_unavailable && *code == response_code::FLUSH_DISK_TIMEOUT));
        if let Some((code, remark)) = failure {
            pending.response.command.code = code;
            pending.response.command.remark = Some(remark);
        }
        shard.respond_to(pending.origin.connection, pending.response);
    }
}

/// At shutdown: wait for outstanding SYNC_FLUSH sends to become durable (bounded by their
/// deadlines) and answer them.
pub(crate) fn finish_acks(shard: &mut BrokerShard) {
    for _ in 0..10_000 {
        if shard.pending_acks.is_empty() {
            return;
        }
        let _ = shard.engine.wait(std::time::Duration::from_millis(1));
        crate::ha::master::pump(shard);
        complete_acks(shard);
    }
}

/// The delay level of a message: its `DELAY` property clamped to the configured levels, or
/// `None` when it has none (absent, not a number, or not positive).
fn delay_level(shard: &BrokerShard, properties: &str) -> Option<usize> {
    let level: usize = properties::find(properties, properties::DELAY)?
        .trim()
        .parse()
        .ok()?;
    let levels = shard.context.config.message_delay_levels.len();
    (level > 0 && levels > 0).then(|| level.min(levels))
}

/// The send of a delayed message rewritten to its schedule queue (`level - 1`).
fn to_schedule_queue(
    request: &RemotingCommand,
    header: &SendMessageRequestHeader,
    properties_text: &str,
    level: usize,
) -> RemotingCommand {
    let real_queue = header.queue_id.to_string();
    let with_topic = properties::with(properties_text, properties::REAL_TOPIC, &header.topic);
    let scheduled_properties = properties::with(&with_topic, properties::REAL_QID, &real_queue);
    let scheduled = SendMessageRequestHeader {
        topic: SCHEDULE_TOPIC.to_owned(),
        queue_id: i32::try_from(level - 1).unwrap_or(0),
        properties: Some(scheduled_properties),
        batch: None,
        ..header.clone()
    };
    internal_send(request, &scheduled, request.body.clone())
}

/// A SEND_MESSAGE the broker makes itself, answering to `request`'s connection and opaque.
pub(crate) fn internal_send(
    request: &RemotingCommand,
    header: &SendMessageRequestHeader,
    body: Bytes,
) -> RemotingCommand {
    let mut command = RemotingCommand::request(request_code::SEND_MESSAGE);
    header.write_to(&mut command);
    command.opaque = request.opaque;
    command.flag = request.flag;
    command.language = request.language.clone();
    command.version = request.version;
    command.serialize_type = request.serialize_type;
    command.body = body;
    for (key, value) in &request.ext_fields {
        if key.starts_with(crate::routing::INTERNAL_PREFIX) {
            command.ext_fields.insert(key, value);
        }
    }
    command.ext_fields.insert(INTERNAL_SEND, true);
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hazard: the broker-made UNIQ_KEY changes layout (field order, widths, the IPv4 part),
    /// so keys stop matching what `queryMsgByUniqueKey` users and earlier keys expect.
    #[test]
    fn a_broker_made_unique_key_keeps_its_layout() {
        let wall = 0x0000_018C_BCDE_F012;
        let sequence = 0x1_0000_002A;
        assert_eq!(
            unique_key_of(Some([10, 0, 0, 5]), 0x1234_5678, 1, wall, sequence),
            "0A00000556780001BCDEF0120000002A"
        );
        assert_eq!(
            unique_key_of(None, 0x1234_5678, 1, wall, sequence),
            "56780001BCDEF0120000002A"
        );
    }
}
