//! Goal: the shard's contract holds on the real backends, io_uring and the pwrite fallback
//! (`--io-backend fallback` must pass the same suite): SYNC and ASYNC appends become
//! readable through their consume queue byte for byte, records straddling segment rolls stay
//! readable, a clean close and reopen keeps everything without re-dispatching, dropping a
//! shard without close (a process crash: the page cache survives) loses no acknowledged
//! record, cold reads after the tail cache evicted the data return the stored bytes, keys
//! find their records, a tail cache larger than the buffer pool cannot wedge appends, and
//! zero-filling keeps written blocks ahead of the writer without ever landing on data.
//!
//! Method: each scenario is a function of the backend, instantiated as a test for both by
//! `for_each_backend!`. Stores live under `CARGO_TARGET_TMPDIR` (ext4 here); a probe skips
//! the test with a printed reason where O_DIRECT is unsupported (tmpfs), and io_uring tests
//! skip where io_uring is unavailable. Expected bytes are recomputed by encoding the same
//! draft at the offset, queue offset and store time the append reported, so every check is
//! byte-exact, not just body-equal.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::*;
use ringmq_engine::config::{EngineConfig, FlushMode};
use ringmq_engine::error::AppendError;
use ringmq_engine::io::select::BackendChoice;
use ringmq_engine::shard::{QueueReadStatus, ReadLimits, Shard};
use ringmq_engine::store::StoreGuard;
use ringmq_engine::types::{PhysicalOffset, QueueId, QueueOffset, TimestampMs};
use ringmq_protocol::record::StoreStamp;

const TOPICS: [&str; 2] = ["RealA", "RealB"];
const QUEUES: u32 = 4;
/// Waits of 5 ms an append may spend on Busy before the shard counts as wedged.
const BUSY_WAITS_MAX: u32 = 1000;
const READ_BATCH: ReadLimits = ReadLimits {
    messages_max: 256,
    bytes_max: 4 << 20,
};

/// One appended record, with everything needed to recompute its stored bytes.
#[derive(Clone, Debug)]
struct Sent {
    index: u64,
    topic: &'static str,
    queue: u32,
    body: Vec<u8>,
    properties: String,
    key: String,
    offset: PhysicalOffset,
    end: PhysicalOffset,
    queue_offset: u64,
    store_timestamp: TimestampMs,
}

impl Sent {
    fn expected_bytes(&self) -> Vec<u8> {
        let message = draft(
            self.topic,
            i32::try_from(self.queue).expect("small"),
            &self.body,
            &self.properties,
        );
        let stamp = StoreStamp {
            queue_offset: i64::try_from(self.queue_offset).expect("small"),
            physical_offset: self.offset.as_i64(),
            store_timestamp: self.store_timestamp.as_i64(),
        };
        expected_record(&message, stamp)
    }
}

/// A store directory, its config and the storage to open it with; `None` means skip.
struct Store {
    directory: tempfile::TempDir,
    backend: BackendChoice,
}

impl Store {
    fn new(backend: BackendChoice) -> Option<Self> {
        let directory = real_store_directory("real-backends-");
        if let Some(reason) = direct_io_unsupported(directory.path()) {
            println!("skipped: {reason}");
            return None;
        }
        // Probe the backend once so an unavailable io_uring skips before any work.
        real_storage(backend, 1 << 20)?;
        Some(Self { directory, backend })
    }

    fn root(&self) -> &Path {
        self.directory.path()
    }

    fn config(&self, flush: FlushMode) -> EngineConfig {
        real_config(self.root(), flush)
    }

    /// SYNC_FLUSH with a 4 KiB tail cache, so that nearly every read goes to disk.
    fn cold_config(&self) -> EngineConfig {
        let mut config = self.config(FlushMode::Sync);
        config.tail_cache_bytes = 4096;
        config
    }

    /// A shard of [`Self::cold_config`] holding 3,000 settled records with 1,000-byte bodies
    /// (about 3 MB of log), and what was sent.
    fn cold_backlog(&self) -> (Shard, Vec<Sent>) {
        let (mut shard, _) = self.open(&self.cold_config());
        let sent = append_records(&mut shard, 0, 3000, &|_| 1000);
        settle(&mut shard);
        (shard, sent)
    }

