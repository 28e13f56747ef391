//! Master/slave replication at the storage level: a master reads spans of its written log
//! to ship, a slave appends the shipped bytes at the same physical offsets.
//!
//! Spans are whole records, or the 8-byte BLANK that ends a segment (the slave pads its own
//! segment to the same end rather than receiving the zeros). Because a slave checks that each
//! record claims the offset it lands at, and its segment ends where the master's do, the two
//! logs are identical byte for byte and offsetMsgIds resolve on either.

use bytes::Bytes;
use ringmq_protocol::record::{self, Scanned};

use crate::error::{AppendError, ReadError};
use crate::types::PhysicalOffset;

use super::read::ColdReads;
use super::Shard;

/// Bytes a master ships from `offset`, ending at a record boundary.
#[derive(Clone, Debug)]
pub struct ReplicaSpan {
    pub offset: PhysicalOffset,
    pub bytes: Bytes,
    /// Where the next span starts (past a BLANK: the next segment's base).
    pub next: PhysicalOffset,
}

/// What a replica read found without waiting for the disk.
#[derive(Clone, Debug)]
pub enum SpanRead {
    Span(ReplicaSpan),
    /// Nothing written lies past the offset.
    CaughtUp,
    /// The bytes are on disk and their read has started: ask again on a later loop turn.
    Reading,
}

/// Why replicated bytes were refused; nothing from the failing record on was stored.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReplicaError {
    /// The bytes are for another shard.
    WrongShard {
        expected: u16,
        got: u16,
    },
    /// The master's offset is not where this log ends: the logs diverged or a transfer was
    /// lost. The slave must reconnect and report its offset again.
    Diverged {
        log_end: PhysicalOffset,
        master: PhysicalOffset,
    },
    /// A record failed its checks (magic, length, CRC, claimed offset).
    Corrupt(String),
    Append(AppendError),
}

