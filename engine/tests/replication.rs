//! Goal: the storage half of master/slave replication — a slave that appends the spans a
//! master ships ends up with the master's log byte for byte (across segment rolls, from the
//! tail cache and from cold O_DIRECT windows, however the stream is cut), dispatches its own
//! queues and index, survives a reopen, and refuses bytes that do not continue its log.
//! Method: two shards on separate simulated disks; the "network" is a buffer fed in pieces
//! of random size, like TCP reads.

mod common;

use common::*;
use ringmq_engine::clock::ManualClock;
use ringmq_engine::config::FlushMode;
use ringmq_engine::io::sim::SimDisk;
use ringmq_engine::shard::{ReplicaError, Shard};
use ringmq_engine::types::{PhysicalOffset, ShardId, TimestampMs};

fn append_many(shard: &mut Shard, clock: &ManualClock, from: u64, count: u64) {
    for index in from..from + count {
        let body = body_of(index, 500 + usize::try_from(index % 400).expect("small"));
        let properties = format!("KEYS\u{1}key-{index}\u{2}TAGS\u{1}tag{}\u{2}", index % 3);
        let queue = i32::try_from(index % 4).expect("small");
        loop {
            match shard.append(&draft("TopicR", queue, &body, &properties)) {
                Ok(_) => break,
                Err(_) => drive_once(shard, clock),
            }
        }
    }
}

fn drive_once(shard: &mut Shard, clock: &ManualClock) {
    shard
        .wait(std::time::Duration::from_millis(1))
        .expect("tick");
    clock.advance(std::time::Duration::from_millis(1));
}

/// Ship everything the master has written to the slave, cutting the byte stream into
/// pieces of pseudo-random size; returns the number of spans shipped.
fn replicate(master: &mut Shard, slave: &mut Shard, clock: &ManualClock, seed: u64) -> usize {
    let end = master.appended();
    drive(master, clock, |s| s.written() >= end);
    let mut next = slave.appended();
    let mut pending: Vec<u8> = Vec::new();
    let mut pending_at = next;
    let mut random = seed;
    let mut spans = 0;
    loop {
        if let Some(span) = master.replica_span(next, 32 * 1024).expect("span") {
            assert_eq!(span.offset, next);
            if pending.is_empty() {
                pending_at = span.offset;
            }
            pending.extend_from_slice(&span.bytes);
            next = span.next;
            spans += 1;
        }
        random = random
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let piece = usize::try_from(random >> 52).expect("small") + 1;
        let offered = piece.min(pending.len());
        if offered > 0 {
            let taken = loop {
                match slave.append_replicated(pending_at, &pending[..offered]) {
                    Ok(taken) => break taken,
                    Err(ReplicaError::Append(_)) => drive_once(slave, clock),
                    Err(error) => panic!("slave refused: {error}"),
                }
            };
            pending.drain(..taken);
            pending_at = slave.appended();
        }
        drive_once(slave, clock);
        if next >= master.written() && pending.is_empty() {
            break;
        }
    }
    let target = slave.appended();
    drive(slave, clock, |s| s.visible() >= target);
    spans
}

fn assert_same_log(master: &mut Shard, slave: &mut Shard) {
    assert_eq!(slave.appended(), master.appended(), "log ends differ");
    for queue in 0..4 {
        let ours = queue_bytes(master, "TopicR", queue);
        assert!(!ours.is_empty());
        assert_eq!(
            queue_bytes(slave, "TopicR", queue),
            ours,
            "queue {queue} differs on the slave"
        );
    }
}

// Hazard: a slave whose log differs from its master's by one byte serves different records
// for the same offsetMsgId, or loses messages at a segment roll.
#[test]
fn a_slave_fed_in_random_pieces_ends_with_the_masters_log_byte_for_byte() {
    for (seed, flush) in [(1, FlushMode::Sync), (2, FlushMode::Async)] {
        let clock = clock();
        let (master_disk, slave_disk) = (SimDisk::new(), SimDisk::new());
        let (mut master, _) = open_shard(&master_disk, sim_config(seed), config(flush), &clock);
        let (mut slave, _) = open_shard(&slave_disk, sim_config(seed + 10), config(flush), &clock);
        append_many(&mut master, &clock, 0, 2500);
        assert!(
            master.appended().local() > 4 * 256 * 1024,
            "several segments"
        );
        let spans = replicate(&mut master, &mut slave, &clock, seed);
        assert!(spans > 10);
        assert_same_log(&mut master, &mut slave);
        // Same records at the same offsets: an offsetMsgId resolves on either broker.
        let (begin, end) = (TimestampMs(0), TimestampMs(u64::MAX / 2));
        let found = master
            .lookup_key("TopicR", "key-1234", begin, end, 10)
            .expect("lookup on master");
        let on_slave = slave
            .lookup_key("TopicR", "key-1234", begin, end, 10)
            .expect("lookup on slave");
        assert_eq!(found.len(), 1);
        assert_eq!(on_slave, found, "the slave dispatched its own index");
        let record = ringmq_protocol::record::decode(&found[0]).expect("decodes");
        let offset = PhysicalOffset(u64::try_from(record.physical_offset).expect("positive"));
        assert_eq!(slave.read_record(offset).expect("by offset"), found[0]);

        // More appends continue the stream; a reopened slave recovers the same log.
        append_many(&mut master, &clock, 2500, 700);
        replicate(&mut master, &mut slave, &clock, seed + 1);
        slave.close().expect("close slave");
        let (mut slave, report) =
            open_shard(&slave_disk, sim_config(seed + 20), config(flush), &clock);
        assert_eq!(report.records_redispatched, 0, "{report:?}");
        assert_same_log(&mut master, &mut slave);
    }
}

