//! Moving a consumer group's committed offsets: `resetOffsetByTime` (to the first message
//! stored at or after a time, `ResetOffsetByTimeCommand`) and `skipAccumulatedMessage` (to the
//! end of every queue, `SkipAccumulationSubCommand`), without restarting the consumers.
//!
//! Each broker of the topic's route is asked to reset (INVOKE_BROKER_TO_RESET_OFFSET 222) and
//! tells the group's online members. A broker that answers CONSUMER_NOT_ONLINE (RocketMQ
//! brokers without server-side reset, when no member is online) gets the tool-side reset
//! instead: each queue's target offset is looked up and committed with UPDATE_CONSUMER_OFFSET
//! (15), printed as RocketMQ's rollback table. `-b -q` resets one queue; unlike RocketMQ,
//! ringmq also applies a target offset of 0.

use ringmq_protocol::body::admin::{ConsumeStats, OffsetWrapper, ResetOffsetBody, TopicStatsTable};
use ringmq_protocol::body::consumer::MessageQueue;
use ringmq_protocol::body::route::TopicRouteData;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::admin::{
    GetConsumeStatsRequestHeader, ResetOffsetRequestHeader, TopicRequestHeader,
};
use ringmq_protocol::header::offset::UpdateConsumerOffsetRequestHeader;
use ringmq_protocol::{request_code, response_code};
use serde_json::json;

use super::{route_brokers, topic_route, truncated, valued, Command};
use crate::admin::client::{self, AdminError, Session};
use crate::admin::clock;
use crate::admin::invocation::{Format, Invocation};
use crate::admin::json;
use crate::admin::pull::{self, OffsetLookup, QueueRef};

/// The timestamp skipAccumulatedMessage sends: "the end of every queue".
const TIMESTAMP_END: i64 = -1;

pub(super) const RESET_BY_TIME: Command = Command {
    name: "resetOffsetByTime",
    description: "Reset consumer offset by timestamp(without client restart).",
    options: &[
        valued("g", "group", true, "set the consumer group"),
        valued("t", "topic", true, "set the topic"),
        valued(
            "s",
            "timestamp",
            true,
            "set the timestamp[now|currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS] (UTC)",
        ),
        valued(
            "f",
            "force",
            false,
            "set the force rollback by timestamp switch[true|false]. Deprecated.",
        ),
        valued("b", "broker", false, "broker addr"),
        valued("q", "queue", false, "queue id"),
        valued(
            "o",
            "offset",
            false,
            "Expect queue offset, not support old version broker",
        ),
        valued(
            "c",
            "cluster",
            false,
            "Cluster name or lmq parent topic (unused: ringmq has no LMQ)",
        ),
    ],
    run: reset_by_time,
};

pub(super) const SKIP_ACCUMULATED: Command = Command {
    name: "skipAccumulatedMessage",
    description: "Skip all messages that are accumulated (not consumed) currently.",
    options: &[
        valued("g", "group", true, "set the consumer group"),
        valued("t", "topic", true, "set the topic"),
        valued(
            "f",
            "force",
            false,
            "set the force rollback by timestamp switch[true|false]",
        ),
        valued(
            "c",
            "cluster",
            false,
            "Cluster name or lmq parent topic (unused: ringmq has no LMQ)",
        ),
    ],
    run: skip_accumulated,
};

/// What to reset.
#[derive(Debug)]
struct Reset<'a> {
    group: &'a str,
    topic: &'a str,
    timestamp_ms: i64,
    force: bool,
}

/// One row of the tool-side reset (`RollbackStats`).
#[derive(Debug)]
struct Rollback {
    broker_name: String,
    queue_id: i32,
    broker_offset: i64,
    consumer_offset: i64,
    timestamp_offset: i64,
    reset_offset: i64,
}

/// How the offsets were moved.
#[derive(Debug)]
enum Outcome {
    /// The brokers reset them (and told the online consumers).
    ByBroker(ResetOffsetBody),
    /// A broker refused with CONSUMER_NOT_ONLINE; the tool committed them itself.
    ByTool(Vec<Rollback>),
}

