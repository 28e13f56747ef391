//! Self-clocking group commit: one chain in flight per commitlog.
//!
//! While a chain (write → write → … → fdatasync) is in flight, appends pile up in staging
//! batches. When it completes, everything that piled up goes out as the next chain, so the
//! batch size follows the device's latency without any timer. A chain carries at most
//! [`CHAIN_BYTES_MAX`] bytes. ASYNC_FLUSH chains skip the fdatasync unless the flush timer
//! (`flushIntervalCommitLog`, `flushCommitLogLeastPages`, `flushCommitLogThoroughInterval`)
//! says one is due.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;

use crate::config::FlushMode;
use crate::error::Latch;
use crate::io::buffer::{Packer, ALIGNMENT};
use crate::io::{ChainLink, Completion, IoBuffer, IoError, IoErrorKind, Op, Storage, UntornWrites};

use super::{Batch, Chunk, Commitlog};

/// Whether a write failed because the kernel will not do RWF_ATOMIC here (EINVAL for a size
/// or alignment it does not take, EOPNOTSUPP for no support at all).
fn is_refusal(completion: &Completion) -> bool {
    completion
        .result
        .as_ref()
        .is_err_and(|error| matches!(error.errno, libc::EINVAL | libc::EOPNOTSUPP))
}

/// Most bytes written by one chain.
pub(crate) const CHAIN_BYTES_MAX: usize = 4 << 20;

/// A batch whose write is in flight.
#[derive(Debug)]
struct WriteInFlight {
    token: u64,
    /// The RWF_ATOMIC write of the batch's first block, when it is a rewrite of a partial
    /// block and the batch is longer than that block (the main write then starts after it).
    head: Option<u64>,
    /// The main write itself was issued with RWF_ATOMIC (a batch of exactly one block).
    atomic: bool,
    block_start: u64,
    data_start: u64,
    end: u64,
    logical_end: u64,
    length: usize,
    path: PathBuf,
}

/// The chain in flight.
#[derive(Debug)]
pub(crate) struct ChainState {
    writes: Vec<WriteInFlight>,
    sync_tokens: Vec<(u64, PathBuf)>,
    completions_left: usize,
    /// Where `durable` moves when every fdatasync of the chain succeeded.
    end: u64,
    syncs_ok: usize,
    /// The kernel refused an RWF_ATOMIC link: the rest of the chain was canceled, and its
    /// batches go back to the head of the queue (in `retry`) instead of latching the log.
    refused: bool,
    retry: Vec<Batch>,
}

impl Commitlog {
    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    fn async_flush_due(&self, now: Duration) -> bool {
        let dirty = self.written.saturating_sub(self.durable);
        if dirty == 0 {
            return false;
        }
        let since = now.saturating_sub(self.last_flush);
        since >= self.flush_thorough_interval
            || (since >= self.flush_interval && dirty >= self.flush_least_bytes)
    }

    /// Submit the next chain if none is in flight and there is work, then the next zero
    /// write ahead of the writer. `now` is monotonic.
    pub(crate) fn pump(&mut self, storage: &mut dyn Storage, now: Duration) {
        self.pump_chain(storage, now);
        self.pump_prefill(storage);
    }

    fn pump_chain(&mut self, storage: &mut dyn Storage, now: Duration) {
        if self.chain.is_some() || self.latch.is_some() {
            return;
        }
        if self.staging.as_ref().is_some_and(Batch::has_data) {
            self.freeze_staging(storage);
        }
        let flush = match self.flush_mode {
            FlushMode::Sync => true,
            FlushMode::Async => self.async_flush_due(now) || self.flush_requested,
        };
        if self.pending.is_empty() && !(flush && self.durable < self.written) {
            return;
        }
        // The batches' buffers go to the kernel now: copy what a slave may be shipped first.
        self.capture_unwritten();
        let (links, chain) = self.build_chain(flush);
        if links.is_empty() {
            return;
        }
        match storage.submit(links) {
            Ok(()) => {
                self.stats.chains_submitted += 1;
                if !chain.sync_tokens.is_empty() {
                    self.last_flush = now;
                    self.flush_requested = false;
                }
                self.chain = Some(chain);
            }
            Err(error) => self.requeue(chain, error.links),
        }
    }

