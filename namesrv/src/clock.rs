//! Time as the name server sees it: the one module that reads the OS clocks.
//!
//! Everything else (liveness, route table, server loop) takes time as a value, so the pure
//! state machines can be driven by a manual clock in tests. Monotonic time drives timeouts;
//! wall time is only stamped into data versions and log lines.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds on the monotonic clock since an origin fixed when the clock was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct MonotonicMs(pub u64);

impl MonotonicMs {
    #[must_use]
    pub fn plus(self, duration_ms: u64) -> Self {
        Self(self.0.saturating_add(duration_ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Wall-clock milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct WallMs(pub u64);

/// The operating system's clocks.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "clock.rs is the one place that reads OS time"
    )]
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "clock.rs is the one place that reads OS time"
    )]
    pub fn monotonic(&self) -> MonotonicMs {
        let elapsed = Instant::now().duration_since(self.origin);
        MonotonicMs(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }

    /// Microseconds since the clock was made; for latency measurements.
    #[allow(
        clippy::disallowed_methods,
        reason = "clock.rs is the one place that reads OS time"
    )]
    pub fn monotonic_us(&self) -> u64 {
        let elapsed = Instant::now().duration_since(self.origin);
        u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "clock.rs is the one place that reads OS time"
    )]
    pub fn wall(&self) -> WallMs {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        WallMs(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

/// Sleep the calling thread; only for client-side waits in tests and benches, never the loop.
#[allow(
    clippy::disallowed_methods,
    reason = "callers are test and bench clients, not the event loop"
)]
pub fn pause(duration: Duration) {
    std::thread::sleep(duration);
}
