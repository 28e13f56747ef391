//! Appended records a master ships before its own write of them completes.
//!
//! A SYNC_MASTER answers a send once its own write and a slave's acknowledgement both cover
//! the record. Shipping only written bytes puts the two in a row: the batch's O_DIRECT write,
//! then the transfer, the slave's append and its report. Apache RocketMQ's master ships what
//! is in its page cache, which is what it appended; so does this one when a slave is
//! connected to a SYNC_MASTER ([`Commitlog::set_ship_unwritten`]): each batch is copied
//! into `chunks` just before its buffer goes to the kernel with its write (the buffers
//! belong to the storage seam while in flight), shipped from the copy, and the two waits
//! overlap.
//!
//! What it costs and promises:
//! - One copy of each appended byte while it is on. Chunks are dropped as `written` passes
//!   them, so they hold at most what the group commit has in flight.
//! - A slave may hold records its master never wrote: the master's write failed (the log
//!   latched read-only and answers nothing past `written`; no more copies are made), or the
//!   master process died first. Either way no client was answered for them, and a slave that
//!   reports more than the restarted master has is told to truncate, as after an unsynced
//!   tail was lost (docs/internals/replication.md).

use std::collections::VecDeque;

use bytes::Bytes;

use super::{Batch, Chunk, Commitlog};

/// Copies of `[written, captured)`, in log order.
#[derive(Debug, Default)]
pub(crate) struct Unwritten {
    on: bool,
    chunks: VecDeque<Chunk>,
    /// Where the next copy starts (local offset); bytes below it were copied or written.
    captured: u64,
}

impl Unwritten {
    fn clear(&mut self) {
        self.chunks.clear();
        self.captured = 0;
    }
}

impl Commitlog {
    /// Copy appended records for shipping before their write completes (a master with a
    /// connected slave), or stop doing so and drop the copies.
    pub(crate) fn set_ship_unwritten(&mut self, on: bool) {
        if !on {
            self.unwritten.clear();
        }
        self.unwritten.on = on;
    }

    /// Copy the batches whose write is about to be submitted, as far as they continue the
    /// copies (a batch handed to the kernel uncopied leaves a gap that only its write closes).
    /// Records still in the staging batch are not copied: their answers wait for their own
    /// write, which starts only when they are submitted, so shipping them sooner gains nothing.
    pub(super) fn capture_unwritten(&mut self) {
        if !self.unwritten.on || self.latch.is_some() {
            return;
        }
        self.drop_written_copies();
        let unwritten = &mut self.unwritten;
        unwritten.captured = unwritten.captured.max(self.written);
        for batch in &self.pending {
            if batch.logical_end <= unwritten.captured {
                continue;
            }
            if batch.data_start > unwritten.captured {
                // Not reached with one chain in flight (every earlier batch is written by
                // now); a gap would otherwise ship bytes at the wrong offset.
                break;
            }
            if let Some(chunk) = copy_from(batch, unwritten.captured) {
                unwritten.chunks.push_back(chunk);
            }
            unwritten.captured = batch.logical_end;
        }
    }

    /// Forget copies the log has written (reads find those bytes in the tail cache).
    pub(super) fn drop_written_copies(&mut self) {
        let written = self.written;
        while self
            .unwritten
            .chunks
            .front()
            .is_some_and(|chunk| chunk.logical_end <= written)
        {
            self.unwritten.chunks.pop_front();
        }
    }

    /// After a failed write, or when the log is cut back or moved: nothing unwritten is
    /// shipped any more.
    pub(super) fn drop_unwritten(&mut self) {
        self.unwritten.clear();
    }

    /// Appended but unwritten records from `local` to the end of the copy that holds it,
    /// whole records only; `None` when shipping unwritten records is off, the log is latched
    /// (a failed write dropped the copies and no more are made), or `local` is not in a copy
    /// (it was handed to the kernel uncopied).
    pub(crate) fn unwritten_span(&self, local: u64) -> Option<Bytes> {
        if !self.unwritten.on || local < self.written {
            return None;
        }
        let chunk = self
            .unwritten
            .chunks
            .iter()
            .find(|chunk| chunk.data_start <= local && local < chunk.end)?;
        let from = usize::try_from(local - chunk.data_start).ok()?;
        Some(chunk.bytes.slice(from..))
    }
}

/// `[from, batch.end)` of `batch` as a chunk; `None` when nothing is left past `from`.
fn copy_from(batch: &Batch, from: u64) -> Option<Chunk> {
    if from >= batch.end {
        return None;
    }
    let bytes =
        Bytes::copy_from_slice(&batch.buffer[batch.position(from)..batch.position(batch.end)]);
    Some(Chunk {
        block_start: from,
        data_start: from,
        end: batch.end,
        logical_end: batch.logical_end,
        memory_bytes: bytes.len(),
        bytes,
    })
}
