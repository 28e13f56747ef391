//! Bringing a shard back after a clean or unclean stop.
//!
//! Both cases run the same procedure; after a clean shutdown the checkpoint sits at the end
//! of the log, so the scan is empty and the restart is immediate.
//! 1. Start at the checkpointed dispatch offset (the older of the queues' and the index's),
//!    or at the oldest segment when the checkpoint is missing or torn.
//! 2. Scan forward record by record, checking magic, length, the stored physical offset and
//!    (with `checkCRCOnRecover`) the body CRC, following BLANK records into the next segment.
//!    The first record that fails ends the valid log at `end`.
//! 3. Cut consume queues back to the start offset, then re-dispatch every valid record past it
//!    to queues and index, so no entry is lost and none is doubled.
//! 4. Zero what lies after `end` in its segment (torn or unacknowledged bytes, which a later
//!    crash could otherwise make look valid again) and delete later segments.
//!
//! Progress is logged every 256 MiB scanned.

use std::io;
use std::time::Duration;

use ringmq_protocol::record::{self, RecordError, Scanned};

use crate::error::OpenError;
use crate::shard::Shard;
use crate::types::PhysicalOffset;

/// Bytes read per scan step: more than the largest record, so a record cut by one window's
/// end is whole at the start of the next.
const SCAN_WINDOW_BYTES: usize = 8 << 20;
const _: () = assert!(SCAN_WINDOW_BYTES > crate::constants::RECORD_BYTES_MAX);
/// Bytes zeroed per write after the valid end.
const ZERO_WINDOW_BYTES: usize = 1 << 20;
/// A progress line per this many bytes scanned.
const PROGRESS_BYTES: u64 = 256 << 20;

/// What recovery did, for the boot log and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub started_at: u64,
    pub valid_end: u64,
    pub records_redispatched: u64,
    pub bytes_scanned: u64,
    pub bytes_zeroed: u64,
    pub segments_removed: usize,
    pub stopped_because: Option<String>,
    pub elapsed: Duration,
}

fn io_error(operation: &'static str, shard: &Shard, error: io::Error) -> OpenError {
    OpenError::Io {
        operation,
        path: shard.config().paths.commitlog.clone(),
        error,
    }
}

/// Run recovery on a freshly opened shard whose checkpoint start is `start`.
pub(crate) fn recover(
    shard: &mut Shard,
    start: u64,
    log: &mut dyn FnMut(&str),
) -> Result<RecoveryReport, OpenError> {
    let began = shard.clock().monotonic();
    let mut report = RecoveryReport {
        started_at: start,
        ..RecoveryReport::default()
    };
    let start = clamp_start(shard, start);
    report.started_at = start;
    shard
        .truncate_queues_from(start)
        .map_err(|error| io_error("truncate consume queues at", shard, error))?;
    let end = scan(shard, start, &mut report, log)?;
    report.valid_end = end;
    let partial = repair_tail(shard, end, &mut report)
        .map_err(|error| io_error("repair the tail of", shard, error))?;
    shard
        .resume_commitlog(end, &partial)
        .map_err(|error| OpenError::Io {
            operation: "resume appends in",
            path: shard.config().paths.commitlog.clone(),
            error: io::Error::other(error.to_string()),
        })?;
    report.elapsed = shard.clock().monotonic().saturating_sub(began);
    Ok(report)
}

/// The scan cannot start before the oldest segment or inside a deleted one.
fn clamp_start(shard: &Shard, start: u64) -> u64 {
    let segments = shard.commitlog_segments();
    let Some(first) = segments.first() else {
        return 0;
    };
    let last_end = segments
        .last()
        .map_or(0, |last| last.base + segments.segment_bytes());
    if start < first.base || start > last_end {
        first.base
    } else {
        start
    }
}

/// How a scan window ended.
enum WindowEnd {
    /// The window was consumed up to this many bytes; continue after them.
    Consumed(usize),
    /// A BLANK ended the segment: continue at the next segment's base.
    NextSegment,
    /// The valid log ends at this local offset.
    LogEnd(u64),
}

