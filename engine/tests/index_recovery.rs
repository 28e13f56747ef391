//! Goal: after a power loss the key index finds every record the recovered log holds.
//!
//! Hazard: the index rolls to a new file when the newest one is full. The new file's name is
//! made durable at once (directory fsync), but its size and header are only written, not
//! synced, until the next checkpoint or roll. A power loss in between leaves a file whose
//! header reads as zeros (`indexCount` 0, or an empty file). The old code took that count
//! as it was: the first entry recovery re-added got number 1 but the count only rose to 1,
//! so that entry was never counted, the next one reused number 1, and the slot chains then
//! pointed at the wrong entries — key lookups missed records of the earlier incarnation.
//!
//! Method: a SYNC_FLUSH shard on `SimStorage` with 8-entry index files and no checkpoint
//! (so recovery re-adds every record), twelve records with distinct keys (the index rolls
//! after seven), then crash images for many seeds. Each image is reopened and every key
//! must find exactly its record. The test also checks that some images really did lose the
//! new file's header, so it cannot pass without covering the hazard.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use ringmq_engine::config::{EngineConfig, FlushMode};
use ringmq_engine::io::sim::SimDisk;
use ringmq_engine::types::TimestampMs;
use ringmq_protocol::record;

const RECORDS: u64 = 12;
const CRASH_SEEDS: u64 = 24;

fn small_index_config() -> EngineConfig {
    let mut config = config(FlushMode::Sync);
    config.index_hash_slots = 4;
    config.index_entries_max = 8;
    // No checkpoint completes, so recovery scans from the start and re-adds every entry.
    config.checkpoint_interval = Duration::from_secs(3600);
    config
}

/// `indexCount` of an index file's header as a crash image holds it (0 for a short file).
fn header_count(disk: &SimDisk, path: &Path) -> i32 {
    let bytes = disk.contents(path).unwrap_or_default();
    bytes.get(36..40).map_or(0, |raw| {
        i32::from_be_bytes(raw.try_into().expect("4 bytes"))
    })
}

#[test]
fn records_stay_findable_by_key_when_a_new_index_file_loses_its_header_at_a_crash() {
    let disk = SimDisk::new();
    let clock = clock();
    let (mut shard, _) = open_shard(&disk, sim_config(1), small_index_config(), &clock);
    let mut appended = Vec::new();
    for key in 0..RECORDS {
        let body = body_of(key, 64);
        let properties = format!("KEYS\u{1}key-{key}\u{2}");
        let outcome = shard
            .append(&draft("Indexed", 0, &body, &properties))
            .expect("append");
        let end = outcome.appended.end;
        drive(&mut shard, &clock, |s| s.visible() >= end);
        appended.push((key, body));
    }
    let mut index_files: Vec<PathBuf> = disk
        .file_paths()
        .into_iter()
        .filter(|path| path.starts_with(format!("{ROOT}/index")))
        .collect();
    index_files.sort();
    assert_eq!(
        index_files.len(),
        2,
        "the index rolled once: {index_files:?}"
    );
    let newest = index_files.pop().expect("two files");
    drop(shard);

    let mut headers_lost = 0;
    for seed in 0..CRASH_SEEDS {
        let crashed = disk.crash(seed);
        let context = format!("crash seed {seed}");
        if header_count(&crashed, &newest) <= 0 {
            headers_lost += 1;
        }
        let (mut recovered, report) =
            open_shard(&crashed, sim_config(seed), small_index_config(), &clock);
        assert_eq!(
            report.records_redispatched, RECORDS,
            "{context}: every record is re-added"
        );
        for (key, body) in &appended {
            let found = recovered
                .lookup_key(
                    "Indexed",
                    &format!("key-{key}"),
                    TimestampMs(0),
                    TimestampMs(u64::MAX / 2),
                    4,
                )
                .unwrap_or_else(|error| panic!("{context}: lookup of key-{key}: {error}"));
            assert_eq!(found.len(), 1, "{context}: key-{key}, {report:?}");
            let stored = record::decode(&found[0]).expect("decodes");
            assert_eq!(stored.body, body.as_slice(), "{context}: key-{key}");
        }
    }
    assert!(
        headers_lost > 0,
        "no crash image lost the new index file's header; the hazard was not exercised"
    );
}
