//! One shard's commitlog: appends into staging batches, self-clocking group commit through
//! the storage seam, a tail cache for zero-copy reads, and O_DIRECT cold reads.
//!
//! Watermarks, all local offsets inside the shard, always `durable <= written <= appended`:
//! - `appended`: where the next record goes (records up to here are encoded in memory);
//! - `written`: every batch below it has been written to its segment (O_DIRECT completed);
//! - `durable`: an fdatasync covering everything below it has completed.
//!
//! Durability contract: with [`FlushMode::Sync`] a record is reported visible (and the broker
//! acknowledges it) only once `durable` passes its end; with [`FlushMode::Async`] once
//! `written` does. A failed or short write or fdatasync latches the log read-only: the data
//! the kernel dropped cannot be trusted to be anywhere, and retrying fsync would lie.
//!
//! Worked example of one batch: `appended` is 10_000 when batch N is frozen. Batch N+1's
//! buffer starts at block 8_192 with a copy of bytes `[8_192, 10_000)`, receives records up to
//! 13_000, and is written as `[8_192, 16_384)` (the bytes past 13_000 zeroed) — rewriting the
//! partial block in full, so O_DIRECT never needs a read-modify-write.

mod group_commit;
mod prefill;
mod read;
pub(crate) mod segment_set;
pub(crate) mod tail_cache;
mod unwritten;

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use ringmq_protocol::record::{self, MessageDraft, StoreStamp};

use crate::config::{EngineConfig, FlushMode};
use crate::constants::{
    BUFFER_POOL_BYTES_MIN, COMMIT_BATCHES_PENDING_MAX, COMMIT_BATCH_BYTES_MAX,
    END_OF_SEGMENT_BLANK_BYTES_MIN, RECORD_BYTES_MAX,
};
use crate::error::{AppendError, Latch};
use crate::io::buffer::ALIGNMENT;
use crate::io::{IoBuffer, Storage, UntornWrites};
use crate::types::{PhysicalOffset, ShardId, TimestampMs};

use self::group_commit::ChainState;
pub(crate) use self::read::ReadCache;
use self::segment_set::SegmentSet;
pub(crate) use self::tail_cache::{Chunk, TailCache};

const ALIGNMENT_BYTES: u64 = ALIGNMENT as u64;

// The smallest memlock-sized pool covers what the group commit holds at once: a full chain
// in flight, the next chain filling, the newest written batch and the cold-read windows
// that may hold pool buffers.
const _: () = assert!(
    BUFFER_POOL_BYTES_MIN
        == (2 * group_commit::CHAIN_BYTES_MAX.div_ceil(COMMIT_BATCH_BYTES_MAX)
            + 1
            + read::READ_POOLED_WINDOWS_MAX)
            * COMMIT_BATCH_BYTES_MAX
);

fn floor_block(offset: u64) -> u64 {
    offset - offset % ALIGNMENT_BYTES
}

fn ceil_block(offset: u64) -> u64 {
    offset.div_ceil(ALIGNMENT_BYTES) * ALIGNMENT_BYTES
}

/// Where an appended record landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub offset: PhysicalOffset,
    pub size: u32,
    /// The record is stored once the relevant watermark reaches this offset.
    pub end: PhysicalOffset,
    pub store_timestamp: TimestampMs,
}

/// A staging buffer receiving appends, or a frozen batch waiting for its write.
#[derive(Debug)]
pub(crate) struct Batch {
    segment_base: u64,
    block_start: u64,
    data_start: u64,
    end: u64,
    logical_end: u64,
    buffer: IoBuffer,
}

impl Batch {
    fn has_data(&self) -> bool {
        self.end > self.data_start
    }

    fn write_len(&self) -> usize {
        usize::try_from(ceil_block(self.end) - self.block_start).expect("a batch fits in memory")
    }

    fn position(&self, local: u64) -> usize {
        usize::try_from(local - self.block_start).expect("a batch fits in memory")
    }
}

