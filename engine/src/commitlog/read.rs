//! Reading records back: from the tail cache without copying, or cold from disk with an
//! O_DIRECT read of an aligned window that a small cache keeps for sequential readers.
//!
//! Cold reads go through O_DIRECT rather than the page cache: the partially filled last
//! block is rewritten by every commit, and a buffered read of it could race the rewrite.
//!
//! A reader that moves into the second half of a cached window starts an asynchronous read
//! of the window after it (one in flight per shard), so a sequential backlog drain finds its
//! next window in memory, or already on its way, instead of stalling the shard on every
//! window. The next window overlaps the current one by [`READ_OVERLAP_BYTES`], so a record
//! up to that size that straddles two windows is whole in the second and does not need a
//! window read of its own.
//!
//! The consumers of a topic's queues read one stretch of the log, each at its own place, so
//! the cache keeps [`READ_CACHE_WINDOWS_MAX`] windows; only [`READ_POOLED_WINDOWS_MAX`] of
//! them may hold the storage's pool buffers, which the group commit needs, and the others
//! read into a pool of the log's own, allocated on the first cold read.
//!
//! [`Commitlog::read`] waits for a cold window. Pulls use [`Commitlog::read_deferred`]
//! instead: a miss starts the window's read in that same slot and the pull asks again when
//! [`Commitlog::take_read_settled`] says a read finished, so the shard goes on serving sends
//! meanwhile.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use crate::error::ReadError;
use crate::io::buffer::BufferPool;
use crate::io::{token_tag, ChainLink, Completion, FileHandle, IoBuffer, Op, Storage};
use crate::types::PhysicalOffset;

use super::{ceil_block, floor_block, Commitlog};

/// Windows kept for sequential cold readers. With 4, the consumers of one topic's queues
/// evicted each other's windows (with the straddling records' second reads, a one-shard
/// drain read its log 5.6 times over).
const READ_CACHE_WINDOWS_MAX: usize = 16;
/// Windows (and the read in flight) that may hold a buffer of the storage's pool at once;
/// the smallest pool is sized for them.
pub(super) const READ_POOLED_WINDOWS_MAX: usize = 4;
/// Buffers of the log's own read pool: the other cached windows and the read in flight.
const READ_POOL_BUFFERS: usize = READ_CACHE_WINDOWS_MAX + 1 - READ_POOLED_WINDOWS_MAX;
/// How much a read-ahead window overlaps the window before it. A record that straddles
/// their seam was whole in neither window without it, and its pull read a window of its own
/// (a drain read its log twice). Finding the seam exactly by walking record sizes cost
/// 8 % of a draining shard's time in cache misses; the overlap costs 6 % more disk reads.
const READ_OVERLAP_BYTES: u64 = 64 << 10;
/// Bytes of one cold-read window (at most one pool buffer).
const READ_WINDOW_BYTES: usize = 1 << 20;
const READ_WINDOW_BYTES_MAX: u64 = READ_WINDOW_BYTES as u64;
/// Polls of one second each before a cold read is declared stuck.
const READ_POLLS_MAX: u32 = 30;

#[derive(Debug)]
struct Window {
    start: u64,
    valid_end: u64,
    bytes: Bytes,
    /// Whether the buffer is the storage's (counted against [`READ_POOLED_WINDOWS_MAX`]).
    pooled: bool,
}

/// A window read in flight: the read-ahead, a pull's fetch or a waiting read.
#[derive(Debug)]
struct WindowRead {
    token: u64,
    start: u64,
    length: u64,
    /// The written mark when it was submitted: bytes past it may not be on disk yet.
    valid_end: u64,
    /// Whether the buffer is the storage's.
    pooled: bool,
}

/// Most recently read cold windows, newest last, and the read-ahead in flight.
#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    windows: VecDeque<Window>,
    /// Buffers for windows beyond the storage pool's share; `None` until the first need.
    pool: Option<BufferPool>,
    ahead: Option<WindowRead>,
    /// A window read finished (or was given up) since [`Commitlog::take_read_settled`].
    settled: bool,
    /// The start of the last window whose read failed, and why: the next fetch of that
    /// window reports it instead of trying again, once.
    failed: Option<(u64, ReadError)>,
}

impl ReadCache {
    fn lookup(&self, local: u64, size: usize) -> Option<Bytes> {
        let end = local + u64::try_from(size).ok()?;
        let window = self
            .windows
            .iter()
            .rev()
            .find(|w| w.start <= local && end <= w.valid_end)?;
        let from = usize::try_from(local - window.start).ok()?;
        Some(window.bytes.slice(from..from + size))
    }

