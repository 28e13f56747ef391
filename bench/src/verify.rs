//! `--verify`: every acknowledged message is consumed at least once, at the queue offset its
//! acknowledgement named, and each queue hands out one sender's messages in the order they were
//! sent.
//!
//! Every message the producer sends carries a stamp property `RINGMQ_BENCH=run:lane:sequence`:
//! `run` tells this run's messages from older ones in the same topic, `lane` is the connection
//! that sent it and `sequence` is unique within the run and grows along each lane. Send
//! responses give the (queue, offset) each acknowledged message was stored at; after the run
//! the queues are read back and every message fed to a [`Checker`], which is pure so that the
//! hazards it looks for can be injected in tests.
//!
//! Verdicts, per message of this run:
//! - lost: acknowledged, never consumed (fails the run);
//! - misplaced: first consumed at another (queue, offset) than acknowledged (fails the run);
//! - out of order: within a queue, a lane's first deliveries whose sequence does not grow, or
//!   a queue delivering offsets that do not grow (fails the run);
//! - duplicates: consumed more than once (reported; at-least-once delivery allows them);
//! - unacknowledged: stored although its send was not acknowledged (reported).

use std::collections::HashMap;
use std::fmt;

/// The stamp property every benchmark message carries.
pub(crate) const STAMP_PROPERTY: &str = "RINGMQ_BENCH";

/// Acknowledged messages one run may track (about 40 bytes each); beyond this the run fails
/// rather than growing without bound.
pub(crate) const ACKNOWLEDGED_MAX: usize = 20_000_000;

/// Index of a queue in the producer's route list (queue ids repeat across brokers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct QueueIndex(pub(crate) u32);

/// What a message says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) run: u64,
    pub(crate) lane: u32,
    pub(crate) sequence: u64,
}

impl Stamp {
    pub(crate) fn encode(&self) -> String {
        format!("{:016x}:{}:{}", self.run, self.lane, self.sequence)
    }

    pub(crate) fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let run = u64::from_str_radix(parts.next()?, 16).ok()?;
        let lane = parts.next()?.parse().ok()?;
        let sequence = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Self {
            run,
            lane,
            sequence,
        })
    }
}

/// Where the broker said it stored a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Acknowledged {
    pub(crate) queue: QueueIndex,
    pub(crate) offset: u64,
    pub(crate) sequence: u64,
}

/// One message as the read-back delivered it; `stamp` is `None` without a readable stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Consumed {
    pub(crate) queue: QueueIndex,
    pub(crate) offset: u64,
    pub(crate) stamp: Option<Stamp>,
}

/// The counts `--verify` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) acknowledged: u64,
    pub(crate) consumed: u64,
    pub(crate) lost: u64,
    pub(crate) misplaced: u64,
    pub(crate) out_of_order: u64,
    pub(crate) duplicates: u64,
    pub(crate) unacknowledged: u64,
    pub(crate) foreign: u64,
}

impl Verdict {
    /// Loss, a wrong position or a broken order fails the run; duplicates do not.
    pub(crate) fn passed(&self) -> bool {
        self.lost == 0 && self.misplaced == 0 && self.out_of_order == 0
    }

    pub(crate) fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "passed": self.passed(),
            "acknowledged": self.acknowledged,
            "consumed": self.consumed,
            "lost": self.lost,
            "misplaced": self.misplaced,
            "out_of_order": self.out_of_order,
            "duplicates": self.duplicates,
            "unacknowledged": self.unacknowledged,
            "foreign": self.foreign,
        })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[Verify] {} | Acknowledged: {} | Consumed: {} | Lost: {} | Misplaced: {} | Out of order: {} | Duplicates: {} | Unacknowledged stored: {} | Foreign: {}",
            if self.passed() { "PASSED" } else { "FAILED" },
            self.acknowledged,
            self.consumed,
            self.lost,
            self.misplaced,
            self.out_of_order,
            self.duplicates,
            self.unacknowledged,
            self.foreign,
        )
    }
}

/// Where an acknowledged message should be, and how often it was consumed.
#[derive(Clone, Copy, Debug)]
struct Expected {
    queue: QueueIndex,
    offset: u64,
    consumed: u32,
}

/// Checks a read-back against the acknowledgements of one run.
#[derive(Debug)]
pub(crate) struct Checker {
    run: u64,
    expected: HashMap<u64, Expected>,
    /// Consumption counts of messages that were stored without an acknowledgement.
    unacknowledged: HashMap<u64, u32>,
    last_offset: HashMap<QueueIndex, u64>,
    last_sequence: HashMap<(QueueIndex, u32), u64>,
    verdict: Verdict,
}

impl Checker {
    pub(crate) fn new(run: u64, acknowledged: impl IntoIterator<Item = Acknowledged>) -> Self {
        let mut expected = HashMap::new();
        let mut verdict = Verdict::default();
        for ack in acknowledged {
            let previous = expected.insert(
                ack.sequence,
                Expected {
                    queue: ack.queue,
                    offset: ack.offset,
                    consumed: 0,
                },
            );
            assert!(
                previous.is_none(),
                "sequence {} acknowledged twice",
                ack.sequence
            );
            verdict.acknowledged += 1;
        }
        Self {
            run,
            expected,
            unacknowledged: HashMap::new(),
            last_offset: HashMap::new(),
            last_sequence: HashMap::new(),
            verdict,
        }
    }