/// Counters for runtime info and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitlogStats {
    pub records_appended: u64,
    pub bytes_appended: u64,
    pub chains_submitted: u64,
    pub fdatasyncs: u64,
    pub busy_rejections: u64,
    /// Of those, refused because the pending-batch limit was reached (the device is behind).
    pub busy_pending_full: u64,
    /// Records larger than a pool buffer, each staged in a batch of its own.
    pub oversize_batches: u64,
    /// Windows read because a read missed both caches (a pull's read-ahead is not one).
    pub cold_reads: u64,
    /// Of those, started by a read that did not wait for them (a pull asks again).
    pub deferred_reads: u64,
    /// Windows read ahead of a sequential cold reader.
    pub read_aheads: u64,
    /// Zero writes ahead of the writer, and their bytes.
    pub prefill_writes: u64,
    pub prefill_bytes: u64,
    /// Chains cut short because a batch would have overlapped the zero write in flight.
    pub prefill_holds: u64,
}

/// The commitlog of one shard (see the module docs).
#[derive(Debug)]
pub struct Commitlog {
    shard: ShardId,
    segments: SegmentSet,
    flush_mode: FlushMode,
    flush_interval: Duration,
    flush_least_bytes: u64,
    flush_thorough_interval: Duration,
    appended: u64,
    written: u64,
    durable: u64,
    staging: Option<Batch>,
    pending: VecDeque<Batch>,
    chain: Option<ChainState>,
    next_token: u64,
    tail: TailCache,
    undispatched: VecDeque<Chunk>,
    read_cache: ReadCache,
    prefill: prefill::Prefill,
    /// Where small written batches are copied for the tail cache (see `keep_written`).
    packer: Option<crate::io::buffer::Packer>,
    latch: Option<Latch>,
    /// Completions of other components that arrived during a blocking cold read.
    foreign: Vec<crate::io::Completion>,
    last_flush: Duration,
    /// A flush was asked for (clean close) regardless of the ASYNC_FLUSH timer.
    flush_requested: bool,
    /// The kernel refused an RWF_ATOMIC write although statx advertised support: tail-block
    /// rewrites go out as plain writes from then on.
    atomic_refused: bool,
    /// Lines for the operator's log, oldest first, taken by [`Commitlog::take_notice`]. Each
    /// kind of event adds at most one per run, so the queue stays short.
    notices: VecDeque<String>,
    /// Copies of appended records for shipping before they are written (`unwritten.rs`).
    unwritten: unwritten::Unwritten,
    stats: CommitlogStats,
}

impl Commitlog {
    /// Open the segments of `shard` without recovering; recovery sets the watermarks.
    pub(crate) fn open(
        storage: &mut dyn Storage,
        config: &EngineConfig,
        shard: ShardId,
    ) -> io::Result<Self> {
        let segments = SegmentSet::open(
            storage,
            &config.paths.commitlog,
            shard,
            config.segment_bytes,
        )?;
        Ok(Self {
            shard,
            segments,
            flush_mode: config.flush_mode,
            flush_interval: config.flush_interval,
            flush_least_bytes: config.flush_least_pages * ALIGNMENT_BYTES,
            flush_thorough_interval: config.flush_thorough_interval,
            appended: 0,
            written: 0,
            durable: 0,
            staging: None,
            pending: VecDeque::new(),
            chain: None,
            next_token: 1,
            tail: TailCache::new(config.tail_cache_bytes),
            undispatched: VecDeque::new(),
            read_cache: ReadCache::default(),
            prefill: prefill::Prefill::new(config.zero_fill_ahead_bytes),
            packer: None,
            latch: None,
            foreign: Vec::new(),
            last_flush: Duration::ZERO,
            flush_requested: false,
            atomic_refused: false,
            notices: VecDeque::new(),
            unwritten: unwritten::Unwritten::default(),
            stats: CommitlogStats::default(),
        })
    }

