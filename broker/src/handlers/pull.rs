//! PULL_MESSAGE (11) on the queue's owning shard, with long polling and tag filtering.
//!
//! Without the subscription flag the filter is the subscription the group registered by
//! heartbeat (Java clients never send it by default). The four mandatory response fields go
//! out on every code. A pull that finds nothing new and may suspend is parked until a message
//! reaches its queue or the suspend timeout passes; the second run cannot park again.
//!
//! A pull never waits for the disk on the shard thread: when its first message is in
//! neither the tail cache nor a cached window, the engine starts that window's read and the
//! pull is parked until a read settles (or [`COLD_WAIT`] passes), then run again. A pull
//! that has waited [`COLD_WAITS_MAX`] times (many cold readers contending for the one read
//! slot, or a read that keeps failing) reads the disk itself, as at shutdown.

use std::collections::HashSet;
use std::time::Duration;

use ringmq_engine::shard::{QueueReadStatus, ReadLimits};
use ringmq_engine::types::PhysicalOffset;
use ringmq_engine::types::{QueueId, QueueOffset};
use ringmq_protocol::body::heartbeat::{EXPRESSION_TYPE_TAG, SUB_ALL};
use ringmq_protocol::body::topic_config::PERM_READ;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::pull::{
    PullMessageRequestHeader, PullMessageResponseHeader, PULL_FLAG_COMMIT_OFFSET,
    PULL_FLAG_SUBSCRIPTION, PULL_FLAG_SUSPEND,
};
use ringmq_protocol::java::string_hash;
use ringmq_protocol::response_code as code;

use super::Handled;
use crate::context::Counters;
use crate::error::{response, HandlerError};
use crate::long_poll::ParkedPull;
use crate::message::{Message, Origin};
use crate::routing::CONTROL_SHARD;
use crate::shard::BrokerShard;

/// Messages one pull returns at most, whatever the client asks.
const PULL_MESSAGES_MAX: i32 = 256;
/// Bytes of one pull response at most unless the client asks for less.
const PULL_BYTES_MAX: usize = 8 << 20;
/// Suspend when long polling is off (`shortPollingTimeMills`).
const SHORT_POLL: Duration = Duration::from_secs(1);
/// Waits for a cold read before a pull reads the disk itself and waits for it.
const COLD_WAITS_MAX: u8 = 8;
/// A pull waiting for a cold read runs again after this even if no read settles.
const COLD_WAIT: Duration = Duration::from_millis(200);

/// Tag hashes a subscription accepts; `None` accepts everything.
fn tag_filter(expression: &str) -> Option<HashSet<i64>> {
    let tags: Vec<&str> = expression
        .split("||")
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .collect();
    if tags.is_empty() || tags.contains(&SUB_ALL) {
        return None;
    }
    Some(
        tags.into_iter()
            .map(|tag| i64::from(string_hash(tag)))
            .collect(),
    )
}

fn filter_of(
    shard: &BrokerShard,
    header: &PullMessageRequestHeader,
) -> Result<Option<HashSet<i64>>, (i32, String)> {
    let expression_type = header
        .expression_type
        .as_deref()
        .unwrap_or(EXPRESSION_TYPE_TAG);
    if header.sys_flag & PULL_FLAG_SUBSCRIPTION != 0 {
        if expression_type != EXPRESSION_TYPE_TAG {
            return Err((
                code::SUBSCRIPTION_PARSE_FAILED,
                format!(
                    "ringmq filters by TAG only; {expression_type} subscriptions are not supported"
                ),
            ));
        }
        return Ok(tag_filter(
            header.subscription.as_deref().unwrap_or(SUB_ALL),
        ));
    }
    let Some(subscription) = shard
        .snapshot
        .subscription(&header.consumer_group, &header.topic)
    else {
        return Err((
            code::SUBSCRIPTION_NOT_EXIST,
            format!(
                "the consumer's subscription not exist, group: {}, topic: {}",
                header.consumer_group, header.topic
            ),
        ));
    };
    if subscription.sub_version < header.sub_version {
        return Err((
            code::SUBSCRIPTION_NOT_LATEST,
            "the consumer's subscription not latest".to_owned(),
        ));
    }
    if subscription.expression_type != EXPRESSION_TYPE_TAG {
        return Err((
            code::SUBSCRIPTION_PARSE_FAILED,
            "ringmq filters by TAG only".to_owned(),
        ));
    }
    Ok(tag_filter(&subscription.sub_string))
}

