//! Goal: a real process killed with SIGKILL at any moment — while appending, while a group
//! commit is in flight, even while recovering — never loses a SYNC_FLUSH record it
//! acknowledged, and recovery never invents one.
//!
//! Method: the test re-executes its own binary (`--exact child_appender`) with
//! `RINGMQ_CRASH_CHILD=<store>` set. The child opens the store (StoreGuard + shard on the
//! auto backend, io_uring here), appends records whose content is a pure function of a
//! sequence number to several queues, and prints `ACK <seq> <queue> <queue offset> <offset>
//! <store time>` only once the record is durable. The parent reads those lines and kills the
//! child at a seeded random moment (seed printed; set RINGMQ_CRASH_SEED to replay), then opens
//! the store in-process and checks that every acknowledged record of every cycle so far is
//! at its queue offset, byte for byte (re-encoded from its sequence number and stamps), and
//! that every queue holds only records the children wrote, each once, in order, and that each
//! cycle's survivors are a gap-free prefix of what it appended. 20+ cycles share one store;
//! a guard kills and reaps the child even when the parent panics.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use ringmq_engine::clock::{Clock, SystemClock};
use ringmq_engine::config::{EngineConfig, FlushMode};
use ringmq_engine::error::AppendError;
use ringmq_engine::io::select::BackendChoice;
use ringmq_engine::io::sim::SplitMix64;
use ringmq_engine::shard::{ReadLimits, Shard};
use ringmq_engine::store::StoreGuard;
use ringmq_engine::types::{PhysicalOffset, QueueId, QueueOffset};
use ringmq_protocol::record::{self, StoreStamp};

const CHILD_ENV: &str = "RINGMQ_CRASH_CHILD";
const FIRST_SEQ_ENV: &str = "RINGMQ_CRASH_FIRST_SEQ";
const SEED_ENV: &str = "RINGMQ_CRASH_SEED";
const TOPIC: &str = "Crash";
const QUEUES: u64 = 5;
const CYCLES: u64 = 24;
/// Sequence numbers of cycle c are `c * SEQ_STRIDE ..`.
const SEQ_STRIDE: u64 = 1 << 32;
/// A child that lives this long without being killed has lost its parent; it exits.
const CHILD_LIFETIME_MAX: Duration = Duration::from_secs(30);

fn queue_of(seq: u64) -> u32 {
    u32::try_from(seq.wrapping_mul(0x9E37_79B9) % QUEUES).expect("small")
}

fn body_size_of(seq: u64) -> usize {
    // Mostly small, sometimes tens of KiB so batches and segment ends vary.
    let mixed = seq.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
    let size = if mixed % 17 == 0 {
        8_000 + mixed % 40_000
    } else {
        16 + mixed % 1_500
    };
    usize::try_from(size).expect("small")
}

fn body_of_seq(seq: u64) -> Vec<u8> {
    let mut body = format!("seq-{seq}:").into_bytes();
    let size = body_size_of(seq).max(body.len());
    let mut state = seq;
    while body.len() < size {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        body.push(b'a' + u8::try_from((state >> 59) % 26).expect("small"));
    }
    body
}

fn properties_of(seq: u64) -> String {
    format!("UNIQ_KEY\u{1}S{seq}\u{2}KEYS\u{1}k{seq}\u{2}")
}

fn crash_config(root: &Path) -> EngineConfig {
    let mut config = real_config(root, FlushMode::Sync);
    config.checkpoint_interval = Duration::from_millis(50);
    config
}

/// One acknowledged record, as the child reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ack {
    seq: u64,
    queue: u32,
    queue_offset: u64,
    offset: PhysicalOffset,
    store_timestamp: i64,
}

impl Ack {
    fn parse(line: &str) -> Option<Self> {
        let mut fields = line.strip_prefix("ACK ")?.split(' ');
        let mut next = || fields.next()?.parse::<u64>().ok();
        Some(Self {
            seq: next()?,
            queue: u32::try_from(next()?).ok()?,
            queue_offset: next()?,
            offset: PhysicalOffset(next()?),
            store_timestamp: i64::try_from(next()?).ok()?,
        })
    }

    fn expected_bytes(&self) -> Vec<u8> {
        let body = body_of_seq(self.seq);
        let properties = properties_of(self.seq);
        let message = draft(
            TOPIC,
            i32::try_from(self.queue).expect("small"),
            &body,
            &properties,
        );
        let stamp = StoreStamp {
            queue_offset: i64::try_from(self.queue_offset).expect("small"),
            physical_offset: self.offset.as_i64(),
            store_timestamp: self.store_timestamp,
        };
        expected_record(&message, stamp)
    }
}