    /// The bytes from `local` to the end of the valid part of a cached window, at most `max`.
    fn span(&self, local: u64, max: usize) -> Option<Bytes> {
        let window = self
            .windows
            .iter()
            .rev()
            .find(|w| w.start <= local && local < w.valid_end)?;
        let from = usize::try_from(local - window.start).ok()?;
        let available = usize::try_from(window.valid_end - local).ok()?;
        Some(window.bytes.slice(from..from + available.min(max)))
    }

    /// Forget every window. A read-ahead still in flight is forgotten too: its completion
    /// is then dropped (callers settle it first when its file is about to go).
    pub(crate) fn clear(&mut self) {
        self.windows.clear();
        self.failed = None;
        // Whoever waits for the forgotten read asks again (and reads afresh).
        self.settled |= self.ahead.take().is_some();
    }

    /// The start and end of the window holding `local`, if `local` lies in its second half.
    fn second_half_of(&self, local: u64) -> Option<(u64, u64)> {
        let window = self
            .windows
            .iter()
            .rev()
            .find(|w| w.start <= local && local < w.valid_end)?;
        let length = u64::try_from(window.bytes.len()).ok()?;
        (local - window.start >= length / 2).then_some((window.start, window.start + length))
    }

    /// A buffer of at least `size` bytes from the log's own read pool, if one is free.
    fn own_buffer(&mut self, size: usize) -> Option<IoBuffer> {
        if size > READ_WINDOW_BYTES {
            return None;
        }
        if self.pool.is_none() {
            self.pool = BufferPool::new(READ_WINDOW_BYTES, READ_POOL_BUFFERS);
        }
        self.pool.as_mut()?.take()
    }

    /// Whether a cached window holds `from` and reaches past `end`.
    fn holds_past(&self, from: u64, end: u64) -> bool {
        self.windows
            .iter()
            .any(|w| w.start <= from && from < w.valid_end && w.valid_end > end)
    }

    /// Windows and reads in flight that hold pool buffers.
    fn pooled(&self) -> usize {
        let ahead = usize::from(self.ahead.as_ref().is_some_and(|ahead| ahead.pooled));
        self.windows.iter().filter(|w| w.pooled).count() + ahead
    }

    fn insert(&mut self, window: Window) {
        if self.windows.len() == READ_CACHE_WINDOWS_MAX {
            self.windows.pop_front();
        }
        self.windows.push_back(window);
    }
}

impl Commitlog {
    /// The `size` bytes at `offset`, which must be visible.
    pub fn read(
        &mut self,
        storage: &mut dyn Storage,
        offset: PhysicalOffset,
        size: usize,
    ) -> Result<Bytes, ReadError> {
        match self.read_cached(storage, offset, size)? {
            Some(bytes) => Ok(bytes),
            None => self.read_cold(storage, offset.local(), size),
        }
    }

    /// [`Self::read`] without waiting for the disk: `None` when the bytes are neither in the
    /// tail cache nor in a cached window. Their window's read is then started (unless a
    /// window read is in flight already: one per shard, whose completion is the cue to ask
    /// again); ask again once [`Self::take_read_settled`] says a read finished.
    ///
    /// # Errors
    /// As [`Self::read`]; also the failure of the last read of this window (reported once)
    /// or a read the backend refused.
    pub fn read_deferred(
        &mut self,
        storage: &mut dyn Storage,
        offset: PhysicalOffset,
        size: usize,
    ) -> Result<Option<Bytes>, ReadError> {
        let bytes = self.read_cached(storage, offset, size)?;
        if bytes.is_none() {
            self.fetch(storage, offset.local(), size)?;
        }
        Ok(bytes)
    }

    /// The bytes [`Self::read`] returns if the tail cache or a cached window holds them.
    fn read_cached(
        &mut self,
        storage: &mut dyn Storage,
        offset: PhysicalOffset,
        size: usize,
    ) -> Result<Option<Bytes>, ReadError> {
        if offset.shard() != self.shard {
            return Err(ReadError::WrongShard);
        }
        let local = offset.local();
        let end = local.checked_add(u64::try_from(size).map_err(|_| ReadError::NotFound)?);
        if end.is_none_or(|end| end > self.visible_local()) || local < self.min_offset().local() {
            return Err(ReadError::NotFound);
        }
        if let Some(bytes) = self.tail.lookup(local, size) {
            return Ok(Some(bytes));
        }
        if let Some(bytes) = self.read_cache.lookup(local, size) {
            self.read_ahead(storage, local);
            return Ok(Some(bytes));
        }
        Ok(None)
    }