fn pull_response(
    request: &RemotingCommand,
    status: i32,
    remark: &str,
    next: u64,
    min: u64,
    max: u64,
    suggest: i64,
) -> crate::message::Response {
    let mut reply = response(request, status, Some(remark.to_owned()));
    let as_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    PullMessageResponseHeader {
        suggest_which_broker_id: suggest,
        next_begin_offset: as_i64(next),
        min_offset: as_i64(min),
        max_offset: as_i64(max),
        ..PullMessageResponseHeader::default()
    }
    .write_to(&mut reply.command);
    reply
}

/// The queue a pull reads, after the topic, permission and queue-range checks.
fn readable_queue(
    shard: &BrokerShard,
    header: &PullMessageRequestHeader,
) -> Result<u32, HandlerError> {
    let Some(topic) = shard.snapshot.topic(&header.topic) else {
        return Err(HandlerError::TopicNotExist(format!(
            "topic[{}] not exist, apply first please!",
            header.topic
        )));
    };
    if topic.perm & PERM_READ == 0 || shard.snapshot.broker_permission & PERM_READ == 0 {
        return Err(HandlerError::NoPermission(format!(
            "the topic[{}] pulling message is forbidden",
            header.topic
        )));
    }
    u32::try_from(header.queue_id)
        .ok()
        .filter(|q| i32::try_from(*q).unwrap_or(i32::MAX) < topic.read_queue_nums)
        .ok_or_else(|| {
            HandlerError::InvalidParameter(format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}]",
                header.queue_id, header.topic, topic.read_queue_nums
            ))
        })
}

/// Piggy-backed offset commit: only on the first run, with the commit flag.
fn commit_if_asked(shard: &mut BrokerShard, header: &PullMessageRequestHeader, queue_id: u32) {
    if header.sys_flag & PULL_FLAG_COMMIT_OFFSET != 0 && header.commit_offset >= 0 {
        let message = Message::CommitOffset {
            group: header.consumer_group.clone(),
            topic: header.topic.clone(),
            queue_id,
            offset: u64::try_from(header.commit_offset).unwrap_or(0),
        };
        shard.deliver(CONTROL_SHARD, message);
    }
}

/// How much one pull may return: what the client asks, within ringmq's caps, and within
/// `maxTransferCount…`/`maxTransferBytes…` when they are set, the `…InMemory` pair when
/// the pull starts in the tail cache and the `…InDisk` pair when it starts on disk.
fn read_limits(
    shard: &mut BrokerShard,
    header: &PullMessageRequestHeader,
    queue_id: u32,
    from: QueueOffset,
) -> ReadLimits {
    let mut limits = ReadLimits {
        messages_max: usize::try_from(header.max_msg_nums.clamp(1, PULL_MESSAGES_MAX))
            .unwrap_or(32),
        bytes_max: header
            .max_msg_bytes
            .and_then(|b| usize::try_from(b).ok())
            .filter(|b| *b > 0)
            .unwrap_or(PULL_BYTES_MAX)
            .min(PULL_BYTES_MAX),
    };
    let config = &shard.context.config;
    let (memory, disk) = (
        (
            config.max_transfer_count_in_memory,
            config.max_transfer_bytes_in_memory,
        ),
        (
            config.max_transfer_count_in_disk,
            config.max_transfer_bytes_in_disk,
        ),
    );
    if memory == (None, None) && disk == (None, None) {
        return limits;
    }
    let in_memory = shard
        .engine
        .queue_offset_in_memory(&header.topic, QueueId(queue_id), from);
    let (count, bytes) = if in_memory { memory } else { disk };
    let cap = |value: Option<u32>| value.and_then(|v| usize::try_from(v).ok());
    if let Some(count) = cap(count) {
        limits.messages_max = limits.messages_max.min(count);
    }
    if let Some(bytes) = cap(bytes) {
        limits.bytes_max = limits.bytes_max.min(bytes);
    }
    limits
}

