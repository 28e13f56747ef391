//! Master/slave replication over RocketMQ's classic HA stream (see `ringmq_protocol::ha` and
//! docs/internals/replication.md).
//!
//! Replication is per shard: shard k of a slave replicates shard k of its master over its
//! own connection, so each log has one writer on each side and the thread-per-core design
//! holds on both. A master and its slaves therefore run the same `shards` count and
//! `mappedFileSizeCommitLog`.

pub(crate) mod master;
pub(crate) mod slave;

use std::time::Duration;

/// Bytes moved in the last whole second, as RocketMQ's `FlowMonitor` reports
/// `transferredByteInSecond` for `haStatus`: a count that restarts every second, and the
/// total of the second before it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PerSecond {
    /// Start of the second being counted.
    since: Duration,
    counting: u64,
    last_second: u64,
}

impl PerSecond {
    const SECOND: Duration = Duration::from_secs(1);

    pub(crate) fn add(&mut self, bytes: u64, now: Duration) {
        self.roll(now);
        self.counting = self.counting.saturating_add(bytes);
    }

    /// The bytes of the last whole second before `now`.
    pub(crate) fn last_second(&self, now: Duration) -> u64 {
        let mut copy = *self;
        copy.roll(now);
        copy.last_second
    }

    fn roll(&mut self, now: Duration) {
        let elapsed = now.saturating_sub(self.since);
        if elapsed < Self::SECOND {
            return;
        }
        // A gap of two seconds or more had a silent second right before `now`.
        self.last_second = if elapsed < 2 * Self::SECOND {
            self.counting
        } else {
            0
        };
        self.counting = 0;
        let whole = u32::try_from(elapsed.as_secs()).unwrap_or(u32::MAX);
        self.since += Self::SECOND * whole;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    // Hazard: haStatus shows a rate that never falls to zero when the stream stops, or
    // mixes two seconds into one figure.
    #[test]
    fn per_second_reports_the_last_whole_second_and_falls_to_zero_when_idle() {
        let mut rate = PerSecond::default();
        rate.add(100, at(10));
        rate.add(50, at(900));
        assert_eq!(rate.last_second(at(999)), 0, "the first second is not over");
        assert_eq!(rate.last_second(at(1_000)), 150);
        rate.add(7, at(1_500));
        assert_eq!(rate.last_second(at(1_999)), 150);
        assert_eq!(rate.last_second(at(2_000)), 7);
        assert_eq!(rate.last_second(at(3_000)), 0, "a silent second");
        assert_eq!(rate.last_second(at(60_000)), 0);
        rate.add(9, at(60_100));
        assert_eq!(rate.last_second(at(61_000)), 9);
    }
}