    fn open(&self, config: &EngineConfig) -> (Shard, ringmq_engine::recovery::RecoveryReport) {
        self.open_with_pool(config, REAL_POOL_BYTES)
    }

    fn open_with_pool(
        &self,
        config: &EngineConfig,
        pool_bytes: usize,
    ) -> (Shard, ringmq_engine::recovery::RecoveryReport) {
        let storage = real_storage(self.backend, pool_bytes).expect("probed in new()");
        open_real_shard(config, storage)
    }
}

/// Append `count` records numbered from `first`, spread over topics and queues, retrying
/// on Busy; `size_of` picks each body size.
fn append_records(
    shard: &mut Shard,
    first: u64,
    count: u64,
    size_of: &dyn Fn(u64) -> usize,
) -> Vec<Sent> {
    let mut sent = Vec::new();
    for index in first..first + count {
        let topic = TOPICS[usize::try_from(index % 2).expect("small")];
        let queue = u32::try_from(index / 2 % u64::from(QUEUES)).expect("small");
        let body = body_of(index, size_of(index));
        let key = format!("key-{index}");
        let properties = format!(
            "KEYS\u{1}{key}\u{2}UNIQ_KEY\u{1}U{index:08}\u{2}TAGS\u{1}tag{}\u{2}",
            index % 3
        );
        let message = draft(
            topic,
            i32::try_from(queue).expect("small"),
            &body,
            &properties,
        );
        let mut busy_waits = 0u32;
        let outcome = loop {
            match shard.append(&message) {
                Ok(outcome) => break outcome,
                Err(AppendError::Busy) if busy_waits < BUSY_WAITS_MAX => {
                    busy_waits += 1;
                    shard.wait(Duration::from_millis(5)).expect("tick");
                }
                Err(error) => panic!("append {index} after {busy_waits} waits: {error}: {shard:?}"),
            }
        };
        sent.push(Sent {
            index,
            topic,
            queue,
            body,
            properties,
            key,
            offset: outcome.appended.offset,
            end: outcome.appended.end,
            queue_offset: outcome.queue_offset.0,
            store_timestamp: outcome.appended.store_timestamp,
        });
        if index % 64 == 0 {
            shard.tick().expect("tick");
        }
    }
    sent
}

fn settle(shard: &mut Shard) {
    let end = shard.appended();
    drive_real(shard, |s| s.visible() >= end);
}

/// Every queue holds exactly `sent` (in queue order, at the reported offsets) byte for byte,
/// and `read_record` returns the same bytes.
fn verify_queues(shard: &mut Shard, sent: &[Sent]) {
    let mut by_queue: BTreeMap<(&str, u32), Vec<&Sent>> = BTreeMap::new();
    for record in sent {
        by_queue
            .entry((record.topic, record.queue))
            .or_default()
            .push(record);
    }
    for ((topic, queue), expected) in by_queue {
        let (min, max) = shard.queue_bounds(topic, QueueId(queue));
        assert_eq!(min, QueueOffset(0), "{topic}/{queue}");
        assert_eq!(max.0, u64::try_from(expected.len()).expect("small"));
        let mut position = 0usize;
        while position < expected.len() {
            let from = QueueOffset(u64::try_from(position).expect("small"));
            let read = shard
                .read_queue(topic, QueueId(queue), from, READ_BATCH, &|_| true)
                .unwrap_or_else(|error| panic!("{topic}/{queue} at {position}: {error}"));
            assert_eq!(read.status, QueueReadStatus::Found, "{topic}/{queue}");
            for message in &read.messages {
                let original = expected[position];
                assert_eq!(message.queue_offset.0, original.queue_offset);
                assert_eq!(
                    message.offset, original.offset,
                    "{topic}/{queue}@{position}"
                );
                assert!(
                    message.bytes == original.expected_bytes(),
                    "{topic}/{queue}@{position}: stored bytes differ from the appended record"
                );
                position += 1;
            }
            assert_eq!(read.next_offset.0, u64::try_from(position).expect("small"));
        }
    }
    for original in sent.iter().step_by(7) {
        let bytes = shard
            .read_record(original.offset)
            .unwrap_or_else(|error| panic!("read_record {:?}: {error}", original.offset));
        assert!(
            bytes == original.expected_bytes(),
            "read_record bytes differ"
        );
    }
}

