//! The bench tool's clock: the one place that reads OS time, and the local time zone its
//! report lines are dated in (RocketMQ's benchmark prints the JVM's time zone, which Java takes
//! from `TZ` or `/etc/localtime`, as the C library does).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringmq_engine::io::local_time::utc_offset_seconds;
use ringmq_engine::types::TimestampMs;

#[allow(
    clippy::disallowed_methods,
    reason = "the bench tool measures real time"
)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

#[allow(
    clippy::disallowed_methods,
    reason = "the bench tool measures real time"
)]
pub(crate) fn wall_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(0)
}

/// Wait until `deadline` without burning a core.
pub(crate) fn wait_until(deadline: Instant) {
    loop {
        let left = deadline.saturating_duration_since(now());
        if left.is_zero() {
            return;
        }
        std::thread::park_timeout(left.min(Duration::from_millis(50)));
    }
}

/// `yyyy-MM-dd HH:mm:ss,SSS` in local time, as RocketMQ's benchmark prints it.
pub(crate) fn human(ms: u64) -> String {
    let offset_ms = utc_offset_seconds(TimestampMs(ms)) * 1000;
    let epoch_ms = i64::try_from(ms).unwrap_or(i64::MAX);
    wall_text(u64::try_from(epoch_ms.saturating_add(offset_ms)).unwrap_or(0))
}

/// `yyyy-MM-dd HH:mm:ss,SSS` of wall-clock milliseconds since 1970-01-01 00:00.
fn wall_text(ms: u64) -> String {
    let (days, rest) = (ms / 86_400_000, ms % 86_400_000);
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{:03}",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_time_matches_rocketmq_layout() {
        assert_eq!(
            super::wall_text(1_700_000_000_123),
            "2023-11-14 22:13:20,123"
        );
    }
}
