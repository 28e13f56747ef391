//! Goal: the shard's basic contract on the simulator — appends become readable through
//! their consume queue once visible, survive a clean close and reopen byte for byte, roll
//! across segments with BLANK padding, and can be found by key.
//! Method: small segments and queue files on `SimStorage`, a manual clock, `drive` to tick.

mod common;

use common::*;
use ringmq_engine::config::FlushMode;
use ringmq_engine::io::sim::SimDisk;
use ringmq_engine::shard::{QueueReadStatus, ReadLimits};
use ringmq_engine::types::{QueueId, QueueOffset, TimestampMs};
use ringmq_protocol::record;

const LIMITS: ReadLimits = ReadLimits {
    messages_max: 1000,
    bytes_max: 64 << 20,
};

fn append_many(shard: &mut ringmq_engine::shard::Shard, count: u64, size: usize) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    for index in 0..count {
        let body = body_of(index, size);
        let properties = format!("KEYS\u{1}key-{index}\u{2}TAGS\u{1}tag{}\u{2}", index % 3);
        let queue = i32::try_from(index % 2).expect("small");
        shard
            .append(&draft("TopicA", queue, &body, &properties))
            .expect("append");
        bodies.push(body);
    }
    bodies
}

#[test]
fn appended_messages_are_readable_in_queue_order_after_they_become_visible() {
    for flush in [FlushMode::Sync, FlushMode::Async] {
        let disk = SimDisk::new();
        let clock = clock();
        let (mut shard, _) = open_shard(&disk, sim_config(1), config(flush), &clock);
        let bodies = append_many(&mut shard, 200, 300);
        let end = shard.appended();
        drive(&mut shard, &clock, |s| s.visible() >= end);
        let read = shard
            .read_queue("TopicA", QueueId(0), QueueOffset(0), LIMITS, &|_| true)
            .expect("read");
        assert_eq!(read.status, QueueReadStatus::Found);
        assert_eq!(read.messages.len(), 100);
        for (position, message) in read.messages.iter().enumerate() {
            let decoded = record::decode(&message.bytes).expect("stored record decodes");
            assert_eq!(decoded.body, bodies[position * 2].as_slice());
            assert_eq!(
                decoded.queue_offset,
                i64::try_from(position).expect("small")
            );
        }
        assert_eq!(read.next_offset, QueueOffset(100));
    }
}

#[test]
fn a_clean_close_and_reopen_keeps_every_record_and_scans_nothing() {
    let disk = SimDisk::new();
    let clock = clock();
    let (mut shard, _) = open_shard(&disk, sim_config(2), config(FlushMode::Async), &clock);
    let bodies = append_many(&mut shard, 1500, 700);
    let end = shard.appended();
    drive(&mut shard, &clock, |s| s.visible() >= end);
    shard.close().expect("clean close");
    let (mut shard, report) = open_shard(&disk, sim_config(3), config(FlushMode::Async), &clock);
    assert_eq!(
        report.records_redispatched, 0,
        "the checkpoint is at the end: {report:?}"
    );
    assert_eq!(shard.appended(), end);
    let read = shard
        .read_queue("TopicA", QueueId(1), QueueOffset(0), LIMITS, &|_| true)
        .expect("read");
    assert_eq!(read.messages.len(), 750);
    for (position, message) in read.messages.iter().enumerate() {
        let decoded = record::decode(&message.bytes).expect("decodes");
        assert_eq!(decoded.body, bodies[position * 2 + 1].as_slice());
    }
    assert!(
        shard.appended().local() > 2 * 256 * 1024,
        "the log rolled across segments"
    );
}

#[test]
fn records_are_found_by_key_and_tags_filter_queue_reads() {
    let disk = SimDisk::new();
    let clock = clock();
    let (mut shard, _) = open_shard(&disk, sim_config(4), config(FlushMode::Sync), &clock);
    append_many(&mut shard, 60, 100);
    let end = shard.appended();
    drive(&mut shard, &clock, |s| s.visible() >= end);
    let found = shard
        .lookup_key(
            "TopicA",
            "key-7",
            TimestampMs(0),
            TimestampMs(u64::MAX / 2),
            10,
        )
        .expect("lookup");
    assert_eq!(found.len(), 1);
    assert_eq!(
        record::decode(&found[0]).expect("decodes").property("KEYS"),
        Some("key-7")
    );
    let tag0 = ringmq_engine::shard::tags_code(Some("tag0"));
    let read = shard
        .read_queue("TopicA", QueueId(0), QueueOffset(0), LIMITS, &|code| {
            code == tag0
        })
        .expect("read");
    assert!(read
        .messages
        .iter()
        .all(|m| record::decode(&m.bytes).expect("d").property("TAGS") == Some("tag0")));
    assert_eq!(read.messages.len(), 10);
}

// Hazard: a pull reads its consume-queue entries in growing chunks. With a sparse tag match,
// a chunk boundary must neither skip a matching entry nor stop the pull before it is full,
// and `next_offset` must land right after the last entry examined, so the consumer's next
// pull continues without gaps or repeats.
#[test]
fn sparse_tag_matches_fill_a_pull_across_entry_chunks() {
    let disk = SimDisk::new();
    let clock = clock();
    let (mut shard, _) = open_shard(&disk, sim_config(5), config(FlushMode::Sync), &clock);
    let count = 1200u64;
    for index in 0..count {
        let tag = if index % 50 == 7 { "rare" } else { "common" };
        let properties = format!("TAGS\u{1}{tag}\u{2}");
        shard
            .append(&draft("TopicS", 0, &body_of(index, 64), &properties))
            .expect("append");
    }
    let end = shard.appended();
    drive(&mut shard, &clock, |s| s.visible() >= end);
    let rare = ringmq_engine::shard::tags_code(Some("rare"));
    let limits = ReadLimits {
        messages_max: 8,
        bytes_max: 64 << 20,
    };
    let mut from = QueueOffset(0);
    let mut seen = Vec::new();
    while from.0 < count {
        let read = shard
            .read_queue("TopicS", QueueId(0), from, limits, &|code| code == rare)
            .expect("read");
        assert!(read.next_offset > from, "a pull must make progress");
        assert!(read.messages.len() <= 8);
        if let Some(last) = read.messages.last() {
            if read.messages.len() == 8 {
                assert_eq!(read.next_offset.0, last.queue_offset.0 + 1);
            }
        }
        seen.extend(read.messages.iter().map(|m| m.queue_offset.0));
        from = read.next_offset;
    }
    let expected: Vec<u64> = (0..count).filter(|i| i % 50 == 7).collect();
    assert_eq!(seen, expected);
    // A byte cap below one chunk stops the pull at the cap, and the next pull resumes there.
    let small = ReadLimits {
        messages_max: 32,
        bytes_max: 1000,
    };
    let read = shard
        .read_queue("TopicS", QueueId(0), QueueOffset(0), small, &|_| true)
        .expect("read");
    let taken = read.messages.len();
    assert!(
        (1..32).contains(&taken),
        "{taken} messages under a 1000-byte cap"
    );
    assert_eq!(read.next_offset.0, u64::try_from(taken).expect("small"));
}
