//! Delivery of delayed messages (RocketMQ's `ScheduleMessageService`).
//!
//! A message sent with `DELAY` level L (by a producer, or by a consumer's send-back) is stored
//! in queue L−1 of `SCHEDULE_TOPIC_XXXX` with `REAL_TOPIC`/`REAL_QID`. The shard that owns
//! that queue reads it in queue order and, once `store time + delay(L)` has passed, re-sends it
//! to its real queue as an internal SEND_MESSAGE without `DELAY`. Store times grow along a
//! queue and every message of a level has the same delay, so the head of the queue is always
//! the first one due: a level waits on its head only.
//!
//! Invariant: every offset below a level's `delivered` was stored in its real queue (the send
//! was answered with a stored code). Up to [`IN_FLIGHT_MAX`] re-sends per level are in flight;
//! their answers come back to a virtual connection ([`SCHEDULE_CONNECTION`]) of this shard,
//! matched by opaque. `delivered` goes to the control plane, which persists it as
//! `config/delayOffset.json` every few seconds and at shutdown; a crash or a lost update
//! re-delivers the messages after the persisted offset (at least once, as RocketMQ).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use ringmq_engine::shard::{owner_of, QueueReadStatus, ReadLimits};
use ringmq_engine::types::{QueueId, QueueOffset};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::ext::ExtValue;
use ringmq_protocol::header::send::SendMessageRequestHeader;
use ringmq_protocol::record::{self, Record};
use ringmq_protocol::{properties, request_code, response_code};

use crate::control::topics::{AUTO_CREATE_TOPIC, SCHEDULE_TOPIC};
use crate::handlers::send::internal_send;
use crate::message::{ConnectionRef, Message, Origin, Response};
use crate::routing::{CONTROL_SHARD, INTERNAL_BORN_HOST};
use crate::shard::BrokerShard;

/// The connection id answers to scheduled re-sends are addressed to. Real connection ids
/// count up from 16 and never reach it.
pub(crate) const SCHEDULE_CONNECTION: u64 = u64::MAX;
/// Re-sends one level has in flight at most.
const IN_FLIGHT_MAX: usize = 64;
/// Wait before re-sending a message whose re-send was refused (busy, not writable).
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How often the levels are looked at when no re-send was answered: a delay is a second at
/// least, and looking at every level on every loop iteration (a queue read and two clock
/// reads per level) took about a tenth of a shard's time in a backlog drain.
const CHECK_PERIOD: Duration = Duration::from_millis(1);
/// Producer group of scheduled re-sends without a `PGROUP` property.
const SCHEDULE_PRODUCER: &str = "SCHEDULE_PRODUCER";

/// What became of one re-send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    Pending,
    Done,
    Refused,
}

/// One delay level owned by this shard.
#[derive(Debug)]
struct LevelCursor {
    /// 1-based level.
    level: i32,
    queue_id: QueueId,
    delay_ms: i64,
    delivered: u64,
    reported: u64,
    next_read: u64,
    /// Wall time (ms) before which the head of the queue is not due.
    not_before_ms: i64,
    retry_at: Option<Duration>,
    in_flight: BTreeMap<u64, Delivery>,
}

/// The delay levels of one shard. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    levels: Vec<LevelCursor>,
    /// opaque → (index in `levels`, queue offset).
    sent: HashMap<i32, (usize, u64)>,
    next_opaque: i32,
    /// Monotonic time before which [`tick`] skips the levels, unless `answered`.
    next_check: Duration,
    /// A re-send was answered since the last look: its level may advance and refill.
    answered: bool,
}

impl Scheduler {
    /// The levels `shard` owns, resuming from `offsets` (level → next offset to deliver).
    pub(crate) fn new(
        shard: u16,
        shard_count: u16,
        delays: &[Duration],
        offsets: &BTreeMap<i32, i64>,
    ) -> Self {
        let mut levels = Vec::new();
        for (index, delay) in delays.iter().enumerate() {
            let queue_id = QueueId(u32::try_from(index).unwrap_or(u32::MAX));
            if owner_of(SCHEDULE_TOPIC, queue_id, shard_count).0 != shard {
                continue;
            }
            let level = i32::try_from(index + 1).unwrap_or(i32::MAX);
            let start = offsets
                .get(&level)
                .and_then(|offset| u64::try_from(*offset).ok())
                .unwrap_or(0);
            levels.push(LevelCursor {
                level,
                queue_id,
                delay_ms: i64::try_from(delay.as_millis()).unwrap_or(i64::MAX),
                delivered: start,
                reported: start,
                next_read: start,
                not_before_ms: 0,
                retry_at: None,
                in_flight: BTreeMap::new(),
            });
        }
        Self {
            levels,
            sent: HashMap::new(),
            next_opaque: 0,
            next_check: Duration::ZERO,
            answered: false,
        }
    }
}

