//! Frame encode/decode throughput for the hot path: a typical SEND_MESSAGE_V2 request (1 KiB
//! body, Java client headers) and its send response, with JSON and ROCKETMQ binary headers.
//!
//! Run: `cargo bench -p ringmq-protocol --bench frame`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringmq_protocol::command::{RemotingCommand, SerializeType};
use ringmq_protocol::frame::{self, FRAME_BYTES_MAX_DEFAULT};
use ringmq_protocol::header::send::{SendMessageRequestHeaderV2, SendMessageResponseHeader};

fn send_request(serialize_type: SerializeType) -> RemotingCommand {
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

fn send_response(serialize_type: SerializeType) -> RemotingCommand {
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

fn bench_command(criterion: &mut Criterion, name: &str, command: &RemotingCommand) {
    let mut encoded = Vec::new();
    frame::encode(command, &mut encoded);
    let mut group = criterion.benchmark_group(name);
    group.throughput(Throughput::Bytes(
        u64::try_from(encoded.len()).unwrap_or(u64::MAX),
    ));
    group.bench_function("encode", |bencher| {
        let mut out = Vec::with_capacity(encoded.len());
        bencher.iter(|| {
            out.clear();
            frame::encode(black_box(command), &mut out);
            black_box(out.len())
        });
    });
    group.bench_function("decode", |bencher| {
        bencher.iter(|| frame::decode(black_box(&encoded), FRAME_BYTES_MAX_DEFAULT));
    });
    group.finish();
}

fn frames(criterion: &mut Criterion) {
    for (label, serialize_type) in [
        ("json", SerializeType::Json),
        ("binary", SerializeType::RocketMq),
    ] {
        bench_command(
            criterion,
            &format!("send_v2_request_{label}"),
            &send_request(serialize_type),
        );
        bench_command(
            criterion,
            &format!("send_response_{label}"),
            &send_response(serialize_type),
        );
    }
}

criterion_group!(benches, frames);
criterion_main!(benches);
