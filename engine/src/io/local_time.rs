//! The process's local time zone, as C's `localtime_r` sees it (`TZ`, else `/etc/localtime`):
//! the hour of the day for `deleteWhen` (RocketMQ reads it in the broker's time zone), and the
//! offset from UTC for the dates the admin and bench tools print (RocketMQ prints them in the
//! JVM's time zone, which Java also takes from `TZ` and `/etc/localtime`).

use crate::types::TimestampMs;

/// `localtime_r` of `timestamp`, or `None` when the C library cannot convert it.
fn local_tm(timestamp: TimestampMs) -> Option<libc::tm> {
    let seconds = libc::time_t::try_from(timestamp.0.div_euclid(1000)).ok()?;
    // SAFETY: `tm` is a plain C struct for which all-zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call; localtime_r is the
    // thread-safe variant and writes only into `tm`.
    let result = unsafe { libc::localtime_r(&raw const seconds, &raw mut tm) };
    (!result.is_null()).then_some(tm)
}

/// Hour (0–23) of `timestamp` in the process's local time zone; UTC if that fails.
pub fn local_hour(timestamp: TimestampMs) -> u8 {
    match local_tm(timestamp) {
        Some(tm) => u8::try_from(tm.tm_hour).unwrap_or(0),
        None => u8::try_from(timestamp.0.rem_euclid(86_400_000) / 3_600_000).unwrap_or(0),
    }
}

/// Seconds the local time zone is ahead of UTC at `timestamp` (negative west of Greenwich,
/// daylight saving included); 0 (UTC) if the conversion fails.
#[allow(
    clippy::useless_conversion,
    reason = "tm_gmtoff is a C long: i64 here, i32 on 32-bit targets"
)]
pub fn utc_offset_seconds(timestamp: TimestampMs) -> i64 {
    local_tm(timestamp).map_or(0, |tm| i64::from(tm.tm_gmtoff))
}
