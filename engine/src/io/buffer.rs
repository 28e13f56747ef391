//! Aligned I/O buffers and the fixed pool they come from.
//!
//! O_DIRECT needs the buffer address, the file offset and the length aligned to the device's
//! direct-I/O alignment; we use [`ALIGNMENT`] (4 KiB), which covers every device we target.
//! A pool carves one region into equal chunks. The region can be registered with io_uring
//! (fixed buffers) so writes skip the per-op page pinning; the region is kept alive by every
//! buffer taken from it, so a buffer that became a tail-cache `Bytes` and is dropped later on
//! another thread is still valid memory, and goes back to its pool through a channel.

use std::alloc::{self, Layout};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use bytes::Bytes;

/// Alignment of O_DIRECT offsets, lengths and buffer addresses.
pub const ALIGNMENT: usize = 4096;

/// One aligned allocation, freed when the last buffer or pool referring to it is gone.
struct Region {
    base: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the region is plain heap memory; access to each chunk is exclusive to the IoBuffer
// that owns it (chunks never overlap), so sending or sharing the region handle is sound.
unsafe impl Send for Region {}
// SAFETY: see above; the region itself is never accessed except through disjoint chunks.
unsafe impl Sync for Region {}

impl Region {
    fn allocate(bytes: usize) -> Option<Self> {
        let layout = Layout::from_size_align(bytes.max(ALIGNMENT), ALIGNMENT).ok()?;
        // SAFETY: the layout has a non-zero size (at least ALIGNMENT).
        let pointer = unsafe { alloc::alloc_zeroed(layout) };
        NonNull::new(pointer).map(|base| Self { base, layout })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `base` was returned by `alloc_zeroed` with exactly this layout.
        unsafe { alloc::dealloc(self.base.as_ptr(), self.layout) };
    }
}

/// Where a dropped buffer goes back to.
struct Home {
    returns: mpsc::Sender<usize>,
    outstanding: Arc<AtomicUsize>,
}

/// An owned, aligned, fixed-capacity byte buffer. Moves into an I/O op and back out.
pub struct IoBuffer {
    region: Arc<Region>,
    offset: usize,
    capacity: usize,
    /// Index in the registered-buffer table, when the region is registered with io_uring.
    registered_index: Option<u16>,
    home: Option<Home>,
    chunk_index: usize,
}

// SAFETY: an IoBuffer is the unique owner of its chunk of the region.
unsafe impl Send for IoBuffer {}
// SAFETY: shared references only allow reads of the owned chunk.
unsafe impl Sync for IoBuffer {}

impl IoBuffer {
    /// A standalone aligned buffer, not from any pool (tests, cold paths).
    pub fn unpooled(capacity: usize) -> Self {
        let capacity = capacity.div_ceil(ALIGNMENT) * ALIGNMENT;
        let region = Region::allocate(capacity).expect("allocation of an aligned buffer failed");
        Self {
            region: Arc::new(region),
            offset: 0,
            capacity,
            registered_index: None,
            home: None,
            chunk_index: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn registered_index(&self) -> Option<u16> {
        self.registered_index
    }

    /// Pointer to the first byte, for the I/O backends.
    pub fn as_ptr(&self) -> *const u8 {
        // SAFETY: offset + capacity lies inside the region by construction.
        unsafe { self.region.base.as_ptr().add(self.offset) }
    }

    /// Mutable pointer to the first byte, for the I/O backends.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: offset + capacity lies inside the region by construction.
        unsafe { self.region.base.as_ptr().add(self.offset) }
    }
}

impl Deref for IoBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the chunk [offset, offset+capacity) is inside the region, initialised
        // (zeroed at allocation) and owned exclusively by this buffer.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.capacity) }
    }
}

impl DerefMut for IoBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        let capacity = self.capacity;
        // SAFETY: as in `deref`, and `&mut self` guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.as_mut_ptr(), capacity) }
    }
}

impl AsRef<[u8]> for IoBuffer {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for IoBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoBuffer")
            .field("capacity", &self.capacity)
            .field("registered_index", &self.registered_index)
            .field("chunk_index", &self.chunk_index)
            .finish_non_exhaustive()
    }
}

