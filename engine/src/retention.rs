//! Retention and disk space: expired segments go at the `deleteWhen` hours, or at any hour
//! above `diskMaxUsedSpaceRatio`; above the forced ratio the oldest go even unexpired; above
//! the refuse ratio appends are refused with a message naming usage and thresholds.
//! Consume-queue and index files whose commitlog range is gone are removed after each
//! deletion. The newest segment is never deleted.
//!
//! A segment's age is the store time of the first record of the segment after it, which is
//! when the segment stopped receiving writes (the file's mtime on RocketMQ).

use std::io;
use std::time::Duration;

use ringmq_protocol::record;

use crate::error::AppendError;
use crate::shard::Shard;
use crate::types::TimestampMs;

/// Segments deleted per check at most, so one check never stalls the shard for long.
const SEGMENTS_PER_CHECK_MAX: usize = 10;

/// What a retention check did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RetentionReport {
    pub used_ratio: f64,
    pub segments_deleted: usize,
    pub queue_files_deleted: usize,
    pub index_files_deleted: usize,
}

impl Shard {
    /// Run the retention policy if its interval has passed.
    pub(crate) fn maybe_retain(&mut self, now: Duration) -> io::Result<Option<RetentionReport>> {
        if now.saturating_sub(self.last_retention) < self.config().retention.check_interval {
            return Ok(None);
        }
        self.last_retention = now;
        self.retain_now().map(Some)
    }

    /// Evaluate the policy now (also used by tests with an injected clock).
    pub fn retain_now(&mut self) -> io::Result<RetentionReport> {
        let policy = self.config().retention.clone();
        let commitlog_directory = self.config().paths.commitlog.clone();
        let (used, total) = self.storage().disk_usage(&commitlog_directory)?;
        #[allow(
            clippy::cast_precision_loss,
            reason = "a usage ratio needs no more than 52 bits"
        )]
        let ratio = if total == 0 {
            0.0
        } else {
            used as f64 / total as f64
        };
        let mut report = RetentionReport {
            used_ratio: ratio,
            ..RetentionReport::default()
        };
        self.disk_full =
            (ratio > policy.disk_refuse_writes_ratio).then_some(AppendError::DiskFull {
                used_ratio: ratio,
                refuse_ratio: policy.disk_refuse_writes_ratio,
                max_used_ratio: policy.disk_max_used_ratio,
            });
        let deletion_hour = policy.delete_hours.contains(&self.clock().hour_of_day());
        let now = self.clock().wall();
        if deletion_hour || ratio > policy.disk_max_used_ratio {
            while report.segments_deleted < SEGMENTS_PER_CHECK_MAX
                && self.oldest_segment_expired(now, policy.reserved)?
            {
                if !self.delete_oldest_segment()? {
                    break;
                }
                report.segments_deleted += 1;
            }
        }
        if ratio > policy.disk_clean_forcibly_ratio
            && report.segments_deleted == 0
            && self.delete_oldest_segment()?
        {
            report.segments_deleted += 1;
        }
        if report.segments_deleted > 0 {
            let (queues, index) = self.remove_files_below_log_start()?;
            report.queue_files_deleted = queues;
            report.index_files_deleted = index;
        }
        Ok(report)
    }

    /// Whether the oldest segment (not the newest) stopped receiving writes before
    /// `now - reserved`.
    fn oldest_segment_expired(&mut self, now: TimestampMs, reserved: Duration) -> io::Result<bool> {
        let segments = self.commitlog_segments();
        if segments.len() < 2 {
            return Ok(false);
        }
        let Some(next) = segments.iter().nth(1) else {
            return Ok(false);
        };
        let file = next.buffered;
        let mut head = [0u8; 128];
        let read = self.storage().read_blocking(file, 0, &mut head)?;
        // No record in the next segment yet: the older one was written until now.
        let Some(last_write) = record::peek_store_timestamp(&head[..read]) else {
            return Ok(false);
        };
        let reserved_ms = i64::try_from(reserved.as_millis()).unwrap_or(i64::MAX);
        Ok(last_write.saturating_add(reserved_ms) < now.as_i64())
    }

    fn delete_oldest_segment(&mut self) -> io::Result<bool> {
        if self.commitlog_segments().len() < 2 {
            return Ok(false);
        }
        self.commitlog_remove_oldest()
    }
}