    pub(crate) fn segments(&self) -> &SegmentSet {
        &self.segments
    }

    pub(crate) fn segments_mut(&mut self) -> &mut SegmentSet {
        &mut self.segments
    }

    pub fn shard(&self) -> ShardId {
        self.shard
    }

    pub fn appended(&self) -> PhysicalOffset {
        PhysicalOffset::new(self.shard, self.appended)
    }

    pub fn written(&self) -> PhysicalOffset {
        PhysicalOffset::new(self.shard, self.written)
    }

    pub fn durable(&self) -> PhysicalOffset {
        PhysicalOffset::new(self.shard, self.durable)
    }

    /// Records below this are readable and acknowledged (see the durability contract).
    pub fn visible(&self) -> PhysicalOffset {
        PhysicalOffset::new(self.shard, self.visible_local())
    }

    fn visible_local(&self) -> u64 {
        match self.flush_mode {
            FlushMode::Sync => self.durable,
            FlushMode::Async => self.written,
        }
    }

    pub fn flush_mode(&self) -> FlushMode {
        self.flush_mode
    }

    pub fn latch(&self) -> Option<&Latch> {
        self.latch.as_ref()
    }

    pub fn stats(&self) -> CommitlogStats {
        self.stats
    }

    /// Oldest physical offset still on disk.
    pub fn min_offset(&self) -> PhysicalOffset {
        let base = self
            .segments
            .first()
            .map_or(self.appended, |segment| segment.base);
        PhysicalOffset::new(self.shard, base.min(self.appended))
    }

    /// How the rewrite of the partial tail block is protected against a torn write, for the
    /// start-up log: what the active segment's probe found, unless the kernel refused it.
    pub fn tail_protection(&self) -> String {
        let probed = self
            .segments
            .find(self.appended)
            .or_else(|| self.segments.last())
            .map(|segment| segment.untorn);
        match probed {
            Some(UntornWrites::Atomic { .. }) if self.atomic_refused => {
                "none (RWF_ATOMIC was advertised but refused)".to_owned()
            }
            Some(untorn) => untorn.to_string(),
            None => "unknown (no segment yet)".to_owned(),
        }
    }

    /// The oldest line for the operator's log not yet taken (each event once), such as a
    /// refused RWF_ATOMIC write; call until `None`.
    pub fn take_notice(&mut self) -> Option<String> {
        self.notices.pop_front()
    }

    pub fn tail_cache_bytes(&self) -> usize {
        self.tail.memory_bytes()
    }

    /// Set the watermarks after recovery found the log valid up to `end`; `partial` holds
    /// the bytes `[floor_block(end), end)` read back from disk.
    pub(crate) fn resume_at(
        &mut self,
        storage: &mut dyn Storage,
        end: u64,
        partial: &[u8],
    ) -> Result<(), AppendError> {
        self.drop_unwritten();
        self.appended = end;
        self.written = end;
        self.durable = end;
        self.restart_prefill();
        let segment_base = end - end % self.segments.segment_bytes();
        if self.segments.find(end).is_none() {
            self.segments
                .roll_to(storage, segment_base)
                .map_err(|error| AppendError::SegmentCreation(error.to_string()))?;
        }
        let mut staging = self.new_staging(storage, end)?;
        let length = usize::try_from(end - staging.block_start).expect("under one block");
        assert_eq!(
            partial.len(),
            length,
            "the partial block must be exactly the recovered tail"
        );
        staging.buffer[..length].copy_from_slice(partial);
        self.staging = Some(staging);
        Ok(())
    }