    /// Start reading the window that holds `[local, local + size)`, unless a window read is
    /// in flight already (its completion is the caller's cue to ask again, and the next ask
    /// starts this one if it is still missing). Errors: the last read of this window failed
    /// (reported once), the backend refused the read, or no segment holds the offset.
    fn fetch(
        &mut self,
        storage: &mut dyn Storage,
        local: u64,
        size: usize,
    ) -> Result<(), ReadError> {
        let size = u64::try_from(size).map_err(|_| ReadError::NotFound)?;
        let (file, base, start, length) = self
            .window_for(local, local + size)
            .ok_or(ReadError::NotFound)?;
        if let Some((_, error)) = self.read_cache.failed.take_if(|(at, _)| *at == start) {
            return Err(error);
        }
        if self.read_cache.ahead.is_some() {
            return Ok(());
        }
        let read = self.submit_read(storage, file, base, start, length)?;
        self.stats.cold_reads += 1;
        self.stats.deferred_reads += 1;
        self.read_cache.ahead = Some(read);
        Ok(())
    }

    /// Whether a window read finished, failed or was given up since the last call.
    pub fn take_read_settled(&mut self) -> bool {
        std::mem::take(&mut self.read_cache.settled)
    }

    /// Where a cold read of `[local, end)` goes: the segment's file and base, and the
    /// block-aligned window (at least [`READ_WINDOW_BYTES_MAX`], and the whole record when
    /// it is larger, up to `RECORD_BYTES_MAX`) within the segment.
    fn window_for(&self, local: u64, end: u64) -> Option<(FileHandle, u64, u64, u64)> {
        let segment = self.segments.find(local)?;
        let (file, base) = (segment.direct, segment.base);
        let start = floor_block(local);
        let segment_end = base + self.segments.segment_bytes();
        let length = READ_WINDOW_BYTES_MAX
            .max(ceil_block(end) - start)
            .min(segment_end - start);
        Some((file, base, start, length))
    }

    /// Written bytes from local offset `local` for a replica: at most `max` and at least
    /// `at_least` of them (fewer only where the written log ends), from the tail cache
    /// without copying or from an O_DIRECT window. Unlike [`Self::read`] this may reach past
    /// the durable offset under SYNC_FLUSH: a slave may receive what the master has written
    /// but not yet synced.
    pub(crate) fn read_span(
        &mut self,
        storage: &mut dyn Storage,
        local: u64,
        at_least: usize,
        max: usize,
    ) -> Result<Bytes, ReadError> {
        let (bytes, wanted) = self.span_in_memory(storage, local, at_least, max)?;
        if let Some(bytes) = bytes {
            return Ok(bytes);
        }
        self.read_cold(storage, local, wanted.max(1))?;
        self.read_cache
            .span(local, max)
            .filter(|bytes| bytes.len() >= wanted)
            .ok_or(ReadError::NotFound)
    }

    /// [`Self::read_span`] without waiting for the disk: `None` when the bytes are in
    /// neither cache; the read of their window is then started (as by
    /// [`Self::read_deferred`]), and asking again once it completed finds them.
    pub(crate) fn read_span_deferred(
        &mut self,
        storage: &mut dyn Storage,
        local: u64,
        at_least: usize,
        max: usize,
    ) -> Result<Option<Bytes>, ReadError> {
        let (bytes, wanted) = self.span_in_memory(storage, local, at_least, max)?;
        if bytes.is_none() {
            self.fetch(storage, local, wanted.max(1))?;
        }
        Ok(bytes)
    }

    /// The span [`Self::read_span`] returns if the tail cache or a cached window holds it,
    /// and how many bytes it must have at least.
    fn span_in_memory(
        &mut self,
        storage: &mut dyn Storage,
        local: u64,
        at_least: usize,
        max: usize,
    ) -> Result<(Option<Bytes>, usize), ReadError> {
        if local >= self.written || local < self.min_offset().local() {
            return Err(ReadError::NotFound);
        }
        let wanted = usize::try_from(self.written - local)
            .unwrap_or(usize::MAX)
            .min(at_least);
        let enough = |bytes: &Bytes| bytes.len() >= wanted;
        if let Some(bytes) = self.tail.span(local, max).filter(enough) {
            return Ok((Some(bytes), wanted));
        }
        let bytes = self.read_cache.span(local, max).filter(enough);
        if bytes.is_some() {
            // A catching-up slave reads in order: have the next window on its way.
            self.read_ahead(storage, local);
        }
        Ok((bytes, wanted))
    }

