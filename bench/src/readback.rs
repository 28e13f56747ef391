//! The consumer side of `--verify`: after the load stopped, pull every queue the run wrote
//! from its lowest acknowledged offset to its end and feed each message to the
//! [`Checker`](crate::verify::Checker).
//!
//! Queues are read one after another with plain (non-suspending) pulls, one connection per
//! broker, so what is checked is the stored order itself. A broker may acknowledge a send
//! slightly before the consume queue shows it (ASYNC_FLUSH dispatch), so a queue that ends
//! short of its last acknowledged offset is polled again until `PROGRESS_WAIT` passes without
//! progress; whatever is still missing then counts as lost.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::time::Duration;

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::pull::PULL_FLAG_SUBSCRIPTION;
use ringmq_protocol::record::{self, Scanned};
use ringmq_protocol::{request_code, response_code};

use crate::client::{request, Connection};
use crate::clock;
use crate::options::Options;
use crate::produce::Produced;
use crate::route::Queue;
use crate::verify::{self, Checker, Consumed, QueueIndex, Stamp, Verdict};

/// How long a queue may show no new message before the missing ones count as lost.
const PROGRESS_WAIT: Duration = Duration::from_secs(10);
/// Pause between pulls that found nothing yet.
const RETRY_PAUSE: Duration = Duration::from_millis(20);
/// Messages per pull (the broker's own cap is 256).
const PULL_MESSAGES: u32 = 256;
/// The consumer group the read-back pulls as; it never commits an offset.
const VERIFY_GROUP: &str = "ringmq_bench_verify";

/// Offsets of one queue the read-back must cover: `first..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    first: u64,
    end: u64,
}

/// Per queue, the offsets acknowledged sends were stored at (unknown offsets left out).
fn spans(produced: &Produced) -> BTreeMap<QueueIndex, Span> {
    let mut spans: BTreeMap<QueueIndex, Span> = BTreeMap::new();
    for ack in produced
        .acknowledged
        .iter()
        .filter(|ack| ack.offset != u64::MAX)
    {
        let span = spans.entry(ack.queue).or_insert(Span {
            first: ack.offset,
            end: ack.offset + 1,
        });
        span.first = span.first.min(ack.offset);
        span.end = span.end.max(ack.offset + 1);
    }
    spans
}

fn pull_request(topic: &str, queue_id: i32, offset: u64) -> RemotingCommand {
    request(
        request_code::PULL_MESSAGE,
        &[
            ("consumerGroup", VERIFY_GROUP.to_owned()),
            ("topic", topic.to_owned()),
            ("queueId", queue_id.to_string()),
            ("queueOffset", offset.to_string()),
            ("maxMsgNums", PULL_MESSAGES.to_string()),
            ("sysFlag", PULL_FLAG_SUBSCRIPTION.to_string()),
            ("commitOffset", "0".to_owned()),
            ("suspendTimeoutMillis", "0".to_owned()),
            ("subscription", "*".to_owned()),
            ("subVersion", "0".to_owned()),
            ("expressionType", "TAG".to_owned()),
        ],
    )
}

/// Feed the records of one pull body to the checker; the CRC of every body is checked too.
fn feed(checker: &mut Checker, queue: QueueIndex, body: &[u8]) -> Result<(), String> {
    let mut rest = body;
    while !rest.is_empty() {
        match record::scan(rest, true) {
            Ok(Scanned::Record(found)) => {
                checker.consume(Consumed {
                    queue,
                    offset: u64::try_from(found.queue_offset).unwrap_or(u64::MAX),
                    stamp: found
                        .property(verify::STAMP_PROPERTY)
                        .and_then(Stamp::decode),
                });
                rest = &rest[found.total_size..];
            }
            Ok(Scanned::Blank { .. }) => return Err("a pull response holds a BLANK".to_owned()),
            Err(error) => return Err(format!("a pulled message does not decode: {error}")),
        }
    }
    Ok(())
}

/// Read one queue from `span.first` to its end: past `span.end` (stored but unacknowledged
/// messages and late duplicates are checked too) and, short of it, until it stops growing.
fn read_queue(
    connection: &mut Connection,
    topic: &str,
    (index, queue): (QueueIndex, &Queue),
    span: Span,
    checker: &mut Checker,
) -> Result<(), String> {
    let context = |what: String| {
        format!(
            "read-back of {topic} queue {} on {}: {what}",
            queue.queue_id, queue.broker
        )
    };
    let mut offset = span.first;
    let mut last_progress = clock::now();
    loop {
        let response = connection
            .call(pull_request(topic, queue.queue_id, offset))
            .map_err(|error| context(error.to_string()))?;
        let next = response
            .ext("nextBeginOffset")
            .and_then(|text| text.parse::<u64>().ok());
        match response.code {
            response_code::SUCCESS => {
                feed(checker, index, &response.body).map_err(context)?;
            }
            // Moved forward: the messages skipped over are gone and will count as lost.
            response_code::PULL_OFFSET_MOVED if next.is_some_and(|next| next > offset) => {}
            response_code::PULL_NOT_FOUND
            | response_code::PULL_RETRY_IMMEDIATELY
            | response_code::PULL_OFFSET_MOVED => {
                if offset >= span.end {
                    return Ok(());
                }
                if clock::now().saturating_duration_since(last_progress) > PROGRESS_WAIT {
                    eprintln!("{}", context(format!("no message past offset {offset}")));
                    return Ok(());
                }
                clock::wait_until(clock::now() + RETRY_PAUSE);
            }
            code => {
                let remark = response.remark.unwrap_or_default();
                return Err(context(format!("broker answered {code}: {remark}")));
            }
        }
        if let Some(next) = next.filter(|&next| next > offset) {
            offset = next;
            last_progress = clock::now();
        }
    }
}

/// Read back every queue the run acknowledged messages in and check them.
pub(crate) fn verify(options: &Options, produced: &Produced) -> Result<Verdict, String> {
    if produced.acknowledged.len() >= verify::ACKNOWLEDGED_MAX {
        return Err(format!(
            "--verify tracks at most {} acknowledged messages; shorten the run (-q or --duration)",
            verify::ACKNOWLEDGED_MAX
        ));
    }
    let mut checker = Checker::new(produced.run, produced.acknowledged.iter().copied());
    let mut connections: BTreeMap<String, Connection> = BTreeMap::new();
    for (index, span) in spans(produced) {
        let queue = usize::try_from(index.0)
            .ok()
            .and_then(|i| produced.queues.get(i))
            .ok_or_else(|| format!("queue index {} outside the route", index.0))?;
        let connection = match connections.entry(queue.broker.clone()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(
                Connection::connect(&queue.broker, Duration::from_secs(5))
                    .map_err(|error| format!("read-back: broker {}: {error}", queue.broker))?,
            ),
        };
        read_queue(
            connection,
            &options.topic,
            (index, queue),
            span,
            &mut checker,
        )?;
    }
    Ok(checker.finish())
}
