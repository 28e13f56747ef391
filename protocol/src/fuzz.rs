//! Fuzz entry points: one function per decoder that feeds it arbitrary bytes.
//!
//! The cargo-fuzz targets in `protocol/fuzz/` and the corpus replay test
//! (`protocol/tests/fuzz_corpus.rs`) both call these, so a crash found by the fuzzer reproduces
//! as a plain `cargo test` once its input is added to `protocol/fuzz/corpus/<target>/`.
//!
//! Contract under test: decoders return `Err` for bad input and never panic. Where a decode
//! succeeds, the entry point also checks that encoding the result and decoding it again gives
//! the same value, which catches encoder/decoder disagreements (escaping, key order, lengths).

use crate::body::{consumer, heartbeat, kv_table, register, route, topic_config, JsonBody};
use crate::command::RemotingCommand;
use crate::frame::{self, FRAME_BYTES_MAX_DEFAULT};
use crate::header::{admin, client, namesrv, offset, pull, query, send};
use crate::serialize::{json, rocketmq};
use crate::{batch, record};

/// A fuzz target: its name (the corpus directory) and entry point.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target. The names are the directories under `protocol/fuzz/corpus/` and the
/// `[[bin]]` names in `protocol/fuzz/Cargo.toml`.
pub const TARGETS: &[Target] = &[
    ("frame_decode", frame_decode),
    ("json_header", json_header),
    ("binary_header", binary_header),
    ("record_scan", record_scan),
    ("batch_body", batch_body),
    ("body_route", body_route),
    ("body_heartbeat", body_heartbeat),
    ("body_register", body_register),
    ("body_consumer", body_consumer),
    ("body_kv_table", body_kv_table),
];

/// Decode frames from the front of `data` until it runs out or errors; round-trip each frame and
/// run every typed header over its ext fields.
///
/// # Panics
/// If a decoded frame does not survive an encode/decode round trip (a codec bug).
pub fn frame_decode(data: &[u8]) {
    let mut rest = data;
    // A small limit as well as the default, so the size check itself is exercised.
    let _ = frame::decode(rest, 64);
    let shared = bytes::Bytes::copy_from_slice(data);
    let copied = frame::decode(data, FRAME_BYTES_MAX_DEFAULT);
    assert_eq!(
        frame::decode_bytes(&shared, FRAME_BYTES_MAX_DEFAULT),
        copied
    );
    while let Ok(Some((command, consumed))) = frame::decode(rest, FRAME_BYTES_MAX_DEFAULT) {
        let mut encoded = Vec::new();
        frame::encode(&command, &mut encoded);
        let again = frame::decode(&encoded, FRAME_BYTES_MAX_DEFAULT);
        let (again, again_consumed) = again
            .expect("re-encoded frame decodes")
            .expect("re-encoded frame is complete");
        assert_eq!(again_consumed, encoded.len());
        assert_eq!(again, command, "frame round trip changed the command");
        typed_headers(&command);
        rest = &rest[consumed..];
    }
}

/// Decode a JSON header; round-trip it if it decodes.
///
/// # Panics
/// If a decoded header does not survive an encode/decode round trip.
pub fn json_header(data: &[u8]) {
    if let Ok(command) = json::decode(data) {
        let mut encoded = Vec::new();
        json::encode(&command, &mut encoded);
        let again = json::decode(&encoded).expect("re-encoded JSON header decodes");
        assert_eq!(again, command, "JSON header round trip changed the command");
        typed_headers(&command);
    }
}

/// Decode a binary header; round-trip it if it decodes.
///
/// # Panics
/// If a decoded header does not survive an encode/decode round trip.
pub fn binary_header(data: &[u8]) {
    if let Ok(mut command) = rocketmq::decode(data) {
        command.serialize_type = crate::command::SerializeType::RocketMq;
        let mut encoded = Vec::new();
        rocketmq::encode(&command, &mut encoded);
        let mut again = rocketmq::decode(&encoded).expect("re-encoded binary header decodes");
        again.serialize_type = command.serialize_type;
        assert_eq!(
            again, command,
            "binary header round trip changed the command"
        );
        typed_headers(&command);
    }
}

