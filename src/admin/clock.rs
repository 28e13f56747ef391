//! The admin tool's only reads of the clock, its only sleeps, and RocketMQ's date texts.
//!
//! mqadmin formats and parses dates in the JVM's time zone, which Java takes from `TZ` or
//! `/etc/localtime`; ringmq uses the same local time zone, through the C library
//! (`ringmq_engine::io::local_time`). clusterRT's `-p` log lines keep RocketMQ's fixed GMT+8.
//! Formats: `yyyy-MM-dd HH:mm:ss,SSS` (`UtilAll.timeMillisToHumanString2`),
//! `yyyy-MM-dd HH:mm:ss` (`UtilAll.YYYY_MM_DD_HH_MM_SS`) and, for input,
//! `yyyy-MM-dd#HH:mm:ss:SSS` (`UtilAll.YYYY_MM_DD_HH_MM_SS_SSS`). The unique keys of sent
//! messages count milliseconds from the start of the local month, as Java's
//! `MessageClientIDSetter` does.

use std::time::{Duration, Instant};

use ringmq_engine::io::local_time::utc_offset_seconds;
use ringmq_engine::types::TimestampMs;

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

/// Milliseconds the local time zone is ahead of UTC at `epoch_ms`.
fn local_offset_ms(epoch_ms: i64) -> i64 {
    let at = TimestampMs(u64::try_from(epoch_ms).unwrap_or(0));
    utc_offset_seconds(at) * 1000
}

/// The epoch milliseconds of local wall-clock time `wall_ms` (milliseconds since 1970-01-01
/// 00:00 on the local calendar), given the zone's offset at an instant. The offset is looked
/// up at the instant the wall time would be in UTC, then again at the result, which settles
/// across a daylight-saving change.
fn epoch_of_wall(wall_ms: i64, offset_ms: impl Fn(i64) -> i64) -> i64 {
    let guess = wall_ms - offset_ms(wall_ms);
    wall_ms - offset_ms(guess)
}

/// `yyyy-MM-dd HH:mm:ss,SSS` in local time for epoch milliseconds.
pub(crate) fn millis_text(epoch_ms: i64) -> String {
    wall_millis_text(epoch_ms + local_offset_ms(epoch_ms))
}

/// `yyyy-MM-dd HH:mm:ss` in local time for epoch milliseconds.
pub(crate) fn seconds_text(epoch_ms: i64) -> String {
    wall_seconds_text(epoch_ms + local_offset_ms(epoch_ms))
}

/// `yyyy-MM-dd HH:mm:ss,SSS` of wall-clock milliseconds.
fn wall_millis_text(wall_ms: i64) -> String {
    format!(
        "{},{:03}",
        wall_seconds_text(wall_ms),
        wall_ms.rem_euclid(1000)
    )
}

/// `yyyy-MM-dd HH:mm:ss` of wall-clock milliseconds.
fn wall_seconds_text(wall_ms: i64) -> String {
    let days = wall_ms.div_euclid(DAY_MS);
    let day_ms = wall_ms.rem_euclid(DAY_MS);
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
    wall_seconds_text(epoch_ms + 8 * HOUR_MS)
}

/// A timestamp flag as mqadmin reads it: epoch milliseconds, or `yyyy-MM-dd#HH:mm:ss:SSS`
/// in local time. `None` if it is neither.
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    parse_wall_timestamp(text, local_offset_ms)
}

fn parse_wall_timestamp(text: &str, offset_ms: impl Fn(i64) -> i64) -> Option<i64> {
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
    let wall_ms = days * DAY_MS + hour * HOUR_MS + minute * 60_000 + second * 1000 + milli;
    Some(epoch_of_wall(wall_ms, offset_ms))
}

/// Epoch milliseconds of the first instant of the local month holding `epoch_ms`.
pub(crate) fn month_start_ms(epoch_ms: i64) -> i64 {
    month_start_at(epoch_ms, local_offset_ms)
}

fn month_start_at(epoch_ms: i64, offset_ms: impl Fn(i64) -> i64) -> i64 {
    let wall_ms = epoch_ms + offset_ms(epoch_ms);
    let (year, month, _) = civil_from_days(wall_ms.div_euclid(DAY_MS));
    epoch_of_wall(days_from_civil(year, month, 1) * DAY_MS, offset_ms)
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

    const UTC: fn(i64) -> i64 = |_| 0;
    const GMT_PLUS_8: fn(i64) -> i64 = |_| 8 * HOUR_MS;
    /// Central European time: +1 h, +2 h from 2024-03-31 01:00 UTC.
    const CET: fn(i64) -> i64 = |epoch_ms| {
        if epoch_ms >= 1_711_846_800_000 {
            2 * HOUR_MS
        } else {
            HOUR_MS
        }
    };

    #[test]
    fn dates_use_rocketmq_layouts() {
        assert_eq!(wall_millis_text(0), "1970-01-01 00:00:00,000");
        assert_eq!(
            wall_millis_text(1_709_251_199_123),
            "2024-02-29 23:59:59,123"
        );
        assert_eq!(wall_seconds_text(1_709_251_199_123), "2024-02-29 23:59:59");
        assert_eq!(gmt8_seconds_text(1_709_251_199_123), "2024-03-01 07:59:59");
    }

    #[test]
    fn timestamp_flags_accept_millis_and_the_hash_layout_and_reject_garbage() {
        assert_eq!(parse_timestamp("1709251199123"), Some(1_709_251_199_123));
        assert_eq!(
            parse_wall_timestamp("2024-02-29#23:59:59:123", UTC),
            Some(1_709_251_199_123)
        );
        assert_eq!(parse_timestamp("2024-02-29 23:59:59"), None);
        assert_eq!(parse_timestamp("2024-13-01#00:00:00:000"), None);
        assert_eq!(parse_timestamp("now"), None);
    }

    // Hazard: a local date flag read as UTC (or printed as UTC) is off by the zone's offset,
    // so a reset by time moves offsets to the wrong hour.
    #[test]
    fn local_dates_are_shifted_by_the_zone_offset_in_both_directions() {
        let eight_in_shanghai = parse_wall_timestamp("2024-03-01#07:59:59:123", GMT_PLUS_8);
        assert_eq!(eight_in_shanghai, Some(1_709_251_199_123));
        // Across the daylight-saving change: 03:30 local on 2024-03-31 is 01:30 UTC.
        let summer = parse_wall_timestamp("2024-03-31#03:30:00:000", CET).unwrap();
        assert_eq!(summer, 1_711_848_600_000);
        assert_eq!(
            wall_seconds_text(summer + CET(summer)),
            "2024-03-31 03:30:00"
        );
    }

    #[test]
    fn month_start_is_local_midnight_of_the_first() {
        assert_eq!(
            wall_millis_text(month_start_at(1_709_251_199_123, UTC)),
            "2024-02-01 00:00:00,000"
        );
        // 2024-02-29 23:59 UTC is already March in GMT+8: its month began 2024-02-29 16:00 UTC.
        assert_eq!(
            month_start_at(1_709_251_199_123, GMT_PLUS_8),
            1_709_251_200_000 - 8 * HOUR_MS
        );
    }
}
