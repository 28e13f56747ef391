//! Sending one message as a RocketMQ producer does (SEND_MESSAGE_V2, 310), for `sendMessage`,
//! `clusterRT` and `queryMsgById -s`: the message gets a client unique key (`UNIQ_KEY`) in the
//! layout of Java's `MessageClientIDSetter` — local IPv4, process id, a per-process hash,
//! milliseconds since the start of the month, and a counter — which `sendMessage` prints as
//! `#MsgId` and `queryMsgByUniqueKey` finds the message by. A resent stored message keeps its
//! properties, unique key included, as Java's producer keeps them.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::send::{
    SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use ringmq_protocol::{properties, record, request_code, response_code};

use super::client::{AdminError, Session};
use super::clock;

/// The topic new topics are modelled on when the broker creates them on first send.
pub(crate) const DEFAULT_TOPIC: &str = "TBW102";
/// Queues a topic created on first send gets (`defaultTopicQueueNums`).
const DEFAULT_TOPIC_QUEUE_NUMS: i32 = 4;

/// Unique keys made by this process so far, the last field of each key.
static UNIQUE_KEY_COUNTER: AtomicU16 = AtomicU16::new(0);

/// One message to send to one queue of one broker.
#[derive(Debug)]
pub(crate) struct Outgoing<'a> {
    pub(crate) producer_group: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) broker_name: &'a str,
    pub(crate) queue_id: i32,
    pub(crate) tags: Option<&'a str>,
    pub(crate) keys: Option<&'a str>,
    pub(crate) body: &'a [u8],
    /// A stored message's flag and properties, sent as they are (`tags`, `keys` unused); a
    /// unique key is added only when they hold none.
    pub(crate) stored: Option<(i32, &'a str)>,
}

/// What the broker said about a stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Receipt {
    /// `SendStatus` name: SEND_OK, FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT or
    /// SLAVE_NOT_AVAILABLE (stored, but not as durably as configured).
    pub(crate) status: &'static str,
    /// The client unique key.
    pub(crate) msg_id: String,
    pub(crate) offset_msg_id: String,
    pub(crate) queue_id: i32,
    pub(crate) queue_offset: i64,
    /// The broker's `MSG_REGION`; with `trace_on` (`TRACE_ON`), what a producer needs to
    /// record a message trace (`SendMessageTraceHookImpl` skips the trace without them).
    pub(crate) region_id: Option<String>,
    pub(crate) trace_on: bool,
}

/// Send `outgoing` over `session`; a refusal names the broker and its remark.
pub(crate) fn send(session: &mut Session, outgoing: &Outgoing<'_>) -> Result<Receipt, AdminError> {
    let (flag, text, msg_id) = properties_of(outgoing, session.address());
    let header = SendMessageRequestHeader {
        producer_group: outgoing.producer_group.to_owned(),
        topic: outgoing.topic.to_owned(),
        default_topic: DEFAULT_TOPIC.to_owned(),
        default_topic_queue_nums: DEFAULT_TOPIC_QUEUE_NUMS,
        queue_id: outgoing.queue_id,
        sys_flag: 0,
        born_timestamp: clock::now_ms(),
        flag,
        properties: Some(text),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        batch: Some(false),
        max_reconsume_times: None,
        broker_name: Some(outgoing.broker_name.to_owned()),
    };
    let mut request = RemotingCommand::request(request_code::SEND_MESSAGE_V2);
    SendMessageRequestHeaderV2::from(header).write_to(&mut request);
    request.body = outgoing.body.to_vec().into();
    let response = session.exchange(&request)?;
    let status = match response.code {
        response_code::SUCCESS => "SEND_OK",
        response_code::FLUSH_DISK_TIMEOUT => "FLUSH_DISK_TIMEOUT",
        response_code::FLUSH_SLAVE_TIMEOUT => "FLUSH_SLAVE_TIMEOUT",
        response_code::SLAVE_NOT_AVAILABLE => "SLAVE_NOT_AVAILABLE",
        _ => return Err(session.refused(&request, &response)),
    };
    let answer =
        SendMessageResponseHeader::from_command(&response).map_err(|error| AdminError::Header {
            address: session.address().to_owned(),
            cause: error,
        })?;
    Ok(Receipt {
        status,
        msg_id,
        offset_msg_id: answer.msg_id,
        queue_id: answer.queue_id,
        queue_offset: answer.queue_offset,
        region_id: response.ext(properties::MSG_REGION).map(str::to_owned),
        trace_on: response
            .ext(properties::TRACE_ON)
            .is_some_and(|on| on.eq_ignore_ascii_case("true")),
    })
}