/// RocketMQ's response code and remark for a read status.
fn status_of(status: QueueReadStatus, from: QueueOffset) -> (i32, &'static str) {
    match status {
        QueueReadStatus::Found => (code::SUCCESS, "FOUND"),
        QueueReadStatus::NoMatchedMessage => (code::PULL_RETRY_IMMEDIATELY, "NO_MATCHED_MESSAGE"),
        QueueReadStatus::NoMessageInQueue if from.0 != 0 => {
            (code::PULL_OFFSET_MOVED, "NO_MESSAGE_IN_QUEUE")
        }
        QueueReadStatus::NoMessageInQueue => (code::PULL_NOT_FOUND, "NO_MESSAGE_IN_QUEUE"),
        QueueReadStatus::OffsetTooSmall => (code::PULL_OFFSET_MOVED, "OFFSET_TOO_SMALL"),
        QueueReadStatus::OffsetOverflowOne => (code::PULL_NOT_FOUND, "OFFSET_OVERFLOW_ONE"),
        QueueReadStatus::OffsetOverflowBadly => (code::PULL_OFFSET_MOVED, "OFFSET_OVERFLOW_BADLY"),
    }
}

/// Park a pull that found nothing until a message arrives or its suspend time is up.
fn park(
    shard: &mut BrokerShard,
    origin: &Origin,
    request: &RemotingCommand,
    header: &PullMessageRequestHeader,
    queue_id: u32,
) {
    let wait = if header.suspend_timeout_millis > 0 {
        Duration::from_millis(u64::try_from(header.suspend_timeout_millis).unwrap_or(0))
    } else {
        SHORT_POLL
    };
    let deadline = shard.engine.monotonic() + wait;
    let parked = ParkedPull {
        origin: origin.clone(),
        request: request.clone(),
        offset: u64::try_from(header.queue_offset).unwrap_or(0),
        deadline,
        cold_waits: 0,
    };
    shard.long_polls.park(&header.topic, queue_id, parked);
}

/// Park a pull whose first message is being read from disk.
fn park_cold(
    shard: &mut BrokerShard,
    origin: &Origin,
    request: &RemotingCommand,
    from: QueueOffset,
    cold_waits: u8,
) {
    let parked = ParkedPull {
        origin: origin.clone(),
        request: request.clone(),
        offset: from.0,
        deadline: shard.engine.monotonic() + COLD_WAIT,
        cold_waits,
    };
    shard.long_polls.park_cold(parked);
}

pub(crate) fn handle(
    shard: &mut BrokerShard,
    origin: &Origin,
    request: &RemotingCommand,
    allow_suspend: bool,
) -> Handled {
    handle_run(shard, origin, request, allow_suspend, 0)
}