/// Walk records from `start`; returns the end of the valid log.
fn scan(
    shard: &mut Shard,
    start: u64,
    report: &mut RecoveryReport,
    log: &mut dyn FnMut(&str),
) -> Result<u64, OpenError> {
    let mut position = start;
    let mut next_progress = PROGRESS_BYTES;
    loop {
        let Some((file, base)) = shard
            .commitlog_segments()
            .find(position)
            .map(|s| (s.buffered, s.base))
        else {
            return Ok(position);
        };
        let segment_end = base + shard.commitlog_segments().segment_bytes();
        let window = usize::try_from(segment_end - position)
            .unwrap_or(usize::MAX)
            .min(SCAN_WINDOW_BYTES);
        let mut bytes = vec![0u8; window];
        let read = shard
            .storage()
            .read_blocking(file, position - base, &mut bytes)
            .map_err(|error| io_error("read", shard, error))?;
        bytes.truncate(read);
        let more_follows =
            read == window && position + u64::try_from(read).unwrap_or(0) < segment_end;
        match scan_window(shard, &bytes, position, segment_end, more_follows, report)? {
            WindowEnd::NextSegment => {
                report.bytes_scanned += segment_end - position;
                position = segment_end;
            }
            WindowEnd::LogEnd(end) => return Ok(end),
            WindowEnd::Consumed(0) => return Ok(position),
            WindowEnd::Consumed(count) => {
                let count = u64::try_from(count).expect("fits");
                position += count;
                report.bytes_scanned += count;
            }
        }
        if report.bytes_scanned >= next_progress {
            log(&format!(
                "recovery: shard {} scanned {} MiB, at offset {position}",
                shard.id().0,
                report.bytes_scanned >> 20
            ));
            next_progress += PROGRESS_BYTES;
        }
    }
}

/// Validate and re-dispatch the records of one window read at `position`.
fn scan_window(
    shard: &mut Shard,
    bytes: &[u8],
    position: u64,
    segment_end: u64,
    more_follows: bool,
    report: &mut RecoveryReport,
) -> Result<WindowEnd, OpenError> {
    let check_crc = shard.config().check_crc_on_recover;
    let mut cursor = 0usize;
    while cursor < bytes.len() {
        let local = position + u64::try_from(cursor).expect("fits");
        match record::scan(&bytes[cursor..], check_crc) {
            Ok(Scanned::Record(found)) => {
                let expected = PhysicalOffset::new(shard.id(), local);
                if found.physical_offset != expected.as_i64() {
                    report.stopped_because = Some(format!(
                        "record at {local} claims offset {}",
                        found.physical_offset
                    ));
                    return Ok(WindowEnd::LogEnd(local));
                }
                shard
                    .redispatch(&found)
                    .map_err(|error| io_error("re-dispatch from", shard, error))?;
                report.records_redispatched += 1;
                cursor += found.total_size;
            }
            Ok(Scanned::Blank { size }) => {
                if local + u64::try_from(size).unwrap_or(u64::MAX) != segment_end {
                    report.stopped_because =
                        Some(format!("BLANK at {local} does not end its segment"));
                    return Ok(WindowEnd::LogEnd(local));
                }
                return Ok(WindowEnd::NextSegment);
            }
            // A record cut by the window's end is read again at the start of the next window.
            Err(RecordError::Truncated { .. }) if more_follows && cursor > 0 => break,
            Err(error) => {
                report.stopped_because = Some(error.to_string());
                return Ok(WindowEnd::LogEnd(local));
            }
        }
    }
    Ok(WindowEnd::Consumed(cursor))
}

/// Zero the bytes after `end` in its segment and delete later segments; returns the bytes
/// of the partial block `[floor4k(end), end)` for the next append.
pub(crate) fn repair_tail(
    shard: &mut Shard,
    end: u64,
    report: &mut RecoveryReport,
) -> io::Result<Vec<u8>> {
    let segment_bytes = shard.commitlog_segments().segment_bytes();
    let segment_base = end - end % segment_bytes;
    let later = segment_base + segment_bytes;
    let count_before = shard.commitlog_segments().len();
    if end % segment_bytes == 0 && end > 0 {
        shard.commitlog_segments_mut_remove_from(end)?;
    } else {
        shard.commitlog_segments_mut_remove_from(later)?;
    }
    report.segments_removed = count_before - shard.commitlog_segments().len();
    let Some(segment) = shard.commitlog_segments().find(end) else {
        return Ok(Vec::new());
    };
    let (file, base) = (segment.buffered, segment.base);
    let block_start = end - end % 4096;
    let mut partial = vec![0u8; usize::try_from(end - block_start).expect("under a block")];
    shard
        .storage()
        .read_blocking(file, block_start - base, &mut partial)?;
    // Zero from `end` until a window that is already all zeros (the old log's end).
    let mut position = end;
    let mut dirty = false;
    while position < later {
        let length = usize::try_from(later - position)
            .unwrap_or(usize::MAX)
            .min(ZERO_WINDOW_BYTES);
        let mut bytes = vec![0u8; length];
        let read = shard
            .storage()
            .read_blocking(file, position - base, &mut bytes)?;
        if bytes[..read].iter().all(|byte| *byte == 0) {
            break;
        }
        shard
            .storage()
            .write_blocking(file, position - base, &vec![0u8; read])?;
        report.bytes_zeroed += u64::try_from(read).expect("fits");
        dirty = true;
        position += u64::try_from(length).expect("fits");
    }
    if dirty {
        shard.storage().sync_blocking(file)?;
    }
    Ok(partial)
}