    /// Feed one delivered message, in delivery order.
    pub(crate) fn consume(&mut self, message: Consumed) {
        if let Some(&last) = self.last_offset.get(&message.queue) {
            if message.offset <= last {
                self.verdict.out_of_order += 1;
            }
        }
        self.last_offset.insert(message.queue, message.offset);
        let Some(stamp) = message.stamp.filter(|stamp| stamp.run == self.run) else {
            self.verdict.foreign += 1;
            return;
        };
        self.verdict.consumed += 1;
        let first_time = if let Some(expected) = self.expected.get_mut(&stamp.sequence) {
            expected.consumed += 1;
            let at = (message.queue, message.offset);
            if expected.consumed == 1 && (expected.queue, expected.offset) != at {
                self.verdict.misplaced += 1;
            }
            expected.consumed == 1
        } else {
            let count = self.unacknowledged.entry(stamp.sequence).or_insert(0);
            *count += 1;
            *count == 1
        };
        if !first_time {
            self.verdict.duplicates += 1;
            return;
        }
        let lane = (message.queue, stamp.lane);
        if let Some(&last) = self.last_sequence.get(&lane) {
            if stamp.sequence <= last {
                self.verdict.out_of_order += 1;
            }
        }
        self.last_sequence.insert(lane, stamp.sequence);
    }

    pub(crate) fn finish(self) -> Verdict {
        let mut verdict = self.verdict;
        let lost = self
            .expected
            .values()
            .filter(|expected| expected.consumed == 0)
            .count();
        verdict.lost = u64::try_from(lost).unwrap_or(u64::MAX);
        verdict.unacknowledged = u64::try_from(self.unacknowledged.len()).unwrap_or(u64::MAX);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: u64 = 0xBE7C;
    const QUEUE: QueueIndex = QueueIndex(0);

    /// Lane 0 sends sequences 0..count to one queue, stored at offsets 100.. .
    fn acknowledged(count: u64) -> Vec<Acknowledged> {
        (0..count)
            .map(|sequence| Acknowledged {
                queue: QUEUE,
                offset: 100 + sequence,
                sequence,
            })
            .collect()
    }

    fn delivered(offset: u64, sequence: u64) -> Consumed {
        Consumed {
            queue: QUEUE,
            offset,
            stamp: Some(Stamp {
                run: RUN,
                lane: 0,
                sequence,
            }),
        }
    }

    fn check(count: u64, deliveries: impl IntoIterator<Item = Consumed>) -> Verdict {
        let mut checker = Checker::new(RUN, acknowledged(count));
        for message in deliveries {
            checker.consume(message);
        }
        checker.finish()
    }

    #[test]
    fn complete_ordered_read_back_passes() {
        let verdict = check(5, (0..5).map(|s| delivered(100 + s, s)));
        assert!(verdict.passed(), "{verdict}");
        assert_eq!((verdict.acknowledged, verdict.consumed), (5, 5));
    }

    #[test]
    fn acknowledged_message_missing_from_the_queue_is_a_loss() {
        let verdict = check(5, [0, 1, 3, 4].map(|s| delivered(100 + s, s)));
        assert_eq!(verdict.lost, 1);
        assert!(!verdict.passed());
    }

    #[test]
    fn redelivered_message_is_counted_as_duplicate_but_passes() {
        let mut deliveries: Vec<Consumed> = (0..3).map(|s| delivered(100 + s, s)).collect();
        // The same message stored a second time, after the others.
        deliveries.push(delivered(103, 1));
        let verdict = check(3, deliveries);
        assert_eq!(verdict.duplicates, 1);
        assert_eq!(verdict.lost, 0);
        assert!(verdict.passed(), "{verdict}");
    }

    #[test]
    fn swapped_messages_within_a_queue_are_out_of_order_and_misplaced() {
        let verdict = check(3, [delivered(100, 0), delivered(101, 2), delivered(102, 1)]);
        assert_eq!(verdict.out_of_order, 1);
        assert_eq!(verdict.misplaced, 2);
        assert!(!verdict.passed());
    }

    #[test]
    fn queue_delivering_an_offset_twice_is_out_of_order() {
        let verdict = check(2, [delivered(100, 0), delivered(100, 0), delivered(101, 1)]);
        assert_eq!(verdict.out_of_order, 1);
        assert_eq!(verdict.duplicates, 1);
    }

    #[test]
    fn other_runs_and_unstamped_messages_are_foreign_not_losses() {
        let mut older = delivered(99, 0);
        older.stamp = older.stamp.map(|stamp| Stamp { run: 1, ..stamp });
        let unstamped = Consumed {
            stamp: None,
            ..delivered(98, 0)
        };
        let mut deliveries = vec![unstamped, older];
        deliveries.extend((0..2).map(|s| delivered(100 + s, s)));
        let verdict = check(2, deliveries);
        assert_eq!(verdict.foreign, 2);
        assert!(verdict.passed(), "{verdict}");
    }

    #[test]
    fn stored_without_acknowledgement_is_reported_not_failed() {
        let verdict = check(1, [delivered(100, 0), delivered(101, 1)]);
        assert_eq!(verdict.unacknowledged, 1);
        assert!(verdict.passed(), "{verdict}");
    }

    #[test]
    fn stamp_round_trips_and_rejects_garbage() {
        let stamp = Stamp {
            run: 0xDEAD_BEEF,
            lane: 3,
            sequence: 42,
        };
        assert_eq!(Stamp::decode(&stamp.encode()), Some(stamp));
        assert_eq!(Stamp::decode("zz:1:2"), None);
        assert_eq!(Stamp::decode("1:2:3:4"), None);
    }
}