fn small_bodies(index: u64) -> usize {
    64 + usize::try_from(index * 131 % 2000).expect("small")
}

fn appends_become_readable_through_their_queue_byte_for_byte(backend: BackendChoice) {
    for flush in [FlushMode::Sync, FlushMode::Async] {
        let Some(store) = Store::new(backend) else {
            return;
        };
        let config = store.config(flush);
        let (mut shard, report) = store.open(&config);
        assert_eq!(report.valid_end, 0, "a new store is empty");
        let sent = append_records(&mut shard, 0, 600, &small_bodies);
        settle(&mut shard);
        assert!(shard.visible() <= shard.written());
        if flush == FlushMode::Sync {
            assert_eq!(
                shard.visible(),
                shard.durable(),
                "SYNC acknowledges durable data"
            );
        }
        verify_queues(&mut shard, &sent);
        shard.close().expect("clean close");
    }
}

fn records_straddling_segment_rolls_stay_readable(backend: BackendChoice) {
    let Some(store) = Store::new(backend) else {
        return;
    };
    let config = store.config(FlushMode::Sync);
    let (mut shard, _) = store.open(&config);
    // Bodies of 5–60 KiB make the end of each 1 MiB segment land at many different points.
    let size_of = |index: u64| 5_000 + usize::try_from(index * 7919 % 55_000).expect("small");
    let sent = append_records(&mut shard, 0, 140, &size_of);
    settle(&mut shard);
    let segment_bytes = config.segment_bytes;
    let segments = shard.appended().local() / segment_bytes + 1;
    assert!(
        segments >= 4,
        "the workload rolled into {segments} segments"
    );
    for record in &sent {
        assert_eq!(
            record.offset.local() / segment_bytes,
            (record.end.local() - 1) / segment_bytes,
            "a record never spans two segments: {record:?}"
        );
    }
    verify_queues(&mut shard, &sent);
    let names = std::fs::read_dir(&config.paths.commitlog)
        .expect("list the commitlog")
        .count();
    assert!(
        u64::try_from(names).expect("small") >= segments,
        "one file per segment"
    );
    shard.close().expect("clean close");
}

fn clean_close_and_reopen_keeps_every_record_and_redispatches_nothing(backend: BackendChoice) {
    let Some(store) = Store::new(backend) else {
        return;
    };
    let config = store.config(FlushMode::Async);
    let guard = StoreGuard::acquire(&config).expect("lock the store");
    let (mut shard, _) = store.open(&config);
    let mut sent = append_records(&mut shard, 0, 900, &small_bodies);
    settle(&mut shard);
    let appended = shard.appended();
    shard.close().expect("clean close");
    guard.close_clean().expect("remove abort");

    let guard = StoreGuard::acquire(&config).expect("lock again");
    assert!(guard.previous_exit_clean());
    let (mut shard, report) = store.open(&config);
    assert_eq!(report.records_redispatched, 0, "{report:?}");
    assert_eq!(shard.appended(), appended);
    verify_queues(&mut shard, &sent);
    // Appends continue after the old end, at the next queue offsets.
    sent.extend(append_records(&mut shard, 900, 300, &small_bodies));
    settle(&mut shard);
    verify_queues(&mut shard, &sent);
    shard.close().expect("clean close");
    guard.close_clean().expect("remove abort");
}