impl Drop for IoBuffer {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            home.outstanding.fetch_sub(1, Ordering::Relaxed);
            // The pool may be gone already; then the chunk simply dies with the region.
            let _ = home.returns.send(self.chunk_index);
        }
    }
}

/// A written buffer reused front to back for copies of later small batches, each handed out
/// as an immutable [`Bytes`] while the rest keeps filling. The tail cache keeps small batches
/// this way instead of holding a mostly empty 1 MiB buffer each, or copying each into a fresh
/// heap allocation (whose pages the allocator returns to the kernel and faults back in,
/// zeroing each one, at the rate data is written). The buffer goes back to its pool once the
/// packer and every slice it handed out are gone.
pub struct Packer {
    shared: Arc<IoBuffer>,
    /// Bytes `[0, filled)` are handed out and never written again.
    filled: usize,
}

/// One handed-out range of a packer's buffer.
struct Packed {
    shared: Arc<IoBuffer>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for Packed {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `[start, end)` lies inside the buffer's chunk, was written by `Packer` before
        // this slice existed, and is never written again (the packer only writes past
        // `filled`, which is at or beyond `end`), so this shared view aliases no writer.
        unsafe {
            std::slice::from_raw_parts(self.shared.as_ptr().add(self.start), self.end - self.start)
        }
    }
}

impl Packer {
    /// Adopt `buffer`, whose first `used` bytes hold data; returns them as the first slice.
    pub fn adopt(buffer: IoBuffer, used: usize) -> (Self, Bytes) {
        let used = used.min(buffer.capacity());
        let mut packer = Self {
            shared: Arc::new(buffer),
            filled: 0,
        };
        let first = packer.hand_out(used);
        (packer, first)
    }

    /// Bytes still free.
    pub fn remaining(&self) -> usize {
        self.shared.capacity() - self.filled
    }

    /// Copy `data` to the next free bytes and hand them out; `None` when it does not fit.
    pub fn pack(&mut self, data: &[u8]) -> Option<Bytes> {
        if data.len() > self.remaining() {
            return None;
        }
        // The buffer came out of an I/O op, so its pointer is the region's, derived from a
        // mutable allocation.
        let target = self.shared.as_ptr().cast_mut();
        // SAFETY: `[filled, filled + len)` is inside the chunk (checked above) and was never
        // handed out, so no slice refers to it; `data` is another allocation (a caller's
        // slice cannot borrow this packer's free bytes, which nothing exposes).
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), target.add(self.filled), data.len());
        }
        Some(self.hand_out(data.len()))
    }

    fn hand_out(&mut self, length: usize) -> Bytes {
        let start = self.filled;
        self.filled += length;
        Bytes::from_owner(Packed {
            shared: Arc::clone(&self.shared),
            start,
            end: self.filled,
        })
    }
}

impl fmt::Debug for Packer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packer")
            .field("capacity", &self.shared.capacity())
            .field("filled", &self.filled)
            .finish()
    }
}

/// A fixed set of equal aligned chunks carved from one region.
pub struct BufferPool {
    region: Arc<Region>,
    chunk_bytes: usize,
    chunk_count: usize,
    free: Vec<usize>,
    returns_sender: mpsc::Sender<usize>,
    returns: mpsc::Receiver<usize>,
    outstanding: Arc<AtomicUsize>,
    registered: bool,
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("chunk_bytes", &self.chunk_bytes)
            .field("chunk_count", &self.chunk_count)
            .field("free", &self.free.len())
            .field("registered", &self.registered)
            .finish_non_exhaustive()
    }
}

impl BufferPool {
    /// A pool of `chunk_count` chunks of `chunk_bytes` (rounded up to [`ALIGNMENT`]).
    pub fn new(chunk_bytes: usize, chunk_count: usize) -> Option<Self> {
        let chunk_bytes = chunk_bytes.div_ceil(ALIGNMENT) * ALIGNMENT;
        let region = Region::allocate(chunk_bytes.checked_mul(chunk_count)?)?;
        let (returns_sender, returns) = mpsc::channel();
        Some(Self {
            region: Arc::new(region),
            chunk_bytes,
            chunk_count,
            free: (0..chunk_count).rev().collect(),
            returns_sender,
            returns,
            outstanding: Arc::new(AtomicUsize::new(0)),
            registered: false,
        })
    }

