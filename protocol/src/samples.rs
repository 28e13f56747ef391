//! Typical frames of the produce path, shared by the criterion benchmark
//! (`protocol/benches/frame.rs`) and the instruction-count gate (`bench/benches/instructions.rs`)
//! so both measure the same bytes.

use crate::command::{RemotingCommand, SerializeType};
use crate::header::send::{SendMessageRequestHeaderV2, SendMessageResponseHeader};

/// A SEND_MESSAGE_V2 request as the Java client sends it: 1 KiB body, TAGS/WAIT/UNIQ_KEY.
#[must_use]
pub fn send_request(serialize_type: SerializeType) -> RemotingCommand {
    let mut command = RemotingCommand::request(310).with_body(vec![b'x'; 1024]);
    SendMessageRequestHeaderV2 {
        a: "please_rename_unique_group_name".to_owned(),
        b: "BenchmarkTest".to_owned(),
        c: "TBW102".to_owned(),
        d: 4,
        e: 3,
        f: 0,
        g: 1_700_000_000_000,
        h: 0,
        i: Some(
            "TAGS\u{1}TagA\u{2}WAIT\u{1}true\u{2}UNIQ_KEY\u{1}7F0000010B5C18B4AAC2711FD0A30000\u{2}"
                .to_owned(),
        ),
        j: Some(0),
        k: Some(false),
        l: None,
        m: Some(false),
        n: Some("broker-a".to_owned()),
    }
    .write_to(&mut command);
    command.opaque = 123_456;
    command.serialize_type = serialize_type;
    command
}

/// The broker's SUCCESS answer to [`send_request`], with the ext fields Java clients read.
#[must_use]
pub fn send_response(serialize_type: SerializeType) -> RemotingCommand {
    let mut command = RemotingCommand::response_to(&send_request(serialize_type), 0, None)
        .with_ext("MSG_REGION", &"DefaultRegion")
        .with_ext("TRACE_ON", &"true");
    SendMessageResponseHeader {
        msg_id: "0A00000100002A9F0000000000001000".to_owned(),
        queue_id: 3,
        queue_offset: 4_242,
        transaction_id: Some("7F0000010B5C18B4AAC2711FD0A30000".to_owned()),
        ..SendMessageResponseHeader::default()
    }
    .write_to(&mut command);
    command
}