fn dropping_a_shard_without_close_keeps_every_acknowledged_record(backend: BackendChoice) {
    for flush in [FlushMode::Sync, FlushMode::Async] {
        let Some(store) = Store::new(backend) else {
            return;
        };
        let config = store.config(flush);
        let guard = StoreGuard::acquire(&config).expect("lock the store");
        let (mut shard, _) = store.open(&config);
        let mut sent = append_records(&mut shard, 0, 400, &small_bodies);
        settle(&mut shard);
        // A second burst is still in flight when the "process" dies.
        sent.extend(append_records(&mut shard, 400, 800, &small_bodies));
        shard.tick().expect("tick");
        let visible = shard.visible();
        drop(shard);
        drop(guard);

        let guard = StoreGuard::acquire(&config).expect("lock again");
        assert!(!guard.previous_exit_clean(), "abort marks the crash");
        let (mut shard, report) = store.open(&config);
        let end = PhysicalOffset::new(shard.id(), report.valid_end);
        assert!(
            end >= visible,
            "{flush:?}: recovery ended at {end:?} below the acknowledged {visible:?}: {report:?}"
        );
        // With the page cache intact, whatever was written survives; nothing else appears.
        let survivors: Vec<Sent> = sent.iter().filter(|s| s.end <= end).cloned().collect();
        assert!(sent.iter().all(|s| s.end <= end || s.offset >= end));
        verify_queues(&mut shard, &survivors);
        shard.close().expect("clean close");
        guard.close_clean().expect("remove abort");
    }
}

fn cold_reads_after_tail_cache_eviction_return_the_stored_bytes(backend: BackendChoice) {
    let Some(store) = Store::new(backend) else {
        return;
    };
    let config = store.cold_config();
    let (mut shard, _) = store.open(&config);
    let size_of = |index: u64| 200 + usize::try_from(index * 977 % 9000).expect("small");
    let sent = append_records(&mut shard, 0, 5000, &size_of);
    settle(&mut shard);
    // More log than the sixteen 1 MiB cold-read windows cover, so reads must go to disk.
    assert!(shard.appended().local() > 20 << 20);
    let before = shard.stats().commitlog.cold_reads;
    // Oldest first, then a scattered order that defeats the sequential read-ahead windows.
    verify_queues(&mut shard, &sent);
    for step in 0..sent.len() {
        let original = &sent[step * 389 % sent.len()];
        let bytes = shard.read_record(original.offset).expect("cold read");
        assert!(
            bytes == original.expected_bytes(),
            "cold bytes differ at step {step}"
        );
    }
    let cold = shard.stats().commitlog.cold_reads - before;
    assert!(
        cold > 10,
        "reads came from disk, not the tail cache: {cold}"
    );
    shard.close().expect("clean close");
}

// Hazard: a backlog drain reads the log in order from disk. Without read-ahead every window
// is a blocking O_DIRECT read on the shard thread; with it, the next window must already be
// cached or in flight, the bytes must still be exactly the stored ones, and a read-ahead
// that is still in flight at close must not disturb the close.
fn a_sequential_cold_reader_is_served_by_read_ahead(backend: BackendChoice) {
    let Some(store) = Store::new(backend) else {
        return;
    };
    let (mut shard, sent) = store.cold_backlog();
    let before = shard.stats().commitlog;
    for (step, original) in sent.iter().enumerate() {
        let bytes = shard.read_record(original.offset).expect("cold read");
        assert!(
            bytes == original.expected_bytes(),
            "bytes differ at record {step}"
        );
    }
    let after = shard.stats().commitlog;
    let cold = after.cold_reads - before.cold_reads;
    let ahead = after.read_aheads - before.read_aheads;
    assert!(
        ahead >= 2 && cold * 2 <= ahead,
        "windows read ahead {ahead}, blocking cold reads {cold}"
    );
    // Each 1 MiB of log is read once: the record that straddles two windows is whole in the
    // second, which starts at that record's block, instead of being read by a window of its
    // own (which doubled the reads of a drain).
    let windows = shard.appended().local().div_ceil(1 << 20);
    assert!(
        cold + ahead <= windows + 1,
        "{windows} MiB of log took {cold} blocking reads and {ahead} read-aheads"
    );
    // Leave one read-ahead in flight (the reader is in the second half of the first window
    // again) and close with it.
    let _ = shard.read_record(sent[sent.len() / 8].offset);
    shard
        .close()
        .expect("clean close with a read-ahead in flight");
}

