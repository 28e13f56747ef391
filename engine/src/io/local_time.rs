//! The local hour of the day, for `deleteWhen` (RocketMQ reads it in the broker's time zone).

use crate::types::TimestampMs;

/// Hour (0–23) of `timestamp` in the process's local time zone; UTC if that fails.
pub fn local_hour(timestamp: TimestampMs) -> u8 {
    let seconds = libc::time_t::try_from(timestamp.0 / 1000).unwrap_or(0);
    // SAFETY: `tm` is a plain C struct for which all-zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call; localtime_r is the
    // thread-safe variant and writes only into `tm`.
    let result = unsafe { libc::localtime_r(&raw const seconds, &raw mut tm) };
    if result.is_null() {
        return u8::try_from(timestamp.0 / 1000 % 86_400 / 3600).unwrap_or(0);
    }
    u8::try_from(tm.tm_hour).unwrap_or(0)
}
