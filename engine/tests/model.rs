//! Goal: under any interleaving of appends, ticks, reads, clean restarts and crashes, the
//! shard's queues equal a trivially correct model, a crash keeps every acknowledged record
//! and invents none, and an fdatasync EIO latches the shard read-only without acknowledging
//! anything past the last durable offset.
//!
//! Method: a seeded RNG (seed printed; several seeds, SYNC and ASYNC) drives the engine on
//! `SimStorage` and a `BTreeMap<(topic, queue), Vec<Entry>>` side by side: appends to 3
//! topics × 4 queues with bodies of 1..5000 bytes (some sized to end exactly at, or just past,
//! the room left in the segment), ticks, range reads compared with the model, timestamp
//! searches and key lookups, clean close + reopen (model unchanged, nothing re-dispatched),
//! and `SimDisk::crash` + reopen (the model keeps exactly the records below the recovered
//! end, which must include every durable one). After every restart, crash or not, every
//! record of the model must be found by its key and no record lost in a crash may be; the
//! random lookups between restarts are asserted in every incarnation too. Retention never
//! runs. A second test sets `fail_fsync_number` as an I/O-failure countdown (redb style) and
//! checks the latch and the crash image.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use ringmq_engine::clock::ManualClock;
use ringmq_engine::config::{EngineConfig, FlushMode};
use ringmq_engine::error::AppendError;
use ringmq_engine::io::sim::{SimConfig, SimDisk, SplitMix64};
use ringmq_engine::recovery::RecoveryReport;
use ringmq_engine::shard::{Boundary, QueueReadStatus, ReadLimits, Shard};
use ringmq_engine::types::{PhysicalOffset, QueueId, QueueOffset, TimestampMs};
use ringmq_protocol::record;

const TOPICS: [&str; 3] = ["ModelA", "ModelB", "ModelC"];
const QUEUES: u32 = 4;
const BODY_BYTES_MAX: u64 = 5000;
const ALL_TIME: (TimestampMs, TimestampMs) = (TimestampMs(0), TimestampMs(u64::MAX / 2));

#[derive(Clone, Debug)]
struct Entry {
    key: u64,
    body: Vec<u8>,
    offset: PhysicalOffset,
    end: PhysicalOffset,
    store_timestamp: TimestampMs,
}

type Model = BTreeMap<(usize, u32), Vec<Entry>>;

/// The engine under test, its disk and clock, and the model it must equal.
struct Run {
    seed: u64,
    random: SplitMix64,
    flush: FlushMode,
    sim: SimConfig,
    disk: SimDisk,
    clock: ManualClock,
    shard: Option<Shard>,
    model: Model,
    next_key: u64,
    lost_keys: Vec<(usize, u64)>,
    restarts: u64,
    /// Crashes so far (simulated power losses).
    crashes: u64,
    /// `visible` as of the last tick, which dispatched everything below it. A cold read
    /// reaps commit completions too, so `visible` may run ahead until the next tick.
    dispatched: PhysicalOffset,
}

fn model_config(flush: FlushMode) -> EngineConfig {
    let mut config = config(flush);
    // The smallest segment, so records end near a boundary often.
    config.segment_bytes = 64 * 1024;
    config.retention.delete_hours = Vec::new();
    config.retention.reserved = Duration::from_secs(10 * 365 * 24 * 3600);
    config
}

fn body_for(key: u64, size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| {
            u8::try_from((key * 31 + u64::try_from(i).expect("small") * 7) % 251).expect("byte")
        })
        .collect()
}

fn properties_for(key: u64) -> String {
    format!("KEYS\u{1}k{key}\u{2}TAGS\u{1}t{}\u{2}", key % 5)
}

impl Run {
    fn new(seed: u64, flush: FlushMode, sim: SimConfig) -> Self {
        Self::try_new(seed, flush, sim).expect("a new store opens")
    }