// Hazard: a pull that waits for a cold O_DIRECT read stalls every send of its shard for the
// read's duration. A non-blocking queue read must never wait: it returns what is in memory
// (stopping where the disk begins) or nothing while it starts the window's read, and asking
// again after `take_read_settled` must, over a whole drain, return every stored message
// exactly once, in order, byte for byte.
/// A non-blocking read returned nothing: count it and tick until a window read settles.
fn wait_for_a_deferred_read(shard: &mut Shard, deferred: &mut u32) {
    *deferred += 1;
    assert!(*deferred < 10_000, "the drain does not progress");
    let mut waits = 0;
    while !shard.take_read_settled() {
        waits += 1;
        assert!(waits < 4000, "no read settled within 20 s");
        shard.wait(Duration::from_millis(5)).expect("tick");
    }
}

fn a_pull_of_a_cold_backlog_never_waits_for_the_disk(backend: BackendChoice) {
    let Some(store) = Store::new(backend) else {
        return;
    };
    let (mut shard, sent) = store.cold_backlog();
    let mut by_queue: BTreeMap<(&str, u32), Vec<&Sent>> = BTreeMap::new();
    for record in &sent {
        by_queue
            .entry((record.topic, record.queue))
            .or_default()
            .push(record);
    }
    let before = shard.stats().commitlog;
    // More than a window's worth per pull, so a pull that reaches a window's end stops there.
    let limits = ReadLimits {
        messages_max: 2000,
        bytes_max: 64 << 20,
    };
    let (mut deferred, mut partial) = (0u32, 0u32);
    for ((topic, queue), expected) in by_queue {
        let mut position = 0usize;
        while position < expected.len() {
            let from = QueueOffset(u64::try_from(position).expect("small"));
            let read = shard
                .read_queue_nonblocking(topic, QueueId(queue), from, limits, &|_| true)
                .unwrap_or_else(|error| panic!("{topic}/{queue} at {position}: {error}"));
            let Some(read) = read else {
                wait_for_a_deferred_read(&mut shard, &mut deferred);
                continue;
            };
            assert_eq!(read.status, QueueReadStatus::Found, "{topic}/{queue}");
            for message in &read.messages {
                let original = expected[position];
                assert_eq!(message.queue_offset.0, original.queue_offset);
                assert!(
                    message.bytes == original.expected_bytes(),
                    "{topic}/{queue}: bytes differ at {position}"
                );
                position += 1;
            }
            assert_eq!(read.next_offset.0, u64::try_from(position).expect("small"));
            if position < expected.len() && read.messages.len() < limits.messages_max {
                partial += 1;
            }
        }
    }
    let after = shard.stats().commitlog;
    assert_eq!(
        after.cold_reads - before.cold_reads,
        after.deferred_reads - before.deferred_reads,
        "a queue read waited for the disk"
    );
    assert!(
        deferred > 0 && partial > 0,
        "deferred {deferred}, partial {partial}"
    );
    shard.close().expect("clean close");
}