/// The re-send of a due scheduled record to its real queue; `None` if it names none.
fn delivery_of(stored: &Record<'_>, opaque: i32, body: bytes::Bytes) -> Option<RemotingCommand> {
    let topic = stored.property(properties::REAL_TOPIC)?;
    let queue_id: i32 = stored.property(properties::REAL_QID)?.parse().ok()?;
    let header = SendMessageRequestHeader {
        producer_group: stored
            .property(properties::PGROUP)
            .unwrap_or(SCHEDULE_PRODUCER)
            .to_owned(),
        topic: topic.to_owned(),
        default_topic: AUTO_CREATE_TOPIC.to_owned(),
        default_topic_queue_nums: queue_id.saturating_add(1),
        queue_id,
        sys_flag: stored.sys_flag,
        born_timestamp: stored.born_timestamp,
        flag: stored.flag,
        properties: Some(properties::without(stored.properties, properties::DELAY)),
        reconsume_times: Some(stored.reconsume_times),
        ..SendMessageRequestHeader::default()
    };
    let mut template = RemotingCommand::request(request_code::SEND_MESSAGE);
    template.opaque = opaque;
    let mut command = internal_send(&template, &header, body);
    command
        .ext_fields
        .insert(INTERNAL_BORN_HOST, ExtValue::display(&stored.born_host));
    Some(command)
}

/// Advance, report and refill every level; send what became due. Runs at most every
/// [`CHECK_PERIOD`], or sooner when a re-send was answered.
pub(crate) fn tick(shard: &mut BrokerShard) {
    if shard.scheduler.levels.is_empty() {
        return;
    }
    let now = shard.engine.monotonic();
    if !shard.scheduler.answered && now < shard.scheduler.next_check {
        return;
    }
    let now_ms = shard.engine.now().as_i64();
    let mut scheduler = std::mem::take(&mut shard.scheduler);
    scheduler.answered = false;
    scheduler.next_check = now + CHECK_PERIOD;
    let mut outgoing = Vec::new();
    for index in 0..scheduler.levels.len() {
        advance(shard, &mut scheduler.levels[index]);
        read_due(shard, &mut scheduler, index, now, now_ms, &mut outgoing);
    }
    shard.scheduler = scheduler;
    // Sent after the scheduler is back in place: an answer may arrive synchronously.
    let origin = Origin {
        connection: ConnectionRef {
            shard: shard.index,
            id: SCHEDULE_CONNECTION,
        },
        peer: shard.context.store_host,
    };
    for command in outgoing {
        shard.on_request(origin.clone(), command);
    }
}

/// Move `delivered` over the finished prefix and tell the control plane.
fn advance(shard: &mut BrokerShard, cursor: &mut LevelCursor) {
    while let Some((&offset, &Delivery::Done)) = cursor.in_flight.first_key_value() {
        cursor.in_flight.remove(&offset);
        cursor.delivered = offset + 1;
    }
    if cursor.in_flight.is_empty() {
        cursor.delivered = cursor.delivered.max(cursor.next_read);
    }
    if cursor.delivered != cursor.reported {
        cursor.reported = cursor.delivered;
        let message = Message::DelayProgress {
            level: cursor.level,
            offset: cursor.delivered,
        };
        shard.deliver(CONTROL_SHARD, message);
    }
}

