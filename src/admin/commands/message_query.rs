//! Finding messages: `queryMsgById`, `queryMsgByKey`, `queryMsgByUniqueKey` and
//! `queryMsgByOffset` (`QueryMsgByIdSubCommand` and siblings).
//!
//! An id that decodes as an offsetMsgId (store host and commitlog offset) is read from that
//! broker (VIEW_MESSAGE_BY_ID 33); any other id, or one whose broker cannot serve it, is looked
//! up as a client unique key in the index of every broker of the topic (QUERY_MESSAGE 12).
//! The detail ends with one line per consumer group of the topic saying whether the group
//! consumed the message (`messageTrackDetail`).
//!
//! `queryMsgById -g -d` (push the message to one consumer client) and `-s true` (send it again)
//! are in [`super::redeliver`].

use ringmq_protocol::body::route::MASTER_ID;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::query::{QueryMessageRequestHeader, ViewMessageRequestHeader};
use ringmq_protocol::record;
use ringmq_protocol::{request_code, response_code};
use serde_json::{json, Value};

use super::group::{consume_stats, consumer_connection};
use super::{
    cluster_info, named_broker, redeliver, route_brokers, switch, topic_consumer_groups,
    topic_route, valued, Command,
};
use crate::admin::client::{self, AdminError, Session};
use crate::admin::invocation::{Format, Invocation};
use crate::admin::json;
use crate::admin::message::StoredMessage;
use crate::admin::pull::{self, PullStatus, QueueRef, TOOLS_CONSUMER_GROUP};

/// Messages a unique-key lookup returns at most (`-a` shows them all).
const UNIQUE_KEY_MATCHES_MAX: i32 = 32;
/// Messages `queryMsgByKey` returns when `-m` is absent.
const KEY_MATCHES_DEFAULT: i32 = 64;
/// Separates the keys of one message in its KEYS property.
const KEY_SEPARATOR: char = ' ';

pub(super) const BY_ID: Command = Command {
    name: "queryMsgById",
    description: "Query Message by Id.",
    options: &[
        valued("t", "topic", true, "topic name"),
        valued("i", "msgId", true, "Message Id (several: comma-separated)"),
        valued("g", "consumerGroup", false, "consumer group name"),
        valued("d", "clientId", false, "The consumer's client id"),
        valued("s", "sendMessage", false, "resend message"),
        valued("u", "unitName", false, "unit name"),
        valued(
            "f",
            "bodyFormat",
            false,
            "print message body by the specified format (UTF-8, US-ASCII or ISO-8859-1)",
        ),
        valued(
            "c",
            "cluster",
            false,
            "Cluster name or lmq parent topic (unused: ringmq has no LMQ)",
        ),
    ],
    run: by_id,
};

pub(super) const BY_KEY: Command = Command {
    name: "queryMsgByKey",
    description: "Query Message by Key.",
    options: &[
        valued("t", "topic", true, "Topic name"),
        valued("k", "msgKey", true, "Message Key"),
        valued(
            "b",
            "beginTimestamp",
            false,
            "Begin timestamp(ms). default:0, eg:1676730526212",
        ),
        valued(
            "e",
            "endTimestamp",
            false,
            "End timestamp(ms). default:Long.MAX_VALUE, eg:1676730526212",
        ),
        valued(
            "m",
            "maxNum",
            false,
            "The maximum number of messages returned by the query, default:64",
        ),
        valued(
            "c",
            "cluster",
            false,
            "Cluster name or lmq parent topic (unused: ringmq has no LMQ)",
        ),
    ],
    run: by_key,
};

pub(super) const BY_UNIQUE_KEY: Command = Command {
    name: "queryMsgByUniqueKey",
    description: "Query Message by Unique key.",
    options: &[
        valued("i", "msgId", true, "Message Id"),
        valued("t", "topic", true, "The topic of msg"),
        switch("a", "showAll", "Print all message, the limit is 32"),
        valued(
            "c",
            "cluster",
            false,
            "Cluster name or lmq parent topic (unused: ringmq has no LMQ)",
        ),
    ],
    run: by_unique_key,
};