    /// Encode `draft` at the end of the log. Nothing is stored when this fails.
    pub fn append(
        &mut self,
        storage: &mut dyn Storage,
        draft: &MessageDraft<'_>,
        queue_offset: u64,
        store_timestamp: TimestampMs,
    ) -> Result<Appended, AppendError> {
        if let Some(latch) = &self.latch {
            return Err(AppendError::ReadOnly(latch.clone()));
        }
        let length = draft
            .encoded_len()
            .map_err(|error| AppendError::Malformed(error.to_string()))?;
        let segment_bytes = usize::try_from(self.segments.segment_bytes()).unwrap_or(usize::MAX);
        let max = RECORD_BYTES_MAX.min(segment_bytes.saturating_sub(8));
        if length > max {
            return Err(AppendError::TooLarge { bytes: length, max });
        }
        let length_bytes = u64::try_from(length).expect("bounded by RECORD_BYTES_MAX");
        let segment_end = self.segment_end(self.appended);
        if self.appended + length_bytes + END_OF_SEGMENT_BLANK_BYTES_MIN > segment_end {
            self.end_segment(storage, segment_end)?;
        }
        self.ensure_room(storage, length_bytes)?;
        let offset = PhysicalOffset::new(self.shard, self.appended);
        let stamp = StoreStamp {
            queue_offset: i64::try_from(queue_offset).unwrap_or(i64::MAX),
            physical_offset: offset.as_i64(),
            store_timestamp: store_timestamp.as_i64(),
        };
        let staging = self
            .staging
            .as_mut()
            .expect("ensure_room leaves a staging batch");
        let from = staging.position(self.appended);
        draft
            .encode(stamp, &mut staging.buffer[from..from + length])
            .map_err(|error| AppendError::Malformed(error.to_string()))?;
        self.appended += length_bytes;
        staging.end = self.appended;
        staging.logical_end = self.appended;
        self.stats.records_appended += 1;
        self.stats.bytes_appended += length_bytes;
        Ok(Appended {
            offset,
            size: u32::try_from(length).expect("bounded by RECORD_BYTES_MAX"),
            end: PhysicalOffset::new(self.shard, self.appended),
            store_timestamp,
        })
    }

    /// Copy one record received from a master to the end of the log, byte for byte (a
    /// slave's append). The caller checked that the record is whole and claims this offset.
    pub(crate) fn append_raw(
        &mut self,
        storage: &mut dyn Storage,
        record: &[u8],
    ) -> Result<(), AppendError> {
        if let Some(latch) = &self.latch {
            return Err(AppendError::ReadOnly(latch.clone()));
        }
        let length = u64::try_from(record.len()).unwrap_or(u64::MAX);
        let segment_end = self.segment_end(self.appended);
        if self.appended + length + END_OF_SEGMENT_BLANK_BYTES_MIN > segment_end {
            return Err(AppendError::Malformed(format!(
                "a replicated record of {length} bytes at local offset {} crosses this store's \
                 segment end {segment_end}: master and slave must use the same \
                 mappedFileSizeCommitLog",
                self.appended
            )));
        }
        self.ensure_room(storage, length)?;
        let staging = self
            .staging
            .as_mut()
            .expect("ensure_room leaves a staging batch");
        let from = staging.position(self.appended);
        staging.buffer[from..from + record.len()].copy_from_slice(record);
        self.appended += length;
        staging.end = self.appended;
        staging.logical_end = self.appended;
        self.stats.records_appended += 1;
        self.stats.bytes_appended += length;
        Ok(())
    }

    /// A BLANK received from a master: end the segment where the master ended it.
    pub(crate) fn append_raw_blank(
        &mut self,
        storage: &mut dyn Storage,
        blank_bytes: u64,
    ) -> Result<(), AppendError> {
        if let Some(latch) = &self.latch {
            return Err(AppendError::ReadOnly(latch.clone()));
        }
        let segment_end = self.segment_end(self.appended);
        if self.appended + blank_bytes != segment_end {
            return Err(AppendError::Malformed(format!(
                "the master ends a segment at {} but this store's segment ends at \
                 {segment_end}: master and slave must use the same mappedFileSizeCommitLog",
                self.appended + blank_bytes
            )));
        }
        self.end_segment(storage, segment_end)
    }

