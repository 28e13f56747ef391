//! Goal: after a crash at any fdatasync boundary, recovery keeps every acknowledged
//! SYNC_FLUSH record byte for byte and invents nothing.
//! Method: run a SYNC_FLUSH workload on `SimStorage` with `crash_after_fsyncs = n` for every
//! n up to the number of syncs a full run makes, so the machine dies at each sync in turn
//! (segment creation, group commits, checkpoints). Take the crash image (unsynced writes
//! torn at sector granularity, by seed), reopen, and compare every queue with what was
//! appended: acknowledged records must all be there, and whatever is there must be exactly
//! a record that was appended at that offset. Failures print the seed and crash point.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use ringmq_engine::config::FlushMode;
use ringmq_engine::io::sim::SimDisk;
use ringmq_engine::shard::{ReadLimits, Shard};
use ringmq_engine::types::{PhysicalOffset, QueueId, QueueOffset};
use ringmq_protocol::record;

const QUEUES: u32 = 3;
const MESSAGES: u64 = 220;

#[derive(Debug, Clone)]
struct Sent {
    offset: PhysicalOffset,
    end: PhysicalOffset,
    queue: u32,
    queue_offset: u64,
    body: Vec<u8>,
}

/// Append MESSAGES records while ticking; returns what was appended and which were acked.
fn run_until_dead(
    shard: &mut Shard,
    clock: &ringmq_engine::clock::ManualClock,
) -> (Vec<Sent>, usize) {
    let mut sent = Vec::new();
    let mut acknowledged = 0usize;
    for index in 0..MESSAGES {
        let queue = u32::try_from(index % u64::from(QUEUES)).expect("small");
        let body = body_of(
            index,
            100 + usize::try_from(index * 37 % 900).expect("small"),
        );
        let properties = format!("UNIQ_KEY\u{1}U{index}\u{2}");
        let message = draft(
            "Crash",
            i32::try_from(queue).expect("small"),
            &body,
            &properties,
        );
        if let Ok(outcome) = shard.append(&message) {
            sent.push(Sent {
                offset: outcome.appended.offset,
                end: outcome.appended.end,
                queue,
                queue_offset: outcome.queue_offset.0,
                body,
            });
        }
        for _ in 0..2 {
            if shard.wait(Duration::from_millis(1)).is_err() {
                break;
            }
            clock.advance(Duration::from_millis(7));
        }
        let durable = shard.durable();
        acknowledged = sent
            .iter()
            .take_while(|s| s.end <= durable)
            .count()
            .max(acknowledged);
        if shard.latch().is_some() {
            break;
        }
    }
    (sent, acknowledged)
}

fn verify(shard: &mut Shard, sent: &[Sent], acknowledged: usize, context: &str) {
    let by_offset: BTreeMap<PhysicalOffset, &Sent> = sent.iter().map(|s| (s.offset, s)).collect();
    let limits = ReadLimits {
        messages_max: 10_000,
        bytes_max: usize::MAX,
    };
    let mut recovered = 0usize;
    for queue in 0..QUEUES {
        let read = shard
            .read_queue("Crash", QueueId(queue), QueueOffset(0), limits, &|_| true)
            .unwrap_or_else(|error| panic!("{context}: read failed: {error}"));
        for (position, message) in read.messages.iter().enumerate() {
            let stored =
                record::decode(&message.bytes).unwrap_or_else(|e| panic!("{context}: {e}"));
            let original = by_offset
                .get(&message.offset)
                .unwrap_or_else(|| panic!("{context}: invented record at {:?}", message.offset));
            assert_eq!(
                stored.body,
                original.body.as_slice(),
                "{context}: body differs"
            );
            assert_eq!(original.queue, queue, "{context}: wrong queue");
            assert_eq!(
                original.queue_offset,
                u64::try_from(position).expect("small"),
                "{context}"
            );
            recovered += 1;
        }
    }
    for acked in &sent[..acknowledged] {
        let read = shard
            .read_queue(
                "Crash",
                QueueId(acked.queue),
                QueueOffset(acked.queue_offset),
                ReadLimits {
                    messages_max: 1,
                    bytes_max: usize::MAX,
                },
                &|_| true,
            )
            .unwrap_or_else(|error| panic!("{context}: {error}"));
        let message = read
            .messages
            .first()
            .unwrap_or_else(|| panic!("{context}: acknowledged record {:?} lost", acked.offset));
        assert_eq!(
            message.offset, acked.offset,
            "{context}: acknowledged record moved"
        );
    }
    assert!(
        recovered >= acknowledged,
        "{context}: {recovered} recovered < {acknowledged} acked"
    );
}

fn syncs_of_a_full_run() -> u64 {
    let disk = SimDisk::new();
    let clock = clock();
    let (mut shard, _) = open_shard(&disk, sim_config(0), config(FlushMode::Sync), &clock);
    run_until_dead(&mut shard, &clock);
    disk.fsync_count()
}