/// Re-send refused messages when their wait is over, then read newly due ones.
fn read_due(
    shard: &mut BrokerShard,
    scheduler: &mut Scheduler,
    index: usize,
    now: Duration,
    now_ms: i64,
    outgoing: &mut Vec<RemotingCommand>,
) {
    let cursor = &mut scheduler.levels[index];
    if cursor.retry_at.is_some_and(|at| at <= now) {
        cursor.retry_at = None;
        let refused: Vec<u64> = cursor
            .in_flight
            .iter()
            .filter(|(_, delivery)| **delivery == Delivery::Refused)
            .map(|(offset, _)| *offset)
            .collect();
        for offset in refused {
            read_one(shard, scheduler, index, offset, now_ms, outgoing);
        }
    }
    loop {
        let cursor = &scheduler.levels[index];
        if cursor.in_flight.len() >= IN_FLIGHT_MAX || now_ms < cursor.not_before_ms {
            return;
        }
        let offset = cursor.next_read;
        if !read_one(shard, scheduler, index, offset, now_ms, outgoing) {
            return;
        }
        scheduler.levels[index].next_read = offset + 1;
    }
}

/// Send the message at `offset` if it is due; false when there is none or it is not due.
fn read_one(
    shard: &mut BrokerShard,
    scheduler: &mut Scheduler,
    index: usize,
    offset: u64,
    now_ms: i64,
    outgoing: &mut Vec<RemotingCommand>,
) -> bool {
    let cursor = &mut scheduler.levels[index];
    let limits = ReadLimits {
        messages_max: 1,
        bytes_max: usize::MAX,
    };
    let read = shard.engine.read_queue(
        SCHEDULE_TOPIC,
        cursor.queue_id,
        QueueOffset(offset),
        limits,
        &|_| true,
    );
    let read = match read {
        Ok(read) => read,
        Err(error) => {
            shard.context.log.warn(&format!(
                "delay level {}: reading offset {offset} failed: {error}",
                cursor.level
            ));
            cursor.not_before_ms = now_ms + 1000;
            return false;
        }
    };
    match read.status {
        QueueReadStatus::Found => {}
        QueueReadStatus::OffsetTooSmall | QueueReadStatus::OffsetOverflowBadly
            if cursor.in_flight.is_empty() =>
        {
            // Retention removed the head, or the store lost the tail: resume where it is.
            cursor.next_read = read.next_offset.0;
            cursor.delivered = read.next_offset.0;
            return false;
        }
        _ => return false,
    }
    let Some(message) = read.messages.into_iter().next() else {
        return false;
    };
    let Ok(stored) = record::decode(&message.bytes) else {
        cursor.in_flight.insert(offset, Delivery::Done);
        return true;
    };
    let due_ms = stored.store_timestamp.saturating_add(cursor.delay_ms);
    if due_ms > now_ms {
        cursor.not_before_ms = due_ms;
        return false;
    }
    scheduler.next_opaque = scheduler.next_opaque.wrapping_add(1);
    let opaque = scheduler.next_opaque;
    let body = message.bytes.slice_ref(stored.body);
    if let Some(command) = delivery_of(&stored, opaque, body) {
        cursor.in_flight.insert(offset, Delivery::Pending);
        scheduler.sent.insert(opaque, (index, offset));
        outgoing.push(command);
    } else {
        shard.context.log.warn(&format!(
            "delay level {}: message at offset {offset} has no REAL_TOPIC/REAL_QID; skipped",
            cursor.level
        ));
        cursor.in_flight.insert(offset, Delivery::Done);
    }
    true
}

/// The answer to a scheduled re-send.
pub(crate) fn on_response(shard: &mut BrokerShard, response: &Response) {
    let now = shard.engine.monotonic();
    let Some((index, offset)) = shard.scheduler.sent.remove(&response.command.opaque) else {
        return;
    };
    shard.scheduler.answered = true;
    let code = response.command.code;
    let outcome = match code {
        response_code::SUCCESS
        | response_code::FLUSH_DISK_TIMEOUT
        | response_code::FLUSH_SLAVE_TIMEOUT
        | response_code::SLAVE_NOT_AVAILABLE => Delivery::Done,
        response_code::SYSTEM_BUSY
        | response_code::SERVICE_NOT_AVAILABLE
        | response_code::NO_PERMISSION => Delivery::Refused,
        _ => {
            let remark = response.command.remark.clone().unwrap_or_default();
            shard.context.log.warn(&format!(
                "a delayed message (schedule offset {offset}) was dropped: its real topic \
                 refused it with code {code}: {remark}"
            ));
            Delivery::Done
        }
    };
    let Some(cursor) = shard.scheduler.levels.get_mut(index) else {
        return;
    };
    if outcome == Delivery::Refused {
        cursor.retry_at = Some(now + RETRY_AFTER);
    }
    cursor.in_flight.insert(offset, outcome);
}
