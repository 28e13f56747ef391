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
use ringmq_engine::shard::{ReadLimits, Shard};
use ringmq_engine::types::{QueueId, ShardId, TimestampMs};
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

/// Every stored record of `topic`/`queue`, oldest first: what two logs are compared by.
pub fn queue_bytes(shard: &mut Shard, topic: &str, queue: u32) -> Vec<Vec<u8>> {
    let all = ReadLimits {
        messages_max: 10_000,
        bytes_max: 64 << 20,
    };
    let (min, _) = shard.queue_bounds(topic, QueueId(queue));
    let read = shard
        .read_queue(topic, QueueId(queue), min, all, &|_| true)
        .expect("read");
    read.messages.iter().map(|m| m.bytes.to_vec()).collect()
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

// Real backends (io_uring and the pwrite fallback) on a real directory, and byte-exact checks.

/// Buffer pool of a real backend: 32 chunks of one commit batch each.
pub const REAL_POOL_BYTES: usize = 32 << 20;

/// A temporary store directory under the target directory (ext4 here; tmpfs rejects O_DIRECT).
pub fn real_store_directory(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create a store directory under the target directory")
}

/// Why O_DIRECT cannot be used in `directory`, if it cannot (tmpfs answers EINVAL at open).
pub fn direct_io_unsupported(directory: &Path) -> Option<String> {
    use ringmq_engine::io::select::{open_backend, BackendChoice};
    use ringmq_engine::io::{Create, OpenMode};
    let (mut storage, _) = open_backend(BackendChoice::Fallback, 1 << 20, 1 << 20)
        .map_err(|error| error.to_string())
        .ok()?;
    let probe = directory.join("o_direct_probe");
    let opened = storage.open(&probe, Create::Yes, OpenMode::Direct);
    let reason = match opened {
        Ok(file) => {
            storage.close(file).expect("close the probe");
            None
        }
        Err(error) => Some(format!(
            "O_DIRECT is unsupported in {}: {error}",
            directory.display()
        )),
    };
    let _ = storage.remove_file(&probe);
    reason
}

/// A store for real backends: 1 MiB segments so tests roll, small queue and index files.
pub fn real_config(root: &Path, flush: FlushMode) -> EngineConfig {
    let mut config = EngineConfig::new(root);
    config.flush_mode = flush;
    config.segment_bytes = 1 << 20;
    config.consume_queue_file_bytes = 20 * 1024;
    config.index_hash_slots = 1024;
    config.index_entries_max = 4096;
    config.checkpoint_interval = Duration::from_millis(20);
    config.flush_interval = Duration::from_millis(5);
    config.tail_cache_bytes = 8 << 20;
    config.buffer_pool_bytes = REAL_POOL_BYTES;
    config
}

/// Open `choice` with commit-batch-sized chunks; `None` (reason printed) when io_uring is
/// unavailable on this host, so a seccomp-restricted container skips instead of failing.
pub fn real_storage(
    choice: ringmq_engine::io::select::BackendChoice,
    pool_bytes: usize,
) -> Option<Box<dyn ringmq_engine::io::Storage>> {
    use ringmq_engine::constants::COMMIT_BATCH_BYTES_MAX;
    use ringmq_engine::io::select::{open_backend, SelectError};
    match open_backend(choice, pool_bytes, COMMIT_BATCH_BYTES_MAX) {
        Ok((storage, _line)) => Some(storage),
        Err(SelectError::UringUnavailable { reason }) => {
            println!("skipped: io_uring is unavailable here: {reason}");
            None
        }
        Err(error) => panic!("opening the {choice} backend failed: {error}"),
    }
}

/// Open shard 0 of `config` on a real backend with the system clock.
pub fn open_real_shard(
    config: &EngineConfig,
    storage: Box<dyn ringmq_engine::io::Storage>,
) -> (Shard, RecoveryReport) {
    let opened = Shard::open(
        ShardId(0),
        config.clone(),
        storage,
        Box::new(ringmq_engine::clock::SystemClock::new()),
        &mut |line| println!("{line}"),
    );
    opened.unwrap_or_else(|error| panic!("shard opens: {error}"))
}

/// Wait on real I/O until `done` holds; panics after 20 s of real time.
pub fn drive_real(shard: &mut Shard, mut done: impl FnMut(&Shard) -> bool) {
    let clock = ringmq_engine::clock::SystemClock::new();
    while clock.monotonic() < Duration::from_secs(20) {
        shard.wait(Duration::from_millis(5)).expect("tick");
        if done(shard) {
            return;
        }
    }
    panic!("condition not reached within 20 s: {shard:?}");
}

/// The exact bytes the engine must have stored for `draft` at `stamp`.
pub fn expected_record(
    draft: &MessageDraft<'_>,
    stamp: ringmq_protocol::record::StoreStamp,
) -> Vec<u8> {
    let length = draft.encoded_len().expect("the draft encodes");
    let mut bytes = vec![0u8; length];
    draft.encode(stamp, &mut bytes).expect("the draft encodes");
    bytes
}