fn commit_offset(
    session: &mut Session,
    group: &str,
    queue: &MessageQueue,
    offset: i64,
) -> Result<(), AdminError> {
    let mut request = RemotingCommand::request(request_code::UPDATE_CONSUMER_OFFSET);
    UpdateConsumerOffsetRequestHeader {
        consumer_group: group.to_owned(),
        topic: queue.topic.clone(),
        queue_id: queue.queue_id,
        commit_offset: offset,
    }
    .write_to(&mut request);
    session.call(&request).map(|_| ())
}

/// Ask every broker of the route to reset; CONSUMER_NOT_ONLINE falls back to the tool.
fn reset(route: &TopicRouteData, reset: &Reset<'_>) -> Result<Outcome, AdminError> {
    let mut request = RemotingCommand::request(request_code::INVOKE_BROKER_TO_RESET_OFFSET);
    ResetOffsetRequestHeader {
        group: reset.group.to_owned(),
        topic: reset.topic.to_owned(),
        queue_id: Some(-1),
        offset: Some(-1),
        timestamp: reset.timestamp_ms,
        is_force: reset.force,
    }
    .write_to(&mut request);
    let mut merged = ResetOffsetBody::default();
    for (_, address) in route_brokers(route) {
        let mut session = Session::open("broker", &address)?;
        let response = session.exchange(&request)?;
        match response.code {
            response_code::SUCCESS => {
                let body: ResetOffsetBody = client::decode(&address, &response)?;
                merged.offset_table.extend(body.offset_table);
            }
            response_code::CONSUMER_NOT_ONLINE => {
                return rollback(route, reset).map(Outcome::ByTool);
            }
            _ => return Err(session.refused(&request, &response)),
        }
    }
    Ok(Outcome::ByBroker(merged))
}

/// The tool-side reset (`resetOffsetByTimestampOld`) on every broker of the route.
fn rollback(route: &TopicRouteData, reset: &Reset<'_>) -> Result<Vec<Rollback>, AdminError> {
    let mut rows = Vec::new();
    for (broker_name, address) in route_brokers(route) {
        let mut session = Session::open("broker", &address)?;
        let mut request = RemotingCommand::request(request_code::GET_CONSUME_STATS);
        GetConsumeStatsRequestHeader {
            consumer_group: reset.group.to_owned(),
            ..GetConsumeStatsRequestHeader::default()
        }
        .write_to(&mut request);
        let response = session.call(&request)?;
        let stats: ConsumeStats = client::decode(&address, &response)?;
        let mut queues: Vec<(MessageQueue, OffsetWrapper)> = stats
            .offset_table
            .into_iter()
            .filter(|(queue, _)| queue.topic == reset.topic)
            .collect();
        if queues.is_empty() {
            queues = never_consumed(&mut session, route, &broker_name, reset.topic)?;
        }
        for (queue, offsets) in queues {
            rows.push(rollback_queue(&mut session, reset, &queue, offsets)?);
        }
    }
    Ok(rows)
}

/// A group that never consumed the topic on this broker counts as at each queue's min offset.
fn never_consumed(
    session: &mut Session,
    route: &TopicRouteData,
    broker_name: &str,
    topic: &str,
) -> Result<Vec<(MessageQueue, OffsetWrapper)>, AdminError> {
    let mut request = RemotingCommand::request(request_code::GET_TOPIC_STATS_INFO);
    TopicRequestHeader {
        topic: topic.to_owned(),
    }
    .write_to(&mut request);
    let response = session.call(&request)?;
    let stats: TopicStatsTable = client::decode(session.address(), &response)?;
    let read_queues = route
        .queue_datas
        .iter()
        .find(|queue| queue.broker_name == broker_name)
        .map_or(0, |queue| queue.read_queue_nums);
    Ok((0..read_queues)
        .map(|queue_id| MessageQueue {
            broker_name: broker_name.to_owned(),
            queue_id,
            topic: topic.to_owned(),
        })
        .map(|queue| {
            let bounds = stats.offset_table.get(&queue).copied().unwrap_or_default();
            let offsets = OffsetWrapper {
                broker_offset: bounds.max_offset,
                consumer_offset: bounds.min_offset,
                ..OffsetWrapper::default()
            };
            (queue, offsets)
        })
        .collect())
}