    /// `None` when opening the new store fails (an injected EIO while creating it).
    fn try_new(seed: u64, flush: FlushMode, sim: SimConfig) -> Option<Self> {
        let disk = SimDisk::new();
        let clock = clock();
        let storage = ringmq_engine::io::sim::SimStorage::new(disk.clone(), sim.clone());
        let opened = Shard::open(
            ringmq_engine::types::ShardId(0),
            model_config(flush),
            Box::new(storage),
            Box::new(clock.clone()),
            &mut |_| {},
        );
        let shard = match opened {
            Ok((shard, _)) => shard,
            Err(error) => {
                println!("seed {seed:#x}: the new store did not open: {error}");
                return None;
            }
        };
        Some(Self {
            seed,
            random: SplitMix64::new(seed),
            flush,
            sim,
            disk,
            clock,
            shard: Some(shard),
            model: Model::new(),
            next_key: 0,
            lost_keys: Vec::new(),
            restarts: 0,
            crashes: 0,
            dispatched: PhysicalOffset::new(ringmq_engine::types::ShardId(0), 0),
        })
    }

    fn shard(&mut self) -> &mut Shard {
        self.shard
            .as_mut()
            .expect("the shard is open between operations")
    }

    fn context(&self) -> String {
        format!("seed {:#x} {:?}", self.seed, self.flush)
    }

    /// A body size of 1..=5000, or one that makes the record end exactly where the segment
    /// has room for only the 8-byte BLANK, or a few bytes either side of it.
    fn body_size(&mut self, topic: &str, properties: &str) -> usize {
        let shard = self.shard.as_ref().expect("open");
        let segment_bytes = shard.config().segment_bytes;
        let local = shard.appended().local();
        let room = segment_bytes - local % segment_bytes;
        let overhead = u64::try_from(
            draft(topic, 0, b"", properties)
                .encoded_len()
                .expect("encodes"),
        )
        .expect("small");
        let fitting = room.saturating_sub(8 + overhead);
        if self.random.chance(0.3) && (1..=BODY_BYTES_MAX - 8).contains(&fitting) {
            let delta = self.random.below(9);
            return usize::try_from((fitting + delta).saturating_sub(4).max(1)).expect("small");
        }
        usize::try_from(1 + self.random.below(BODY_BYTES_MAX)).expect("small")
    }

    fn append(&mut self) {
        let topic_index = usize::try_from(self.random.below(3)).expect("small");
        let queue = u32::try_from(self.random.below(u64::from(QUEUES))).expect("small");
        let key = self.next_key;
        self.next_key += 1;
        let properties = properties_for(key);
        let size = self.body_size(TOPICS[topic_index], &properties);
        let body = body_for(key, size);
        let message = draft(
            TOPICS[topic_index],
            i32::try_from(queue).expect("small"),
            &body,
            &properties,
        );
        let expected_offset =
            u64::try_from(self.model.get(&(topic_index, queue)).map_or(0, Vec::len))
                .expect("small");
        match self.shard().append(&message) {
            Ok(outcome) => {
                assert_eq!(
                    outcome.queue_offset.0,
                    expected_offset,
                    "{}",
                    self.context()
                );
                self.model
                    .entry((topic_index, queue))
                    .or_default()
                    .push(Entry {
                        key,
                        body,
                        offset: outcome.appended.offset,
                        end: outcome.appended.end,
                        store_timestamp: outcome.appended.store_timestamp,
                    });
            }
            Err(AppendError::Busy) => {}
            Err(error) => panic!("{}: append failed: {error}", self.context()),
        }
    }

    fn tick(&mut self) {
        let rounds = 1 + self.random.below(4);
        for _ in 0..rounds {
            let clock = self.clock.clone();
            self.shard().wait(Duration::from_millis(1)).expect("tick");
            clock.advance(Duration::from_millis(1 + self.random.below(5)));
        }
        self.dispatched = self.shard().visible();
    }

    fn settle(&mut self) {
        let clock = self.clock.clone();
        let shard = self.shard();
        let end = shard.appended();
        drive(shard, &clock, |s| s.visible() >= end);
        self.dispatched = self.shard().visible();
    }