/// The child side: append until killed, acknowledging durable records on stdout.
#[test]
fn child_appender() {
    let Ok(root) = std::env::var(CHILD_ENV) else {
        return; // Only meaningful when started by the parent test below.
    };
    let first_seq: u64 = std::env::var(FIRST_SEQ_ENV)
        .expect("the parent passes the first sequence number")
        .parse()
        .expect("a number");
    let config = crash_config(Path::new(&root));
    let guard = StoreGuard::acquire(&config).expect("lock the store");
    let storage = real_storage(BackendChoice::Auto, REAL_POOL_BYTES).expect("a backend opens");
    let (mut shard, _) = open_real_shard(&config, storage);
    println!("READY");
    let clock = SystemClock::new();
    let mut pending: std::collections::VecDeque<(Ack, PhysicalOffset)> =
        std::collections::VecDeque::new();
    let mut seq = first_seq;
    while clock.monotonic() < CHILD_LIFETIME_MAX {
        for _ in 0..=seq % 40 {
            let body = body_of_seq(seq);
            let properties = properties_of(seq);
            let queue = queue_of(seq);
            let message = draft(
                TOPIC,
                i32::try_from(queue).expect("small"),
                &body,
                &properties,
            );
            match shard.append(&message) {
                Ok(outcome) => {
                    let ack = Ack {
                        seq,
                        queue,
                        queue_offset: outcome.queue_offset.0,
                        offset: outcome.appended.offset,
                        store_timestamp: outcome.appended.store_timestamp.as_i64(),
                    };
                    pending.push_back((ack, outcome.appended.end));
                    seq += 1;
                }
                Err(AppendError::Busy) => break,
                Err(error) => panic!("child append {seq}: {error}"),
            }
        }
        shard.wait(Duration::from_millis(2)).expect("tick");
        let visible = shard.visible();
        while pending.front().is_some_and(|(_, end)| *end <= visible) {
            let (ack, _) = pending.pop_front().expect("checked");
            println!(
                "ACK {} {} {} {} {}",
                ack.seq, ack.queue, ack.queue_offset, ack.offset.0, ack.store_timestamp
            );
        }
    }
    shard.close().expect("close");
    guard.close_clean().expect("clean");
    panic!("the child was never killed");
}

/// Kills and reaps the child when dropped, so a failing parent leaves no orphan behind.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_child(root: &Path, first_seq: u64) -> (ChildGuard, mpsc::Receiver<String>) {
    let executable = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(executable)
        .args([
            "--exact",
            "child_appender",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, root)
        .env(FIRST_SEQ_ENV, first_seq.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("piped");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    (ChildGuard(child), receiver)
}

#[allow(
    clippy::disallowed_methods,
    reason = "the parent paces a real child process"
)]
fn pause(duration: Duration) {
    std::thread::sleep(duration);
}

/// Run one child and kill it at a random moment; returns what it acknowledged.
fn run_and_kill(root: &Path, first_seq: u64, random: &mut SplitMix64) -> Vec<Ack> {
    let (mut guard, lines) = spawn_child(root, first_seq);
    let mut acks = Vec::new();
    // Sometimes die before READY (during open and recovery), usually after some acks.
    let acks_before_kill = match random.below(8) {
        0 => None,
        _ => Some(usize::try_from(random.below(700)).expect("small")),
    };
    match acks_before_kill {
        None => pause(Duration::from_millis(random.below(40))),
        Some(wanted) => loop {
            let line = lines
                .recv_timeout(Duration::from_secs(20))
                .expect("the child keeps acknowledging");
            if let Some(ack) = Ack::parse(&line) {
                acks.push(ack);
            }
            if acks.len() >= wanted && line != "READY" {
                break;
            }
        },
    }
    guard.0.kill().expect("SIGKILL the child");
    let status = guard.0.wait().expect("reap the child");
    assert!(
        !status.success(),
        "the child was killed, not finished: {status:?}"
    );
    // Lines printed before the kill are acknowledgements too.
    acks.extend(lines.iter().filter_map(|line| Ack::parse(&line)));
    acks
}

/// Every record of every queue, by (queue, queue offset): its offset and stored bytes.
type Stored = BTreeMap<(u32, u64), (PhysicalOffset, bytes::Bytes)>;