    /// Place the end of a log that never received a record at `local`, a segment base, so a
    /// slave that joins late continues where the master's oldest segment starts.
    pub(crate) fn start_empty_at(
        &mut self,
        storage: &mut dyn Storage,
        local: u64,
    ) -> Result<(), AppendError> {
        let empty = self.appended == 0
            && self.pending.is_empty()
            && self.chain.is_none()
            && self
                .staging
                .as_ref()
                .is_none_or(|staging| !staging.has_data());
        if !empty || local % self.segments.segment_bytes() != 0 {
            return Err(AppendError::Malformed(format!(
                "cannot start the log at {local}: it is not empty or that is not a segment base"
            )));
        }
        if let Some(staging) = self.staging.take() {
            storage.recycle(staging.buffer);
        }
        self.settle_read_ahead(storage);
        self.settle_prefill(storage);
        self.segments
            .remove_from(storage, 0)
            .map_err(|error| AppendError::SegmentCreation(error.to_string()))?;
        self.resume_at(storage, local, &[])
    }

    /// Drop every in-memory view of the log so it can be cut back (a slave truncating to
    /// its master's end). Refused while anything is being written.
    pub(crate) fn quiesce_for_truncate(
        &mut self,
        storage: &mut dyn Storage,
    ) -> Result<(), AppendError> {
        if let Some(latch) = &self.latch {
            return Err(AppendError::ReadOnly(latch.clone()));
        }
        let idle = self.chain.is_none()
            && self.pending.is_empty()
            && self.undispatched.is_empty()
            && self
                .staging
                .as_ref()
                .is_none_or(|staging| !staging.has_data());
        if !idle {
            return Err(AppendError::Busy);
        }
        if let Some(staging) = self.staging.take() {
            storage.recycle(staging.buffer);
        }
        self.settle_read_ahead(storage);
        self.settle_prefill(storage);
        self.tail.clear();
        self.read_cache.clear();
        self.drop_unwritten();
        Ok(())
    }

    fn segment_end(&self, local: u64) -> u64 {
        let segment_bytes = self.segments.segment_bytes();
        local - local % segment_bytes + segment_bytes
    }

    /// Write the BLANK filler at the end of the current segment and continue in the next.
    fn end_segment(
        &mut self,
        storage: &mut dyn Storage,
        segment_end: u64,
    ) -> Result<(), AppendError> {
        self.ensure_room(storage, END_OF_SEGMENT_BLANK_BYTES_MIN)?;
        let staging = self
            .staging
            .as_mut()
            .expect("ensure_room leaves a staging batch");
        let from = staging.position(self.appended);
        let blank_size = usize::try_from(segment_end - self.appended).expect("under a segment");
        record::encode_blank(blank_size, &mut staging.buffer[from..from + 8]);
        staging.end = self.appended + END_OF_SEGMENT_BLANK_BYTES_MIN;
        staging.logical_end = segment_end;
        let finished = self.staging.take().expect("checked above");
        self.pending.push_back(finished);
        self.appended = segment_end;
        self.segments
            .roll_to(storage, segment_end)
            .map_err(|error| AppendError::SegmentCreation(error.to_string()))?;
        Ok(())
    }