    /// Entries of a queue that were visible at the last tick (and so dispatched).
    fn visible_entries(&self, topic_index: usize, queue: u32) -> &[Entry] {
        let visible = self.dispatched;
        let entries = self
            .model
            .get(&(topic_index, queue))
            .map_or(&[][..], Vec::as_slice);
        let count = entries.partition_point(|entry| entry.end <= visible);
        &entries[..count]
    }

    fn read_range(&mut self) {
        let topic_index = usize::try_from(self.random.below(3)).expect("small");
        let queue = u32::try_from(self.random.below(u64::from(QUEUES))).expect("small");
        // Captured before the read: a cold read reaps commit completions, so `visible` may
        // move during it, and what it moved over is dispatched only by the next tick.
        let expected = self.visible_entries(topic_index, queue).to_vec();
        let visible = expected.len();
        let from = usize::try_from(
            self.random
                .below(u64::try_from(visible).expect("small") + 2),
        )
        .expect("small");
        let count = usize::try_from(1 + self.random.below(40)).expect("small");
        let limits = ReadLimits {
            messages_max: count,
            bytes_max: usize::MAX,
        };
        let context = format!(
            "{}: {}/{queue} from {from}",
            self.context(),
            TOPICS[topic_index]
        );
        let read = self
            .shard()
            .read_queue(
                TOPICS[topic_index],
                QueueId(queue),
                QueueOffset(u64::try_from(from).expect("small")),
                limits,
                &|_| true,
            )
            .unwrap_or_else(|error| panic!("{context}: {error}"));
        assert_eq!(
            read.max_offset.0,
            u64::try_from(expected.len()).expect("small"),
            "{context}"
        );
        let status = match from {
            _ if expected.is_empty() => QueueReadStatus::NoMessageInQueue,
            from if from == expected.len() => QueueReadStatus::OffsetOverflowOne,
            from if from > expected.len() => QueueReadStatus::OffsetOverflowBadly,
            _ => QueueReadStatus::Found,
        };
        assert_eq!(read.status, status, "{context}");
        let wanted = expected.get(from..).unwrap_or_default();
        let wanted = &wanted[..wanted.len().min(count)];
        assert_eq!(read.messages.len(), wanted.len(), "{context}");
        for (message, entry) in read.messages.iter().zip(wanted) {
            assert_eq!(message.offset, entry.offset, "{context}");
            let stored =
                record::decode(&message.bytes).unwrap_or_else(|e| panic!("{context}: {e}"));
            assert_eq!(stored.body, entry.body.as_slice(), "{context}");
        }
    }

    /// Every queue equals the model exactly (all of it must be visible by now).
    fn verify_all(&mut self, context: &str) {
        let limits = ReadLimits {
            messages_max: 100_000,
            bytes_max: usize::MAX,
        };
        let model = std::mem::take(&mut self.model);
        for (topic_index, topic) in TOPICS.iter().enumerate() {
            for queue in 0..QUEUES {
                let expected = model
                    .get(&(topic_index, queue))
                    .map_or(&[][..], Vec::as_slice);
                let read = self
                    .shard()
                    .read_queue(topic, QueueId(queue), QueueOffset(0), limits, &|_| true)
                    .unwrap_or_else(|error| panic!("{context}: {error}"));
                assert_eq!(
                    read.max_offset.0,
                    u64::try_from(expected.len()).expect("small"),
                    "{context}: {topic_index}/{queue}"
                );
                assert_eq!(
                    read.messages.len(),
                    expected.len(),
                    "{context}: {topic_index}/{queue}: {:?} {:?}..{:?} next {:?}",
                    read.status,
                    read.min_offset,
                    read.max_offset,
                    read.next_offset
                );
                for (message, entry) in read.messages.iter().zip(expected) {
                    assert_eq!(message.offset, entry.offset, "{context}");
                    let stored =
                        record::decode(&message.bytes).unwrap_or_else(|e| panic!("{context}: {e}"));
                    assert_eq!(
                        stored.body,
                        entry.body.as_slice(),
                        "{context}: key {}",
                        entry.key
                    );
                }
            }
        }
        self.model = model;
    }

