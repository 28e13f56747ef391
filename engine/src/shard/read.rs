//! Reads of a shard: queue reads for pulls, single records by offset, key lookups and
//! timestamp searches. Message bytes are shared with the tail cache or the cold-read
//! window, never copied.

use bytes::Bytes;
use ringmq_protocol::record::{self, Scanned};

use crate::error::ReadError;
use crate::types::{PhysicalOffset, QueueId, QueueOffset, TimestampMs};

use super::{QueueMessage, QueueRead, QueueReadStatus, ReadLimits, Shard, FILTER_SCAN_ENTRIES_MAX};

/// What a queue read does when a message is not in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ColdReads {
    /// Read it from disk and wait.
    Wait,
    /// Stop there and start reading it.
    Defer,
}

/// Which side of a timestamp a search lands on (`boundaryType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// The first message stored at or after the timestamp.
    Lower,
    /// The last message stored at or before the timestamp.
    Upper,
}

/// Where a read outside `[min, max)` goes instead (RocketMQ's offset corrections).
fn bounds_status(
    from: QueueOffset,
    min: QueueOffset,
    max: QueueOffset,
) -> Option<(QueueReadStatus, QueueOffset)> {
    if max.0 == 0 {
        Some((QueueReadStatus::NoMessageInQueue, QueueOffset(0)))
    } else if from < min {
        Some((QueueReadStatus::OffsetTooSmall, min))
    } else if from == max {
        Some((QueueReadStatus::OffsetOverflowOne, from))
    } else if from > max {
        Some((QueueReadStatus::OffsetOverflowBadly, max))
    } else {
        None
    }
}

impl Shard {
    /// (min, max) queue offsets; (0, 0) for an unknown queue.
    pub fn queue_bounds(&self, topic: &str, queue_id: QueueId) -> (QueueOffset, QueueOffset) {
        self.queue_state(topic, queue_id.0)
            .map_or((QueueOffset(0), QueueOffset(0)), |state| {
                (state.queue.min_offset(), state.queue.max_offset())
            })
    }

    /// Read up to `limits` messages of a queue from `from`, keeping those `accept` likes by
    /// tag hash, waiting for the disk where a message is not in memory. Statuses follow
    /// RocketMQ's GetMessageStatus.
    pub fn read_queue(
        &mut self,
        topic: &str,
        queue_id: QueueId,
        from: QueueOffset,
        limits: ReadLimits,
        accept: &dyn Fn(i64) -> bool,
    ) -> Result<QueueRead, ReadError> {
        self.read_queue_with(topic, queue_id, from, limits, accept, ColdReads::Wait)?
            .ok_or(ReadError::NotFound)
    }

    /// [`Self::read_queue`] without waiting for the disk, for pulls: the read stops at the
    /// first message that is neither in the tail cache nor in a cached window, and starts
    /// reading the window that holds it. `None` when that is the first message to return:
    /// ask again after [`Self::take_read_settled`] returns true.
    pub fn read_queue_nonblocking(
        &mut self,
        topic: &str,
        queue_id: QueueId,
        from: QueueOffset,
        limits: ReadLimits,
        accept: &dyn Fn(i64) -> bool,
    ) -> Result<Option<QueueRead>, ReadError> {
        self.read_queue_with(topic, queue_id, from, limits, accept, ColdReads::Defer)
    }

    /// Whether a cold window read finished (or failed, or was given up) since the last
    /// call: the cue for reads that [`Self::read_queue_nonblocking`] deferred.
    pub fn take_read_settled(&mut self) -> bool {
        self.commitlog.take_read_settled()
    }

