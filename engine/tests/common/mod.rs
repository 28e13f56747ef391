//! Shared fixtures for engine integration tests: shards on the simulator, message drafts
//! and a loop that drives a shard until a condition holds.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ringmq_engine::clock::{Clock, ManualClock};
use ringmq_engine::config::{EngineConfig, FlushMode};
use ringmq_engine::io::sim::{SimConfig, SimDisk, SimStorage};
use ringmq_engine::recovery::RecoveryReport;
use ringmq_engine::shard::Shard;
use ringmq_engine::types::{ShardId, TimestampMs};
use ringmq_protocol::record::MessageDraft;

pub const ROOT: &str = "/sim/store";

pub fn config(flush: FlushMode) -> EngineConfig {
    let mut config = EngineConfig::new(Path::new(ROOT));
    config.flush_mode = flush;
    config.segment_bytes = 256 * 1024;
    config.consume_queue_file_bytes = 20 * 64;
    config.index_hash_slots = 64;
    config.index_entries_max = 256;
    config.checkpoint_interval = Duration::from_millis(50);
    config.tail_cache_bytes = 1 << 20;
    config
}

pub fn sim_config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        latency_polls_min: 0,
        latency_polls_max: 3,
        chunk_bytes: 128 * 1024,
        chunk_count: 64,
        ..SimConfig::default()
    }
}

pub fn open_shard(
    disk: &SimDisk,
    sim: SimConfig,
    config: EngineConfig,
    clock: &ManualClock,
) -> (Shard, RecoveryReport) {
    let storage = SimStorage::new(disk.clone(), sim);
    let mut lines = Vec::new();
    let opened = Shard::open(
        ShardId(0),
        config,
        Box::new(storage),
        Box::new(clock.clone()),
        &mut |line| lines.push(line.to_owned()),
    );
    opened.expect("shard opens")
}

pub fn clock() -> ManualClock {
    ManualClock::new(TimestampMs(1_700_000_000_000))
}

pub fn draft<'a>(
    topic: &'a str,
    queue_id: i32,
    body: &'a [u8],
    properties: &'a str,
) -> MessageDraft<'a> {
    MessageDraft {
        topic,
        queue_id,
        flag: 0,
        body,
        properties,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: SocketAddr::from(([10, 0, 0, 5], 50000)),
        store_host: SocketAddr::from(([127, 0, 0, 1], 10911)),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

/// Tick (advancing the manual clock) until `done` holds; panics after many rounds.
pub fn drive(shard: &mut Shard, clock: &ManualClock, mut done: impl FnMut(&Shard) -> bool) {
    for _ in 0..100_000 {
        shard.wait(Duration::from_millis(1)).expect("tick");
        if done(shard) {
            return;
        }
        clock.advance(Duration::from_millis(1));
    }
    panic!("condition not reached: {shard:?}");
}

pub fn body_of(index: u64, size: usize) -> Vec<u8> {
    let mut body = format!("message-{index}-").into_bytes();
    while body.len() < size {
        body.push(b'a' + u8::try_from(index % 26).expect("small"));
    }
    body.truncate(size.max(8));
    body
}

pub fn wall(clock: &ManualClock) -> TimestampMs {
    clock.wall()
}
