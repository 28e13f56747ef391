//! Frame encode/decode throughput for the hot path: a typical SEND_MESSAGE_V2 request (1 KiB
//! body, Java client headers) and its send response, with JSON and ROCKETMQ binary headers.
//!
//! Run: `cargo bench -p ringmq-protocol --bench frame`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringmq_protocol::command::{RemotingCommand, SerializeType};
use ringmq_protocol::frame::{self, FRAME_BYTES_MAX_DEFAULT};
use ringmq_protocol::samples::{send_request, send_response};

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
