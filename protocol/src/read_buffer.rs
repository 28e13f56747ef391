//! A receive buffer for stream sockets: bytes are read into free space at its end and
//! consumed from its front, without zeroing memory on every read.
//!
//! The obvious `Vec` pattern (`resize(len + chunk, 0)`, read, `truncate`) zeroes a whole chunk
//! before every `read` call, including the final one that returns `WouldBlock`. With 256 KiB
//! chunks and small reads that memset was 9 % of a replicating slave's CPU. Here the memory
//! is zeroed once, when the buffer grows; unread bytes move to the front only when the free
//! space behind them runs short.
//!
//! The buffer does no I/O itself (this crate does none): the caller reads into
//! [`ReadBuffer::room`] and reports the count with [`ReadBuffer::filled`].

/// Bytes `start..end` of `bytes` are received and not yet consumed; `end..` is free.
#[derive(Debug)]
pub struct ReadBuffer {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
    /// The buffer's resting size and the step it grows by.
    chunk: usize,
    /// A read is never offered less free space than this.
    room_min: usize,
}

impl ReadBuffer {
    /// A buffer of `chunk` zeroed bytes that offers reads at least `room_min` of them
    /// (clamped to `1..=chunk`).
    #[must_use]
    pub fn new(chunk: usize, room_min: usize) -> Self {
        let chunk = chunk.max(1);
        Self {
            bytes: vec![0; chunk],
            start: 0,
            end: 0,
            chunk,
            room_min: room_min.clamp(1, chunk),
        }
    }

    /// The received bytes not yet consumed.
    #[must_use]
    pub fn unread(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    /// How many received bytes are not yet consumed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes of memory held (for memory accounting).
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.bytes.len()
    }

    /// Drop `count` bytes (at most [`Self::len`]) from the front of the unread ones. When none
    /// are left, the buffer starts over at its front and gives back memory a large message
    /// made it grow by.
    pub fn consume(&mut self, count: usize) {
        debug_assert!(
            count <= self.len(),
            "consumed {count} of {} bytes",
            self.len()
        );
        self.start += count.min(self.len());
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.bytes.len() > self.chunk {
                self.bytes.truncate(self.chunk);
                self.bytes.shrink_to_fit();
            }
        }
    }

    /// Free space for the next read, at least `room_min` bytes: unread bytes move to the
    /// front when too little is left behind them, and the buffer grows by a chunk only when
    /// they fill it.
    pub fn room(&mut self) -> &mut [u8] {
        if self.bytes.len() - self.end < self.room_min {
            if self.start > 0 {
                self.bytes.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.bytes.len() - self.end < self.room_min {
                let grown = self.bytes.len() + self.chunk;
                self.bytes.resize(grown, 0);
            }
        }
        &mut self.bytes[self.end..]
    }

    /// Count `count` bytes just read into [`Self::room`] as received (at most its length).
    pub fn filled(&mut self, count: usize) {
        let free = self.bytes.len() - self.end;
        debug_assert!(count <= free, "filled {count} bytes into {free} free");
        self.end += count.min(free);
    }
}

#[cfg(test)]
mod tests {
    use super::ReadBuffer;

    fn receive(buffer: &mut ReadBuffer, data: &[u8]) {
        let mut rest = data;
        while !rest.is_empty() {
            let room = buffer.room();
            let count = room.len().min(rest.len());
            room[..count].copy_from_slice(&rest[..count]);
            buffer.filled(count);
            rest = &rest[count..];
        }
    }

    /// Hazard: compaction or growth reorders, drops or duplicates received bytes.
    #[test]
    fn bytes_come_out_in_order_across_compaction_and_growth() {
        let mut buffer = ReadBuffer::new(64, 16);
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut out = Vec::new();
        let mut fed = 0;
        // Feed in odd steps and consume a little less than fed, so unread bytes pile up.
        while fed < data.len() {
            let step = 37.min(data.len() - fed);
            receive(&mut buffer, &data[fed..fed + step]);
            fed += step;
            let take = buffer.len().saturating_sub(5);
            out.extend_from_slice(&buffer.unread()[..take]);
            buffer.consume(take);
        }
        out.extend_from_slice(buffer.unread());
        let left = buffer.len();
        buffer.consume(left);
        assert_eq!(out, data);
        assert!(buffer.is_empty());
    }

    /// Hazard: one large message keeps its memory after it was consumed.
    #[test]
    fn a_buffer_grown_by_a_large_message_shrinks_back_when_drained() {
        let mut buffer = ReadBuffer::new(64, 16);
        receive(&mut buffer, &[7; 500]);
        assert!(buffer.capacity() >= 500);
        assert_eq!(buffer.unread(), &[7; 500][..]);
        buffer.consume(500);
        assert_eq!(buffer.capacity(), 64);
    }

    /// Hazard: a read offered only a sliver of space (many system calls for little data).
    #[test]
    fn room_is_never_below_the_minimum() {
        let mut buffer = ReadBuffer::new(64, 16);
        for _ in 0..20 {
            assert!(buffer.room().len() >= 16);
            buffer.filled(10);
            buffer.consume(3);
        }
    }
}
