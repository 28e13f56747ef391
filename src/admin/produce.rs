//! Sending one message as a RocketMQ producer does (SEND_MESSAGE_V2, 310), for `sendMessage`
//! and `clusterRT`: the message gets a client unique key (`UNIQ_KEY`) in the layout of Java's
//! `MessageClientIDSetter` — local IPv4, process id, a per-process hash, milliseconds since
//! the start of the month, and a counter — which `sendMessage` prints as `#MsgId` and
//! `queryMsgByUniqueKey` finds the message by.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::send::{
    SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use ringmq_protocol::{properties, request_code, response_code};

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
}

/// Send `outgoing` over `session`; a refusal names the broker and its remark.
pub(crate) fn send(session: &mut Session, outgoing: &Outgoing<'_>) -> Result<Receipt, AdminError> {
    let msg_id = unique_key(session.address(), clock::now_ms());
    let mut entries = Vec::new();
    if let Some(tags) = outgoing.tags {
        entries.push((properties::TAGS, tags));
    }
    if let Some(keys) = outgoing.keys {
        entries.push((properties::KEYS, keys));
    }
    entries.push((properties::WAIT, "true"));
    entries.push((properties::UNIQ_KEY, msg_id.as_str()));
    let header = SendMessageRequestHeader {
        producer_group: outgoing.producer_group.to_owned(),
        topic: outgoing.topic.to_owned(),
        default_topic: DEFAULT_TOPIC.to_owned(),
        default_topic_queue_nums: DEFAULT_TOPIC_QUEUE_NUMS,
        queue_id: outgoing.queue_id,
        sys_flag: 0,
        born_timestamp: clock::now_ms(),
        flag: 0,
        properties: Some(properties::encode(entries)),
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
    })
}

/// The local IPv4 address that routes to `address` (no packet is sent), or 127.0.0.1.
fn local_ipv4(address: &str) -> [u8; 4] {
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
    format!(
        "{:02X}{:02X}{:02X}{:02X}{pid_low:04X}{process_hash:08X}{since_month:08X}{counter:04X}",
        ip[0], ip[1], ip[2], ip[3]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
