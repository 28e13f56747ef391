//! Goal: zero-filling ahead of the writer (`commitlog/prefill.rs`) never costs a record.
//!
//! Hazards:
//! - a zero write in flight and a data write to the same blocks complete in either order,
//!   so zeros could land on data the writer appended into the zeroed range meanwhile. The
//!   simulator applies each chain when it completes, in latency order, so it reproduces
//!   that race whenever a batch is written while the zeros over it are in flight;
//! - a failed zero write must not latch the log (it carried no data) and must stop
//!   zero-filling instead of retrying into a bad region.
//!
//! Method: appends in a tight loop with seeded latencies of up to 12 polls let the writer
//! run into the zero write in flight (the test requires that the hold happened), then every
//! record is read back byte for byte before and after a reopen.

mod common;

use std::time::Duration;

use common::*;
use ringmq_engine::clock::ManualClock;
use ringmq_engine::config::FlushMode;
use ringmq_engine::error::AppendError;
use ringmq_engine::io::sim::{SimConfig, SimDisk};
use ringmq_engine::shard::Shard;
use ringmq_engine::types::PhysicalOffset;
use ringmq_protocol::record::StoreStamp;

struct Sent {
    index: u64,
    offset: PhysicalOffset,
    queue_offset: u64,
    store_timestamp: i64,
}

fn expected(sent: &Sent) -> Vec<u8> {
    let body = body_of(sent.index, 700);
    let message = draft("ZeroFill", 0, &body, "");
    let stamp = StoreStamp {
        queue_offset: i64::try_from(sent.queue_offset).expect("small"),
        physical_offset: sent.offset.as_i64(),
        store_timestamp: sent.store_timestamp,
    };
    expected_record(&message, stamp)
}

/// Append `count` records of 700 bytes, ticking every `tick_every` appends and waiting
/// out Busy.
fn append(
    shard: &mut Shard,
    clock: &ManualClock,
    first: u64,
    count: u64,
    tick_every: u64,
) -> Vec<Sent> {
    let mut sent = Vec::new();
    for index in first..first + count {
        let body = body_of(index, 700);
        let message = draft("ZeroFill", 0, &body, "");
        let outcome = loop {
            match shard.append(&message) {
                Ok(outcome) => break outcome,
                Err(AppendError::Busy) => {
                    shard.wait(Duration::from_millis(1)).expect("tick");
                    clock.advance(Duration::from_millis(1));
                }
                Err(error) => panic!("append {index}: {error}"),
            }
        };
        sent.push(Sent {
            index,
            offset: outcome.appended.offset,
            queue_offset: outcome.queue_offset.0,
            store_timestamp: outcome.appended.store_timestamp.as_i64(),
        });
        if index % tick_every == 0 {
            shard.tick().expect("tick");
        }
    }
    sent
}

fn verify(shard: &mut Shard, sent: &[Sent]) {
    for record in sent {
        let bytes = shard
            .read_record(record.offset)
            .unwrap_or_else(|error| panic!("record {}: {error}", record.index));
        assert!(
            bytes == expected(record),
            "record {} at {:?} differs from what was appended",
            record.index,
            record.offset
        );
    }
}

fn slow_sim(seed: u64) -> SimConfig {
    SimConfig {
        latency_polls_max: 12,
        ..sim_config(seed)
    }
}

#[test]
fn a_batch_never_overtakes_the_zero_write_in_flight_over_its_blocks() {
    let mut holds = 0;
    for seed in 0..8 {
        let disk = SimDisk::new();
        let clock = clock();
        let config = config(FlushMode::Sync);
        let (mut shard, _) = open_shard(&disk, slow_sim(seed), config.clone(), &clock);
        let sent = append(&mut shard, &clock, 0, 1500, 16);
        let end = shard.appended();
        drive(&mut shard, &clock, |s| s.visible() >= end);
        let stats = shard.stats().commitlog;
        assert!(stats.prefill_writes > 0, "seed {seed}: no zero writes");
        holds += stats.prefill_holds;
        verify(&mut shard, &sent);
        shard.close().expect("clean close");
        let (mut shard, report) = open_shard(&disk, slow_sim(seed), config, &clock);
        assert_eq!(report.valid_end, end.local(), "seed {seed}");
        verify(&mut shard, &sent);
        shard.close().expect("clean close");
    }
    assert!(
        holds > 0,
        "no batch ever waited for a zero write: the race was not exercised"
    );
}

#[test]
fn a_failed_zero_write_stops_zero_filling_and_loses_nothing() {
    let disk = SimDisk::new();
    let clock = clock();
    let config = config(FlushMode::Sync);
    // Data stays below 100 KiB of the first 256 KiB segment; zeros run past 160 KiB.
    let sim = SimConfig {
        fail_writes_from_offset: Some(160 * 1024),
        ..sim_config(3)
    };
    let (mut shard, _) = open_shard(&disk, sim.clone(), config.clone(), &clock);
    let mut sent = Vec::new();
    let mut notices = Vec::new();
    for burst in 0..10 {
        sent.extend(append(&mut shard, &clock, burst * 12, 12, 4));
        let end = shard.appended();
        drive(&mut shard, &clock, |s| s.visible() >= end);
        notices.extend(shard.take_notice());
    }
    assert!(shard.latch().is_none(), "latched: {:?}", shard.latch());
    assert_eq!(notices.len(), 1, "one notice: {notices:?}");
    assert!(
        notices[0].contains("zero-filling ahead of the writer stopped"),
        "{}",
        notices[0]
    );
    let writes = shard.stats().commitlog.prefill_writes;
    sent.extend(append(&mut shard, &clock, 120, 12, 4));
    let end = shard.appended();
    drive(&mut shard, &clock, |s| s.visible() >= end);
    assert_eq!(
        shard.stats().commitlog.prefill_writes,
        writes,
        "zero writes continued after one failed"
    );
    verify(&mut shard, &sent);
    shard.close().expect("clean close");
    let (mut shard, _) = open_shard(&disk, sim, config, &clock);
    verify(&mut shard, &sent);
    shard.close().expect("clean close");
}