    /// Whether `[offset, offset + size)` is held by the tail cache.
    pub(crate) fn in_tail_cache(&self, offset: PhysicalOffset, size: usize) -> bool {
        offset.shard() == self.shard && self.tail.lookup(offset.local(), size).is_some()
    }

    /// Read the window holding `[local, local + size)` and wait for it.
    fn read_cold(
        &mut self,
        storage: &mut dyn Storage,
        local: u64,
        size: usize,
    ) -> Result<Bytes, ReadError> {
        let end = local + u64::try_from(size).map_err(|_| ReadError::NotFound)?;
        let ahead = self
            .read_cache
            .ahead
            .take_if(|ahead| ahead.start <= local && end <= ahead.valid_end);
        let window = if let Some(ahead) = ahead {
            // Readers parked on this read find its window now.
            self.read_cache.settled = true;
            let buffer = self.wait_read(storage, ahead.token, ahead.length)?;
            window_of(&ahead, buffer)?
        } else {
            let (file, base, start, length) =
                self.window_for(local, end).ok_or(ReadError::NotFound)?;
            let read = self.submit_read(storage, file, base, start, length)?;
            let buffer = self.wait_read(storage, read.token, length)?;
            self.stats.cold_reads += 1;
            window_of(&read, buffer)?
        };
        self.read_cache.insert(window);
        let bytes = self
            .read_cache
            .lookup(local, size)
            .ok_or(ReadError::NotFound)?;
        self.read_ahead(storage, local);
        Ok(bytes)
    }

    /// Start reading the window after the one holding `local` when a reader has reached its
    /// second half, unless that window is cached, in flight, unwritten or in the tail cache.
    /// Best effort: a refused submission simply means no read-ahead.
    fn read_ahead(&mut self, storage: &mut dyn Storage, local: u64) {
        if self.read_cache.ahead.is_some() {
            return;
        }
        let Some((current_start, current_end)) = self.read_cache.second_half_of(local) else {
            return;
        };
        let segment_bytes = self.segments.segment_bytes();
        // No record crosses a segment's end (a blank fills it), so no overlap is needed there.
        let next = if current_end % segment_bytes == 0 {
            current_end
        } else {
            floor_block(current_end.saturating_sub(READ_OVERLAP_BYTES)).max(current_start + 1)
        };
        if next >= self.written
            || self.read_cache.holds_past(next, current_end)
            || self.tail.lookup(next, 1).is_some()
        {
            return;
        }
        let Some(segment) = self.segments.find(next) else {
            return;
        };
        let (file, base) = (segment.direct, segment.base);
        let start = floor_block(next);
        let length = READ_WINDOW_BYTES_MAX.min(base + segment_bytes - start);
        if let Ok(read) = self.submit_read(storage, file, base, start, length) {
            self.stats.read_aheads += 1;
            self.read_cache.ahead = Some(read);
        }
    }

    /// Take a completion of the read-ahead in flight into the cache; any other completion is
    /// handed back.
    pub(crate) fn complete_read_ahead(&mut self, completion: Completion) -> Option<Completion> {
        let ours = self
            .read_cache
            .ahead
            .take_if(|ahead| ahead.token == completion.token);
        let Some(ahead) = ours else {
            // Any other read completing here is a read-ahead forgotten by `clear`: drop it.
            let foreign = completion.token & token_tag::READ == 0;
            self.read_cache.settled |= !foreign;
            return foreign.then_some(completion);
        };
        self.read_cache.settled = true;
        match read_result(completion, ahead.length).and_then(|buffer| window_of(&ahead, buffer)) {
            Ok(window) => self.read_cache.insert(window),
            Err(error) => self.read_cache.failed = Some((ahead.start, error)),
        }
        None
    }

    /// Wait for the read-ahead in flight, if any (before its file is closed or removed).
    pub(crate) fn settle_read_ahead(&mut self, storage: &mut dyn Storage) {
        if let Some(ahead) = self.read_cache.ahead.take() {
            self.read_cache.settled = true;
            if let Ok(buffer) = self.wait_read(storage, ahead.token, ahead.length) {
                if let Ok(window) = window_of(&ahead, buffer) {
                    self.read_cache.insert(window);
                }
            }
        }
    }