    fn reopen(&mut self, disk: SimDisk) -> RecoveryReport {
        self.restarts += 1;
        let mut sim = self.sim.clone();
        sim.seed = self.seed ^ (self.restarts << 32);
        let (shard, report) = open_shard(&disk, sim, model_config(self.flush), &self.clock);
        self.disk = disk;
        self.dispatched = shard.visible();
        self.shard = Some(shard);
        report
    }

    fn close_and_reopen(&mut self) {
        let shard = self.shard.take().expect("open");
        let appended = shard.appended();
        shard
            .close()
            .unwrap_or_else(|error| panic!("{}: close: {error}", self.context()));
        let report = self.reopen(self.disk.clone());
        let context = format!("{} after a clean restart: {report:?}", self.context());
        assert_eq!(report.records_redispatched, 0, "{context}");
        assert_eq!(self.shard().appended(), appended, "{context}");
        self.verify_all(&context);
        self.verify_keys(&context);
    }

    /// Power loss now: the model keeps exactly what lies below the recovered end.
    fn crash_and_reopen(&mut self) {
        let durable = self.shard().durable();
        let crash_seed = self.random.next_u64();
        self.crashes += 1;
        let crashed = self.disk.crash(crash_seed);
        self.shard = None;
        let report = self.reopen(crashed);
        let context = format!("{} after crash {crash_seed:#x}: {report:?}", self.context());
        let end = PhysicalOffset::new(self.shard().id(), report.valid_end);
        assert!(
            end >= durable,
            "{context}: lost durable records below {durable:?}"
        );
        for ((topic_index, _), entries) in &mut self.model {
            for entry in entries.iter() {
                assert!(
                    entry.end <= end || entry.offset >= end,
                    "{context}: cut inside a record"
                );
                if entry.end > end {
                    self.lost_keys.push((*topic_index, entry.key));
                }
            }
            entries.retain(|entry| entry.end <= end);
        }
        self.verify_all(&context);
        self.verify_keys(&context);
    }

    fn search_timestamp(&mut self) {
        let topic_index = usize::try_from(self.random.below(3)).expect("small");
        let queue = u32::try_from(self.random.below(u64::from(QUEUES))).expect("small");
        let entries = self.visible_entries(topic_index, queue).to_vec();
        if entries.is_empty() {
            return;
        }
        let pick = &entries[usize::try_from(
            self.random
                .below(u64::try_from(entries.len()).expect("small")),
        )
        .expect("small")];
        let target = TimestampMs(pick.store_timestamp.0 + self.random.below(3) - 1);
        let lower = entries.partition_point(|e| e.store_timestamp < target);
        let upper = entries
            .partition_point(|e| e.store_timestamp <= target)
            .saturating_sub(1);
        let context = format!(
            "{}: search {target:?} in {}/{queue}",
            self.context(),
            TOPICS[topic_index]
        );
        for (boundary, expected) in [(Boundary::Lower, lower), (Boundary::Upper, upper)] {
            let found = self
                .shard()
                .search_by_timestamp(TOPICS[topic_index], QueueId(queue), target, boundary)
                .unwrap_or_else(|error| panic!("{context}: {error}"));
            let expected = QueueOffset(u64::try_from(expected.min(entries.len())).expect("small"));
            assert_eq!(found, expected, "{context} {boundary:?}");
        }
    }

