//! Goal: hostile or broken input over TCP costs the sender its own connection or a precise
//! error code, never the broker: a malformed frame closes only that connection while other
//! clients keep being served; an oversized body gets MESSAGE_ILLEGAL; an invalid topic name
//! gets MESSAGE_ILLEGAL with RocketMQ's remark; an unknown request code gets
//! REQUEST_CODE_NOT_SUPPORTED with remark ` request type N not supported`; a oneway request is
//! executed but never answered.
//! Method: one `ringmq broker -c` process (no name server needed) with `maxMessageSize=1024`,
//! driven over raw TCP by the minimal remoting client from `support`, with hand-built byte
//! strings for the malformed frames.

#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end tests wait on real processes with wall-clock sleeps"
)]

mod support;

use std::time::Duration;

use ringmq_protocol::command::{RemotingCommand, FLAG_ONEWAY};
use ringmq_protocol::frame;
use ringmq_protocol::{request_code as code, response_code};
use support::{broker_properties, request, start_broker, Client, Process};

/// The broker under test and the address clients connect to.
fn broker_with_small_messages(directory: &std::path::Path) -> (Process, String) {
    // No name server runs at this address: registration failures must not matter here.
    let (properties, port) = broker_properties(directory, "127.0.0.1:1", "maxMessageSize=1024\n");
    let broker = start_broker(&properties);
    (broker, format!("127.0.0.1:{port}"))
}

fn send_v2(topic: &str, queue: i32, body: &[u8]) -> RemotingCommand {
    let mut message = request(
        code::SEND_MESSAGE_V2,
        &[
            ("a", "BadInputProducer"),
            ("b", topic),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", &queue.to_string()),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("i", "TAGS\u{1}TagA\u{2}"),
        ],
    );
    message.body = body.to_vec().into();
    message
}

/// The queue's max offset once it reaches `expected` (consume queues are dispatched from the
/// commitlog asynchronously, as in RocketMQ, so a send reply can precede its visibility), or
/// the last value seen after two seconds.
fn settled_max_offset(client: &mut Client, topic: &str, queue: i32, expected: &str) -> String {
    let mut seen = String::new();
    for _ in 0..40 {
        let reply = client.call(max_offset_request(topic, queue));
        reply
            .ext("offset")
            .unwrap_or_default()
            .clone_into(&mut seen);
        if seen == expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    seen
}

/// A connection that stays healthy throughout: every probe is a full send round trip.
fn assert_served(client: &mut Client, what: &str) {
    let sent = client.call(send_v2("BadInputHealthy", 0, b"still here"));
    assert_eq!(
        sent.code,
        response_code::SUCCESS,
        "the healthy connection was not served {what}: {:?}",
        sent.remark
    );
}

/// Malformed frames, each on its own connection: what the bytes violate, and the bytes.
fn malformed_frames() -> Vec<(&'static str, Vec<u8>)> {
    let mut header_overrun = Vec::new();
    header_overrun.extend_from_slice(&20_i32.to_be_bytes());
    header_overrun.extend_from_slice(&100_u32.to_be_bytes());
    header_overrun.extend_from_slice(&[0u8; 16]);

    let mut unknown_type = Vec::new();
    unknown_type.extend_from_slice(&8_i32.to_be_bytes());
    unknown_type.extend_from_slice(&((7_u32 << 24) | 4).to_be_bytes());
    unknown_type.extend_from_slice(b"{{{{");

    let garbage_json = b"this is not json at all".to_vec();
    let mut garbage_header = Vec::new();
    let header_len = u32::try_from(garbage_json.len()).expect("small");
    let frame_len = i32::try_from(garbage_json.len() + 4).expect("small");
    garbage_header.extend_from_slice(&frame_len.to_be_bytes());
    garbage_header.extend_from_slice(&header_len.to_be_bytes());
    garbage_header.extend_from_slice(&garbage_json);

    vec![
        (
            "negative length prefix",
            vec![0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4],
        ),
        (
            "length beyond the 16 MiB frame limit",
            vec![0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0],
        ),
        ("header length larger than the frame", header_overrun),
        ("unknown serialize type", unknown_type),
        ("header that is not JSON", garbage_header),
        (
            "an HTTP request on the remoting port",
            b"GET / HTTP/1.1\r\nHost: broker\r\n\r\n".to_vec(),
        ),
    ]
}

#[test]
fn malformed_frame_closes_only_its_connection() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (broker, address) = broker_with_small_messages(directory.path());
    let mut healthy = Client::connect(&address);
    assert_served(&mut healthy, "before any bad frame");

    for (what, bytes) in malformed_frames() {
        let mut bad = Client::connect(&address);
        bad.send_raw(&bytes);
        assert!(
            bad.read_frame().is_none(),
            "a frame with {what} must close the connection without a reply"
        );
        assert_served(&mut healthy, &format!("after a frame with {what}"));
    }

    // A bad frame right behind a good one in the same read: the good request is still
    // executed (whether its reply is flushed before the close is not promised, as in Java,
    // where the decoder error closes the channel while the request is being processed).
    let mut mixed = Client::connect(&address);
    let mut bytes = Vec::new();
    // An existing topic, so the send does not wait on the control plane's auto-create.
    let mut good = send_v2("BadInputHealthy", 1, b"before the garbage");
    good.opaque = 77;
    frame::encode(&good, &mut bytes);
    bytes.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    mixed.send_raw(&bytes);
    while let Some(reply) = mixed.read_frame() {
        assert_eq!(reply.opaque, 77, "only the good request may be answered");
    }
    let stored = settled_max_offset(&mut healthy, "BadInputHealthy", 1, "1");
    assert_eq!(stored, "1", "the good request was executed");

    assert_served(&mut healthy, "at the end");
    drop(broker);
}

