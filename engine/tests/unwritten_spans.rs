//! Goal: a master with a connected slave ships records as soon as they are appended, before
//! its own write of them completes (`Shard::set_ship_unwritten`), so a SYNC_MASTER send waits
//! for the slave while its write is in flight instead of after it.
//!
//! Hazards:
//! - the batch buffers being written belong to the kernel, so the shipped bytes are copies:
//!   a copy cut at the wrong place, or a gap between what was written and what was copied,
//!   gives the slave a log that differs from its master's (different records for the same
//!   offsetMsgId), or loses the records at a segment roll;
//! - after a failed write the log is read-only and nothing past `written` will ever be
//!   stored on the master: shipping more of it would widen the fork the slave must cut back;
//! - with shipping unwritten records off (no slave), nothing past `written` may leave.
//!
//! Method: the simulator with writes that stay in flight for 10–20 polls, ticked without
//! waiting, so most spans are taken while their records are unwritten. The slave appends
//! what it is shipped; at the end both logs are compared queue by queue, byte for byte.

mod common;

use common::*;
use ringmq_engine::clock::ManualClock;
use ringmq_engine::config::FlushMode;
use ringmq_engine::io::sim::{SimConfig, SimDisk};
use ringmq_engine::shard::{Shard, SpanRead};
use ringmq_engine::types::PhysicalOffset;

fn slow_writes(seed: u64) -> SimConfig {
    SimConfig {
        latency_polls_min: 10,
        latency_polls_max: 20,
        ..sim_config(seed)
    }
}

/// Append record `index`, ticking while the log is busy.
fn append_one(shard: &mut Shard, index: u64) {
    let body = body_of(index, 300 + usize::try_from(index % 700).expect("small"));
    let properties = format!("KEYS\u{1}key-{index}\u{2}");
    let queue = i32::try_from(index % 3).expect("small");
    for _ in 0..100_000 {
        match shard.append(&draft("TopicU", queue, &body, &properties)) {
            Ok(_) => return,
            Err(_) => shard.tick().expect("tick"),
        }
    }
    panic!("append {index} never got room");
}

/// Everything the master ships from `next` right now; the slave appends it.
/// Returns the new `next` and the most that was shipped past the master's written end.
fn ship(master: &mut Shard, slave: &mut Shard, mut next: PhysicalOffset) -> (PhysicalOffset, u64) {
    let mut ahead = 0;
    loop {
        match master.replica_span_nonblocking(next, 16 * 1024) {
            Ok(SpanRead::Span(span)) => {
                assert_eq!(span.offset, next);
                let taken = loop {
                    match slave.append_replicated(span.offset, &span.bytes) {
                        Ok(taken) => break taken,
                        Err(_) => slave.tick().expect("slave tick"),
                    }
                };
                if span.bytes.len() > 8 {
                    assert_eq!(taken, span.bytes.len(), "whole records");
                }
                next = span.next;
                ahead = ahead.max(next.0.saturating_sub(master.written().0));
            }
            Ok(SpanRead::CaughtUp | SpanRead::Reading) => return (next, ahead),
            Err(error) => panic!("span at {}: {error}", next.0),
        }
    }
}

fn settle(shard: &mut Shard, clock: &ManualClock) {
    let end = shard.appended();
    drive(shard, clock, |s| s.visible() >= end);
}

#[test]
fn records_are_shipped_before_their_write_completes_and_the_slave_log_is_identical() {
    for flush in [FlushMode::Async, FlushMode::Sync] {
        let clock = clock();
        let (master_disk, slave_disk) = (SimDisk::new(), SimDisk::new());
        let (mut master, _) = open_shard(&master_disk, slow_writes(3), config(flush), &clock);
        let (mut slave, _) = open_shard(&slave_disk, sim_config(4), config(flush), &clock);
        let mut next = master.appended();
        let (mut ahead_most, mut early_spans) = (0, 0);
        // Off for the first records (no slave yet), then on while a batch of several blocks
        // is being written uncopied: its records must wait for the write, not be skipped or
        // taken from the next batch's buffer.
        for index in 0..3000_u64 {
            if index == 190 {
                settle(&mut master, &clock);
            }
            if index == 200 {
                master.tick().expect("submit records 190..200");
                assert!(master.written().0 + 4096 < master.appended().0);
                master.set_ship_unwritten(true);
            }
            append_one(&mut master, index);
            if index % 7 == 0 {
                master.tick().expect("tick");
                let (moved, ahead) = ship(&mut master, &mut slave, next);
                if index < 200 {
                    assert!(moved <= master.written(), "shipped past written while off");
                }
                if ahead > 0 {
                    early_spans += 1;
                }
                ahead_most = ahead_most.max(ahead);
                next = moved;
                slave.tick().expect("slave tick");
            }
        }
        assert!(
            master.appended().local() > 4 * 256 * 1024,
            "several segment rolls"
        );
        assert!(
            early_spans > 20 && ahead_most > 16 * 1024,
            "{flush:?}: records were shipped before they were written \
             ({early_spans} times, at most {ahead_most} bytes ahead)"
        );
        settle(&mut master, &clock);
        let (next, _) = ship(&mut master, &mut slave, next);
        assert_eq!(next, master.appended());
        settle(&mut slave, &clock);
        assert_eq!(slave.appended(), master.appended());
        for queue in 0..3 {
            let ours = queue_bytes(&mut master, "TopicU", queue);
            assert_eq!(ours.len(), 1000);
            assert_eq!(
                queue_bytes(&mut slave, "TopicU", queue),
                ours,
                "{flush:?}: queue {queue} differs on the slave"
            );
        }
    }
}

#[test]
fn nothing_past_written_is_shipped_once_a_write_failed_or_while_off() {
    let clock = clock();
    let sim = SimConfig {
        fail_writes_from_offset: Some(128 * 1024),
        ..slow_writes(5)
    };
    let (mut master, _) = open_shard(&SimDisk::new(), sim, config(FlushMode::Async), &clock);
    let (mut slave, _) = open_shard(
        &SimDisk::new(),
        sim_config(6),
        config(FlushMode::Async),
        &clock,
    );
    master.set_ship_unwritten(true);
    let mut next = master.appended();
    let mut index = 0;
    while master.latch().is_none() {
        if master
            .append(&draft("TopicU", 0, &body_of(index, 900), ""))
            .is_ok()
        {
            index += 1;
        }
        master.tick().expect("tick");
        next = ship(&mut master, &mut slave, next).0;
    }
    let written = master.written();
    assert!(
        master.appended() > written,
        "records were lost with the write"
    );
    // Whatever was shipped early stays on the slave (the broker makes it truncate when
    // it reports past this log); from the written end on nothing more leaves.
    let mut at = written;
    while at < master.appended() {
        assert!(
            matches!(
                master.replica_span_nonblocking(at, 16 * 1024),
                Ok(SpanRead::CaughtUp)
            ),
            "a span past written {} at {} after the latch",
            written.0,
            at.0
        );
        at = PhysicalOffset(at.0 + 4096);
    }

    // Off: with writes held in flight, spans stop at written.
    let (mut master, _) = open_shard(
        &SimDisk::new(),
        slow_writes(7),
        config(FlushMode::Async),
        &clock,
    );
    for index in 0..50 {
        append_one(&mut master, index);
    }
    master.tick().expect("tick");
    assert!(master.appended() > master.written());
    let written = master.written();
    let mut from = PhysicalOffset::new(written.shard(), 0);
    while let Ok(SpanRead::Span(span)) = master.replica_span_nonblocking(from, 1 << 20) {
        from = span.next;
    }
    assert_eq!(from, written, "spans end at the written end while off");
}
