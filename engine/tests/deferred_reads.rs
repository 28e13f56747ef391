//! Goal: the reads that serve pulls and slaves never wait for the disk on the shard thread,
//! and still return exactly the stored bytes.
//!
//! Hazards:
//! - a pull or an HA shipment that waits for an O_DIRECT window read stalls every send of
//!   its shard for the read's duration;
//! - a read that does not wait returns a prefix of the queue and resumes later: a record
//!   skipped or returned twice at the seam between what was cached and what was not would
//!   lose or duplicate a message; a replica span cut wrong would corrupt the slave's log;
//! - a window read that fails must reach the reader as an error, not as an endless
//!   "reading" that leaves the consumer or the slave waiting forever.
//!
//! Method: the simulator with a 4 KiB tail cache, so nearly everything is cold; every
//! deferred read is completed by ticking until `take_read_settled`. The non-blocking drain
//! and replica stream are compared byte for byte with the blocking reads of the same log.

mod common;

use common::*;
use ringmq_engine::clock::ManualClock;
use ringmq_engine::config::{EngineConfig, FlushMode};
use ringmq_engine::error::ReadError;
use ringmq_engine::io::sim::SimDisk;
use ringmq_engine::shard::{QueueReadStatus, ReadLimits, Shard, SpanRead};
use ringmq_engine::types::{PhysicalOffset, QueueId, QueueOffset};

const RECORDS: u64 = 600;

fn cold_config() -> EngineConfig {
    let mut config = config(FlushMode::Sync);
    config.tail_cache_bytes = 4096;
    config
}

fn fill(shard: &mut Shard, clock: &ManualClock) {
    for index in 0..RECORDS {
        let body = body_of(index, 1000);
        let message = draft("Cold", 0, &body, "");
        loop {
            match shard.append(&message) {
                Ok(_) => break,
                Err(_) => shard
                    .wait(std::time::Duration::from_millis(1))
                    .expect("tick"),
            }
        }
        if index % 16 == 0 {
            shard.wait(std::time::Duration::ZERO).expect("tick");
        }
    }
    let end = shard.appended();
    drive(shard, clock, |s| s.visible() >= end);
}

/// Tick until a deferred read settled.
fn until_settled(shard: &mut Shard, clock: &ManualClock) {
    for _ in 0..10_000 {
        if shard.take_read_settled() {
            return;
        }
        shard
            .wait(std::time::Duration::from_millis(1))
            .expect("tick");
        clock.advance(std::time::Duration::from_millis(1));
    }
    panic!("no read settled");
}

const LIMITS: ReadLimits = ReadLimits {
    messages_max: 64,
    bytes_max: 16 << 20,
};

#[test]
fn a_non_blocking_drain_equals_the_blocking_reads() {
    let disk = SimDisk::new();
    let clock = clock();
    let (mut shard, _) = open_shard(&disk, sim_config(7), cold_config(), &clock);
    fill(&mut shard, &clock);
    let before = shard.stats().commitlog;

    // The queue, non-blocking, against the blocking read of the same offsets.
    let (mut deferred, mut partial, mut from) = (0u32, 0u32, 0u64);
    while from < RECORDS {
        let read = shard
            .read_queue_nonblocking("Cold", QueueId(0), QueueOffset(from), LIMITS, &|_| true)
            .expect("read");
        let Some(read) = read else {
            deferred += 1;
            until_settled(&mut shard, &clock);
            continue;
        };
        assert_eq!(read.status, QueueReadStatus::Found);
        let expected = shard
            .read_queue("Cold", QueueId(0), QueueOffset(from), LIMITS, &|_| true)
            .expect("blocking read");
        assert!(!read.messages.is_empty() && read.messages.len() <= expected.messages.len());
        for (got, want) in read.messages.iter().zip(&expected.messages) {
            assert_eq!(got.queue_offset, want.queue_offset);
            assert!(
                got.bytes == want.bytes,
                "bytes differ at {:?}",
                got.queue_offset
            );
        }
        let count = u64::try_from(read.messages.len()).expect("small");
        assert_eq!(
            read.next_offset,
            QueueOffset(from + count),
            "the seam moved"
        );
        if read.messages.len() < expected.messages.len() {
            partial += 1;
        }
        from += count;
    }
    assert!(
        deferred > 0 && partial > 0,
        "deferred {deferred}, partial {partial}"
    );
    let after = shard.stats().commitlog;
    assert!(after.deferred_reads > before.deferred_reads);
}

#[test]
fn a_non_blocking_replica_stream_equals_the_blocking_spans() {
    let disk = SimDisk::new();
    let clock = clock();
    let (mut shard, _) = open_shard(&disk, sim_config(5), cold_config(), &clock);
    fill(&mut shard, &clock);
    // Reopened, so that only the tail block is in memory.
    let end = shard.appended();
    shard.close().expect("close");
    let (mut shard, _) = open_shard(&disk, sim_config(8), cold_config(), &clock);
    let mut streamed = Vec::new();
    let mut at = PhysicalOffset::new(shard.id(), 0);
    let mut reading = 0u32;
    loop {
        match shard.replica_span_nonblocking(at, 32 * 1024).expect("span") {
            SpanRead::Span(span) => {
                assert_eq!(span.offset, at);
                streamed.push((span.offset, span.bytes.to_vec(), span.next));
                at = span.next;
            }
            SpanRead::Reading => {
                reading += 1;
                until_settled(&mut shard, &clock);
            }
            SpanRead::CaughtUp => break,
        }
    }
    assert!(reading > 0, "the replica stream never went to disk");
    assert!(at >= end, "stream ended at {at:?} below {end:?}");
    for (offset, bytes, next) in streamed {
        let span = shard
            .replica_span(offset, 32 * 1024)
            .expect("blocking span")
            .expect("a span");
        // The blocking read may see a longer cached span; the stream's must be its prefix.
        assert!(span.bytes.len() >= bytes.len());
        assert!(
            span.bytes[..bytes.len()] == bytes[..],
            "span at {offset:?} differs"
        );
        assert!(next > offset);
    }
}

#[test]
fn a_failed_cold_read_reaches_the_reader_once_and_is_then_tried_again() {
    let disk = SimDisk::new();
    let clock = clock();
    let mut sim = sim_config(9);
    sim.fail_reads_from_offset = Some(0);
    let (mut shard, _) = open_shard(&disk, sim, cold_config(), &clock);
    fill(&mut shard, &clock);
    let read = |shard: &mut Shard| {
        shard.read_queue_nonblocking("Cold", QueueId(0), QueueOffset(0), LIMITS, &|_| true)
    };
    assert!(
        matches!(read(&mut shard), Ok(None)),
        "the first ask starts the read"
    );
    until_settled(&mut shard, &clock);
    match read(&mut shard) {
        Err(ReadError::Io(error)) => assert_eq!(error.raw_os_error(), Some(libc::EIO)),
        other => panic!("expected the read's EIO, got {other:?}"),
    }
    // Reported once: the next ask reads again (and fails again, here).
    assert!(matches!(read(&mut shard), Ok(None)));
    until_settled(&mut shard, &clock);
    assert!(read(&mut shard).is_err());

    let at = PhysicalOffset::new(shard.id(), 0);
    assert!(matches!(
        shard.replica_span_nonblocking(at, 32 * 1024),
        Ok(SpanRead::Reading)
    ));
    until_settled(&mut shard, &clock);
    assert!(shard.replica_span_nonblocking(at, 32 * 1024).is_err());
}