pub(super) const BY_OFFSET: Command = Command {
    name: "queryMsgByOffset",
    description: "Query Message by offset.",
    options: &[
        valued("t", "topic", true, "topic name"),
        valued("b", "brokerName", true, "Broker Name"),
        valued("i", "queueId", true, "Queue Id"),
        valued("o", "offset", true, "Queue Offset"),
        valued(
            "f",
            "bodyFormat",
            false,
            "print message body by the specified format (UTF-8, US-ASCII or ISO-8859-1)",
        ),
    ],
    run: by_offset,
};

/// What to look up by the message index.
#[derive(Debug)]
struct IndexQuery<'a> {
    topic: &'a str,
    key: &'a str,
    unique: bool,
    max: i32,
    begin_ms: i64,
    end_ms: i64,
}

/// Messages the index of every broker of the topic finds for `query`, keeping those whose
/// KEYS (or UNIQ_KEY, for unique-key queries) really hold the key.
fn index_lookup(
    namesrv: &[String],
    query: &IndexQuery<'_>,
) -> Result<Vec<StoredMessage>, AdminError> {
    let route = topic_route(namesrv, query.topic)?;
    let mut request = RemotingCommand::request(request_code::QUERY_MESSAGE);
    QueryMessageRequestHeader {
        topic: query.topic.to_owned(),
        key: query.key.to_owned(),
        max_num: query.max,
        begin_timestamp: query.begin_ms,
        end_timestamp: query.end_ms,
        unique_key_query: Some(query.unique),
    }
    .write_to(&mut request);
    let mut found = Vec::new();
    for (broker_name, address) in route_brokers(&route) {
        let mut session = Session::open("broker", &address)?;
        let response = session.exchange(&request)?;
        match response.code {
            response_code::SUCCESS => {}
            response_code::QUERY_NOT_FOUND => continue,
            _ => return Err(session.refused(&request, &response)),
        }
        let messages = StoredMessage::decode_response(&address, &response.body)?;
        found.extend(messages.into_iter().filter(|message| {
            let matches = if query.unique {
                message.msg_id() == query.key
            } else {
                message
                    .keys()
                    .is_some_and(|keys| keys.split(KEY_SEPARATOR).any(|key| key == query.key))
            };
            matches && message.topic == query.topic
        }));
        for message in &mut found {
            message
                .broker_name
                .get_or_insert_with(|| broker_name.clone());
        }
    }
    if found.is_empty() {
        let kind = if query.unique { "unique key" } else { "key" };
        return Err(AdminError::NotFound(format!(
            "no message of topic [{}] has the {kind} [{}] in the brokers' index \
             (query message by key finished, but no message.)",
            query.topic, query.key
        )));
    }
    Ok(found)
}

/// The message with client unique key `key`, the oldest first.
fn by_unique_key_lookup(
    namesrv: &[String],
    topic: &str,
    key: &str,
) -> Result<Vec<StoredMessage>, AdminError> {
    let mut found = index_lookup(
        namesrv,
        &IndexQuery {
            topic,
            key,
            unique: true,
            max: UNIQUE_KEY_MATCHES_MAX,
            begin_ms: 0,
            end_ms: i64::MAX,
        },
    )?;
    found.sort_by_key(|message| message.store_timestamp);
    Ok(found)
}

/// The record an offsetMsgId points at (VIEW_MESSAGE_BY_ID on its store host).
fn view(topic: &str, id: &str) -> Result<StoredMessage, AdminError> {
    let (address, offset) = record::decode_offset_msg_id(id)
        .ok_or_else(|| AdminError::NotFound(format!("[{id}] is not an offsetMsgId")))?;
    let address = address.to_string();
    let mut request = RemotingCommand::request(request_code::VIEW_MESSAGE_BY_ID);
    ViewMessageRequestHeader {
        offset,
        topic: Some(topic.to_owned()),
    }
    .write_to(&mut request);
    let response = client::call("broker", &address, &request)?;
    StoredMessage::decode_response(&address, &response.body)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            AdminError::NotFound(format!("broker {address} returned no record at {offset}"))
        })
}