    fn read_queue_with(
        &mut self,
        topic: &str,
        queue_id: QueueId,
        from: QueueOffset,
        limits: ReadLimits,
        accept: &dyn Fn(i64) -> bool,
        cold: ColdReads,
    ) -> Result<Option<QueueRead>, ReadError> {
        let (min, max) = self.queue_bounds(topic, queue_id);
        if let Some((status, next_offset)) = bounds_status(from, min, max) {
            let messages = Vec::new();
            return Ok(Some(QueueRead {
                status,
                messages,
                next_offset,
                min_offset: min,
                max_offset: max,
            }));
        }
        let scan_max = FILTER_SCAN_ENTRIES_MAX.max(limits.messages_max);
        let mut messages = Vec::new();
        let mut bytes_total = 0usize;
        let mut next_offset = from;
        // Entries are fetched in chunks: the first covers the wanted messages exactly, so an
        // unfiltered pull reads only the entries it returns; later chunks grow while tags
        // filter entries out, up to `scan_max` queue offsets in all. Offsets without a valid
        // entry are stepped over.
        let scan_end = max
            .0
            .min(from.0.saturating_add(u64::try_from(scan_max).unwrap_or(0)));
        let mut chunk = u64::try_from(limits.messages_max.max(1)).unwrap_or(1);
        let mut cursor = from.0;
        'scan: while cursor < scan_end {
            let count = chunk.min(scan_end - cursor);
            let entries =
                self.queue_entries(topic, queue_id, cursor, usize::try_from(count).unwrap_or(0))?;
            cursor += count;
            let log_min = self.commitlog.min_offset();
            for (queue_offset, entry) in entries {
                if messages.len() >= limits.messages_max
                    || (!messages.is_empty()
                        && bytes_total + entry.size as usize > limits.bytes_max)
                {
                    break 'scan;
                }
                next_offset = QueueOffset(queue_offset + 1);
                if entry.offset < log_min || !accept(entry.tags_code) {
                    continue;
                }
                let size = usize::try_from(entry.size).map_err(|_| ReadError::NotFound)?;
                let Some(bytes) = self.message_bytes(entry.offset, size, cold)? else {
                    if messages.is_empty() {
                        return Ok(None);
                    }
                    // Return what was in memory; the next pull starts here.
                    next_offset = QueueOffset(queue_offset);
                    break 'scan;
                };
                bytes_total += size;
                messages.push(QueueMessage {
                    queue_offset: QueueOffset(queue_offset),
                    offset: entry.offset,
                    bytes,
                });
            }
            next_offset = QueueOffset(next_offset.0.max(cursor));
            if messages.len() >= limits.messages_max || bytes_total >= limits.bytes_max {
                break;
            }
            chunk = chunk.saturating_mul(4);
        }
        let status = if messages.is_empty() {
            QueueReadStatus::NoMatchedMessage
        } else {
            QueueReadStatus::Found
        };
        Ok(Some(QueueRead {
            status,
            messages,
            next_offset,
            min_offset: min,
            max_offset: max,
        }))
    }

    /// The `size` bytes at `offset`; `None` if they are on disk and `cold` says not to wait
    /// (their window's read is then started).
    fn message_bytes(
        &mut self,
        offset: PhysicalOffset,
        size: usize,
        cold: ColdReads,
    ) -> Result<Option<Bytes>, ReadError> {
        let storage = self.storage.as_mut();
        match cold {
            ColdReads::Wait => self.commitlog.read(storage, offset, size).map(Some),
            ColdReads::Defer => self.commitlog.read_deferred(storage, offset, size),
        }
    }

    /// Up to `count` consume-queue entries of a queue from queue offset `from`.
    fn queue_entries(
        &mut self,
        topic: &str,
        queue_id: QueueId,
        from: u64,
        count: usize,
    ) -> Result<Vec<(u64, crate::consume_queue::QueueEntry)>, ReadError> {
        let storage = self.storage.as_mut();
        let state = self
            .topics
            .get_mut(topic)
            .and_then(|q| q.get_mut(&queue_id.0))
            .ok_or(ReadError::NotFound)?;
        state
            .queue
            .entries(storage, from, count)
            .map_err(ReadError::Io)
    }

    /// The whole record starting at `offset` (VIEW_MESSAGE_BY_ID, send-back).
    pub fn read_record(&mut self, offset: PhysicalOffset) -> Result<Bytes, ReadError> {
        let head = self.commitlog.read(self.storage.as_mut(), offset, 8)?;
        let size = i32::from_be_bytes(head[..4].try_into().map_err(|_| ReadError::NotFound)?);
        let magic = i32::from_be_bytes(head[4..8].try_into().map_err(|_| ReadError::NotFound)?);
        if magic != record::MAGIC_V1 && magic != record::MAGIC_V2 {
            return Err(ReadError::NotFound);
        }
        let size = usize::try_from(size).map_err(|_| ReadError::NotFound)?;
        let bytes = self.commitlog.read(self.storage.as_mut(), offset, size)?;
        match record::scan(&bytes, false) {
            Ok(Scanned::Record(_)) => Ok(bytes),
            Ok(Scanned::Blank { .. }) => Err(ReadError::NotFound),
            Err(error) => Err(ReadError::Corrupt(error.to_string())),
        }
    }

    fn store_timestamp_at(
        &mut self,
        topic: &str,
        queue_id: QueueId,
        queue_offset: u64,
    ) -> Result<i64, ReadError> {
        let entry = {
            let storage = self.storage.as_mut();
            let state = self
                .topics
                .get_mut(topic)
                .and_then(|q| q.get_mut(&queue_id.0));
            let state = state.ok_or(ReadError::NotFound)?;
            state
                .queue
                .entry_at(storage, queue_offset)
                .map_err(ReadError::Io)?
        };
        let entry = entry.ok_or(ReadError::NotFound)?;
        let bytes = self.read_record(entry.offset)?;
        match record::scan(&bytes, false) {
            Ok(Scanned::Record(found)) => Ok(found.store_timestamp),
            _ => Err(ReadError::NotFound),
        }
    }

    /// Store time of the oldest message still in the queue.
    pub fn earliest_store_time(
        &mut self,
        topic: &str,
        queue_id: QueueId,
    ) -> Result<TimestampMs, ReadError> {
        let (min, max) = self.queue_bounds(topic, queue_id);
        if min >= max {
            return Err(ReadError::NotFound);
        }
        let timestamp = self.store_timestamp_at(topic, queue_id, min.0)?;
        Ok(TimestampMs(u64::try_from(timestamp).unwrap_or(0)))
    }

    /// Binary search of the queue by store timestamp (SEARCH_OFFSET_BY_TIMESTAMP).
    pub fn search_by_timestamp(
        &mut self,
        topic: &str,
        queue_id: QueueId,
        timestamp: TimestampMs,
        boundary: Boundary,
    ) -> Result<QueueOffset, ReadError> {
        let (min, max) = self.queue_bounds(topic, queue_id);
        if min >= max {
            return Ok(min);
        }
        let target = timestamp.as_i64();
        // First offset whose store time is >= target (Lower) or > target (Upper).
        let (mut low, mut high) = (min.0, max.0);
        while low < high {
            let middle = low + (high - low) / 2;
            let stored = self.store_timestamp_at(topic, queue_id, middle)?;
            let before = match boundary {
                Boundary::Lower => stored < target,
                Boundary::Upper => stored <= target,
            };
            if before {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        Ok(match boundary {
            Boundary::Lower => QueueOffset(low.min(max.0)),
            Boundary::Upper => QueueOffset(low.saturating_sub(1).max(min.0)),
        })
    }

    /// Records indexed under `key` (a KEYS entry or UNIQ_KEY) of `topic` stored in
    /// `[begin, end]`, newest first, at most `max`, re-checked against the real key.
    pub fn lookup_key(
        &mut self,
        topic: &str,
        key: &str,
        begin: TimestampMs,
        end: TimestampMs,
        max: usize,
    ) -> Result<Vec<Bytes>, ReadError> {
        let (log_min, visible) = (self.commitlog.min_offset(), self.commitlog.visible());
        let live = |offset: PhysicalOffset| offset >= log_min && offset < visible;
        let mut offsets = self
            .index
            .lookup(
                self.storage.as_mut(),
                &crate::index::KeyQuery {
                    topic,
                    key,
                    begin,
                    end,
                    max: max.saturating_mul(4),
                },
                &live,
            )
            .map_err(ReadError::Io)?;
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        offsets.dedup();
        let mut found = Vec::new();
        for offset in offsets {
            if found.len() >= max
                || offset < self.commitlog.min_offset()
                || offset >= self.commitlog.visible()
            {
                continue;
            }
            let Ok(bytes) = self.read_record(offset) else {
                continue;
            };
            let Ok(Scanned::Record(stored)) = record::scan(&bytes, false) else {
                continue;
            };
            let matches = stored.topic == topic
                && (stored.property(ringmq_protocol::properties::UNIQ_KEY) == Some(key)
                    || stored
                        .property(ringmq_protocol::properties::KEYS)
                        .is_some_and(|keys| keys.split(' ').any(|k| k == key)));
            if matches {
                found.push(bytes);
            }
        }
        Ok(found)
    }

    /// Whether the message at `offset` of the queue is served from memory (the tail cache),
    /// or the queue is empty.
    pub fn queue_offset_in_memory(
        &mut self,
        topic: &str,
        queue_id: QueueId,
        offset: QueueOffset,
    ) -> bool {
        let entry = {
            let storage = self.storage.as_mut();
            let Some(state) = self
                .topics
                .get_mut(topic)
                .and_then(|q| q.get_mut(&queue_id.0))
            else {
                return true;
            };
            state.queue.entry_at(storage, offset.0)
        };
        match entry {
            Ok(Some(entry)) => self.commitlog.in_tail_cache(
                entry.offset,
                usize::try_from(entry.size).unwrap_or(usize::MAX),
            ),
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Used fraction (0..=1) of the file system holding the commitlog, for the broker's
    /// `commitLogDiskRatio` (GET_BROKER_RUNTIME_INFO). One statfs; no files are touched.
    pub fn commitlog_disk_ratio(&mut self) -> std::io::Result<f64> {
        let directory = self.config().paths.commitlog.clone();
        let (used, total) = self.storage().disk_usage(&directory)?;
        #[allow(
            clippy::cast_precision_loss,
            reason = "a usage ratio needs no more than 52 bits"
        )]
        let ratio = if total == 0 {
            0.0
        } else {
            used as f64 / total as f64
        };
        Ok(ratio)
    }

    /// Last update of the index (for QUERY_MESSAGE's response header).
    pub fn index_last_update(&self) -> (TimestampMs, PhysicalOffset) {
        self.index.last_update()
    }
}
