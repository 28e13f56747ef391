//! The admin tool's only reads of the clock, its only sleeps, and RocketMQ's date texts.
//!
//! mqadmin formats and parses dates in the JVM's time zone; ringmq uses UTC everywhere so the
//! output does not depend on the machine (clusterRT's `-p` log lines keep RocketMQ's fixed
//! GMT+8). Formats: `yyyy-MM-dd HH:mm:ss,SSS` (`UtilAll.timeMillisToHumanString2`),
//! `yyyy-MM-dd HH:mm:ss` (`UtilAll.YYYY_MM_DD_HH_MM_SS`) and, for input,
//! `yyyy-MM-dd#HH:mm:ss:SSS` (`UtilAll.YYYY_MM_DD_HH_MM_SS_SSS`).

use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// Wall-clock milliseconds since the epoch.
#[expect(
    clippy::disallowed_methods,
    reason = "a one-shot CLI reads the wall clock; no simulator runs it"
)]
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// A monotonic instant, for round-trip times.
#[expect(
    clippy::disallowed_methods,
    reason = "clusterRT measures real round trips of a one-shot CLI"
)]
pub(crate) fn monotonic() -> Instant {
    Instant::now()
}

/// Block the (single) admin thread between repeated reports (`clusterList -i`, `clusterRT`).
#[expect(
    clippy::disallowed_methods,
    reason = "the admin CLI has no reactor to block; it waits between reports"
)]
pub(crate) fn pause(duration: Duration) {
    std::thread::sleep(duration);
}

/// `yyyy-MM-dd HH:mm:ss,SSS` in UTC for epoch milliseconds.
pub(crate) fn millis_text(epoch_ms: i64) -> String {
    format!(
        "{},{:03}",
        seconds_text(epoch_ms),
        epoch_ms.rem_euclid(1000)
    )
}

/// `yyyy-MM-dd HH:mm:ss` in UTC for epoch milliseconds.
pub(crate) fn seconds_text(epoch_ms: i64) -> String {
    let days = epoch_ms.div_euclid(DAY_MS);
    let day_ms = epoch_ms.rem_euclid(DAY_MS);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        day_ms / HOUR_MS,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
    )
}

/// `yyyy-MM-dd HH:mm:ss` at GMT+8, as clusterRT's log lines print (`getCurTime`).
pub(crate) fn gmt8_seconds_text(epoch_ms: i64) -> String {
    seconds_text(epoch_ms + 8 * HOUR_MS)
}

/// A timestamp flag as mqadmin reads it: epoch milliseconds, or `yyyy-MM-dd#HH:mm:ss:SSS`
/// (UTC). `None` if it is neither.
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(epoch_ms) = text.parse::<i64>() {
        return Some(epoch_ms);
    }
    let (date, time) = text.split_once('#')?;
    let mut date_parts = date.split('-').map(str::parse::<i64>);
    let (year, month, day) = (
        date_parts.next()?.ok()?,
        date_parts.next()?.ok()?,
        date_parts.next()?.ok()?,
    );
    let time_parts: Vec<i64> = time
        .split(':')
        .map(str::parse::<i64>)
        .collect::<Result<_, _>>()
        .ok()?;
    let [hour, minute, second, milli] = <[i64; 4]>::try_from(time_parts).ok()?;
    let valid = date_parts.next().is_none()
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..60).contains(&second)
        && (0..1000).contains(&milli);
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * DAY_MS + hour * HOUR_MS + minute * 60_000 + second * 1000 + milli)
}

/// Epoch milliseconds of the first instant of the (UTC) month holding `epoch_ms`.
pub(crate) fn month_start_ms(epoch_ms: i64) -> i64 {
    let (year, month, _) = civil_from_days(epoch_ms.div_euclid(DAY_MS));
    days_from_civil(year, month, 1) * DAY_MS
}

/// Howard Hinnant's days-since-1970 to proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_use_rocketmq_layouts_in_utc() {
        assert_eq!(millis_text(0), "1970-01-01 00:00:00,000");
        assert_eq!(millis_text(1_709_251_199_123), "2024-02-29 23:59:59,123");
        assert_eq!(seconds_text(1_709_251_199_123), "2024-02-29 23:59:59");
        assert_eq!(gmt8_seconds_text(1_709_251_199_123), "2024-03-01 07:59:59");
    }

    #[test]
    fn timestamp_flags_accept_millis_and_the_hash_layout_and_reject_garbage() {
        assert_eq!(parse_timestamp("1709251199123"), Some(1_709_251_199_123));
        assert_eq!(
            parse_timestamp("2024-02-29#23:59:59:123"),
            Some(1_709_251_199_123)
        );
        assert_eq!(parse_timestamp("2024-02-29 23:59:59"), None);
        assert_eq!(parse_timestamp("2024-13-01#00:00:00:000"), None);
        assert_eq!(parse_timestamp("now"), None);
    }

    #[test]
    fn month_start_is_midnight_of_the_first() {
        assert_eq!(
            millis_text(month_start_ms(1_709_251_199_123)),
            "2024-02-01 00:00:00,000"
        );
    }
}