    /// Freeze the staging batch so it can be written; the next one inherits its tail block.
    fn freeze_staging(&mut self, storage: &mut dyn Storage) {
        let Some(frozen) = self.staging.take() else {
            return;
        };
        // Without a spare buffer the frozen batch stays the staging batch until one returns.
        match self.new_staging(storage, frozen.end) {
            Ok(next) => {
                self.staging = Some(next);
                let mut frozen = frozen;
                self.copy_partial_block(&mut frozen);
                self.pending.push_back(frozen);
            }
            Err(_) => self.staging = Some(frozen),
        }
    }

    fn build_chain(&mut self, flush: bool) -> (Vec<ChainLink>, ChainState) {
        let mut links = Vec::new();
        let mut writes = Vec::new();
        let mut bytes = 0usize;
        let mut end = self.written;
        while let Some(batch) = self.pending.front() {
            if !writes.is_empty() && bytes + batch.write_len() > CHAIN_BYTES_MAX {
                break;
            }
            let write_end = batch.block_start + u64::try_from(batch.write_len()).unwrap_or(0);
            if self.prefill_overlaps(batch.block_start, write_end) {
                self.stats.prefill_holds += 1;
                break;
            }
            let batch = self.pending.pop_front().expect("front was checked");
            bytes += batch.write_len();
            end = batch.logical_end;
            let write = self.push_write(batch, &mut links);
            writes.push(write);
        }
        let mut sync_tokens = Vec::new();
        if flush {
            self.add_syncs(&writes, &mut links, &mut sync_tokens);
        }
        let completions_left = links.len();
        (
            links,
            ChainState {
                writes,
                sync_tokens,
                completions_left,
                end,
                syncs_ok: 0,
                refused: false,
                retry: Vec::new(),
            },
        )
    }

    /// Whether the first block of `batch` is rewritten (it holds bytes of earlier batches,
    /// possibly acknowledged) and the segment's file takes RWF_ATOMIC writes.
    fn atomic_rewrite(&self, batch: &Batch, untorn: UntornWrites) -> bool {
        batch.data_start > batch.block_start
            && !self.atomic_refused
            && matches!(untorn, UntornWrites::Atomic { .. })
    }

    /// The write links of one batch. A rewrite of a partial block on a file that takes
    /// RWF_ATOMIC goes out untorn: the whole batch when it is that one block, otherwise a
    /// copy of the block as its own atomic link followed by the rest of the batch.
    fn push_write(&mut self, mut batch: Batch, links: &mut Vec<ChainLink>) -> WriteInFlight {
        let length = batch.write_len();
        let used = batch.position(batch.end);
        batch.buffer[used..length].fill(0);
        let segment = self
            .segments
            .find(batch.segment_base)
            .expect("batches target segments");
        let (file, path, untorn) = (segment.direct, segment.path.clone(), segment.untorn);
        let offset = batch.block_start - batch.segment_base;
        let atomic = self.atomic_rewrite(&batch, untorn);
        let head = (atomic && length > ALIGNMENT).then(|| {
            let mut copy = IoBuffer::unpooled(ALIGNMENT);
            copy[..ALIGNMENT].copy_from_slice(&batch.buffer[..ALIGNMENT]);
            let token = self.token();
            links.push(ChainLink {
                op: Op::Write {
                    file,
                    offset,
                    buffer: copy,
                    range: 0..ALIGNMENT,
                    atomic: true,
                },
                token,
            });
            token
        });
        let skip = if head.is_some() { ALIGNMENT } else { 0 };
        let token = self.token();
        links.push(ChainLink {
            op: Op::Write {
                file,
                offset: offset + u64::try_from(skip).expect("one block"),
                buffer: batch.buffer,
                range: skip..length,
                atomic: atomic && head.is_none(),
            },
            token,
        });
        WriteInFlight {
            token,
            head,
            atomic: atomic && head.is_none(),
            block_start: batch.block_start,
            data_start: batch.data_start,
            end: batch.end,
            logical_end: batch.logical_end,
            length: length - skip,
            path,
        }
    }

    /// One fdatasync for every segment between the durable watermark and the end of this
    /// chain: ASYNC_FLUSH chains write without syncing, possibly into several segments, so a
    /// sync must cover all of them before `durable` may move past them.
    fn add_syncs(
        &mut self,
        writes: &[WriteInFlight],
        links: &mut Vec<ChainLink>,
        sync_tokens: &mut Vec<(u64, PathBuf)>,
    ) {
        let segment_bytes = self.segments.segment_bytes();
        let end = writes.last().map_or(self.written, |write| write.end);
        let first = self.durable - self.durable % segment_bytes;
        let last = end.saturating_sub(1) - end.saturating_sub(1) % segment_bytes;
        let mut base = first;
        while base <= last {
            if let Some(segment) = self.segments.find(base) {
                let (file, path) = (segment.direct, segment.path.clone());
                let token = self.token();
                links.push(ChainLink {
                    op: Op::Fdatasync { file },
                    token,
                });
                sync_tokens.push((token, path));
            }
            base += segment_bytes;
        }
    }