impl std::fmt::Display for ReplicaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WrongShard { expected, got } => {
                write!(
                    f,
                    "replicated bytes for shard {got} arrived at shard {expected}"
                )
            }
            Self::Diverged { log_end, master } => write!(
                f,
                "the master sends offset {} but this log ends at {}",
                master.0, log_end.0
            ),
            Self::Corrupt(reason) => write!(f, "replicated record rejected: {reason}"),
            Self::Append(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for ReplicaError {}

fn header(bytes: &[u8]) -> Option<(i32, i32)> {
    let size = i32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
    let magic = i32::from_be_bytes(bytes.get(4..8)?.try_into().ok()?);
    Some((size, magic))
}

impl Shard {
    /// Stored bytes from `from` for a slave: whole records, about `max` bytes (at least one
    /// record), or the BLANK ending a segment. `None` when nothing written lies past `from`
    /// (appended, with [`Self::set_ship_unwritten`]).
    /// Bytes come from the tail cache without copying, or from an O_DIRECT window.
    ///
    /// # Errors
    /// `from` on another shard, below the oldest segment, or not at a record boundary.
    pub fn replica_span(
        &mut self,
        from: PhysicalOffset,
        max: usize,
    ) -> Result<Option<ReplicaSpan>, ReadError> {
        match self.replica_span_with(from, max, ColdReads::Wait)? {
            SpanRead::Span(span) => Ok(Some(span)),
            SpanRead::CaughtUp => Ok(None),
            SpanRead::Reading => Err(ReadError::NotFound),
        }
    }

    /// Ship appended records before their write completes (a master with a connected
    /// slave): replica spans then reach [`Self::appended`] instead of [`Self::written`], from
    /// a copy of each batch made before its buffer goes to the kernel. Off drops the copies.
    /// See `commitlog/unwritten.rs` for what this promises.
    pub fn set_ship_unwritten(&mut self, on: bool) {
        self.commitlog.set_ship_unwritten(on);
    }

    /// [`Self::replica_span`] without waiting for the disk, for the HA master's loop turn:
    /// bytes in neither the tail cache nor a cached window give [`SpanRead::Reading`], and
    /// their window's read is started.
    ///
    /// # Errors
    /// As [`Self::replica_span`].
    pub fn replica_span_nonblocking(
        &mut self,
        from: PhysicalOffset,
        max: usize,
    ) -> Result<SpanRead, ReadError> {
        self.replica_span_with(from, max, ColdReads::Defer)
    }

    /// Written bytes from `local`, at least `at_least` and at most `max`; `None` when they
    /// are on disk and `cold` says not to wait.
    fn span_at(
        &mut self,
        local: u64,
        at_least: usize,
        max: usize,
        cold: ColdReads,
    ) -> Result<Option<Bytes>, ReadError> {
        let storage = self.storage.as_mut();
        match cold {
            ColdReads::Wait => self
                .commitlog
                .read_span(storage, local, at_least, max)
                .map(Some),
            ColdReads::Defer => self
                .commitlog
                .read_span_deferred(storage, local, at_least, max),
        }
    }

    fn replica_span_with(
        &mut self,
        from: PhysicalOffset,
        max: usize,
        cold: ColdReads,
    ) -> Result<SpanRead, ReadError> {
        if from.shard() != self.id {
            return Err(ReadError::WrongShard);
        }
        let local = from.local();
        let unwritten = local >= self.commitlog.written().local();
        let first = if unwritten {
            // Appended, not yet written: shipped from a copy when that is on, else later.
            self.commitlog.unwritten_span(local)
        } else {
            self.span_at(local, 8, max.max(8), cold)?
        };
        let Some(mut span) = first else {
            return Ok(if unwritten {
                SpanRead::CaughtUp
            } else {
                SpanRead::Reading
            });
        };
        let (size, magic) = header(&span).ok_or(ReadError::NotFound)?;
        let size = usize::try_from(size).map_err(|_| ReadError::NotFound)?;
        if magic == record::MAGIC_BLANK {
            let segment_bytes = self.config.segment_bytes;
            let next = local - local % segment_bytes + segment_bytes;
            return Ok(SpanRead::Span(ReplicaSpan {
                offset: from,
                bytes: span.slice(..8),
                next: PhysicalOffset::new(self.id, next),
            }));
        }
        if magic != record::MAGIC_V1 && magic != record::MAGIC_V2 {
            return Err(ReadError::Corrupt(format!(
                "no record starts at replica offset {}",
                from.0
            )));
        }
        if span.len() < size {
            if unwritten {
                // A copy ends where an append ended, so its records are whole.
                return Err(ReadError::Corrupt(format!(
                    "the unwritten record at {} is cut short",
                    from.0
                )));
            }
            let Some(whole) = self.span_at(local, size, size, cold)? else {
                return Ok(SpanRead::Reading);
            };
            span = whole;
        }
        let mut end = 0usize;
        while let Some((size, magic)) = span.get(end..).and_then(header) {
            let Ok(size) = usize::try_from(size) else {
                break;
            };
            let whole = end.checked_add(size).is_some_and(|e| e <= span.len());
            if magic == record::MAGIC_BLANK || !whole || size == 0 || end >= max && end > 0 {
                break;
            }
            end += size;
        }
        if end == 0 {
            return Ok(SpanRead::CaughtUp);
        }
        let shipped = u64::try_from(end).map_err(|_| ReadError::NotFound)?;
        Ok(SpanRead::Span(ReplicaSpan {
            offset: from,
            bytes: span.slice(..end),
            next: PhysicalOffset::new(self.id, local + shipped),
        }))
    }

    /// Append bytes a master shipped from `at`; returns how many were taken. Only whole
    /// records are taken (a trailing partial record waits for the rest); each must carry the
    /// physical offset it lands at and a correct body CRC. A log that never received a record
    /// starts at `at` when that is a segment base (a slave joining after retention).
    ///
    /// # Errors
    /// See [`ReplicaError`]; a busy commitlog is reported only when nothing was taken.
    pub fn append_replicated(
        &mut self,
        at: PhysicalOffset,
        bytes: &[u8],
    ) -> Result<usize, ReplicaError> {
        if at.shard() != self.id {
            return Err(ReplicaError::WrongShard {
                expected: self.id.0,
                got: at.shard().0,
            });
        }
        let log_end = self.commitlog.appended();
        if at != log_end && log_end.local() == 0 && !bytes.is_empty() {
            self.commitlog
                .start_empty_at(self.storage.as_mut(), at.local())
                .map_err(|_| ReplicaError::Diverged {
                    log_end,
                    master: at,
                })?;
            self.dispatched = at.local();
        }
        let log_end = self.commitlog.appended();
        if at != log_end {
            return Err(ReplicaError::Diverged {
                log_end,
                master: at,
            });
        }
        let mut taken = 0usize;
        while let Some((size, magic)) = bytes.get(taken..).and_then(header) {
            let result = self.append_one_replicated(&bytes[taken..], size, magic);
            match result {
                Ok(Some(consumed)) => taken += consumed,
                Ok(None) => break,
                Err(ReplicaError::Append(AppendError::Busy)) if taken > 0 => break,
                Err(error) => return Err(error),
            }
        }
        Ok(taken)
    }

    /// Cut the log back to `to`, a record boundary where the master's log ends (a slave that
    /// is ahead of a master that lost its unsynced tail). Queues and the checkpoint are cut
    /// back with it and the bytes after `to` are zeroed, as recovery does, so a crash after
    /// this cannot resurrect them. Returns the bytes removed.
    ///
    /// # Errors
    /// [`AppendError::Busy`] while a write is in flight (retry later), or an I/O error.
    pub fn truncate_replica(&mut self, to: PhysicalOffset) -> Result<u64, ReplicaError> {
        let end = self.commitlog.appended();
        if to.shard() != self.id {
            return Err(ReplicaError::WrongShard {
                expected: self.id.0,
                got: to.shard().0,
            });
        }
        if to >= end {
            return Ok(0);
        }
        if to.local() == 0 {
            return Err(ReplicaError::Corrupt(format!(
                "refusing to truncate the whole log ({} bytes) to an empty master: a master \
                 restarted on an empty or different store is not the one this slave copied",
                end.local()
            )));
        }
        if to < self.commitlog.min_offset() || self.checkpoint_in_flight.is_some() {
            return Err(ReplicaError::Append(AppendError::Busy));
        }
        let storage = self.storage.as_mut();
        self.commitlog
            .quiesce_for_truncate(storage)
            .map_err(ReplicaError::Append)?;
        let failed = |error: std::io::Error| ReplicaError::Corrupt(format!("truncation: {error}"));
        let mut report = crate::recovery::RecoveryReport::default();
        let partial =
            crate::recovery::repair_tail(self, to.local(), &mut report).map_err(failed)?;
        self.truncate_queues_from(to.local()).map_err(failed)?;
        for queues in self.topics.values_mut() {
            for state in queues.values_mut() {
                state.next_offset = state.queue.max_offset().0;
            }
        }
        self.resume_commitlog(to.local(), &partial)
            .map_err(ReplicaError::Append)?;
        self.dispatched = to.local();
        let target = crate::checkpoint::ShardCheckpoint {
            shard_count: self.config.shard_count,
            commitlog_durable: to.local(),
            queues_dispatched: self.checkpointed.queues_dispatched.min(to.local()),
            index_dispatched: self.checkpointed.index_dispatched.min(to.local()),
            ..self.checkpointed
        };
        let storage = self.storage.as_mut();
        let file = self.checkpoint.stage(storage, &target).map_err(failed)?;
        storage.sync_blocking(file).map_err(failed)?;
        self.checkpointed = target;
        Ok(end.0 - to.0)
    }

    /// A replicated record must take the next offset of its consume queue: identical
    /// histories agree on queue offsets, so a mismatch means the logs diverged (for example a
    /// slave following a master whose log is not the one it copied).
    fn check_queue_continues(
        &self,
        found: &record::Record<'_>,
    ) -> Result<Option<(u32, u64)>, ReplicaError> {
        if !super::dispatches_to_queue(found.sys_flag) {
            return Ok(None);
        }
        let (Ok(queue_id), Ok(queue_offset)) = (
            u32::try_from(found.queue_id),
            u64::try_from(found.queue_offset),
        ) else {
            return Err(ReplicaError::Corrupt(format!(
                "record at {} has queue {} offset {}",
                found.physical_offset, found.queue_id, found.queue_offset
            )));
        };
        match self.queue_state(found.topic, queue_id) {
            Some(state) if state.next_offset != queue_offset && state.next_offset > 0 => {
                Err(ReplicaError::Corrupt(format!(
                    "record at {} is entry {queue_offset} of {}/{queue_id} but this slave's \
                     queue continues at {}: the logs diverged",
                    found.physical_offset, found.topic, state.next_offset
                )))
            }
            _ => Ok(Some((queue_id, queue_offset))),
        }
    }

    /// Append the record or BLANK at the start of `bytes`; `None` if it is not whole yet.
    fn append_one_replicated(
        &mut self,
        bytes: &[u8],
        size: i32,
        magic: i32,
    ) -> Result<Option<usize>, ReplicaError> {
        let storage = self.storage.as_mut();
        let size = usize::try_from(size)
            .map_err(|_| ReplicaError::Corrupt(format!("negative record size {size}")))?;
        if magic == record::MAGIC_BLANK {
            let blank = u64::try_from(size).unwrap_or(u64::MAX);
            self.commitlog
                .append_raw_blank(storage, blank)
                .map_err(ReplicaError::Append)?;
            return Ok(Some(8));
        }
        let Some(whole) = bytes.get(..size) else {
            return Ok(None);
        };
        let expected = self.commitlog.appended();
        let found = match record::scan(whole, true) {
            Ok(Scanned::Record(found)) if found.physical_offset == expected.as_i64() => found,
            Ok(Scanned::Record(found)) => {
                return Err(ReplicaError::Corrupt(format!(
                    "record claims offset {} but lands at {}",
                    found.physical_offset, expected.0
                )))
            }
            Ok(Scanned::Blank { .. }) => {
                return Err(ReplicaError::Corrupt("unexpected BLANK".to_owned()));
            }
            Err(error) => return Err(ReplicaError::Corrupt(error.to_string())),
        };
        let queue = self.check_queue_continues(&found)?;
        self.commitlog
            .append_raw(self.storage.as_mut(), whole)
            .map_err(ReplicaError::Append)?;
        if let Some((queue_id, queue_offset)) = queue {
            self.queue_state_or_create(found.topic, queue_id)
                .map_err(|error| ReplicaError::Corrupt(error.to_string()))?
                .next_offset = queue_offset + 1;
        }
        Ok(Some(size))
    }
}