/// Scan a commitlog record (with and without CRC check) and a run of records.
pub fn record_scan(data: &[u8]) {
    let _ = record::scan(data, true);
    let _ = record::scan(data, false);
    let _ = record::decode_all(data);
}

/// Decode a SEND_BATCH_MESSAGE body; re-encode the entries if it decodes.
///
/// # Panics
/// If decoded entries do not re-encode to the same bytes.
pub fn batch_body(data: &[u8]) {
    if let Ok(entries) = batch::decode(data) {
        let mut encoded = Vec::new();
        for entry in &entries {
            batch::encode_entry(entry.flag, entry.body, entry.properties, &mut encoded);
        }
        // MAGICCODE and BODYCRC are ignored on decode and written as 0, so compare entries.
        assert_eq!(batch::decode(&encoded).as_ref(), Ok(&entries));
    }
}

/// Decode the name-server route bodies.
pub fn body_route(data: &[u8]) {
    round_trip::<route::TopicRouteData>(data);
    round_trip::<route::ClusterInfo>(data);
    round_trip::<route::TopicList>(data);
}

/// Decode a heartbeat body.
pub fn body_heartbeat(data: &[u8]) {
    round_trip::<heartbeat::HeartbeatData>(data);
}

/// Decode the broker-registration bodies, plain and compressed.
pub fn body_register(data: &[u8]) {
    round_trip::<register::RegisterBrokerBody>(data);
    round_trip::<topic_config::TopicConfigSerializeWrapper>(data);
    round_trip::<topic_config::TopicConfig>(data);
    round_trip::<topic_config::DataVersion>(data);
    let _ = register::RegisterBrokerBody::decode_request(data, true);
}

/// Decode the consumer-group, offset and lock bodies.
pub fn body_consumer(data: &[u8]) {
    round_trip::<consumer::SubscriptionGroupConfig>(data);
    round_trip::<consumer::SubscriptionGroupWrapper>(data);
    round_trip::<consumer::ConsumerOffsetSerializeWrapper>(data);
    round_trip::<consumer::ConsumerIdList>(data);
    round_trip::<consumer::LockBatchRequestBody>(data);
    round_trip::<consumer::LockBatchResponseBody>(data);
}

/// Decode a KV table body.
pub fn body_kv_table(data: &[u8]) {
    round_trip::<kv_table::KvTable>(data);
}

fn round_trip<T: JsonBody + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = T::decode(data) {
        let again = T::decode(&value.encode()).expect("re-encoded body decodes");
        assert_eq!(again, value, "{} round trip changed the value", T::NAME);
    }
}

/// Run every typed header decoder over `command`'s ext fields; only absence of panics matters.
fn typed_headers(command: &RemotingCommand) {
    let _ = send::SendMessageRequestHeader::from_request(command);
    let _ = send::SendMessageRequestHeader::from_command(command);
    let _ = send::SendMessageRequestHeaderV2::from_command(command);
    let _ = send::SendMessageResponseHeader::from_command(command);
    let _ = send::ConsumerSendMsgBackRequestHeader::from_command(command);
    let _ = pull::PullMessageRequestHeader::from_command(command);
    let _ = pull::PullMessageResponseHeader::from_command(command);
    let _ = offset::QueryConsumerOffsetRequestHeader::from_command(command);
    let _ = offset::UpdateConsumerOffsetRequestHeader::from_command(command);
    let _ = offset::SearchOffsetRequestHeader::from_command(command);
    let _ = offset::GetMaxOffsetRequestHeader::from_command(command);
    let _ = client::UnregisterClientRequestHeader::from_command(command);
    let _ = query::QueryMessageRequestHeader::from_command(command);
    let _ = admin::CreateTopicRequestHeader::from_command(command);
    let _ = admin::ResetOffsetRequestHeader::from_command(command);
    let _ = namesrv::RegisterBrokerRequestHeader::from_command(command);
    let _ = namesrv::GetRouteInfoRequestHeader::from_command(command);
    let _ = namesrv::BrokerIdentityRequestHeader::from_command(command);
}