    /// Put the batches of a refused chain back at the head of the queue, in order.
    fn requeue(&mut self, chain: ChainState, links: Vec<ChainLink>) {
        let mut buffers: Vec<(u64, IoBuffer)> = links
            .into_iter()
            .filter_map(|link| match link.op {
                Op::Write { buffer, .. } => Some((link.token, buffer)),
                Op::Read { .. } | Op::Fdatasync { .. } => None,
            })
            .collect();
        let mut batches = Vec::new();
        for write in chain.writes {
            let Some(at) = buffers.iter().position(|(token, _)| *token == write.token) else {
                break;
            };
            let (_, buffer) = buffers.swap_remove(at);
            batches.push(self.batch_of(&write, buffer));
        }
        for batch in batches.into_iter().rev() {
            self.pending.push_front(batch);
        }
    }

    /// The batch a write carried, rebuilt from its bookkeeping and its returned buffer.
    fn batch_of(&self, write: &WriteInFlight, buffer: IoBuffer) -> Batch {
        let segment_bytes = self.segments.segment_bytes();
        Batch {
            segment_base: write.block_start - write.block_start % segment_bytes,
            block_start: write.block_start,
            data_start: write.data_start,
            end: write.end,
            logical_end: write.logical_end,
            buffer,
        }
    }

    /// Handle one completion of the chain in flight.
    /// Whether `token` belongs to the chain in flight.
    pub(crate) fn owns(&self, token: u64) -> bool {
        self.chain.as_ref().is_some_and(|chain| {
            chain
                .writes
                .iter()
                .any(|write| write.token == token || write.head == Some(token))
                || chain.sync_tokens.iter().any(|(sync, _)| *sync == token)
        })
    }

    pub(crate) fn complete(&mut self, completion: Completion) {
        let Some(completion) = self.complete_side_op(completion) else {
            return;
        };
        if !self.owns(completion.token) {
            return;
        }
        let Some(chain) = self.chain.as_mut() else {
            return;
        };
        chain.completions_left -= 1;
        let done = chain.completions_left == 0;
        let refused = chain.refused;
        if let Some(write) = chain
            .writes
            .iter()
            .find(|w| w.head == Some(completion.token))
        {
            let path = write.path.clone();
            self.complete_head(path, &completion);
        } else if let Some(index) = chain
            .writes
            .iter()
            .position(|w| w.token == completion.token)
        {
            let write = chain.writes.remove(index);
            if refused || write.atomic && is_refusal(&completion) {
                self.retry_write(&write, completion);
            } else {
                self.complete_write(&write, completion);
            }
        } else if let Some(index) = chain
            .sync_tokens
            .iter()
            .position(|(token, _)| *token == completion.token)
        {
            let (_, path) = chain.sync_tokens.remove(index);
            match completion.result {
                Ok(_) => {
                    chain.syncs_ok += 1;
                    self.stats.fdatasyncs += 1;
                }
                Err(error) if refused && error.kind == IoErrorKind::Canceled => {}
                Err(error) => self.set_latch("fdatasync", path, error),
            }
        }
        if done {
            self.finish_chain();
        }
    }

    fn finish_chain(&mut self) {
        let mut chain = self.chain.take().expect("a chain was in flight");
        for batch in chain.retry.drain(..).rev() {
            self.pending.push_front(batch);
        }
        if self.latch.is_none() && chain.syncs_ok > 0 && chain.sync_tokens.is_empty() {
            self.durable = self.durable.max(chain.end.min(self.written));
        }
    }

    /// The atomic write of a batch's first block completed.
    fn complete_head(&mut self, path: PathBuf, completion: &Completion) {
        match completion.result {
            Ok(length) if length == ALIGNMENT => {}
            Ok(length) => {
                let error = IoError::from_errno(libc::EIO);
                self.set_latch_detail("write", path, error, Some((length, ALIGNMENT)));
            }
            Err(error) if is_refusal(completion) => self.refuse_atomic(&path, error),
            Err(error) => self.set_latch("write", path, error),
        }
    }

