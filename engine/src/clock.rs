//! Time as the engine sees it. Production reads the OS clocks; tests and the simulator move
//! time by hand so retention, flush intervals and timeouts are deterministic.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::types::TimestampMs;

/// Monotonic time for timeouts and wall time for stored timestamps and retention.
pub trait Clock {
    /// Monotonic time since an arbitrary origin fixed for the clock's lifetime.
    fn monotonic(&self) -> Duration;
    /// Wall-clock milliseconds since the Unix epoch.
    fn wall(&self) -> TimestampMs;
    /// Hour of the day (0–23) for `deleteWhen`; UTC unless the clock knows better.
    fn hour_of_day(&self) -> u8 {
        u8::try_from(self.wall().0 / 1000 % 86_400 / 3600).unwrap_or(0)
    }
}

/// The operating system's clocks.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "this is the one place that reads OS time"
    )]
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "this is the one place that reads OS time"
    )]
    fn monotonic(&self) -> Duration {
        Instant::now().duration_since(self.origin)
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "this is the one place that reads OS time"
    )]
    fn wall(&self) -> TimestampMs {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        TimestampMs(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }

    fn hour_of_day(&self) -> u8 {
        crate::io::local_time::local_hour(self.wall())
    }
}

/// A clock that only moves when told to; shared by handle so a test can advance it.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    monotonic_us: Rc<Cell<u64>>,
    wall_ms: Rc<Cell<u64>>,
}

impl ManualClock {
    pub fn new(wall: TimestampMs) -> Self {
        let clock = Self::default();
        clock.wall_ms.set(wall.0);
        clock
    }

    pub fn advance(&self, by: Duration) {
        let micros = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.monotonic_us
            .set(self.monotonic_us.get().saturating_add(micros));
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.wall_ms.set(self.wall_ms.get().saturating_add(millis));
    }

    pub fn set_wall(&self, wall: TimestampMs) {
        self.wall_ms.set(wall.0);
    }
}

impl Clock for ManualClock {
    fn monotonic(&self) -> Duration {
        Duration::from_micros(self.monotonic_us.get())
    }

    fn wall(&self) -> TimestampMs {
        TimestampMs(self.wall_ms.get())
    }
}
