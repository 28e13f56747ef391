//! Recently written chunks of the commitlog, kept in memory as immutable `Bytes`.
//!
//! Each group-commit batch becomes one chunk once its write completes. A chunk covers the
//! bytes `[block_start, end)` of the log; records appended in that batch start at or after
//! `data_start`, so a record lies wholly inside the chunk of the batch that appended it, and
//! `data_start <= offset < end` identifies that chunk uniquely (chunks overlap only in the
//! partial block that the next batch rewrote).
//!
//! Reads slice a chunk without copying message bytes. A chunk is evicted only when the
//! cache is over budget *and* the chunk lies entirely below the block that O_DIRECT may still
//! rewrite, so the rewritable tail block is always served from memory.

use std::collections::VecDeque;

use bytes::Bytes;

/// One written batch.
#[derive(Clone, Debug)]
pub(crate) struct Chunk {
    /// Local offset of `bytes[0]` (4 KiB aligned).
    pub(crate) block_start: u64,
    /// First byte appended by this batch.
    pub(crate) data_start: u64,
    /// One past the last byte appended by this batch.
    pub(crate) end: u64,
    /// Where the log continues after this batch (the next segment's base after a BLANK).
    pub(crate) logical_end: u64,
    /// `[block_start, end)`.
    pub(crate) bytes: Bytes,
    /// Memory this chunk pins (a whole pool buffer, or the compact copy).
    pub(crate) memory_bytes: usize,
}

impl Chunk {
    /// The bytes of `[offset, offset + size)` if this chunk holds all of them.
    pub(crate) fn slice(&self, offset: u64, size: usize) -> Option<Bytes> {
        let end = offset.checked_add(u64::try_from(size).ok()?)?;
        if offset < self.data_start || end > self.end {
            return None;
        }
        let from = usize::try_from(offset - self.block_start).ok()?;
        Some(self.bytes.slice(from..from + size))
    }
}

/// Bounded, ordered set of chunks.
#[derive(Debug)]
pub(crate) struct TailCache {
    chunks: VecDeque<Chunk>,
    memory_bytes: usize,
    budget_bytes: usize,
}

impl TailCache {
    pub(crate) fn new(budget_bytes: usize) -> Self {
        Self {
            chunks: VecDeque::new(),
            memory_bytes: 0,
            budget_bytes,
        }
    }

    pub(crate) fn push(&mut self, chunk: Chunk) {
        if let Some(last) = self.chunks.back() {
            assert!(
                chunk.data_start >= last.end,
                "chunks are pushed in log order"
            );
        }
        self.memory_bytes += chunk.memory_bytes;
        self.chunks.push_back(chunk);
    }

    /// Evict oldest chunks while over budget, keeping every chunk that reaches into
    /// `[rewritable_from, ∞)`.
    pub(crate) fn evict(&mut self, rewritable_from: u64) {
        while self.memory_bytes > self.budget_bytes {
            let Some(oldest) = self.chunks.front() else {
                break;
            };
            if oldest.end > rewritable_from {
                break;
            }
            self.memory_bytes -= oldest.memory_bytes;
            self.chunks.pop_front();
        }
    }

    /// Drop the oldest chunk if it lies entirely below `rewritable_from`, whatever the budget
    /// (to give a pool buffer back when the pool is dry); false when none can go.
    pub(crate) fn evict_oldest(&mut self, rewritable_from: u64) -> bool {
        match self.chunks.front() {
            Some(oldest) if oldest.end <= rewritable_from => {
                self.memory_bytes -= oldest.memory_bytes;
                self.chunks.pop_front();
                true
            }
            _ => false,
        }
    }

    pub(crate) fn lookup(&self, offset: u64, size: usize) -> Option<Bytes> {
        let index = self.chunks.partition_point(|chunk| chunk.end <= offset);
        self.chunks
            .get(index)
            .and_then(|chunk| chunk.slice(offset, size))
    }

    /// The bytes from `offset` to the end of the chunk holding it, at most `max` of them.
    pub(crate) fn span(&self, offset: u64, max: usize) -> Option<Bytes> {
        let index = self.chunks.partition_point(|chunk| chunk.end <= offset);
        let chunk = self.chunks.get(index)?;
        if offset < chunk.data_start {
            return None;
        }
        let available = usize::try_from(chunk.end - offset).ok()?;
        chunk.slice(offset, available.min(max))
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }

    /// Forget every chunk (the log is being cut back).
    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.memory_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(block_start: u64, data_start: u64, end: u64) -> Chunk {
        let length = usize::try_from(end - block_start).expect("small");
        let bytes: Vec<u8> = (0..length)
            .map(|i| u8::try_from(i % 251).expect("byte"))
            .collect();
        Chunk {
            block_start,
            data_start,
            end,
            logical_end: end,
            bytes: Bytes::from(bytes),
            memory_bytes: length,
        }
    }

    #[test]
    fn overlapping_partial_blocks_resolve_to_the_batch_that_appended_the_record() {
        let mut cache = TailCache::new(1 << 20);
        cache.push(chunk(0, 0, 5000));
        cache.push(chunk(4096, 5000, 9000));
        let first = cache.lookup(4500, 400).expect("in the first chunk");
        assert_eq!(first[0], u8::try_from(4500 % 251).expect("byte"));
        let second = cache.lookup(5000, 100).expect("in the second chunk");
        assert_eq!(second[0], u8::try_from((5000 - 4096) % 251).expect("byte"));
        assert!(cache.lookup(8990, 20).is_none(), "past the end");
    }

    #[test]
    fn eviction_never_drops_chunks_touching_the_rewritable_block() {
        let mut cache = TailCache::new(100);
        cache.push(chunk(0, 0, 5000));
        cache.push(chunk(4096, 5000, 9000));
        cache.evict(8192);
        assert!(
            cache.lookup(0, 10).is_none(),
            "the first chunk lies below the tail block"
        );
        assert!(
            cache.lookup(5000, 10).is_some(),
            "the chunk reaching into it stays"
        );
        assert_eq!(cache.memory_bytes(), 9000 - 4096);
        cache.evict(16384);
        assert!(cache.lookup(5000, 10).is_none());
    }
}