    /// Submit an O_DIRECT read of the window of `length` bytes at local offset `start` (in
    /// the segment `file` based at `base`) into a buffer of the storage's pool while the
    /// cache holds fewer than [`READ_POOLED_WINDOWS_MAX`] of them, else of the log's read
    /// pool, else an unpooled one.
    fn submit_read(
        &mut self,
        storage: &mut dyn Storage,
        file: FileHandle,
        base: u64,
        start: u64,
        length: u64,
    ) -> Result<WindowRead, ReadError> {
        let size = usize::try_from(length).map_err(|_| ReadError::NotFound)?;
        let shared = if self.read_cache.pooled() < READ_POOLED_WINDOWS_MAX {
            storage.buffer().filter(|buffer| buffer.capacity() >= size)
        } else {
            None
        };
        let pooled = shared.is_some();
        let buffer = match shared {
            Some(buffer) => buffer,
            None => self
                .read_cache
                .own_buffer(size)
                .unwrap_or_else(|| IoBuffer::unpooled(size)),
        };
        self.next_token += 1;
        let token = token_tag::READ | self.next_token;
        let op = Op::Read {
            file,
            offset: start - base,
            buffer,
            range: 0..size,
        };
        storage
            .submit(vec![ChainLink { op, token }])
            .map_err(|_| ReadError::Io(std::io::Error::other("the I/O backend refused a read")))?;
        Ok(WindowRead {
            token,
            start,
            length,
            // Only bytes written before the read was issued are known to be on disk.
            valid_end: (start + length).min(self.written),
            pooled,
        })
    }

    /// Handle a completion that arrived while waiting for one of this log's own operations:
    /// the commit chain's, the read-ahead's and the zero write's are taken here, anything
    /// else is kept for the shard.
    pub(super) fn route_while_waiting(&mut self, completion: Completion) {
        if self.owns(completion.token) {
            self.complete(completion);
        } else if let Some(other) = self.complete_side_op(completion) {
            self.foreign.push(other);
        }
    }

    /// Take the completion of the read-ahead or the zero write in flight (the operations
    /// this log runs beside its commit chain); any other completion is handed back.
    pub(super) fn complete_side_op(&mut self, completion: Completion) -> Option<Completion> {
        self.complete_read_ahead(completion)
            .and_then(|completion| self.complete_prefill(completion))
    }

    /// Wait for the read with `token`, completing the commit chain's completions (and the
    /// read-ahead's) that arrive meanwhile.
    fn wait_read(
        &mut self,
        storage: &mut dyn Storage,
        token: u64,
        length: u64,
    ) -> Result<IoBuffer, ReadError> {
        let mut completions: Vec<Completion> = Vec::new();
        for _ in 0..READ_POLLS_MAX {
            storage
                .poll(&mut completions, Some(Duration::from_secs(1)))
                .map_err(ReadError::Io)?;
            let mut ours = None;
            for completion in completions.drain(..) {
                if completion.token == token {
                    ours = Some(completion);
                } else {
                    self.route_while_waiting(completion);
                }
            }
            if let Some(completion) = ours {
                return read_result(completion, length);
            }
        }
        Err(ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "a cold read did not complete within 30 s",
        )))
    }
}

/// The buffer of a finished read of `length` bytes, or why it failed.
fn read_result(completion: Completion, length: u64) -> Result<IoBuffer, ReadError> {
    match completion.result {
        Ok(read) if u64::try_from(read).unwrap_or(0) >= length => completion
            .buffer
            .ok_or(ReadError::Corrupt("read lost its buffer".into())),
        Ok(read) => Err(ReadError::Corrupt(format!(
            "short read of {read} bytes where {length} were expected"
        ))),
        Err(error) => Err(ReadError::Io(std::io::Error::from_raw_os_error(
            error.errno,
        ))),
    }
}

/// A cache window over the first `length` bytes of a finished read's buffer.
fn window_of(read: &WindowRead, buffer: IoBuffer) -> Result<Window, ReadError> {
    let length = usize::try_from(read.length).map_err(|_| ReadError::NotFound)?;
    Ok(Window {
        start: read.start,
        valid_end: read.valid_end,
        bytes: Bytes::from_owner(buffer).slice(..length),
        pooled: read.pooled,
    })
}
