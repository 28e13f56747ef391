//! Goal: pin the exact bytes of the reference's example frames (remoting-protocol §1.7) so a
//! change in header layout, key order or length arithmetic cannot slip past unnoticed.
//! Method: build the command, encode, compare byte for byte; decode the bytes back.

use ringmq_protocol::command::{Language, RemotingCommand, SerializeType};
use ringmq_protocol::frame::{self, FRAME_BYTES_MAX_DEFAULT};

const ROUTE_JSON_HEADER: &str = "{\"code\":105,\"extFields\":{\"topic\":\"T\"},\"flag\":0,\
\"language\":\"JAVA\",\"opaque\":1,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":475}";

const ROUTE_BINARY_FRAME: [u8; 41] = [
    0x00, 0x00, 0x00, 0x25, 0x01, 0x00, 0x00, 0x21, 0x00, 0x69, 0x00, 0x01, 0xdb, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x05, 0x74,
    0x6f, 0x70, 0x69, 0x63, 0x00, 0x00, 0x00, 0x01, 0x54,
];

fn route_request(serialize_type: SerializeType) -> RemotingCommand {
    let mut command = RemotingCommand::request(105).with_ext("topic", &"T");
    command.opaque = 1;
    command.language = Language::Java;
    command.serialize_type = serialize_type;
    command
}

fn route_json_frame() -> Vec<u8> {
    let mut bytes = vec![0x00, 0x00, 0x00, 0x7f, 0x00, 0x00, 0x00, 0x7b];
    bytes.extend_from_slice(ROUTE_JSON_HEADER.as_bytes());
    bytes
}

#[test]
fn json_route_request_encodes_to_the_reference_131_bytes() {
    let mut out = Vec::new();
    frame::encode(&route_request(SerializeType::Json), &mut out);
    assert_eq!(out.len(), 131);
    assert_eq!(out, route_json_frame());
}

#[test]
fn json_route_request_decodes_from_the_reference_131_bytes() {
    let bytes = route_json_frame();
    let (command, consumed) = frame::decode(&bytes, FRAME_BYTES_MAX_DEFAULT)
        .unwrap()
        .unwrap();
    assert_eq!(consumed, 131);
    assert_eq!(command, route_request(SerializeType::Json));
}

#[test]
fn binary_route_request_encodes_to_the_reference_41_bytes() {
    let mut out = Vec::new();
    frame::encode(&route_request(SerializeType::RocketMq), &mut out);
    assert_eq!(out, ROUTE_BINARY_FRAME);
}

#[test]
fn binary_route_request_decodes_from_the_reference_41_bytes() {
    let (command, consumed) = frame::decode(&ROUTE_BINARY_FRAME, FRAME_BYTES_MAX_DEFAULT)
        .unwrap()
        .unwrap();
    assert_eq!(consumed, 41);
    assert_eq!(command, route_request(SerializeType::RocketMq));
}