/// A pull that has waited `cold_waits` times for cold reads.
fn handle_run(
    shard: &mut BrokerShard,
    origin: &Origin,
    request: &RemotingCommand,
    allow_suspend: bool,
    cold_waits: u8,
) -> Handled {
    let header = PullMessageRequestHeader::from_command(request)?;
    let queue_id = readable_queue(shard, &header)?;
    let filter = match filter_of(shard, &header) {
        Ok(filter) => filter,
        Err((status, remark)) => {
            let offset = u64::try_from(header.queue_offset).unwrap_or(0);
            return Ok(Some(pull_response(
                request, status, &remark, offset, 0, 0, 0,
            )));
        }
    };
    if allow_suspend {
        commit_if_asked(shard, &header, queue_id);
    }
    let from = QueueOffset(u64::try_from(header.queue_offset).unwrap_or(0));
    let accept = |tags: i64| filter.as_ref().is_none_or(|set| set.contains(&tags));
    let limits = read_limits(shard, &header, queue_id, from);
    let (topic, queue) = (&header.topic, QueueId(queue_id));
    let read = if cold_waits < COLD_WAITS_MAX && !shard.long_polls.is_full() {
        let read = shard
            .engine
            .read_queue_nonblocking(topic, queue, from, limits, &accept)?;
        let Some(read) = read else {
            park_cold(shard, origin, request, from, cold_waits + 1);
            return Ok(None);
        };
        read
    } else {
        shard
            .engine
            .read_queue(topic, queue, from, limits, &accept)?
    };
    let (status, remark) = status_of(read.status, from);
    shard.pull_offsets.record(
        &header.consumer_group,
        &header.topic,
        queue_id,
        read.next_offset.0,
    );
    if status == code::PULL_NOT_FOUND
        && allow_suspend
        && header.sys_flag & PULL_FLAG_SUSPEND != 0
        && !shard.long_polls.is_full()
    {
        park(shard, origin, request, &header, queue_id);
        return Ok(None);
    }
    let (min, max, next) = (read.min_offset.0, read.max_offset.0, read.next_offset.0);
    let suggest = suggested_broker(
        shard,
        &header.consumer_group,
        read.messages.last().map(|m| m.offset),
    );
    let mut reply = pull_response(request, status, remark, next, min, max, suggest);
    if status == code::SUCCESS {
        Counters::add(
            &shard.context.counters.messages_got,
            u64::try_from(read.messages.len()).unwrap_or(0),
        );
        reply.body = read
            .messages
            .into_iter()
            .map(|message| message.bytes)
            .collect();
    }
    Ok(Some(reply))
}

/// `suggestWhichBrokerId`: the master (0), unless `slaveReadEnable` is on. Then, as in
/// RocketMQ's `PullMessageProcessor`, the group's `whichBrokerWhenConsumeSlowly` (a slave,
/// 1 by default) when the consumer is further behind the log's end than
/// `accessMessageInMemoryMaxRatio` percent of RAM, so old messages are read off the master's
/// disk, and the group's `brokerId` (the master, 0 by default) otherwise. Both come from the
/// subscription-group table (`updateSubGroup -w` and `-i`).
fn suggested_broker(shard: &BrokerShard, group: &str, last_read: Option<PhysicalOffset>) -> i64 {
    let config = &shard.context.config;
    let Some(last_read) = last_read.filter(|_| config.slave_read_enable) else {
        return 0;
    };
    let route = shard.snapshot.group_reads(group);
    let behind = shard.engine.appended().0.saturating_sub(last_read.0);
    let in_memory = shard.context.physical_memory_bytes / 100
        * u64::from(config.access_message_in_memory_max_ratio);
    if behind > in_memory {
        route.when_slow
    } else {
        route.broker_id
    }
}

/// Re-run parked pulls whose queue received messages, whose cold read may have settled, or
/// whose time is up.
pub(crate) fn wake_parked(shard: &mut BrokerShard) {
    let mut arrivals = Vec::new();
    shard.engine.take_arrivals(&mut arrivals);
    let mut ready = Vec::new();
    if shard.engine.take_read_settled() {
        shard.long_polls.take_cold(&mut ready);
    }
    for (topic, queue_id, max) in arrivals {
        shard
            .long_polls
            .take_arrived(&topic, queue_id.0, max.0, &mut ready);
    }
    shard
        .long_polls
        .take_expired(shard.engine.monotonic(), &mut ready);
    for parked in ready {
        rerun(shard, &parked, parked.cold_waits);
    }
}

fn rerun(shard: &mut BrokerShard, parked: &ParkedPull, cold_waits: u8) {
    let origin = &parked.origin;
    let result = handle_run(shard, origin, &parked.request, false, cold_waits);
    let response = result.unwrap_or_else(|error| Some(error.into_response(&parked.request)));
    if let Some(response) = response {
        shard.respond(&parked.origin, &parked.request, response);
    }
}

/// Answer every parked pull at shutdown.
pub(crate) fn release_parked(shard: &mut BrokerShard) {
    let mut all = Vec::new();
    shard.long_polls.take_all(&mut all);
    for parked in all {
        // Nothing is re-run after this, so cold reads are waited for.
        rerun(shard, &parked, COLD_WAITS_MAX);
    }
}
