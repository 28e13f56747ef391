//! Zero-filling the commitlog a little ahead of the writer.
//!
//! Segments are reserved with fallocate, which leaves *unwritten* extents. On ext4 and XFS an
//! O_DIRECT write into an unwritten extent is not an overwrite: the extent is converted when
//! the write completes. io_uring then cannot issue the write inline (the non-blocking
//! attempt returns EAGAIN and an io-wq worker thread does it, with two context switches),
//! and the next fdatasync has to commit a journal transaction for the conversion on top of
//! the device cache flush. Writing zeros over the range first, in large writes ahead of the
//! writer, makes every later data write an overwrite of written blocks: issued inline, and
//! synced by a cache flush alone. PostgreSQL zero-fills WAL segments for the same reason
//! (`wal_init_zero`); RocketMQ's `warmMapedFileEnable` writes zeros into new mapped files.
//!
//! The zeros are never synced: before the conversion reaches the journal the range reads
//! back as zeros anyway, and the first fdatasync of data written there commits it.
//!
//! Rules that keep zeros away from data:
//! - one zero write in flight per commitlog, at most [`PREFILL_WRITE_BYTES`], inside one
//!   segment file that exists (the active segment or the preallocated spare);
//! - it starts at or past the first block boundary after `appended`, where nothing is staged,
//!   pending or being written;
//! - a batch whose write would overlap the zero write in flight waits for it
//!   (`build_chain` stops there), since the batch may have grown into the range meanwhile;
//! - zeros never reach more than `ahead` bytes past `appended`. A writer that overtakes them
//!   leaves the range between unwritten, which is slower and nothing else;
//! - a failed zero write stops zero-filling with a notice. It carried no data, so nothing is
//!   lost, and a failing device latches the log at its next data write anyway.

use crate::io::{token_tag, ChainLink, Completion, IoBuffer, Op, Storage};

use super::{ceil_block, floor_block, Commitlog, ALIGNMENT_BYTES};

/// Bytes of one zero write (a quarter of a segment for smaller segments).
pub(crate) const PREFILL_WRITE_BYTES: u64 = 1 << 20;
/// Polls of one second each before waiting for a zero write is given up.
const PREFILL_POLLS_MAX: u32 = 30;

#[derive(Debug)]
struct ZeroWrite {
    token: u64,
    start: u64,
    end: u64,
}

/// Zero-filling state of one commitlog.
#[derive(Debug)]
pub(crate) struct Prefill {
    /// How far past `appended` zeros may reach; 0 turns zero-filling off.
    ahead: u64,
    /// The range from the written log up to here holds written zeros (or the zero write in
    /// flight is about to make it so).
    frontier: u64,
    in_flight: Option<ZeroWrite>,
    /// The zeros, lent to each write and given back by its completion; never modified.
    zeros: Option<IoBuffer>,
}

impl Prefill {
    pub(crate) fn new(ahead: u64) -> Self {
        Self {
            ahead,
            frontier: 0,
            in_flight: None,
            zeros: None,
        }
    }
}

