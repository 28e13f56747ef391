//! Goal: a pull whose messages are on disk is answered with them, in order and whole, while
//! the shard keeps serving sends; the disk read is started and the pull waits for it off
//! the shard thread's critical path.
//!
//! Hazard: a pull of a cold backlog used to wait for its O_DIRECT window read on the shard
//! thread, stalling every send of that shard for the read. Now the pull is parked until
//! the read settles and run again; a parked pull that is never re-run, re-run before its
//! bytes are cached (an empty answer), or answered twice would break consumers.
//!
//! Method: an in-process broker (two shards, 8 MiB tail cache) takes 24 MiB on one queue,
//! more than its tail cache and read windows hold, while another client keeps sending; the
//! queue is drained with pulls that do not suspend, first with the process running and
//! then after a restart (everything cold). The shards' exit lines must report windows read
//! without waiting, so the path was taken.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use support::Broker;

const MESSAGES: usize = 400;
const BODY_BYTES: usize = 60 * 1024;

fn body(index: usize) -> Vec<u8> {
    let seed = u8::try_from(index % 251).expect("small");
    (0..BODY_BYTES)
        .map(|at| seed.wrapping_add(u8::try_from(at % 241).expect("small")))
        .collect()
}

/// Pull queue 0 of `Cold` from the start while `Hot` sends continue on another connection.
fn drain(broker: &Broker, when: &str) {
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let mut client = broker.client();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut sent = 0u32;
            while !stop.load(Ordering::Relaxed) {
                for queue in 0..4 {
                    client.send_ok("Hot", queue, b"hot", "");
                    sent += 1;
                }
            }
            sent
        })
    };
    let mut client = broker.client();
    let mut next = 0usize;
    while next < MESSAGES {
        let offset = i64::try_from(next).expect("small");
        let batch = client.pull("G", "Cold", 0, offset);
        // A pull whose first message is on disk waits for it: never an empty answer.
        assert!(!batch.is_empty(), "{when}: nothing at offset {next}");
        for stored in batch {
            assert_eq!(stored.queue_offset, i64::try_from(next).expect("small"));
            assert!(stored.body == body(next), "{when}: message {next} differs");
            next += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().expect("the sender thread");
    assert!(sent > 0, "{when}: no send was answered during the drain");
}

/// Windows read without waiting, summed over the shards' exit lines in `broker.log`.
fn deferred_reads(log: &str) -> u64 {
    log.lines()
        .filter_map(|line| line.split_once(" cold windows read (")?.1.split_once(' '))
        .filter_map(|(count, _)| count.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_cold_backlog_is_pulled_whole_and_in_order_while_sends_go_on() {
    let broker = Broker::start("");
    let mut client = broker.client();
    for index in 0..MESSAGES {
        client.send_ok("Cold", 0, &body(index), "");
    }
    drain(&broker, "running");
    let directory = broker.stop();
    let broker = Broker::start_in(directory, "");
    drain(&broker, "after a restart");
    let directory = broker.stop();
    let log = std::fs::read_to_string(directory.path().join("logs").join("broker.log"))
        .expect("broker.log");
    assert!(
        deferred_reads(&log) > 0,
        "no window was read without waiting:\n{log}"
    );
}
