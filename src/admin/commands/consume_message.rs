//! `consumeMessage`: pull and print messages of a topic without joining a consumer group's
//! progress (nothing is committed), as `ConsumeMessageCommand` does: every readable queue
//! (default), one queue (`-b -i`), or one queue from an offset (`-b -i -o`), optionally
//! between two store times (`-s`, `-e`), at most `-c` messages (default 128).
//!
//! Each found batch prints `Consume ok` and one `MSGID: <id> <MessageExt> BODY: <text>` line
//! per message; a queue ends with `<MessageQueue> print msg finished. status=..., offset=...`.

use std::collections::BTreeMap;

use ringmq_protocol::body::route::TopicRouteData;
use serde_json::{json, Value};

use super::{named_broker, topic_route, valued, Command};
use crate::admin::client::{AdminError, Session};
use crate::admin::clock;
use crate::admin::invocation::{Format, Invocation};
use crate::admin::json;
use crate::admin::message::StoredMessage;
use crate::admin::pull::{self, OffsetLookup, PullStatus, QueueRef, TOOLS_CONSUMER_GROUP};

/// PermName read bit.
const PERM_READ: i32 = 4;
/// Messages printed when `-c` is absent.
const MESSAGE_COUNT_DEFAULT: i64 = 128;

pub(super) const COMMAND: Command = Command {
    name: "consumeMessage",
    description: "Consume message.",
    options: &[
        valued("t", "topic", true, "Topic name"),
        valued("b", "brokerName", false, "Broker name"),
        valued("i", "queueId", false, "Queue Id"),
        valued("o", "offset", false, "Queue offset"),
        valued("g", "consumerGroup", false, "Consumer group name"),
        valued(
            "s",
            "beginTimestamp",
            false,
            "Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS] (UTC)",
        ),
        valued(
            "e",
            "endTimestamp",
            false,
            "End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS] (UTC)",
        ),
        valued(
            "c",
            "MessageNumber",
            false,
            "Number of message to be consumed",
        ),
    ],
    run,
};

/// The checked flags.
#[derive(Debug)]
struct Request {
    topic: String,
    group: String,
    count: i64,
    /// `-b -i [-o]`: one queue, from this offset.
    queue: Option<(String, i32, i64)>,
    /// 0: absent.
    begin_ms: i64,
    end_ms: i64,
}

fn timestamp(invocation: &Invocation, long: &str, now_ms: i64) -> Result<i64, AdminError> {
    let Some(text) = invocation.value(long) else {
        return Ok(0);
    };
    let value = clock::parse_timestamp(text).ok_or_else(|| {
        AdminError::Usage(format!(
            "--{long} takes epoch milliseconds or yyyy-MM-dd#HH:mm:ss:SSS, not '{text}'"
        ))
    })?;
    if value > now_ms {
        return Err(AdminError::Usage(format!(
            "Please set the {long} before now!"
        )));
    }
    Ok(value)
}

fn request(invocation: &Invocation) -> Result<Request, AdminError> {
    let count = invocation.number("MessageNumber", MESSAGE_COUNT_DEFAULT)?;
    if count <= 0 {
        return Err(AdminError::Usage(
            "Please input a positive messageNumber!".to_owned(),
        ));
    }
    let queue_id: Option<i32> = invocation
        .value("queueId")
        .map(|_| invocation.number("queueId", 0))
        .transpose()?;
    let queue = match (invocation.value("brokerName"), queue_id) {
        (None, Some(_)) => {
            return Err(AdminError::Usage(
                "Please set the brokerName before queueId!".to_owned(),
            ))
        }
        (Some(broker), Some(queue_id)) => Some((
            broker.trim().to_owned(),
            queue_id,
            invocation.number("offset", 0_i64)?,
        )),
        (_, None) if invocation.value("offset").is_some() => {
            return Err(AdminError::Usage(
                "Please set queueId before offset!".to_owned(),
            ))
        }
        (_, None) => None,
    };
    let now_ms = clock::now_ms();
    let begin_ms = timestamp(invocation, "beginTimestamp", now_ms)?;
    let end_ms = timestamp(invocation, "endTimestamp", now_ms)?;
    if end_ms > 0 && begin_ms > end_ms {
        return Err(AdminError::Usage(
            "Please make sure that the beginTimestamp is less than or equal to the endTimestamp"
                .to_owned(),
        ));
    }
    Ok(Request {
        topic: invocation.required("topic")?.trim().to_owned(),
        group: invocation
            .value("consumerGroup")
            .map_or(TOOLS_CONSUMER_GROUP, str::trim)
            .to_owned(),
        count,
        queue,
        begin_ms,
        end_ms,
    })
}

/// Pulls in progress: one connection per broker, and what `--format json` will print.
#[derive(Debug)]
struct Reader {
    route: TopicRouteData,
    group: String,
    format: Format,
    sessions: BTreeMap<String, Session>,
    messages: Vec<Value>,
    queues: Vec<Value>,
}

impl Reader {
    fn session(&mut self, topic: &str, broker_name: &str) -> Result<&mut Session, AdminError> {
        let address = named_broker(&self.route, topic, broker_name)?;
        if !self.sessions.contains_key(&address) {
            let session = Session::open("broker", &address)?;
            self.sessions.insert(address.clone(), session);
        }
        self.sessions
            .get_mut(&address)
            .ok_or_else(|| AdminError::NoBroker(address.clone()))
    }