    /// The key lookup of `entry` (of topic `topic_index`) finds exactly that record.
    fn assert_key_found(&mut self, topic_index: usize, entry: &Entry, context: &str) {
        let found = self
            .shard()
            .lookup_key(
                TOPICS[topic_index],
                &format!("k{}", entry.key),
                ALL_TIME.0,
                ALL_TIME.1,
                4,
            )
            .unwrap_or_else(|error| panic!("{context}: lookup of k{}: {error}", entry.key));
        assert_eq!(
            found.len(),
            1,
            "{context}: key k{} at {:?} (after {} restarts, {} crashes)",
            entry.key,
            entry.offset,
            self.restarts,
            self.crashes
        );
        let stored = record::decode(&found[0]).expect("decodes");
        assert_eq!(
            stored.body,
            entry.body.as_slice(),
            "{context}: k{}",
            entry.key
        );
    }

    /// A random dispatched record of any queue, and the newest lost one, by key.
    fn lookup_key(&mut self) {
        let topic_index = usize::try_from(self.random.below(3)).expect("small");
        let queue = u32::try_from(self.random.below(u64::from(QUEUES))).expect("small");
        let entries = self.visible_entries(topic_index, queue).to_vec();
        if !entries.is_empty() {
            let pick = usize::try_from(
                self.random
                    .below(u64::try_from(entries.len()).expect("small")),
            )
            .expect("small");
            let context = self.context();
            self.assert_key_found(topic_index, &entries[pick], &context);
        }
        if let Some(&(lost_topic, key)) = self.lost_keys.last() {
            self.assert_lost_key_absent(lost_topic, key);
        }
    }

    fn assert_lost_key_absent(&mut self, topic_index: usize, key: u64) {
        let found = self
            .shard()
            .lookup_key(
                TOPICS[topic_index],
                &format!("k{key}"),
                ALL_TIME.0,
                ALL_TIME.1,
                4,
            )
            .expect("lookup");
        assert!(
            found.is_empty(),
            "{}: a record lost in a crash is found by key k{key}",
            self.context()
        );
    }

    /// Every record of the model is found by its key, and no lost one is. Records are looked
    /// up in log order so the cold reads behind the lookups stay sequential.
    fn verify_keys(&mut self, context: &str) {
        let mut all: Vec<(usize, Entry)> = self
            .model
            .iter()
            .flat_map(|(&(topic_index, _), entries)| {
                entries
                    .iter()
                    .map(move |entry| (topic_index, entry.clone()))
            })
            .collect();
        all.sort_by_key(|(_, entry)| entry.offset);
        for (topic_index, entry) in &all {
            self.assert_key_found(*topic_index, entry, context);
        }
        for (topic_index, key) in self.lost_keys.clone() {
            self.assert_lost_key_absent(topic_index, key);
        }
    }

    fn check_watermarks(&self) {
        let shard = self.shard.as_ref().expect("open");
        assert!(shard.durable() <= shard.written(), "{}", self.context());
        assert!(shard.written() <= shard.appended(), "{}", self.context());
        let expected = match self.flush {
            FlushMode::Sync => shard.durable(),
            FlushMode::Async => shard.written(),
        };
        assert_eq!(shard.visible(), expected, "{}", self.context());
    }

    fn step(&mut self) {
        match self.random.below(100) {
            0..=44 => {
                for _ in 0..=self.random.below(4) {
                    self.append();
                }
            }
            45..=59 => self.tick(),
            60..=64 => self.settle(),
            65..=79 => self.read_range(),
            80..=82 => self.close_and_reopen(),
            83..=85 => self.crash_and_reopen(),
            86..=92 => self.search_timestamp(),
            _ => self.lookup_key(),
        }
        self.check_watermarks();
    }
}

#[test]
fn random_operations_with_restarts_and_crashes_match_the_queue_model() {
    for flush in [FlushMode::Sync, FlushMode::Async] {
        for seed in [0x6d6f_6465_6c01_u64, 0x6d6f_6465_6c02, 0x6d6f_6465_6c03] {
            println!("model seed {seed:#x} {flush:?}");
            let mut run = Run::new(seed, flush, sim_config(seed));
            for _ in 0..1500 {
                run.step();
            }
            run.settle();
            let context = run.context();
            run.verify_all(&context);
            run.verify_keys(&context);
            assert!(
                run.crashes >= 2,
                "{context}: the run lost power {} times",
                run.crashes
            );
            assert!(
                run.restarts >= 4,
                "{context}: the run restarted {} times",
                run.restarts
            );
            assert!(
                run.shard().appended().local() > 4 * 64 * 1024,
                "{context}: rolled segments"
            );
        }
    }
}

