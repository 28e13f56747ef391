//! The engine's append hot paths, deterministic so CI can later count their instructions:
//! - `append/sim_sync_64x1KiB`: 64 appends of 1 KiB records (each with its own UNIQ_KEY, over
//!   8 queues) followed by ticks until the SYNC_FLUSH batch is visible — encode, group-commit
//!   chain, completion, dispatch to consume queues and the key index — on the simulated backend
//!   with zero latency, so only CPU work is measured, the simulator's own copies included;
//! - `record/encode_1KiB` and `record/scan_crc_1KiB`: the record codec alone.
//!
//! The simulator keeps every byte in memory, so the shard is rebuilt on a fresh disk every
//! `BATCHES_PER_DISK` batches, outside the timed region, followed by one untimed batch that
//! creates the queue and index files. Segments are 64 MiB and never roll within a disk; the
//! manual clock moves 1 ms per batch, so no checkpoint or retention pass falls in the timing.
//!
//! Run: `cargo bench -p ringmq-engine --bench append`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringmq_engine::clock::{Clock, ManualClock, SystemClock};
use ringmq_engine::config::{EngineConfig, FlushMode};
use ringmq_engine::io::sim::{SimConfig, SimDisk, SimStorage};
use ringmq_engine::shard::Shard;
use ringmq_engine::types::{ShardId, TimestampMs};
use ringmq_protocol::record::{self, MessageDraft, Scanned, StoreStamp};

const RECORD_BYTES: usize = 1024;
const BATCH_RECORDS: usize = 64;
const QUEUES: u64 = 8;
/// 375 batches of 64 KiB stay below half of a 64 MiB segment (no preallocation, no roll).
const BATCHES_PER_DISK: u64 = 375;
const SEGMENT_BYTES: u64 = 64 << 20;
const TICKS_PER_BATCH_MAX: usize = 16;
const KEY_PREFIX: &str = "UNIQ_KEY\u{1}0A0000050000";
const KEY_DIGITS: usize = 20;
const PROPERTIES_SUFFIX: &str = "\u{2}WAIT\u{1}true\u{2}";

/// Records with a fixed body and a UNIQ_KEY counter rewritten in place (no allocation).
struct Records {
    body: Vec<u8>,
    properties: Vec<u8>,
    sequence: u64,
}

impl Records {
    fn new() -> Self {
        let mut properties = KEY_PREFIX.as_bytes().to_vec();
        properties.resize(KEY_PREFIX.len() + KEY_DIGITS, b'0');
        properties.extend_from_slice(PROPERTIES_SUFFIX.as_bytes());
        let mut records = Self {
            body: Vec::new(),
            properties,
            sequence: 0,
        };
        let header = records
            .draft(0)
            .encoded_len()
            .expect("a small draft encodes");
        records.body = (0..RECORD_BYTES - header)
            .map(|index| b'a' + u8::try_from(index % 26).expect("below 26"))
            .collect();
        assert_eq!(records.draft(0).encoded_len().ok(), Some(RECORD_BYTES));
        records
    }

    fn draft(&self, queue_id: i32) -> MessageDraft<'_> {
        MessageDraft {
            topic: "BenchmarkTest",
            queue_id,
            flag: 0,
            body: &self.body,
            properties: std::str::from_utf8(&self.properties).expect("ASCII"),
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: SocketAddr::from(([10, 0, 0, 5], 50_000)),
            store_host: SocketAddr::from(([127, 0, 0, 1], 10_911)),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    fn next(&mut self) -> MessageDraft<'_> {
        self.sequence += 1;
        let mut value = self.sequence;
        let start = KEY_PREFIX.len();
        for digit in self.properties[start..start + KEY_DIGITS].iter_mut().rev() {
            *digit = b"0123456789ABCDEF"[usize::try_from(value % 16).expect("below 16")];
            value /= 16;
        }
        let queue = i32::try_from(self.sequence % QUEUES).expect("below 8");
        self.draft(queue)
    }
}

/// A SYNC_FLUSH shard on a fresh simulated disk with production-sized batches.
struct SimShard {
    shard: Shard,
    clock: ManualClock,
    batches: u64,
}

impl SimShard {
    fn new() -> Self {
        let mut config = EngineConfig::new(Path::new("/sim/bench"));
        config.flush_mode = FlushMode::Sync;
        config.segment_bytes = SEGMENT_BYTES;
        config.index_hash_slots = 1 << 16;
        config.index_entries_max = 1 << 19;
        let sim = SimConfig {
            chunk_bytes: 1 << 20,
            chunk_count: 32,
            ..SimConfig::default()
        };
        let clock = ManualClock::new(TimestampMs(1_700_000_000_000));
        let storage = SimStorage::new(SimDisk::new(), sim);
        let (shard, _) = Shard::open(
            ShardId(0),
            config,
            Box::new(storage),
            Box::new(clock.clone()),
            &mut |_| {},
        )
        .expect("a shard opens on an empty simulated disk");
        Self {
            shard,
            clock,
            batches: 0,
        }
    }

    /// Append one batch and tick until all of it is visible (durable).
    fn batch(&mut self, records: &mut Records) {
        let mut end = self.shard.visible();
        for _ in 0..BATCH_RECORDS {
            let outcome = self.shard.append(&records.next()).expect("append");
            end = outcome.appended.end;
        }
        for _ in 0..TICKS_PER_BATCH_MAX {
            self.shard.tick().expect("tick");
            if self.shard.visible() >= end {
                self.clock.advance(Duration::from_millis(1));
                self.batches += 1;
                return;
            }
        }
        panic!("a batch did not become visible within {TICKS_PER_BATCH_MAX} ticks");
    }
}

fn append(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("append");
    group.throughput(Throughput::Elements(
        u64::try_from(BATCH_RECORDS).expect("small"),
    ));
    group.bench_function("sim_sync_64x1KiB", |bencher| {
        let mut records = Records::new();
        let mut sim = SimShard::new();
        sim.batch(&mut records);
        let timer = SystemClock::new();
        bencher.iter_custom(|iterations| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iterations {
                if sim.batches > BATCHES_PER_DISK {
                    sim = SimShard::new();
                    sim.batch(&mut records);
                }
                let started = timer.monotonic();
                sim.batch(&mut records);
                elapsed += timer.monotonic().saturating_sub(started);
            }
            elapsed
        });
    });
    group.finish();
}

fn codec(criterion: &mut Criterion) {
    let mut records = Records::new();
    let stamp = StoreStamp {
        queue_offset: 42,
        physical_offset: 1 << 30,
        store_timestamp: 1_700_000_000_123,
    };
    let mut encoded = vec![0u8; RECORD_BYTES];
    let mut group = criterion.benchmark_group("record");
    group.throughput(Throughput::Bytes(
        u64::try_from(RECORD_BYTES).expect("small"),
    ));
    group.bench_function("encode_1KiB", |bencher| {
        bencher.iter(|| {
            let draft = records.next();
            draft
                .encode(black_box(stamp), black_box(&mut encoded))
                .expect("sized by encoded_len");
        });
    });
    group.bench_function("scan_crc_1KiB", |bencher| {
        bencher.iter(|| match record::scan(black_box(&encoded), true) {
            Ok(Scanned::Record(found)) => found.total_size,
            other => panic!("the encoded record scans: {other:?}"),
        });
    });
    group.finish();
}

criterion_group!(benches, append, codec);
criterion_main!(benches);