/// The flag, property text and unique key of `outgoing`, sent to `address`.
fn properties_of(outgoing: &Outgoing<'_>, address: &str) -> (i32, String, String) {
    if let Some((flag, stored)) = outgoing.stored {
        if let Some(key) = properties::find(stored, properties::UNIQ_KEY) {
            return (flag, stored.to_owned(), key.to_owned());
        }
        let key = unique_key(address, clock::now_ms());
        let text = properties::with(stored, properties::UNIQ_KEY, &key);
        return (flag, text, key);
    }
    let msg_id = unique_key(address, clock::now_ms());
    let mut entries = Vec::new();
    if let Some(tags) = outgoing.tags {
        entries.push((properties::TAGS, tags));
    }
    if let Some(keys) = outgoing.keys {
        entries.push((properties::KEYS, keys));
    }
    entries.push((properties::WAIT, "true"));
    entries.push((properties::UNIQ_KEY, msg_id.as_str()));
    (0, properties::encode(entries), msg_id)
}

/// The local IPv4 address that routes to `address` (no packet is sent), or 127.0.0.1.
pub(crate) fn local_ipv4(address: &str) -> [u8; 4] {
    let local = address
        .to_socket_addrs()
        .ok()
        .and_then(|mut targets| targets.next())
        .and_then(|target: SocketAddr| {
            let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
            socket.connect(target).ok()?;
            socket.local_addr().ok()
        });
    match local.map(|local| local.ip()) {
        Some(IpAddr::V4(ip)) if !ip.is_unspecified() => ip.octets(),
        _ => [127, 0, 0, 1],
    }
}

/// A `MessageClientIDSetter`-layout unique key: 32 upper-case hex digits.
fn unique_key(broker: &str, now_ms: i64) -> String {
    let ip = local_ipv4(broker);
    let pid = std::process::id();
    let since_month = now_ms - clock::month_start_ms(now_ms);
    let counter = UNIQUE_KEY_COUNTER.fetch_add(1, Ordering::Relaxed);
    // Java fills these four bytes with the class loader's hash code; any per-process constant
    // keeps keys of concurrent tool runs apart.
    let process_hash = pid.rotate_left(16) ^ 0x5A5A_5A5A;
    let pid_low = u16::try_from(pid & 0xFFFF).unwrap_or(0);
    let since_month = u32::try_from(since_month).unwrap_or(0);
    let mut raw = [0u8; 16];
    raw[..4].copy_from_slice(&ip);
    raw[4..6].copy_from_slice(&pid_low.to_be_bytes());
    raw[6..10].copy_from_slice(&process_hash.to_be_bytes());
    raw[10..14].copy_from_slice(&since_month.to_be_bytes());
    raw[14..].copy_from_slice(&counter.to_be_bytes());
    let mut key = String::with_capacity(32);
    record::push_hex_upper(&raw, &mut key);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hazard: a resent message that got a new unique key would no longer be found (or
    // deduplicated) by the key its producer gave it.
    #[test]
    fn a_resent_message_keeps_its_properties_and_unique_key() {
        let stored = properties::encode([(properties::TAGS, "A"), (properties::UNIQ_KEY, "K1")]);
        let outgoing = Outgoing {
            producer_group: "g",
            topic: "T",
            broker_name: "b",
            queue_id: 0,
            tags: None,
            keys: None,
            body: b"x",
            stored: Some((3, &stored)),
        };
        let (flag, text, key) = properties_of(&outgoing, "127.0.0.1:1");
        assert_eq!(
            (flag, text.as_str(), key.as_str()),
            (3, stored.as_str(), "K1")
        );
        let bare = properties::encode([(properties::TAGS, "A")]);
        let outgoing = Outgoing {
            stored: Some((0, &bare)),
            ..outgoing
        };
        let (_, text, key) = properties_of(&outgoing, "127.0.0.1:1");
        assert_eq!(
            properties::find(&text, properties::UNIQ_KEY),
            Some(key.as_str())
        );
        assert_eq!(properties::find(&text, properties::TAGS), Some("A"));
    }

    #[test]
    fn unique_keys_are_32_hex_digits_starting_with_the_local_address_and_differ() {
        let first = unique_key("127.0.0.1:1", 1_709_251_199_123);
        let second = unique_key("127.0.0.1:1", 1_709_251_199_123);
        assert_eq!(first.len(), 32);
        assert!(first.starts_with("7F000001"), "{first}");
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(
            first, second,
            "the counter must tell keys of one millisecond apart"
        );
    }
}