// Hazard: consumers drain the queues of a backlog side by side, each at its own place in one
// stretch of the log, and most records straddle some window's end. If the readers evict each
// other's windows, or a straddling record gets a window of its own, the drain reads the log
// several times over (5.6 times in one one-shard broker drain), and the disk, not the
// shard, bounds it. Each MiB of log should be read about once, and every message come back
// whole. (With 4 cached windows this read the log until the test gave up; with windows
// that did not overlap, 65 reads for 33 MiB.)
fn consumers_of_every_queue_read_each_window_of_the_log_about_once(backend: BackendChoice) {
    let Some(store) = Store::new(backend) else {
        return;
    };
    let mut config = store.cold_config();
    config.segment_bytes = 64 << 20;
    let (mut shard, _) = store.open(&config);
    let sent = append_records(&mut shard, 0, 30_000, &|_| 1000);
    settle(&mut shard);
    let mut queues: Vec<(&str, u32, Vec<&Sent>, usize)> = Vec::new();
    for record in &sent {
        match queues
            .iter_mut()
            .find(|(topic, queue, _, _)| *topic == record.topic && *queue == record.queue)
        {
            Some((_, _, expected, _)) => expected.push(record),
            None => queues.push((record.topic, record.queue, vec![record], 0)),
        }
    }
    // Consumers that started at different times: queue i's reader starts 100 i messages in,
    // so the eight readers spread over about 6 MiB of log.
    for (index, (_, _, _, at)) in queues.iter_mut().enumerate() {
        *at = index * 100;
    }
    let before = shard.stats().commitlog;
    let mut deferred = 0u32;
    let limits = ReadLimits {
        messages_max: 32,
        bytes_max: 64 << 20,
    };
    // One pull per queue in turn, as consumers that share a shard pull.
    while queues
        .iter()
        .any(|(_, _, expected, at)| *at < expected.len())
    {
        for (topic, queue, expected, at) in &mut queues {
            if *at == expected.len() {
                continue;
            }
            let from = QueueOffset(u64::try_from(*at).expect("small"));
            let read = shard
                .read_queue_nonblocking(topic, QueueId(*queue), from, limits, &|_| true)
                .unwrap_or_else(|error| panic!("{topic}/{queue} at {at}: {error}"));
            let Some(read) = read else {
                wait_for_a_deferred_read(&mut shard, &mut deferred);
                continue;
            };
            for message in &read.messages {
                assert!(
                    message.bytes == expected[*at].expected_bytes(),
                    "{topic}/{queue}: bytes differ at {at}"
                );
                *at += 1;
            }
        }
    }
    let after = shard.stats().commitlog;
    let reads = after.cold_reads - before.cold_reads + after.read_aheads - before.read_aheads;
    let windows = shard.appended().local().div_ceil(1 << 20);
    assert!(
        reads <= windows + windows / 4 + 1,
        "{windows} MiB of log took {reads} window reads ({deferred} pulls deferred)"
    );
    shard.close().expect("clean close");
}

// Hazard: a message of up to maxMessageSize (4 MiB) is larger than a pool buffer and a
// cold-read window; it must be stored (not refused), read back whole from disk, and kept
// by crash recovery, whose scan windows must hold it.
fn a_cold_record_larger_than_a_read_window_is_read_whole(backend: BackendChoice) {
    let Some(store) = Store::new(backend) else {
        return;
    };
    let mut config = store.cold_config();
    config.segment_bytes = 16 << 20;
    let (mut shard, _) = store.open(&config);
    // 4 MiB bodies (RocketMQ's default maxMessageSize) between small ones, some in a row.
    let size_of = |index: u64| match index % 5 {
        1 => 4 << 20,
        2 => (3 << 20) + 123,
        _ => 700,
    };
    let sent = append_records(&mut shard, 0, 16, &size_of);
    settle(&mut shard);
    assert!(shard.stats().commitlog.oversize_batches >= 6);
    for original in sent.iter().rev() {
        let bytes = shard.read_record(original.offset).expect("cold read");
        assert!(
            bytes == original.expected_bytes(),
            "record {}",
            original.index
        );
    }
    verify_queues(&mut shard, &sent);
    // Recovery after a crash scans them whole: nothing acknowledged is cut off.
    let visible = shard.visible();
    drop(shard);
    let (mut shard, report) = store.open(&config);
    assert!(
        PhysicalOffset::new(shard.id(), report.valid_end) >= visible,
        "recovery stopped early: {report:?}"
    );
    verify_queues(&mut shard, &sent);
    shard.close().expect("clean close");
}