// Hazard: a slave that accepts bytes for the wrong offset, or a record with a bad CRC,
// silently forks from its master.
#[test]
fn bytes_that_do_not_continue_the_log_are_refused_and_nothing_is_stored() {
    let clock = clock();
    let (master_disk, slave_disk) = (SimDisk::new(), SimDisk::new());
    let (mut master, _) = open_shard(&master_disk, sim_config(5), config(FlushMode::Sync), &clock);
    let (mut slave, _) = open_shard(&slave_disk, sim_config(6), config(FlushMode::Sync), &clock);
    append_many(&mut master, &clock, 0, 20);
    let end = master.appended();
    drive(&mut master, &clock, |s| s.written() >= end);
    let span = master
        .replica_span(PhysicalOffset::new(ShardId(0), 0), 64 * 1024)
        .expect("span")
        .expect("data");
    assert_eq!(span.next, end, "one span carries all twenty records");

    let shifted = PhysicalOffset::new(ShardId(0), 4096);
    assert!(matches!(
        slave.append_replicated(shifted, &span.bytes),
        Err(ReplicaError::Diverged { .. })
    ));
    let mut corrupt = span.bytes.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let first_record = slave
        .append_replicated(span.offset, &corrupt)
        .expect_err("the last record's CRC or properties no longer match");
    assert!(
        matches!(first_record, ReplicaError::Corrupt(_)),
        "{first_record}"
    );
    // The records before the corrupt one were whole and valid, so they were kept.
    let kept = slave.appended();
    assert!(kept.local() < end.local());
    let wrong_shard = PhysicalOffset::new(ShardId(1), kept.local());
    assert!(matches!(
        slave.append_replicated(wrong_shard, &span.bytes),
        Err(ReplicaError::WrongShard { .. })
    ));
    assert_eq!(slave.appended(), kept);
}

// Hazard: a slave that joins after the master deleted old segments can never catch up if it
// insists on starting at offset 0.
#[test]
fn an_empty_slave_can_start_at_a_later_segment_base() {
    let clock = clock();
    let (master_disk, slave_disk) = (SimDisk::new(), SimDisk::new());
    let (mut master, _) = open_shard(
        &master_disk,
        sim_config(7),
        config(FlushMode::Async),
        &clock,
    );
    let (mut slave, _) = open_shard(&slave_disk, sim_config(8), config(FlushMode::Async), &clock);
    append_many(&mut master, &clock, 0, 1200);
    let end = master.appended();
    drive(&mut master, &clock, |s| s.written() >= end);
    let base = PhysicalOffset::new(ShardId(0), 256 * 1024);
    let mut at = base;
    while let Some(span) = master.replica_span(at, 32 * 1024).expect("span") {
        let taken = slave.append_replicated(at, &span.bytes).expect("append");
        assert_eq!(taken, span.bytes.len());
        at = span.next;
        drive_once(&mut slave, &clock);
    }
    let target = slave.appended();
    assert_eq!(target, end);
    drive(&mut slave, &clock, |s| s.visible() >= target);
    assert_eq!(slave.min_offset(), base);
    let master_tail = queue_bytes(&mut master, "TopicR", 1);
    let slave_queue = queue_bytes(&mut slave, "TopicR", 1);
    assert!(!slave_queue.is_empty());
    assert!(master_tail.ends_with(&slave_queue));
    slave.close().expect("close");
    let (slave, report) = open_shard(&slave_disk, sim_config(9), config(FlushMode::Async), &clock);
    assert_eq!(report.valid_end, end.local());
    assert_eq!(slave.appended(), end);
}

// Hazard: a master that lost its unsynced tail (power loss) comes back shorter than its
// slave; the slave must cut back to the master's end, drop the orphaned queue entries, and
// then follow the master's new records — also after its own restart.
#[test]
fn a_slave_ahead_of_its_master_truncates_and_follows_the_new_history() {
    let clock = clock();
    let disks = [SimDisk::new(), SimDisk::new(), SimDisk::new()];
    let flush = FlushMode::Async;
    let (mut old_master, _) = open_shard(&disks[0], sim_config(11), config(flush), &clock);
    let (mut new_master, _) = open_shard(&disks[1], sim_config(12), config(flush), &clock);
    let (mut slave, _) = open_shard(&disks[2], sim_config(13), config(flush), &clock);
    append_many(&mut old_master, &clock, 0, 400);
    let written = old_master.appended();
    drive(&mut old_master, &clock, |s| s.written() >= written);
    let cut = {
        // The new master holds the old one's first 300 records: what it had synced.
        let mut at = PhysicalOffset::new(ShardId(0), 0);
        for _ in 0..300 {
            let span = old_master.replica_span(at, 1).expect("span").expect("data");
            new_master.append_replicated(at, &span.bytes).expect("copy");
            at = span.next;
        }
        at
    };
    replicate(&mut old_master, &mut slave, &clock, 3);
    assert!(slave.appended() > cut);
    append_many(&mut new_master, &clock, 1000, 150);
    // A master with an empty log is another store, not this slave's master: never wipe.
    assert!(matches!(
        slave.truncate_replica(PhysicalOffset::new(ShardId(0), 0)),
        Err(ReplicaError::Corrupt(_))
    ));
    let removed = slave.truncate_replica(cut).expect("truncate");
    assert_eq!(removed, old_master.appended().0 - cut.0);
    assert_eq!(slave.appended(), cut);
    replicate(&mut new_master, &mut slave, &clock, 4);
    assert_same_log(&mut new_master, &mut slave);
    slave.close().expect("close");
    let (mut slave, _) = open_shard(&disks[2], sim_config(14), config(flush), &clock);
    assert_same_log(&mut new_master, &mut slave);
}