fn rollback_queue(
    session: &mut Session,
    reset: &Reset<'_>,
    queue: &MessageQueue,
    offsets: OffsetWrapper,
) -> Result<Rollback, AdminError> {
    let lookup = if reset.timestamp_ms == TIMESTAMP_END {
        OffsetLookup::Max
    } else {
        OffsetLookup::At(reset.timestamp_ms)
    };
    let queue_ref = QueueRef {
        topic: &queue.topic,
        broker_name: &queue.broker_name,
        queue_id: queue.queue_id,
    };
    let timestamp_offset = pull::queue_offset(session, queue_ref, lookup)?;
    let mut reset_offset = offsets.consumer_offset;
    if reset.force || timestamp_offset <= offsets.consumer_offset {
        reset_offset = timestamp_offset;
        commit_offset(session, reset.group, queue, timestamp_offset)?;
    }
    Ok(Rollback {
        broker_name: queue.broker_name.clone(),
        queue_id: queue.queue_id,
        broker_offset: offsets.broker_offset,
        consumer_offset: offsets.consumer_offset,
        timestamp_offset,
        reset_offset,
    })
}

fn print_rollback(rows: &[Rollback], last_column: &str) {
    println!(
        "{:<20}  {:<20}  {:<20}  {:<20}  {:<20}  {last_column:<20}",
        "#brokerName", "#queueId", "#brokerOffset", "#consumerOffset", "#timestampOffset"
    );
    for row in rows {
        println!(
            "{:<20}  {:<20}  {:<20}  {:<20}  {:<20}  {:<20}",
            truncated(&row.broker_name, 32),
            row.queue_id,
            row.broker_offset,
            row.consumer_offset,
            row.timestamp_offset,
            row.reset_offset
        );
    }
}

fn print_offsets(body: &ResetOffsetBody) {
    println!(
        "{:<40}  {:<40}  {:<40}",
        "#brokerName", "#queueId", "#offset"
    );
    for (queue, offset) in &body.offset_table {
        println!(
            "{:<40}  {:<40}  {:<40}",
            truncated(&queue.broker_name, 32),
            queue.queue_id,
            offset
        );
    }
}

fn print_json(reset: &Reset<'_>, outcome: &Outcome) {
    let (by, rows): (&str, Vec<serde_json::Value>) = match outcome {
        Outcome::ByBroker(body) => (
            "broker",
            body.offset_table
                .iter()
                .map(|(queue, offset)| {
                    json!({ "brokerName": queue.broker_name, "queueId": queue.queue_id,
                            "offset": offset })
                })
                .collect(),
        ),
        Outcome::ByTool(rows) => (
            "tool",
            rows.iter()
                .map(|row| {
                    json!({ "brokerName": row.broker_name, "queueId": row.queue_id,
                            "brokerOffset": row.broker_offset,
                            "consumerOffset": row.consumer_offset,
                            "timestampOffset": row.timestamp_offset,
                            "offset": row.reset_offset })
                })
                .collect(),
        ),
    };
    json::print(&json!({
        "group": reset.group,
        "topic": reset.topic,
        "timestamp": reset.timestamp_ms,
        "force": reset.force,
        "resetBy": by,
        "offsets": rows,
    }));
}

/// `-s`: `now`, epoch milliseconds or `yyyy-MM-dd#HH:mm:ss:SSS`.
fn timestamp_flag(text: &str) -> Result<i64, AdminError> {
    if text == "now" {
        return Ok(clock::now_ms());
    }
    clock::parse_timestamp(text).ok_or_else(|| {
        AdminError::Usage(format!(
            "-s takes now, epoch milliseconds or yyyy-MM-dd#HH:mm:ss:SSS, not '{text}'"
        ))
    })
}

