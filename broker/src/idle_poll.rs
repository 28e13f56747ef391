//! When a shard polls for its next event instead of sleeping (`idlePollMicros`).
//!
//! Polling for a while after an event saves the wake-up of a halted vCPU when the next event
//! comes soon (docs/benchmarks.md, "Shards that poll before they sleep"). But a shard whose
//! events keep coming inside its window never sleeps, and yielding between polls is not
//! enough for the kernel's per-CPU work queued behind it: under a steady open-loop load of
//! 10,000 sends a second on two shards, a direct write's completion work waited 1.4 s on
//! the polling shard's core, the commitlog stopped and sends took seconds (docs/benchmarks.md,
//! "Polling that starved the kernel's work"). So a run of polls is capped: after
//! `STREAK_MAX` without a sleep, the shard waits for its next event however soon it comes.

use std::time::Duration;

/// The longest a shard polls without sleeping once, even while events keep coming.
pub(crate) const STREAK_MAX: Duration = Duration::from_millis(1);

/// The polling state of one shard's loop; times are the engine clock's monotonic readings.
#[derive(Debug)]
pub(crate) struct IdlePoll {
    /// `idlePollMicros`; zero never polls.
    window: Duration,
    /// The end of the current window: the last event plus `window`.
    until: Duration,
    /// When the current run of polls began; `None` after the shard waited.
    streak_start: Option<Duration>,
}

impl IdlePoll {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            until: Duration::ZERO,
            streak_start: None,
        }
    }

    /// Events arrived at `now()`: the window runs on from here. The clock is read only when
    /// polling is on.
    pub(crate) fn on_events(&mut self, now: impl FnOnce() -> Duration) {
        if !self.window.is_zero() {
            self.until = now() + self.window;
        }
    }

    /// Whether the next wait polls (`true`) or sleeps until an event or the timer (`false`).
    pub(crate) fn poll_next(&mut self, now: impl FnOnce() -> Duration) -> bool {
        if self.window.is_zero() {
            return false;
        }
        let now = now();
        if now >= self.until {
            self.streak_start = None;
            return false;
        }
        let start = *self.streak_start.get_or_insert(now);
        if now.saturating_sub(start) >= STREAK_MAX {
            // Sleep once; the events that wake the shard open a new window.
            self.streak_start = None;
            self.until = now;
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_micros(200);

    fn micros(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn polls_for_the_window_after_an_event_then_sleeps() {
        let mut poll = IdlePoll::new(WINDOW);
        assert!(!poll.poll_next(|| micros(0)), "no event yet: sleep");
        poll.on_events(|| micros(10));
        assert!(poll.poll_next(|| micros(11)));
        assert!(poll.poll_next(|| micros(209)));
        assert!(!poll.poll_next(|| micros(210)), "window over: sleep");
    }

    #[test]
    fn zero_window_never_polls() {
        let mut poll = IdlePoll::new(Duration::ZERO);
        poll.on_events(|| micros(5));
        assert!(!poll.poll_next(|| micros(5)));
    }

    /// The hazard: events every 100 µs kept a 200 µs window open for ever, so the shard never
    /// slept and the kernel's work on its core (direct-write completions) waited for seconds.
    #[test]
    fn steady_events_cannot_keep_the_shard_from_sleeping() {
        let mut poll = IdlePoll::new(WINDOW);
        let mut sleeps = Vec::new();
        let mut now = 0;
        poll.on_events(|| micros(now));
        while now < 10_000 {
            now += 10;
            if now % 100 == 0 {
                poll.on_events(|| micros(now));
            }
            if !poll.poll_next(|| micros(now)) {
                sleeps.push(now);
                // Sleeping until the next event.
                now = (now / 100 + 1) * 100 - 10;
            }
        }
        assert!(sleeps.len() >= 9, "slept only at {sleeps:?}");
        for pair in sleeps.windows(2) {
            let gap = micros(pair[1] - pair[0]);
            assert!(
                gap <= STREAK_MAX + WINDOW,
                "polled {gap:?} without sleeping"
            );
        }
    }

    #[test]
    fn after_a_capped_streak_the_next_event_polls_again() {
        let mut poll = IdlePoll::new(WINDOW);
        poll.on_events(|| micros(0));
        let mut now = 0;
        while poll.poll_next(|| micros(now)) {
            now += 50;
            poll.on_events(|| micros(now));
        }
        assert_eq!(micros(now), STREAK_MAX);
        poll.on_events(|| micros(now + 30));
        assert!(
            poll.poll_next(|| micros(now + 31)),
            "a new streak after the sleep"
        );
    }
}