    /// The kernel refused RWF_ATOMIC although statx advertised it: never ask again, say so
    /// once, and rewrite the refused chain's batches as plain writes.
    fn refuse_atomic(&mut self, path: &std::path::Path, error: IoError) {
        if let Some(chain) = self.chain.as_mut() {
            chain.refused = true;
        }
        if !self.atomic_refused {
            self.atomic_refused = true;
            self.notices.push_back(format!(
                "commitlog {}: the kernel refused an RWF_ATOMIC write ({error}) although statx \
                 advertised atomic writes; tail-block rewrites continue as plain writes, so a \
                 power loss during one can tear acknowledged records in that block",
                path.display()
            ));
        }
    }

    /// A write of a chain the kernel refused RWF_ATOMIC in: its batch is written again.
    fn retry_write(&mut self, write: &WriteInFlight, completion: Completion) {
        if is_refusal(&completion) {
            self.refuse_atomic(
                &write.path.clone(),
                completion.result.err().unwrap_or(IoError::canceled()),
            );
        }
        let Some(buffer) = completion.buffer else {
            let error = IoError::from_errno(libc::EFAULT);
            return self.set_latch("write", write.path.clone(), error);
        };
        let batch = self.batch_of(write, buffer);
        if let Some(chain) = self.chain.as_mut() {
            chain.retry.push(batch);
        }
    }

    fn complete_write(&mut self, write: &WriteInFlight, completion: Completion) {
        match completion.result {
            Ok(length) if length == write.length => {}
            Ok(length) => {
                let error = IoError {
                    kind: IoErrorKind::Other,
                    errno: libc::EIO,
                };
                let path = write.path.clone();
                self.set_latch_detail("write", path, error, Some((length, write.length)));
                return;
            }
            Err(error) => {
                if error.kind != IoErrorKind::Canceled || self.latch.is_none() {
                    self.set_latch("write", write.path.clone(), error);
                }
                return;
            }
        }
        if self.latch.is_some() {
            return;
        }
        let Some(buffer) = completion.buffer else {
            let error = IoError {
                kind: IoErrorKind::Other,
                errno: libc::EFAULT,
            };
            self.set_latch("write", write.path.clone(), error);
            return;
        };
        let used = usize::try_from(write.end - write.block_start).expect("a batch fits");
        let (bytes, memory_bytes) = self.keep_written(buffer, used);
        let chunk = Chunk {
            block_start: write.block_start,
            data_start: write.data_start,
            end: write.end,
            logical_end: write.logical_end,
            bytes,
            memory_bytes,
        };
        self.written = write.logical_end;
        self.drop_written_copies();
        self.tail.push(chunk.clone());
        self.undispatched.push_back(chunk);
        self.tail.evict(super::floor_block(self.written));
    }

    /// The first `used` bytes of a written batch's buffer as a tail-cache chunk, and the memory
    /// it holds. A large batch keeps its buffer. A small one is copied into the packer, the
    /// buffer of an earlier small batch filled front to back, so that a mostly empty buffer
    /// goes back to the pool at once; when the packer is full, this buffer becomes the next.
    fn keep_written(&mut self, buffer: IoBuffer, used: usize) -> (Bytes, usize) {
        if used >= buffer.capacity() / 4 {
            let capacity = buffer.capacity();
            return (Bytes::from_owner(buffer).slice(..used), capacity);
        }
        if let Some(bytes) = self
            .packer
            .as_mut()
            .and_then(|packer| packer.pack(&buffer[..used]))
        {
            return (bytes, used);
        }
        let (packer, bytes) = Packer::adopt(buffer, used);
        self.packer = Some(packer);
        (bytes, used)
    }

    /// Latch read-only because an fdatasync outside the commitlog failed (checkpoint files).
    pub(crate) fn latch_external(
        &mut self,
        operation: &'static str,
        path: PathBuf,
        error: IoError,
    ) {
        self.set_latch(operation, path, error);
    }

    fn set_latch(&mut self, operation: &'static str, segment: PathBuf, error: IoError) {
        self.set_latch_detail(operation, segment, error, None);
    }

    fn set_latch_detail(
        &mut self,
        operation: &'static str,
        segment: PathBuf,
        error: IoError,
        short: Option<(usize, usize)>,
    ) {
        if self.latch.is_some() {
            return;
        }
        self.drop_unwritten();
        let operation = if short.is_some() {
            "write (short)"
        } else {
            operation
        };
        self.latch = Some(Latch {
            operation,
            segment,
            error,
        });
    }
}