/// `queryMessage(topic, msgId)`: view by offsetMsgId, else look the id up as a unique key.
pub(super) fn find_by_id(
    namesrv: &[String],
    topic: &str,
    id: &str,
) -> Result<StoredMessage, AdminError> {
    let viewed = view(topic, id);
    if let Ok(message) = viewed {
        return Ok(message);
    }
    let mut found = by_unique_key_lookup(namesrv, topic, id).map_err(|error| match viewed {
        Err(view_error) if record::decode_offset_msg_id(id).is_some() => AdminError::NotFound(
            format!("message [{id}] not found: as an offsetMsgId, {view_error}; as a unique key, {error}"),
        ),
        _ => error,
    })?;
    Ok(found.remove(0))
}

/// Java's `TrackType` of a group for a message, with the exception text when there is one.
#[derive(Debug)]
struct Track {
    group: String,
    kind: &'static str,
    cause: Option<String>,
}

impl Track {
    fn java_text(&self) -> String {
        format!(
            "MessageTrack [consumerGroup={}, trackType={}, exceptionDesc={}]",
            self.group,
            self.kind,
            self.cause.as_deref().unwrap_or("null")
        )
    }

    fn json(&self) -> Value {
        json!({ "consumerGroup": self.group, "trackType": self.kind, "exceptionDesc": self.cause })
    }
}

/// `CODE:<code> DESC:<remark>` for broker refusals, the error text otherwise; and whether the
/// refusal says the group is offline.
fn track_failure(error: &AdminError) -> (bool, String) {
    match error {
        AdminError::Refused { code, remark, .. } => (
            *code == response_code::CONSUMER_NOT_ONLINE,
            format!("CODE:{code} DESC:{remark}"),
        ),
        other => (false, other.to_string()),
    }
}

/// Whether `group` consumed `message`: its committed offset in the message's queue, on the
/// broker that stored it, is past the message (`consumed`).
fn consumed(namesrv: &[String], group: &str, message: &StoredMessage) -> Result<bool, AdminError> {
    let stats = consume_stats(namesrv, group, None)?;
    let info = cluster_info(namesrv)?;
    let store_host = message.store_host.to_string();
    Ok(stats.offset_table.iter().any(|(queue, offsets)| {
        let stored_here = info
            .broker_addr_table
            .get(&queue.broker_name)
            .and_then(|data| data.broker_addrs.get(&MASTER_ID))
            .is_some_and(|master| *master == store_host);
        queue.topic == message.topic
            && queue.queue_id == message.queue_id
            && stored_here
            && offsets.consumer_offset > message.queue_offset
    }))
}

fn track(namesrv: &[String], group: &str, message: &StoredMessage) -> Track {
    let mut track = Track {
        group: group.to_owned(),
        kind: "UNKNOWN",
        cause: None,
    };
    let connection = match consumer_connection(namesrv, group, None) {
        Ok(connection) => connection,
        Err(error) => {
            let (offline, cause) = track_failure(&error);
            if offline || matches!(error, AdminError::NotFound(_)) {
                track.kind = "NOT_ONLINE";
            }
            track.cause = Some(cause);
            return track;
        }
    };
    match connection.consume_type.as_deref() {
        Some("CONSUME_ACTIVELY") => track.kind = "PULL",
        Some("CONSUME_PASSIVELY") => match consumed(namesrv, group, message) {
            Ok(false) => track.kind = "NOT_CONSUME_YET",
            Ok(true) => {
                track.kind = "CONSUMED";
                let filtered = connection
                    .subscription_table
                    .get(&message.topic)
                    .is_some_and(|subscription| {
                        let tags = &subscription.tags_set;
                        !tags.is_empty()
                            && !tags.iter().any(|tag| tag == "*")
                            && !message
                                .tags()
                                .is_some_and(|tag| tags.iter().any(|t| t == tag))
                    });
                if filtered {
                    track.kind = "CONSUMED_BUT_FILTERED";
                }
            }
            Err(error) => {
                let (offline, cause) = track_failure(&error);
                if offline {
                    track.kind = "NOT_ONLINE";
                    track.cause = Some(cause);
                }
            }
        },
        _ => {}
    }
    track
}