fn keys_find_their_records_before_and_after_reopen(backend: BackendChoice) {
    let Some(store) = Store::new(backend) else {
        return;
    };
    let config = store.config(FlushMode::Sync);
    let (mut shard, _) = store.open(&config);
    let sent = append_records(&mut shard, 0, 500, &small_bodies);
    settle(&mut shard);
    let check = |shard: &mut Shard| {
        for original in sent.iter().step_by(11) {
            let found = shard
                .lookup_key(
                    original.topic,
                    &original.key,
                    TimestampMs(0),
                    TimestampMs(u64::MAX / 2),
                    4,
                )
                .expect("lookup");
            assert_eq!(found.len(), 1, "{}", original.key);
            assert!(found[0] == original.expected_bytes());
            let unique = format!("U{:08}", original.index);
            let by_unique = shard
                .lookup_key(
                    original.topic,
                    &unique,
                    TimestampMs(0),
                    TimestampMs(u64::MAX / 2),
                    4,
                )
                .expect("lookup");
            assert_eq!(by_unique.len(), 1, "{unique}");
            let other = if original.topic == TOPICS[0] {
                TOPICS[1]
            } else {
                TOPICS[0]
            };
            let wrong_topic = shard
                .lookup_key(
                    other,
                    &original.key,
                    TimestampMs(0),
                    TimestampMs(u64::MAX / 2),
                    4,
                )
                .expect("lookup");
            assert!(wrong_topic.is_empty(), "a key is scoped to its topic");
        }
    };
    check(&mut shard);
    shard.close().expect("clean close");
    let (mut shard, _) = store.open(&config);
    check(&mut shard);
    shard.close().expect("clean close");
}

/// Fill the log with 48 MiB of 60 KB records in bursts: each staging buffer fills up, so
/// each written chunk pins a whole 1 MiB pool buffer in the tail cache.
fn write_48_mib_in_bursts(shard: &mut Shard) -> Vec<Sent> {
    let size_of = |_| 60_000;
    let mut sent = Vec::new();
    for burst in 0..24 {
        sent.extend(append_records(shard, burst * 35, 35, &size_of));
        settle(shard);
    }
    sent
}

fn sustained_writes_with_the_broker_pool_sizing_never_wedge_on_busy(backend: BackendChoice) {
    let Some(store) = Store::new(backend) else {
        return;
    };
    let mut config = store.config(FlushMode::Async);
    config.tail_cache_bytes = 64 << 20;
    config.segment_bytes = 16 << 20;
    // broker/src/runtime.rs sizes the pool as tail cache + staging pool.
    let (mut shard, _) = store.open_with_pool(&config, (64 << 20) + REAL_POOL_BYTES);
    let sent = write_48_mib_in_bursts(&mut shard);
    verify_queues(&mut shard, &sent);
    shard.close().expect("clean close");
}

/// Engine hazard: the tail cache evicts only above its budget, so when the budget is larger
/// than the storage's pool, written chunks pin every pool buffer, the staging batch can never
/// be frozen, nothing more is written, nothing is evicted, and appends stay Busy forever.
fn a_tail_cache_larger_than_the_pool_never_wedges_appends_on_busy(backend: BackendChoice) {
    let Some(store) = Store::new(backend) else {
        return;
    };
    let mut config = store.config(FlushMode::Async);
    config.tail_cache_bytes = 64 << 20;
    config.segment_bytes = 16 << 20;
    let (mut shard, _) = store.open_with_pool(&config, REAL_POOL_BYTES);
    let sent = write_48_mib_in_bursts(&mut shard);
    verify_queues(&mut shard, &sent);
    shard.close().expect("clean close");
}