/// Read every queue whole and check it holds only records the children wrote: each seq once,
/// in its own queue, with its own body, at consecutive queue offsets, in log order.
fn read_queues(shard: &mut Shard, cycle: u64, context: &str) -> (Stored, BTreeSet<u64>) {
    let mut stored = Stored::new();
    let mut seen = BTreeSet::new();
    let limits = ReadLimits {
        messages_max: 1 << 20,
        bytes_max: usize::MAX,
    };
    for queue in 0..u32::try_from(QUEUES).expect("small") {
        let read = shard
            .read_queue(TOPIC, QueueId(queue), QueueOffset(0), limits, &|_| true)
            .unwrap_or_else(|error| panic!("{context}: {error}"));
        let mut last_offset = None;
        for (position, message) in read.messages.iter().enumerate() {
            let decoded = record::decode(&message.bytes)
                .unwrap_or_else(|error| panic!("{context}: queue {queue}@{position}: {error}"));
            let seq: u64 = decoded
                .property("UNIQ_KEY")
                .and_then(|key| key.strip_prefix('S'))
                .and_then(|seq| seq.parse().ok())
                .unwrap_or_else(|| panic!("{context}: queue {queue}@{position}: foreign record"));
            assert!(
                seq / SEQ_STRIDE <= cycle,
                "{context}: seq {seq} from the future"
            );
            assert_eq!(
                queue_of(seq),
                queue,
                "{context}: seq {seq} in the wrong queue"
            );
            assert_eq!(
                decoded.body,
                body_of_seq(seq).as_slice(),
                "{context}: seq {seq}"
            );
            let position = u64::try_from(position).expect("small");
            assert_eq!(
                decoded.queue_offset,
                i64::try_from(position).expect("small")
            );
            assert_eq!(message.queue_offset.0, position, "{context}");
            assert!(
                last_offset < Some(message.offset),
                "{context}: queue {queue} out of order"
            );
            last_offset = Some(message.offset);
            assert!(seen.insert(seq), "{context}: seq {seq} stored twice");
            stored.insert((queue, position), (message.offset, message.bytes.clone()));
        }
    }
    (stored, seen)
}

/// Check the store against every acknowledgement so far and against what children can write.
fn verify_store(shard: &mut Shard, acks: &BTreeMap<u64, Ack>, cycle: u64, context: &str) {
    let (stored, seen) = read_queues(shard, cycle, context);
    for ack in acks.values() {
        let (offset, bytes) = stored
            .get(&(ack.queue, ack.queue_offset))
            .unwrap_or_else(|| panic!("{context}: acknowledged {ack:?} is missing"));
        assert_eq!(*offset, ack.offset, "{context}: {ack:?} moved");
        assert!(
            *bytes == ack.expected_bytes(),
            "{context}: {ack:?} bytes differ"
        );
    }
    // Survivors of each cycle are a gap-free prefix of what that cycle appended.
    let mut by_cycle: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for seq in &seen {
        by_cycle
            .entry(seq / SEQ_STRIDE)
            .or_default()
            .push(seq % SEQ_STRIDE);
    }
    for (owner, seqs) in by_cycle {
        let count = u64::try_from(seqs.len()).expect("small");
        assert_eq!(
            seqs.last().copied(),
            Some(count - 1),
            "{context}: cycle {owner} has a gap"
        );
    }
}

#[test]
fn sigkill_at_random_moments_never_loses_an_acknowledged_sync_record() {
    let directory = real_store_directory("process-crash-");
    if let Some(reason) = direct_io_unsupported(directory.path()) {
        println!("skipped: {reason}");
        return;
    }
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| SystemClock::new().wall().0);
    println!("process crash seed {seed} (replay with {SEED_ENV}={seed})");
    let mut random = SplitMix64::new(seed);
    let root = directory.path();
    let config = crash_config(root);
    let mut acks: BTreeMap<u64, Ack> = BTreeMap::new();
    for cycle in 0..CYCLES {
        let new = run_and_kill(root, cycle * SEQ_STRIDE, &mut random);
        let context = format!("seed {seed}, cycle {cycle}");
        println!(
            "{context}: {} records acknowledged before the kill",
            new.len()
        );
        // A child killed before it took the lock leaves a cleanly closed store behind.
        let child_started = !new.is_empty();
        acks.extend(new.into_iter().map(|ack| (ack.seq, ack)));
        let guard = StoreGuard::acquire(&config).expect("the dead child released the lock");
        if child_started {
            assert!(
                !guard.previous_exit_clean(),
                "{context}: abort marks the crash"
            );
        }
        let storage = real_storage(BackendChoice::Auto, REAL_POOL_BYTES).expect("a backend");
        let (mut shard, report) = open_real_shard(&config, storage);
        verify_store(&mut shard, &acks, cycle, &format!("{context}: {report:?}"));
        // Alternate a clean restart with leaving the store as a crash left it.
        if cycle % 2 == 0 {
            shard.close().expect("clean close");
            guard.close_clean().expect("remove abort");
        }
    }
    assert!(
        acks.len() > 1000,
        "the children acknowledged only {} records",
        acks.len()
    );
}