/// One track per group consuming the message's topic (`messageTrackDetail`).
fn tracks(namesrv: &[String], message: &StoredMessage) -> Result<Vec<Track>, AdminError> {
    let route = topic_route(namesrv, &message.topic)?;
    let groups = topic_consumer_groups(&route, &message.topic)?;
    Ok(groups
        .iter()
        .map(|group| track(namesrv, group, message))
        .collect())
}

/// How to print one message's detail.
#[derive(Clone, Copy, Debug)]
struct Detail<'a> {
    /// queryMsgById and queryMsgByOffset start with `OffsetID:`; queryMsgByUniqueKey does not.
    offset_id: bool,
    /// `-f`: print the body in this charset too.
    charset: Option<&'a str>,
    /// The position among several matches, for the body file name.
    index: usize,
    /// queryMsgByUniqueKey ends each track without a line break, as RocketMQ does.
    track_newline: bool,
}

/// Print a message as `QueryMsgByIdSubCommand.printMsg` does, or collect its JSON.
fn print_detail(
    namesrv: &[String],
    message: &StoredMessage,
    detail: Detail<'_>,
    format: Format,
) -> Result<Option<Value>, AdminError> {
    let body_text = match detail.charset {
        Some(charset) => Some(message.body_text(charset).ok_or_else(|| {
            AdminError::Usage(format!(
                "-f {charset}: ringmq prints bodies as UTF-8, US-ASCII or ISO-8859-1"
            ))
        })?),
        None => None,
    };
    let tracks = tracks(namesrv, message).unwrap_or_else(|error| {
        eprintln!("cannot tell which groups consumed the message: {error}");
        Vec::new()
    });
    if format == Format::Json {
        let mut value = message.json();
        value["tracks"] = tracks.iter().map(Track::json).collect();
        return Ok(Some(value));
    }
    let body_path = message
        .write_body_file(detail.index)
        .unwrap_or_else(|error| {
            eprintln!("cannot write the message body under /tmp/rocketmq/msgbodys: {error}");
            String::new()
        });
    if detail.offset_id {
        println!("{:<20} {}", "OffsetID:", message.offset_msg_id());
    }
    for (label, value) in message.detail_lines() {
        println!("{label:<20} {value}");
    }
    println!("{:<20} {body_path}", "Message Body Path:");
    if let Some(text) = body_text {
        println!("{:<20} {text}", "Message Body:");
    }
    if tracks.is_empty() {
        print!("\n\nWARN: No Consumer");
    } else {
        print!("\n\n");
        for track in &tracks {
            if detail.track_newline {
                println!("{}", track.java_text());
            } else {
                print!("{}", track.java_text());
            }
        }
    }
    Ok(None)
}

fn print_json_messages(values: &[Value]) {
    json::print(&json!({ "messages": values }));
}

/// `-g -d` or `-s`: deliver each message again instead of printing it; a failure is printed
/// and the next id tried.
fn redeliver_each(invocation: &Invocation, ids: &[&str]) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let topic = invocation.required("topic")?.trim();
    let namesrv = invocation.namesrv()?;
    let push_to = invocation
        .value("consumerGroup")
        .zip(invocation.value("clientId"))
        .map(|(group, client)| (group.trim(), client.trim()));
    if push_to.is_none() && !invocation.boolean("sendMessage", false) {
        // RocketMQ does nothing for `-s false`.
        return Ok(());
    }
    let unit_name = invocation.value("unitName");
    let (mut values, mut failed) = (Vec::new(), 0);
    for id in ids {
        let done = match push_to {
            Some((group, client)) => redeliver::push(&namesrv, group, client, topic, id, format),
            None => redeliver::resend(&namesrv, topic, id, unit_name, format),
        };
        match done {
            Ok(value) => values.extend(value),
            Err(error) => {
                eprintln!("queryMsgById: message [{id}]: {error}");
                failed += 1;
            }
        }
    }
    if format == Format::Json {
        json::print(&json!({ "results": values }));
    }
    if failed > 0 {
        return Err(AdminError::Partial {
            failed,
            total: ids.len(),
            what: "messages",
        });
    }
    Ok(())
}

