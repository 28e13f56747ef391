//! Goal: retention deletes expired segments only at `deleteWhen` hours (or any hour when the
//! disk is over `diskMaxUsedSpaceRatio`), never the newest segment, removes consume-queue and
//! index files pointing at deleted data, no removed file comes back after a power loss, and a
//! full disk refuses appends with a message naming the usage and thresholds.
//! Method: an injected manual clock (UTC hours) and the simulator's reported disk size.

mod common;

use std::time::Duration;

use common::*;
use ringmq_engine::config::FlushMode;
use ringmq_engine::error::AppendError;
use ringmq_engine::io::sim::SimDisk;
use ringmq_engine::shard::ReadLimits;
use ringmq_engine::types::{QueueId, QueueOffset, TimestampMs};

/// 2023-11-15 03:00:00 UTC, an hour before the default deleteWhen=04.
const THREE_AM: u64 = 1_700_017_200_000;

fn fill(
    shard: &mut ringmq_engine::shard::Shard,
    clock: &ringmq_engine::clock::ManualClock,
    count: u64,
) {
    for index in 0..count {
        let body = body_of(index, 2000);
        shard.append(&draft("Old", 0, &body, "")).expect("append");
        if index % 16 == 0 {
            let end = shard.appended();
            drive(shard, clock, |s| s.visible() >= end);
        }
    }
    let end = shard.appended();
    drive(shard, clock, |s| s.visible() >= end);
}

#[test]
fn expired_segments_go_at_the_delete_hour_and_their_queue_entries_with_them() {
    let disk = SimDisk::new();
    let clock = clock();
    clock.set_wall(TimestampMs(THREE_AM - 80 * 3600 * 1000));
    let mut config = config(FlushMode::Async);
    config.retention.check_interval = Duration::from_secs(3600 * 24 * 365);
    let (mut shard, _) = open_shard(&disk, sim_config(5), config, &clock);
    fill(&mut shard, &clock, 600);
    let segments_before = disk
        .file_paths()
        .iter()
        .filter(|p| p.starts_with("/sim/store/commitlog"))
        .count();
    assert!(
        segments_before >= 4,
        "the workload spans several segments: {segments_before}"
    );

    clock.set_wall(TimestampMs(THREE_AM));
    let report = shard.retain_now().expect("retain");
    assert_eq!(report.segments_deleted, 0, "03:00 is not a deleteWhen hour");

    clock.set_wall(TimestampMs(THREE_AM + 3600 * 1000));
    let report = shard.retain_now().expect("retain");
    assert!(
        report.segments_deleted >= 2,
        "expired segments go at 04:00: {report:?}"
    );
    assert!(
        report.queue_files_deleted >= 1,
        "queue files of deleted data go too: {report:?}"
    );
    let (min, max) = shard.queue_bounds("Old", QueueId(0));
    assert!(
        min.0 > 0 && max.0 == 600,
        "the queue starts later now: {min:?}..{max:?}"
    );
    let limits = ReadLimits {
        messages_max: 1,
        bytes_max: usize::MAX,
    };
    let read = shard
        .read_queue("Old", QueueId(0), QueueOffset(0), limits, &|_| true)
        .expect("read");
    assert_eq!(
        read.next_offset, min,
        "a consumer below the new start is moved to it"
    );
    let report = shard.retain_now().expect("retain");
    assert!(
        shard.min_offset() < shard.appended(),
        "the newest segment is never deleted"
    );
    let _ = report;
}

#[test]
fn a_full_disk_refuses_appends_naming_usage_and_thresholds() {
    let disk = SimDisk::new();
    let clock = clock();
    let mut sim = sim_config(6);
    sim.disk_bytes_total = 540 * 1024;
    let (mut shard, _) = open_shard(&disk, sim, config(FlushMode::Sync), &clock);
    fill(&mut shard, &clock, 100);
    shard.retain_now().expect("retain");
    let body = body_of(1, 100);
    let error = shard
        .append(&draft("Old", 0, &body, ""))
        .expect_err("refused");
    assert!(matches!(error, AppendError::DiskFull { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("disk is") && message.contains("90.0% limit"),
        "{message}"
    );
    assert!(message.contains("diskMaxUsedSpaceRatio 75.0%"), "{message}");
}

// Hazard: a file unlinked without a sync of its directory can come back after a power loss.
// A resurrected segment or queue file would bring deleted data back into the store; a stale
// index file would outlive the data it points to. Every file retention removes must stay
// removed in a crash image taken right after it.
#[test]
fn files_removed_by_retention_stay_removed_after_a_power_loss() {
    let disk = SimDisk::new();
    let clock = clock();
    clock.set_wall(TimestampMs(THREE_AM - 80 * 3600 * 1000));
    let mut config = config(FlushMode::Sync);
    config.retention.check_interval = Duration::from_secs(3600 * 24 * 365);
    let (mut shard, _) = open_shard(&disk, sim_config(9), config, &clock);
    // Keys fill several index files (256 entries each) as the records fill segments.
    for index in 0..600u64 {
        let body = body_of(index, 2000);
        let properties = format!("KEYS\u{1}key-{index}\u{2}");
        shard
            .append(&draft("Old", 0, &body, &properties))
            .expect("append");
        let end = shard.appended();
        drive(&mut shard, &clock, |s| s.visible() >= end);
    }
    let before = disk.file_paths();
    clock.set_wall(TimestampMs(THREE_AM + 3600 * 1000));
    let report = shard.retain_now().expect("retain");
    assert!(
        report.segments_deleted >= 2 && report.queue_files_deleted >= 1,
        "{report:?}"
    );
    assert!(
        report.index_files_deleted >= 1,
        "index files go too: {report:?}"
    );
    let after = disk.file_paths();
    let removed: Vec<_> = before.iter().filter(|p| !after.contains(p)).collect();
    for seed in 0..8 {
        let image = disk.crash(seed).file_paths();
        let back: Vec<_> = removed.iter().filter(|p| image.contains(p)).collect();
        assert!(
            back.is_empty(),
            "seed {seed}: removed files came back: {back:?}"
        );
    }
}