impl Commitlog {
    /// Issue the next zero write if none is in flight and the zeros are less than `ahead`
    /// bytes past `appended`. Best effort: a refused submission is tried again next time.
    pub(super) fn pump_prefill(&mut self, storage: &mut dyn Storage) {
        let prefill = &mut self.prefill;
        if prefill.ahead == 0 || prefill.in_flight.is_some() || self.latch.is_some() {
            return;
        }
        // A frontier at or near the writer (the first call, or a writer faster than the
        // zeros) restarts one write length ahead, so a zero write rarely holds a batch.
        let segment_bytes = self.segments.segment_bytes();
        let write_bytes =
            floor_block(PREFILL_WRITE_BYTES.min(segment_bytes / 4)).max(ALIGNMENT_BYTES);
        let floor = ceil_block(self.appended);
        if prefill.frontier < floor + write_bytes / 4 {
            prefill.frontier = floor + write_bytes;
        }
        let start = prefill.frontier;
        if start >= self.appended.saturating_add(prefill.ahead) {
            return;
        }
        let segment_end = start - start % segment_bytes + segment_bytes;
        let Some(file) = self.segments.writable_file(start) else {
            return;
        };
        let length = write_bytes.min(segment_end - start);
        let size = usize::try_from(length).expect("at most PREFILL_WRITE_BYTES");
        let buffer = match prefill.zeros.take() {
            Some(buffer) if buffer.capacity() >= size => buffer,
            _ => IoBuffer::unpooled(usize::try_from(write_bytes).expect("at most 1 MiB")),
        };
        self.next_token += 1;
        let token = token_tag::PREFILL | self.next_token;
        let op = Op::Write {
            file,
            offset: start % segment_bytes,
            buffer,
            range: 0..size,
            atomic: false,
        };
        match storage.submit(vec![ChainLink { op, token }]) {
            Ok(()) => {
                self.stats.prefill_writes += 1;
                self.prefill.in_flight = Some(ZeroWrite {
                    token,
                    start,
                    end: start + length,
                });
            }
            Err(refused) => {
                for link in refused.links {
                    if let Op::Write { buffer, .. } = link.op {
                        self.prefill.zeros = Some(buffer);
                    }
                }
            }
        }
    }

    /// Whether the zero write in flight overlaps `[start, end)`, so data may not go there yet.
    pub(super) fn prefill_overlaps(&self, start: u64, end: u64) -> bool {
        self.prefill
            .in_flight
            .as_ref()
            .is_some_and(|zeros| start < zeros.end && zeros.start < end)
    }

    /// Take the completion of the zero write in flight; any other completion is handed back.
    pub(super) fn complete_prefill(&mut self, completion: Completion) -> Option<Completion> {
        let ours = self
            .prefill
            .in_flight
            .take_if(|zeros| zeros.token == completion.token);
        let Some(zeros) = ours else {
            // A zero write this log stopped waiting for: drop it.
            return (completion.token & token_tag::PREFILL == 0).then_some(completion);
        };
        let expected = usize::try_from(zeros.end - zeros.start).unwrap_or(usize::MAX);
        if let Some(buffer) = completion.buffer {
            self.prefill.zeros = Some(buffer);
        }
        match completion.result {
            Ok(length) if length == expected => {
                self.prefill.frontier = self.prefill.frontier.max(zeros.end);
                self.stats.prefill_bytes += u64::try_from(length).unwrap_or(0);
            }
            outcome => {
                self.prefill.ahead = 0;
                let what = match outcome {
                    Ok(length) => format!("wrote {length} of {expected} bytes"),
                    Err(error) => error.to_string(),
                };
                self.notices.push_back(format!(
                    "commitlog shard {}: zero-filling ahead of the writer stopped (a zero \
                     write at local offset {} {what}); appends continue into unwritten \
                     extents, which is slower and loses nothing",
                    self.shard.0, zeros.start
                ));
            }
        }
        None
    }

    /// Stop issuing zero writes (a closing log).
    pub(crate) fn stop_prefill(&mut self) {
        self.prefill.ahead = 0;
    }

    /// The log's end moved back or was set by recovery: start over from it.
    pub(super) fn restart_prefill(&mut self) {
        self.prefill.frontier = 0;
    }

    /// Wait for the zero write in flight, if any (before its file is closed or removed).
    pub(crate) fn settle_prefill(&mut self, storage: &mut dyn Storage) {
        let mut completions: Vec<Completion> = Vec::new();
        for _ in 0..PREFILL_POLLS_MAX {
            if self.prefill.in_flight.is_none() {
                return;
            }
            if storage
                .poll(&mut completions, Some(std::time::Duration::from_secs(1)))
                .is_err()
            {
                return;
            }
            for completion in completions.drain(..) {
                self.route_while_waiting(completion);
            }
        }
    }
}