fn reset_by_time(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let text = invocation.required("timestamp")?.trim();
    let reset = Reset {
        group: invocation.required("group")?.trim(),
        topic: invocation.required("topic")?.trim(),
        timestamp_ms: timestamp_flag(text)?,
        force: invocation.boolean("force", true),
    };
    let queue_id: i32 = invocation.number("queue", -1)?;
    if let (Some(broker), true) = (invocation.value("broker"), queue_id >= 0) {
        return reset_one_queue(invocation, &reset, broker.trim(), queue_id, text);
    }
    let route = topic_route(&invocation.namesrv()?, reset.topic)?;
    let outcome = self::reset(&route, &reset)?;
    let (group, topic, force, ms) = (reset.group, reset.topic, reset.force, reset.timestamp_ms);
    match (&outcome, format) {
        (_, Format::Json) => print_json(&reset, &outcome),
        (Outcome::ByBroker(body), Format::Text) => {
            println!(
                "start reset consumer offset by specified, group[{group}], topic[{topic}], \
                 force[{force}], timestamp(string)[{text}], timestamp(long)[{ms}]"
            );
            print_offsets(body);
        }
        (Outcome::ByTool(rows), Format::Text) => {
            println!(
                "reset consumer offset by specified consumerGroup[{group}], topic[{topic}], \
                 force[{force}], timestamp(string)[{text}], timestamp(long)[{ms}]"
            );
            print_rollback(rows, "#resetOffset");
        }
    }
    Ok(())
}

/// `-b -q`: commit one queue's offset (`-o`, else the one at the time), then have the broker
/// tell the group's online members.
fn reset_one_queue(
    invocation: &Invocation,
    reset: &Reset<'_>,
    broker: &str,
    queue_id: i32,
    text: &str,
) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let (group, topic, ms) = (reset.group, reset.topic, reset.timestamp_ms);
    if format == Format::Text {
        println!(
            "start reset consumer offset by specified, group[{group}], topic[{topic}], \
             queueId[{queue_id}], broker[{broker}], timestamp(string)[{text}], \
             timestamp(long)[{ms}]"
        );
    }
    let mut session = Session::open("broker", broker)?;
    let queue = MessageQueue {
        broker_name: String::new(),
        queue_id,
        topic: topic.to_owned(),
    };
    let offset = if invocation.value("offset").is_some() {
        invocation.number("offset", 0_i64)?
    } else {
        let queue_ref = QueueRef {
            topic,
            broker_name: "",
            queue_id,
        };
        pull::queue_offset(&mut session, queue_ref, OffsetLookup::At(ms))?
    };
    match format {
        Format::Text => println!("reset consumer offset to {offset}"),
        Format::Json => json::print(&json!({
            "group": group, "topic": topic, "broker": broker, "queueId": queue_id,
            "offset": offset,
        })),
    }
    if offset < 0 {
        return Ok(());
    }
    commit_offset(&mut session, group, &queue, offset)?;
    let mut request = RemotingCommand::request(request_code::INVOKE_BROKER_TO_RESET_OFFSET);
    ResetOffsetRequestHeader {
        group: group.to_owned(),
        topic: topic.to_owned(),
        queue_id: Some(queue_id),
        offset: Some(offset),
        timestamp: 0,
        is_force: false,
    }
    .write_to(&mut request);
    session.call(&request).map(|_| ())
}

fn skip_accumulated(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let reset = Reset {
        group: invocation.required("group")?.trim(),
        topic: invocation.required("topic")?.trim(),
        timestamp_ms: TIMESTAMP_END,
        force: invocation.boolean("force", true),
    };
    let route = topic_route(&invocation.namesrv()?, reset.topic)?;
    let outcome = self::reset(&route, &reset)?;
    match (&outcome, format) {
        (_, Format::Json) => print_json(&reset, &outcome),
        (Outcome::ByBroker(body), Format::Text) => print_offsets(body),
        (Outcome::ByTool(rows), Format::Text) => print_rollback(rows, "#rollbackOffset"),
    }
    Ok(())
}