fn by_id(invocation: &Invocation) -> Result<(), AdminError> {
    let ids: Vec<&str> = invocation
        .required("msgId")?
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .collect();
    let pushing =
        invocation.value("consumerGroup").is_some() && invocation.value("clientId").is_some();
    if pushing || invocation.value("sendMessage").is_some() {
        return redeliver_each(invocation, &ids);
    }
    let format = invocation.format()?;
    let topic = invocation.required("topic")?.trim();
    let namesrv = invocation.namesrv()?;
    let detail = Detail {
        offset_id: true,
        charset: invocation.value("bodyFormat").map(str::trim),
        index: 0,
        track_newline: true,
    };
    let mut values = Vec::new();
    for id in ids {
        let message = find_by_id(&namesrv, topic, id)?;
        values.extend(print_detail(&namesrv, &message, detail, format)?);
    }
    if format == Format::Json {
        print_json_messages(&values);
    }
    Ok(())
}

fn by_key(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let namesrv = invocation.namesrv()?;
    let found = index_lookup(
        &namesrv,
        &IndexQuery {
            topic: invocation.required("topic")?.trim(),
            key: invocation.required("msgKey")?.trim(),
            unique: false,
            max: invocation.number("maxNum", KEY_MATCHES_DEFAULT)?,
            begin_ms: invocation.number("beginTimestamp", 0)?,
            end_ms: invocation.number("endTimestamp", i64::MAX)?,
        },
    )?;
    match format {
        Format::Text => {
            println!("{:<50} {:>4} {:>40}", "#Message ID", "#QID", "#Offset");
            for message in &found {
                println!(
                    "{:<50} {:>4} {:>40}",
                    message.msg_id(),
                    message.queue_id,
                    message.queue_offset
                );
            }
        }
        Format::Json => {
            let values: Vec<Value> = found.iter().map(StoredMessage::json).collect();
            print_json_messages(&values);
        }
    }
    Ok(())
}

fn by_unique_key(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let namesrv = invocation.namesrv()?;
    let topic = invocation.required("topic")?.trim();
    let found = by_unique_key_lookup(&namesrv, topic, invocation.required("msgId")?.trim())?;
    let shown = if invocation.flag("showAll") {
        found.len()
    } else {
        1
    };
    let mut values = Vec::new();
    for (index, message) in found.iter().take(shown).enumerate() {
        let detail = Detail {
            offset_id: false,
            charset: None,
            index,
            track_newline: false,
        };
        values.extend(print_detail(&namesrv, message, detail, format)?);
    }
    if format == Format::Json {
        print_json_messages(&values);
    }
    Ok(())
}

fn by_offset(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let namesrv = invocation.namesrv()?;
    let topic = invocation.required("topic")?.trim();
    let broker_name = invocation.required("brokerName")?.trim();
    let queue = QueueRef {
        topic,
        broker_name,
        queue_id: invocation.number("queueId", 0)?,
    };
    let offset: i64 = invocation.number("offset", 0)?;
    let route = topic_route(&namesrv, topic)?;
    let mut session = Session::open("broker", &named_broker(&route, topic, broker_name)?)?;
    let pulled = pull::pull(&mut session, TOOLS_CONSUMER_GROUP, queue, offset, 1)?;
    let Some(message) = pulled
        .messages
        .first()
        .filter(|_| pulled.status == PullStatus::Found)
    else {
        return Err(AdminError::NotFound(format!(
            "no message at offset {offset} of {}: {} (the queue holds offsets {}..{})",
            queue.java_text(),
            pulled.status.name(),
            pulled.min_offset,
            pulled.max_offset
        )));
    };
    let detail = Detail {
        offset_id: true,
        charset: invocation.value("bodyFormat").map(str::trim),
        index: 0,
        track_newline: true,
    };
    if let Some(value) = print_detail(&namesrv, message, detail, format)? {
        print_json_messages(&[value]);
    }
    Ok(())
}
