//! Goal: requests framed exactly as the Node.js (ali-ons), Go and C++ RocketMQ clients frame
//! them are understood, and our replies decode the way those clients read them.
//! Method: write hand-built frames (byte-for-byte the layouts documented in the remoting
//! reference §1.3 and §6) to a live name server, then check each reply with the client's own
//! rules: the header length read as an unmasked big-endian i32 (so byte 4 must be 0 for JSON),
//! a strict JSON parse, string-only ext values, code and version within i16, and a route body
//! that Go's naive `brokerAddrs` split parses (no whitespace anywhere).

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::io::Write;

use ringmq_protocol::response_code;
use serde_json::Value;
use support::{Broker, Client, TestNamesrv};

/// Frame a raw JSON header (and body) the way every client does.
fn frame(header: &str, body: &[u8]) -> Vec<u8> {
    let header_length = u32::try_from(header.len()).unwrap();
    let length = 4 + header_length + u32::try_from(body.len()).unwrap();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(&header_length.to_be_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// A reply as a JSON-only client reads it: (header JSON, body bytes).
fn read_like_js_or_cpp(raw: &[u8]) -> (Value, Vec<u8>) {
    let length = usize::try_from(u32::from_be_bytes(raw[0..4].try_into().unwrap())).unwrap();
    assert_eq!(length + 4, raw.len());
    assert_eq!(
        raw[4], 0,
        "serialize-type byte must be 0 (JSON) for unmasked readers"
    );
    // ali-ons: readInt32BE(4); C++: ntohl(header[0]) — no masking.
    let header_length = usize::try_from(i32::from_be_bytes(raw[4..8].try_into().unwrap())).unwrap();
    let header_text = std::str::from_utf8(&raw[8..8 + header_length]).expect("UTF-8 header");
    let header: Value = serde_json::from_str(header_text).expect("strict JSON header");
    (header, raw[8 + header_length..].to_vec())
}

/// Go reads `Code int16, Version int16, ExtFields map[string]string`; Rust needs
/// `serializeTypeCurrentRPC`; all need a known `language`.
fn check_header_fits_every_client(header: &Value, opaque: i64) {
    let code = header["code"].as_i64().expect("numeric code");
    assert!(i16::try_from(code).is_ok(), "code {code} fits Go's int16");
    let version = header["version"].as_i64().expect("numeric version");
    assert!(
        i16::try_from(version).is_ok(),
        "version {version} fits Go's int16"
    );
    assert_eq!(header["opaque"].as_i64(), Some(opaque));
    assert_eq!(header["flag"].as_i64(), Some(1), "response flag");
    assert_eq!(header["language"].as_str(), Some("JAVA"));
    assert_eq!(header["serializeTypeCurrentRPC"].as_str(), Some("JSON"));
    if let Some(ext) = header.get("extFields").filter(|ext| !ext.is_null()) {
        for (key, value) in ext.as_object().expect("extFields object") {
            assert!(
                value.is_string(),
                "ext {key} must be a JSON string, got {value}"
            );
        }
    }
}

/// rocketmq-client-go `internal/route.go`: take the text between `"brokerAddrs":{` and the next
/// `}`, split on `,`, split each on the first `:`, strip `"`.
fn go_naive_broker_addrs(body: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("\"brokerAddrs\":{") {
        let after = &rest[start + "\"brokerAddrs\":{".len()..];
        let end = after.find('}').expect("closing brace");
        for pair in after[..end].split(',') {
            let (id, addr) = pair.split_once(':').expect("id:addr");
            found.push((id.replace('"', ""), addr.replace('"', "")));
        }
        rest = &after[end..];
    }
    found
}

fn started_with_route() -> (TestNamesrv, Client) {
    let namesrv = TestNamesrv::start();
    let mut broker_connection = namesrv.client();
    for (id, addr) in [(0, "127.0.0.1:10911"), (1, "127.0.0.1:10921")] {
        let broker = Broker {
            cluster: "DefaultCluster",
            name: "broker-a",
            id,
            addr,
            ha_addr: "127.0.0.1:10912",
            topics: &["T"],
            heartbeat_timeout_ms: None,
        };
        assert_eq!(broker_connection.call(broker.register_request()).code, 0);
    }
    (namesrv, broker_connection)
}

fn exchange(namesrv: &TestNamesrv, header: &str) -> (Value, Vec<u8>) {
    let mut client = namesrv.client();
    client.stream.write_all(&frame(header, b"")).unwrap();
    let raw = client.receive_raw().expect("a reply");
    read_like_js_or_cpp(&raw)
}

fn check_route_reply(header: &Value, body: &[u8], opaque: i64) {
    check_header_fits_every_client(header, opaque);
    assert_eq!(header["code"].as_i64(), Some(0));
    let text = std::str::from_utf8(body).unwrap();
    assert!(
        !text.contains([' ', '\n', '\t', '\r']),
        "no whitespace for Go: {text}"
    );
    let _: Value = serde_json::from_str(text).expect("strict JSON body");
    assert_eq!(
        go_naive_broker_addrs(text),
        [
            ("0".to_owned(), "127.0.0.1:10911".to_owned()),
            ("1".to_owned(), "127.0.0.1:10921".to_owned())
        ]
    );
}

#[test]
fn node_ali_ons_route_request_with_raw_js_values_is_answered_in_strict_json() {
    let (namesrv, _broker) = started_with_route();
    // ali-ons: version 121, language JAVA, ext values copied as raw JS values, no
    // serializeTypeCurrentRPC.
    let header = r#"{"code":105,"language":"JAVA","opaque":7,"flag":0,"version":121,"extFields":{"topic":"T","acceptStandardJsonOnly":false,"queueId":0}}"#;
    let (reply, body) = exchange(&namesrv, header);
    check_route_reply(&reply, &body, 7);
}

#[test]
fn go_client_route_request_with_empty_remark_is_answered_for_int16_fields() {
    let (namesrv, _broker) = started_with_route();
    let header = r#"{"code":105,"language":"GO","version":317,"opaque":8,"flag":0,"remark":"","extFields":{"topic":"T"}}"#;
    let (reply, body) = exchange(&namesrv, header);
    check_route_reply(&reply, &body, 8);
}

#[test]
fn cpp_client_request_with_numeric_ext_and_trailing_newline_is_understood() {
    let (namesrv, _broker) = started_with_route();
    let header = "{\"code\":105,\"extFields\":{\"AccessKey\":\"\",\"OnsChannel\":\"\",\
                  \"Signature\":\"\",\"topic\":\"T\"},\"flag\":0,\"language\":\"CPP\",\
                  \"opaque\":9,\"remark\":\"\",\"version\":333}\n";
    let (reply, body) = exchange(&namesrv, header);
    check_route_reply(&reply, &body, 9);

    // Numeric ext values (C++ writes ints as JSON numbers) are coerced like fastjson does.
    let put = "{\"code\":100,\"extFields\":{\"AccessKey\":\"\",\"key\":42,\"namespace\":\"ns\",\
               \"value\":7},\"flag\":0,\"language\":\"CPP\",\"opaque\":10,\"remark\":\"\",\
               \"version\":333}\n";
    let (reply, _) = exchange(&namesrv, put);
    check_header_fits_every_client(&reply, 10);
    assert_eq!(reply["code"].as_i64(), Some(0));
    let get = "{\"code\":101,\"extFields\":{\"key\":\"42\",\"namespace\":\"ns\"},\"flag\":0,\
               \"language\":\"CPP\",\"opaque\":11,\"remark\":\"\",\"version\":333}\n";
    let (reply, _) = exchange(&namesrv, get);
    check_header_fits_every_client(&reply, 11);
    assert_eq!(reply["extFields"]["value"].as_str(), Some("7"));
}

#[test]
fn error_replies_to_foreign_clients_are_also_plain_json_with_string_remark() {
    let namesrv = TestNamesrv::start();
    let header = r#"{"code":105,"language":"GO","version":317,"opaque":3,"flag":0,"remark":"","extFields":{"topic":"Missing"}}"#;
    let (reply, body) = exchange(&namesrv, header);
    check_header_fits_every_client(&reply, 3);
    assert_eq!(
        reply["code"].as_i64(),
        Some(i64::from(response_code::TOPIC_NOT_EXIST))
    );
    assert!(reply["remark"].as_str().unwrap().contains("Missing"));
    assert!(body.is_empty());
}