// Hazard: fallocate leaves unwritten extents, and a data write into one is no overwrite:
// io_uring hands it to a worker thread and the next fdatasync must commit a journal
// transaction for the conversion. Zero-filling must keep written blocks ahead of a paced
// writer (the rest of the active segment and the preallocated spare), and zeros must never
// land on data: every record reads back byte for byte, before and after a reopen.
fn zero_fill_runs_ahead_of_the_writer_and_never_lands_on_data(backend: BackendChoice) {
    let Some(store) = Store::new(backend) else {
        return;
    };
    let config = store.config(FlushMode::Sync);
    let (mut shard, _) = store.open(&config);
    let mut sent = Vec::new();
    // Bursts of 32 records, each acknowledged before the next (closed-loop producers), to
    // two and a half segments.
    while shard.appended().local() < config.segment_bytes * 5 / 2 {
        let first = u64::try_from(sent.len()).expect("small");
        sent.extend(append_records(&mut shard, first, 32, &|_| 1000));
        settle(&mut shard);
    }
    // Give the zeros 200 ms to reach as far as they may: the end of the spare segment.
    let mut waits = 0;
    drive_real(&mut shard, |_| {
        waits += 1;
        waits > 40
    });
    let stats = shard.stats().commitlog;
    assert!(stats.prefill_writes > 0, "no zero writes: {stats:?}");
    let appended = shard.appended().local();
    let active = appended - appended % config.segment_bytes;
    let unwritten = |base: u64| unwritten_blocks(&config.paths.commitlog, base);
    if let Some(active_unwritten) = unwritten(active) {
        let first_free = (appended - active).div_ceil(4096);
        let behind: Vec<_> = active_unwritten
            .iter()
            .filter(|(_, end)| *end > first_free)
            .collect();
        assert!(
            behind.is_empty(),
            "unwritten blocks ahead of the writer at block {first_free} of the active \
             segment: {behind:?} ({stats:?})"
        );
        let spare = unwritten(active + config.segment_bytes).expect("the spare exists");
        assert!(spare.is_empty(), "unwritten blocks in the spare: {spare:?}");
    }
    verify_queues(&mut shard, &sent);
    shard.close().expect("clean close");
    let (mut shard, _) = store.open(&config);
    verify_queues(&mut shard, &sent);
    shard.close().expect("clean close");
}

/// The unwritten extents of the segment starting at `base`, as block ranges `[start, end)`,
/// from `filefrag -v`; `None` (reason printed) where filefrag is missing or the filesystem
/// does not report unwritten extents.
fn unwritten_blocks(directory: &Path, base: u64) -> Option<Vec<(u64, u64)>> {
    let path = directory.join(format!("{base:020}"));
    let output = std::process::Command::new("filefrag")
        .arg("-v")
        .arg(&path)
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        other => {
            println!(
                "extents not checked: filefrag -v {}: {other:?}",
                path.display()
            );
            return None;
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    if !text.contains("Filesystem type is: ef53") && !text.contains("Filesystem type is: 58465342")
    {
        println!("extents not checked: not ext4 or XFS:\n{text}");
        return None;
    }
    let mut unwritten = Vec::new();
    for line in text.lines() {
        let Some((index, rest)) = line.trim_start().split_once(':') else {
            continue;
        };
        if index.parse::<u64>().is_err() || !rest.contains("unwritten") {
            continue;
        }
        let logical = rest.split(':').next().unwrap_or_default();
        let (start, end) = logical
            .split_once("..")
            .expect("filefrag prints start..end");
        let start: u64 = start.trim().parse().expect("a block number");
        let end: u64 = end.trim().parse().expect("a block number");
        unwritten.push((start, end + 1));
    }
    Some(unwritten)
}

macro_rules! for_each_backend {
    ($($case:ident),* $(,)?) => {
        mod uring {
            $( #[test] fn $case() { super::$case(super::BackendChoice::Uring); } )*
        }
        mod fallback {
            $( #[test] fn $case() { super::$case(super::BackendChoice::Fallback); } )*
        }
    };
}

for_each_backend!(
    appends_become_readable_through_their_queue_byte_for_byte,
    records_straddling_segment_rolls_stay_readable,
    clean_close_and_reopen_keeps_every_record_and_redispatches_nothing,
    dropping_a_shard_without_close_keeps_every_acknowledged_record,
    cold_reads_after_tail_cache_eviction_return_the_stored_bytes,
    a_sequential_cold_reader_is_served_by_read_ahead,
    a_pull_of_a_cold_backlog_never_waits_for_the_disk,
    consumers_of_every_queue_read_each_window_of_the_log_about_once,
    a_cold_record_larger_than_a_read_window_is_read_whole,
    keys_find_their_records_before_and_after_reopen,
    sustained_writes_with_the_broker_pool_sizing_never_wedge_on_busy,
    a_tail_cache_larger_than_the_pool_never_wedges_appends_on_busy,
    zero_fill_runs_ahead_of_the_writer_and_never_lands_on_data,
);