/// Append and tick until the shard latches (or `steps` run out); returns the durable offset
/// observed when the latch appeared.
fn run_until_latched(run: &mut Run, steps: u32) -> Option<PhysicalOffset> {
    for _ in 0..steps {
        let before = run.shard().durable();
        match run.random.below(10) {
            0..=5 => run.append(),
            6..=8 => {
                let clock = run.clock.clone();
                if run.shard().wait(Duration::from_millis(1)).is_err() {
                    return None;
                }
                run.dispatched = run.shard().visible();
                clock.advance(Duration::from_millis(3));
            }
            _ => run.read_range(),
        }
        if run.shard().latch().is_some() {
            let durable = run.shard().durable();
            assert!(durable >= before, "{}: durable moved back", run.context());
            return Some(durable);
        }
    }
    None
}

fn check_latched(run: &mut Run, durable: PhysicalOffset) {
    let context = run.context();
    let latch = run.shard().latch().cloned().expect("latched");
    assert!(
        latch.operation.contains("fdatasync") || latch.operation.contains("write"),
        "{context}: {latch}"
    );
    match run
        .shard()
        .append(&draft(TOPICS[0], 0, b"after the latch", ""))
    {
        Err(AppendError::ReadOnly(refused)) => {
            let message = refused.to_string();
            assert!(message.contains(latch.operation), "{context}: {message}");
            assert!(
                message.contains(&latch.segment.display().to_string()),
                "{context}: {message}"
            );
        }
        other => panic!("{context}: append after the latch answered {other:?}"),
    }
    for _ in 0..50 {
        let clock = run.clock.clone();
        let _ = run.shard().wait(Duration::from_millis(1));
        clock.advance(Duration::from_millis(5));
        assert_eq!(
            run.shard().durable(),
            durable,
            "{context}: durable moved after the latch"
        );
        assert!(
            run.shard().visible() <= durable.max(run.shard().written()),
            "{context}"
        );
        if run.flush == FlushMode::Sync {
            assert_eq!(
                run.shard().visible(),
                durable,
                "{context}: acknowledged past durable"
            );
        }
    }
}

#[test]
fn an_fdatasync_eio_latches_read_only_and_the_crash_image_keeps_every_durable_record() {
    let mut latched = 0;
    let mut cases = 0;
    for flush in [FlushMode::Sync, FlushMode::Async] {
        for fail_at in [1u64, 2, 3, 5, 8, 13, 21, 34] {
            let seed = 0xe10_0000 + fail_at;
            println!("countdown seed {seed:#x} {flush:?}: fail fdatasync number {fail_at}");
            let mut sim = sim_config(seed);
            sim.fail_fsync_number = Some(fail_at);
            let Some(mut run) = Run::try_new(seed, flush, sim.clone()) else {
                continue;
            };
            run.sim.fail_fsync_number = None;
            cases += 1;
            let outcome = run_until_latched(&mut run, 3000);
            match outcome {
                Some(durable) => {
                    latched += 1;
                    check_latched(&mut run, durable);
                }
                None => assert!(
                    run.shard().checkpoint_failure().is_some() || run.shard().latch().is_some(),
                    "{}: the failed fdatasync neither latched the log nor stopped checkpoints",
                    run.context()
                ),
            }
            // Power loss after the failure: everything durable is there, nothing invented.
            run.crash_and_reopen();
            for _ in 0..200 {
                run.step();
            }
            run.settle();
            let context = run.context();
            run.verify_all(&context);
            run.verify_keys(&context);
        }
    }
    assert!(
        latched * 2 >= cases,
        "only {latched} of {cases} countdowns hit the commitlog"
    );
}