    pub fn chunk_bytes(&self) -> usize {
        self.chunk_bytes
    }

    pub fn chunk_count(&self) -> usize {
        self.chunk_count
    }

    pub fn region_bytes(&self) -> usize {
        self.chunk_bytes * self.chunk_count
    }

    /// Base address and length of the whole region, for io_uring registration.
    pub fn region_pointer(&self) -> (*mut u8, usize) {
        (self.region.base.as_ptr(), self.region_bytes())
    }

    /// Mark the region as registered as fixed buffer index 0 (io_uring backend only).
    pub fn set_registered(&mut self, registered: bool) {
        self.registered = registered;
    }

    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// Chunks currently out of the pool (in flight, staged or held by the tail cache).
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    pub fn take(&mut self) -> Option<IoBuffer> {
        while let Ok(index) = self.returns.try_recv() {
            self.free.push(index);
        }
        let chunk_index = self.free.pop()?;
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        Some(IoBuffer {
            region: Arc::clone(&self.region),
            offset: chunk_index * self.chunk_bytes,
            capacity: self.chunk_bytes,
            registered_index: self.registered.then_some(0),
            home: Some(Home {
                returns: self.returns_sender.clone(),
                outstanding: Arc::clone(&self.outstanding),
            }),
            chunk_index,
        })
    }

    /// Offset of a pooled buffer inside the registered region (for WRITE_FIXED addressing).
    pub fn contains(&self, buffer: &IoBuffer) -> bool {
        Arc::ptr_eq(&self.region, &buffer.region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_and_disjoint() {
        let mut pool = BufferPool::new(8192, 4).expect("pool");
        let mut first = pool.take().expect("first");
        let second = pool.take().expect("second");
        assert_eq!(first.as_ptr() as usize % ALIGNMENT, 0);
        assert_eq!(second.as_ptr() as usize % ALIGNMENT, 0);
        first[..4].copy_from_slice(b"ring");
        assert_eq!(&second[..4], &[0, 0, 0, 0]);
        assert_eq!(pool.outstanding(), 2);
    }

    // Hazard: the packer writes into the same buffer whose earlier ranges other threads are
    // reading through handed-out slices; a slice must keep exactly the bytes it was given,
    // and the buffer may go back to its pool only when the packer and every slice are gone
    // (earlier, the next batch would overwrite bytes a reader still holds).
    #[test]
    fn packed_slices_keep_their_bytes_and_hold_the_buffer_until_the_last_is_gone() {
        let mut pool = BufferPool::new(8192, 1).expect("pool");
        let mut buffer = pool.take().expect("the only chunk");
        buffer[..3].copy_from_slice(b"abc");
        let (mut packer, first) = Packer::adopt(buffer, 3);
        let second = packer.pack(b"defg").expect("fits");
        let reader = std::thread::spawn(move || second.to_vec());
        let third = packer.pack(&[7u8; 100]).expect("fits");
        assert_eq!(reader.join().expect("join"), b"defg");
        assert_eq!(&first[..], b"abc");
        assert_eq!(&third[..], &[7u8; 100][..]);
        assert_eq!(packer.remaining(), 8192 - 107);
        assert!(packer.pack(&[0u8; 8192]).is_none(), "does not fit");
        drop(packer);
        drop(first);
        assert!(pool.take().is_none(), "a slice still holds the buffer");
        drop(third);
        assert!(pool.take().is_some(), "the buffer came back");
    }

    #[test]
    fn a_dropped_buffer_returns_to_its_pool_even_from_another_thread() {
        let mut pool = BufferPool::new(4096, 1).expect("pool");
        let buffer = pool.take().expect("one chunk");
        assert!(pool.take().is_none(), "the pool has a single chunk");
        std::thread::spawn(move || drop(buffer))
            .join()
            .expect("join");
        assert!(pool.take().is_some(), "the chunk came back");
    }

    #[test]
    fn a_buffer_outlives_its_pool_safely() {
        let mut pool = BufferPool::new(4096, 1).expect("pool");
        let mut buffer = pool.take().expect("chunk");
        drop(pool);
        buffer[0] = 7;
        assert_eq!(buffer[0], 7);
    }
}