#[test]
fn crash_at_every_fsync_boundary_keeps_acknowledged_records_and_invents_none() {
    let total = syncs_of_a_full_run();
    assert!(
        total > 50,
        "the workload must sync often enough to be interesting: {total}"
    );
    for crash_point in 0..total {
        let seed = 0x5eed_0000 + crash_point;
        let context = format!("seed {seed:#x}, crash after {crash_point} of {total} syncs");
        let disk = SimDisk::new();
        let clock = clock();
        let mut sim = sim_config(seed);
        sim.crash_after_fsyncs = Some(crash_point);
        let storage = ringmq_engine::io::sim::SimStorage::new(disk.clone(), sim);
        let opened = Shard::open(
            ringmq_engine::types::ShardId(0),
            config(FlushMode::Sync),
            Box::new(storage),
            Box::new(clock.clone()),
            &mut |_| {},
        );
        let (sent, acknowledged) = match opened {
            Ok((mut shard, _)) => run_until_dead(&mut shard, &clock),
            Err(_) => (Vec::new(), 0),
        };
        let crashed = disk.crash(seed);
        let (mut recovered, report) =
            open_shard(&crashed, sim_config(seed), config(FlushMode::Sync), &clock);
        verify(
            &mut recovered,
            &sent,
            acknowledged,
            &format!("{context}, {report:?}"),
        );
        // The recovered shard accepts new appends after the repaired tail.
        let body = b"after-recovery".to_vec();
        let outcome = recovered
            .append(&draft("Crash", 0, &body, ""))
            .unwrap_or_else(|e| panic!("{context}: {e}"));
        let end = outcome.appended.end;
        drive(&mut recovered, &clock, |s| s.visible() >= end);
    }
}

/// Hazard: the checkpoint file was created without syncing its directory, so a power loss
/// could take the name, and every slot written into it, away: recovery then scanned and
/// re-dispatched the whole log although checkpoints had completed.
#[test]
fn a_completed_checkpoint_survives_a_power_loss_of_a_new_store() {
    let disk = SimDisk::new();
    let clock = clock();
    let (mut shard, _) = open_shard(&disk, sim_config(3), config(FlushMode::Sync), &clock);
    for index in 0..20u64 {
        let body = body_of(index, 200);
        let outcome = shard
            .append(&draft("Checkpointed", 0, &body, ""))
            .expect("append");
        let end = outcome.appended.end;
        drive(&mut shard, &clock, |s| s.visible() >= end);
    }
    let end = shard.appended().local();
    drive(&mut shard, &clock, |s| {
        s.checkpointed().queues_dispatched == end
    });
    for seed in 0..8 {
        let (_, report) = open_shard(
            &disk.crash(seed),
            sim_config(seed),
            config(FlushMode::Sync),
            &clock,
        );
        assert_eq!(
            report.started_at, end,
            "crash seed {seed}: recovery must start at the checkpoint: {report:?}"
        );
        assert_eq!(report.records_redispatched, 0, "crash seed {seed}");
    }
}

/// Hazard: recovery cut a consume queue back by unlinking its later files without syncing
/// the directory, so a second power loss brought those files back, and with them entries of
/// records the first one had lost (ASYNC_FLUSH syncs queue files at checkpoints while the
/// log is not yet durable). When a checkpoint of the second run lay past those entries'
/// offsets, recovery kept them, and the queue claimed messages the log does not hold.
#[test]
fn queue_files_removed_by_recovery_stay_removed_after_a_second_power_loss() {
    let mut unsynced = config(FlushMode::Async);
    // The log is never fdatasynced, while checkpoints sync the queue files (64 entries each).
    unsynced.flush_interval = Duration::from_secs(3600);
    unsynced.flush_thorough_interval = Duration::from_secs(3600);
    let disk = SimDisk::new();
    let clock = clock();
    let (mut shard, _) = open_shard(&disk, sim_config(5), unsynced.clone(), &clock);
    append_and_checkpoint(&mut shard, &clock, 80, 100);
    assert_eq!(
        shard.durable().local(),
        0,
        "the first run never synced the log"
    );
    let mut exercised = 0;
    for seed in 0..4 {
        let once = disk.crash(seed);
        let (mut second, _) = open_shard(&once, sim_config(seed), config(FlushMode::Sync), &clock);
        // The first crash keeps a prefix of the unsynced log; recovery removed the queue's
        // second file. A SYNC_FLUSH second run fills the first file exactly (no blank entry
        // for the cut to stop at) with more bytes than the first run wrote, so the
        // checkpoint lies past every entry of the removed file, and checkpoints.
        let kept = second.queue_bounds("Resurrect", QueueId(0)).1 .0;
        let Some(fill) = 64u64.checked_sub(kept).filter(|fill| *fill > 0) else {
            continue;
        };
        let body_bytes = usize::try_from(16_000 / fill + 1000).expect("small");
        append_and_checkpoint(&mut second, &clock, fill, body_bytes);
        let expected = second.queue_bounds("Resurrect", QueueId(0));
        drop(second);
        let (third, report) = open_shard(
            &once.crash(seed),
            sim_config(seed),
            config(FlushMode::Sync),
            &clock,
        );
        assert_eq!(
            third.queue_bounds("Resurrect", QueueId(0)),
            expected,
            "crash seed {seed}: the queue changed across a second power loss: {report:?}"
        );
        exercised += 1;
    }
    assert!(
        exercised > 0,
        "no crash image left room to refill the queue file"
    );
}

/// Append `count` records with `body_bytes` bodies to queue 0, then wait for a checkpoint
/// that covers everything durable.
fn append_and_checkpoint(
    shard: &mut Shard,
    clock: &ringmq_engine::clock::ManualClock,
    count: u64,
    body_bytes: usize,
) {
    for index in 0..count {
        let body = body_of(index, body_bytes);
        let outcome = shard
            .append(&draft("Resurrect", 0, &body, ""))
            .expect("append");
        let end = outcome.appended.end;
        drive(shard, clock, |s| s.visible() >= end);
    }
    let checkpoints = shard.stats().checkpoints;
    drive(shard, clock, |s| {
        s.stats().checkpoints > checkpoints
            && s.checkpointed().queues_dispatched == s.durable().local()
    });
}