    /// The offsets to read of `queue`: from its min (or `-s`) to its max (or `-e`).
    fn bounds(&mut self, queue: QueueRef<'_>, request: &Request) -> Result<(i64, i64), AdminError> {
        let session = self.session(queue.topic, queue.broker_name)?;
        let lookup = |ms: i64, fallback| {
            if ms > 0 {
                OffsetLookup::At(ms)
            } else {
                fallback
            }
        };
        let min = pull::queue_offset(session, queue, lookup(request.begin_ms, OffsetLookup::Min))?;
        let max = pull::queue_offset(session, queue, lookup(request.end_ms, OffsetLookup::Max))?;
        Ok((min, max))
    }

    /// Pull `min..=max` of `queue` and print what was found (`pullMessageByQueue`).
    fn read(&mut self, queue: QueueRef<'_>, min: i64, max: i64) -> Result<(), AdminError> {
        let group = self.group.clone();
        let mut offset = min;
        while offset <= max {
            let wanted = i32::try_from(max - offset + 1).unwrap_or(i32::MAX);
            let session = self.session(queue.topic, queue.broker_name)?;
            let pulled = pull::pull(session, &group, queue, offset, wanted)?;
            offset = pulled.next_begin_offset;
            let status = pulled.status.name();
            match pulled.status {
                PullStatus::Found => self.print_found(&pulled.messages),
                PullStatus::NoMatchedMsg if self.format == Format::Text => println!(
                    "{} no matched msg. status={status}, offset={offset}",
                    queue.java_text()
                ),
                PullStatus::NoMatchedMsg => {}
                PullStatus::NoNewMsg | PullStatus::OffsetIllegal => {
                    self.finished(queue, status, offset);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn print_found(&mut self, messages: &[StoredMessage]) {
        if self.format == Format::Json {
            self.messages
                .extend(messages.iter().map(StoredMessage::json));
            return;
        }
        println!("Consume ok");
        for message in messages {
            println!(
                "MSGID: {} {} BODY: {}",
                message.msg_id(),
                message.java_text(),
                String::from_utf8_lossy(&message.body)
            );
        }
    }

    fn finished(&mut self, queue: QueueRef<'_>, status: &str, offset: i64) {
        match self.format {
            Format::Text => println!(
                "{} print msg finished. status={status}, offset={offset}",
                queue.java_text()
            ),
            Format::Json => self.queues.push(json!({
                "brokerName": queue.broker_name,
                "queueId": queue.queue_id,
                "status": status,
                "offset": offset,
            })),
        }
    }
}

fn run(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let request = request(invocation)?;
    let route = topic_route(&invocation.namesrv()?, &request.topic)?;
    let mut reader = Reader {
        route,
        group: request.group.clone(),
        format,
        sessions: BTreeMap::new(),
        messages: Vec::new(),
        queues: Vec::new(),
    };
    match &request.queue {
        Some((broker_name, queue_id, offset)) => {
            read_one_queue(&mut reader, &request, broker_name, *queue_id, *offset)?;
        }
        None => read_every_queue(&mut reader, &request)?,
    }
    if format == Format::Json {
        json::print(&json!({ "messages": reader.messages, "queues": reader.queues }));
    }
    Ok(())
}

/// `executeByCondition`: one queue from `offset`, at most `count` messages.
fn read_one_queue(
    reader: &mut Reader,
    request: &Request,
    broker_name: &str,
    queue_id: i32,
    offset: i64,
) -> Result<(), AdminError> {
    let queue = QueueRef {
        topic: &request.topic,
        broker_name,
        queue_id,
    };
    let (min, mut max) = reader.bounds(queue, request)?;
    if offset > max {
        if reader.format == Format::Text {
            println!("{} no matched msg, offset={offset}", queue.java_text());
        }
        return Ok(());
    }
    let min = min.max(offset);
    if max - min > request.count {
        if reader.format == Format::Text {
            println!("The oldler {} message will be provided", request.count);
        }
        max = min + request.count - 1;
    }
    reader.read(queue, min, max)
}

/// `executeDefault`: every readable queue of the route, `count` messages in all.
fn read_every_queue(reader: &mut Reader, request: &Request) -> Result<(), AdminError> {
    let queues: Vec<(String, i32)> = reader
        .route
        .queue_datas
        .iter()
        .filter(|queue| queue.perm & PERM_READ != 0)
        .flat_map(|queue| (0..queue.read_queue_nums).map(|id| (queue.broker_name.clone(), id)))
        .collect();
    let mut left = request.count;
    for (broker_name, queue_id) in &queues {
        if left == 0 {
            break;
        }
        let queue = QueueRef {
            topic: &request.topic,
            broker_name,
            queue_id: *queue_id,
        };
        let (min, mut max) = reader.bounds(queue, request)?;
        if max - min > left {
            if reader.format == Format::Text {
                println!("The older {left} message of the {queue_id} queue will be provided");
            }
            max = min + left - 1;
            left = 0;
        } else {
            left = (left - (max - min) - 1).max(0);
        }
        reader.read(queue, min, max)?;
    }
    Ok(())
}