fn max_offset_request(topic: &str, queue: i32) -> RemotingCommand {
    request(
        code::GET_MAX_OFFSET,
        &[("topic", topic), ("queueId", &queue.to_string())],
    )
}

#[test]
fn oversized_body_and_invalid_topic_names_are_refused_with_their_codes() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (broker, address) = broker_with_small_messages(directory.path());
    let mut client = Client::connect(&address);

    let at_limit = client.call(send_v2("BadInputSizes", 0, &[b'x'; 1024]));
    assert_eq!(
        at_limit.code,
        response_code::SUCCESS,
        "{:?}",
        at_limit.remark
    );
    let oversized = client.call(send_v2("BadInputSizes", 0, &[b'x'; 1025]));
    assert_eq!(
        oversized.code,
        response_code::MESSAGE_ILLEGAL,
        "{:?}",
        oversized.remark
    );
    let remark = oversized.remark.unwrap_or_default();
    assert!(remark.contains("body size over max value"), "{remark}");
    assert!(
        remark.contains("1024"),
        "the remark names the limit: {remark}"
    );
    let probe = client.call(send_v2("BadInputSizes", 0, b"probe"));
    assert_eq!(
        probe.ext("queueOffset"),
        Some("1"),
        "the refused message took no offset"
    );

    let with_space = client.call(send_v2("bad topic", 0, b"x"));
    assert_eq!(
        with_space.code,
        response_code::MESSAGE_ILLEGAL,
        "{:?}",
        with_space.remark
    );
    let remark = with_space.remark.unwrap_or_default();
    assert!(remark.contains("illegal characters"), "{remark}");
    assert!(remark.contains("^[%|a-zA-Z0-9_-]+$"), "{remark}");

    let long_name = "T".repeat(128);
    let too_long = client.call(send_v2(&long_name, 0, b"x"));
    assert_eq!(
        too_long.code,
        response_code::MESSAGE_ILLEGAL,
        "{:?}",
        too_long.remark
    );
    let remark = too_long.remark.unwrap_or_default();
    assert!(
        remark.contains("longer than topic max length 127"),
        "{remark}"
    );

    let longest = "T".repeat(127);
    let accepted = client.call(send_v2(&longest, 0, b"x"));
    assert_eq!(
        accepted.code,
        response_code::SUCCESS,
        "127 bytes is allowed: {:?}",
        accepted.remark
    );

    let blank = client.call(send_v2("", 0, b"x"));
    assert_ne!(
        blank.code,
        response_code::SUCCESS,
        "a blank topic is refused"
    );
    drop(broker);
}

#[test]
fn unknown_request_code_gets_request_code_not_supported() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (broker, address) = broker_with_small_messages(directory.path());
    let mut client = Client::connect(&address);
    for unknown in [9999, 7777, -5] {
        let reply = client.call(RemotingCommand::request(unknown));
        assert_eq!(
            reply.code,
            response_code::REQUEST_CODE_NOT_SUPPORTED,
            "code {unknown}"
        );
        assert_eq!(
            reply.remark.as_deref(),
            Some(format!(" request type {unknown} not supported").as_str())
        );
        assert!(reply.is_response());
    }
    assert_served(&mut client, "after unknown codes");
    drop(broker);
}

#[test]
fn oneway_requests_are_executed_but_never_answered() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (broker, address) = broker_with_small_messages(directory.path());
    let mut client = Client::connect(&address);

    let mut bytes = Vec::new();
    for (opaque, mut oneway) in [
        (1001, send_v2("BadInputOneway", 2, b"oneway body")),
        (1002, RemotingCommand::request(9999)),
        (1003, send_v2("bad topic", 0, b"refused, silently")),
    ] {
        oneway.opaque = opaque;
        oneway.flag |= FLAG_ONEWAY;
        frame::encode(&oneway, &mut bytes);
    }
    let mut probe = max_offset_request("BadInputOneway", 2);
    probe.opaque = 2000;
    frame::encode(&probe, &mut bytes);
    client.send_raw(&bytes);

    let reply = client.read_frame().expect("the probe is answered");
    assert_eq!(
        reply.opaque, 2000,
        "no reply to any oneway request came first: {reply:?}"
    );
    // The oneway send may become visible after the probe was answered; it must land.
    let stored = settled_max_offset(&mut client, "BadInputOneway", 2, "1");
    assert_eq!(stored, "1", "the oneway send was stored");

    // Nothing else arrives: a short read timeout sees no stray frame.
    let mut quiet = Client::connect(&address);
    let mut lone = send_v2("BadInputOneway", 3, b"lone oneway");
    lone.flag |= FLAG_ONEWAY;
    lone.opaque = 5;
    let mut bytes = Vec::new();
    frame::encode(&lone, &mut bytes);
    quiet.send_raw(&bytes);
    quiet.set_read_timeout(Duration::from_millis(500));
    assert!(quiet.read_frame().is_none(), "a oneway request got a reply");
    drop(broker);
}