    /// Make sure the staging batch can take `length` more bytes, freezing it if not.
    fn ensure_room(&mut self, storage: &mut dyn Storage, length: u64) -> Result<(), AppendError> {
        if self.segments.is_empty() {
            self.segments
                .roll_to(
                    storage,
                    self.appended - self.appended % self.segments.segment_bytes(),
                )
                .map_err(|error| AppendError::SegmentCreation(error.to_string()))?;
        }
        if let Some(staging) = &self.staging {
            let capacity = u64::try_from(staging.buffer.capacity()).expect("buffers are small");
            if self.appended + length <= staging.block_start + capacity {
                return Ok(());
            }
        }
        if self.pending.len() >= COMMIT_BATCHES_PENDING_MAX {
            self.stats.busy_rejections += 1;
            self.stats.busy_pending_full += 1;
            return Err(AppendError::Busy);
        }
        // From the start of the partial block the new batch begins with.
        let needed =
            usize::try_from(self.appended - floor_block(self.appended) + length).map_err(|_| {
                AppendError::TooLarge {
                    bytes: usize::MAX,
                    max: RECORD_BYTES_MAX,
                }
            })?;
        let next = if needed > COMMIT_BATCH_BYTES_MAX {
            // A record larger than a pool buffer (messages of 1 to 4 MiB) gets a batch of its
            // own, with a buffer of its size that is freed once written and cached.
            self.stats.oversize_batches += 1;
            self.staging_batch(self.appended, IoBuffer::unpooled(needed))
        } else {
            self.new_staging(storage, self.appended)?
        };
        if let Some(mut full) = self.staging.replace(next) {
            self.copy_partial_block(&mut full);
            self.pending.push_back(full);
        }
        Ok(())
    }

    /// The new staging batch starts with the old one's partial last block.
    fn copy_partial_block(&mut self, frozen: &mut Batch) {
        let staging = self
            .staging
            .as_mut()
            .expect("a new staging batch was just made");
        if staging.block_start >= frozen.end || staging.segment_base != frozen.segment_base {
            return;
        }
        let from = frozen.position(staging.block_start);
        let to = frozen.position(frozen.end);
        staging.buffer[..to - from].copy_from_slice(&frozen.buffer[from..to]);
    }

    fn new_staging(&mut self, storage: &mut dyn Storage, at: u64) -> Result<Batch, AppendError> {
        let Some(buffer) = self.take_buffer(storage) else {
            self.stats.busy_rejections += 1;
            return Err(AppendError::Busy);
        };
        Ok(self.staging_batch(at, buffer))
    }

    fn staging_batch(&self, at: u64, buffer: IoBuffer) -> Batch {
        let segment_bytes = self.segments.segment_bytes();
        Batch {
            segment_base: at - at % segment_bytes,
            block_start: floor_block(at),
            data_start: at,
            end: at,
            logical_end: at,
            buffer,
        }
    }

    /// A pool buffer for a new batch. When the pool is dry, cached chunks give theirs back
    /// (oldest first, never one the next commit may rewrite) and the packer lets go of its
    /// buffer before the append is refused, so a tail cache as large as the pool can never
    /// wedge appends.
    fn take_buffer(&mut self, storage: &mut dyn Storage) -> Option<IoBuffer> {
        loop {
            if let Some(buffer) = storage.buffer() {
                return Some(buffer);
            }
            if self.tail.evict_oldest(floor_block(self.written)) {
                continue;
            }
            // The packer's buffer goes back too once the chunks packed into it are evicted.
            self.packer.take()?;
        }
    }

    /// Ensure the segment after the active one exists, off the append path.
    pub(crate) fn preallocate(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        self.segments.preallocate_next(storage)
    }

    /// Written chunks that became visible and still need dispatching, oldest first.
    pub(crate) fn take_visible_chunks(&mut self, into: &mut Vec<Chunk>) {
        let visible = self.visible_local();
        while self
            .undispatched
            .front()
            .is_some_and(|chunk| chunk.logical_end <= visible)
        {
            into.push(self.undispatched.pop_front().expect("front was checked"));
        }
    }

    /// Make the next chain end with an fdatasync even under ASYNC_FLUSH.
    pub(crate) fn request_flush(&mut self) {
        self.flush_requested = true;
    }

    /// Completions that arrived during a cold read but belong to someone else.
    pub(crate) fn take_foreign(&mut self, into: &mut Vec<crate::io::Completion>) {
        into.append(&mut self.foreign);
    }

    /// Close handles after a clean flush.
    pub(crate) fn close(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        self.stop_prefill();
        self.settle_read_ahead(storage);
        self.settle_prefill(storage);
        self.segments.close(storage)
    }
}
