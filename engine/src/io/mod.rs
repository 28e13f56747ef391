//! The storage seam: the only door between the engine and the operating system's files.
//!
//! The seam is operation-level, not `File`-level, so io_uring's strengths survive it: a caller
//! submits a *chain* of operations (for example write → write → fdatasync) that the backend
//! executes in order, and later collects completions. An owned [`IoBuffer`] goes in with a write
//! or read and comes back in its [`Completion`], so no buffer is ever shared with the kernel and
//! the caller at once.
//!
//! Chain contract (every backend honours it, the simulator checks it):
//! - operations of one chain run in order; the next starts only after the previous succeeded;
//! - a failed or *short* write/read ends the chain: every later operation completes with
//!   [`IoErrorKind::Canceled`];
//! - completions of one chain are delivered in chain order.
//!
//! Control-plane operations (open, allocate, rename, directory sync, lock) are rare and
//! synchronous; they run on the calling shard thread.
//!
//! Backends: [`uring`] (io_uring through the `io-uring` crate), [`fallback`] (pwrite/pread/
//! fdatasync on a helper thread, used when io_uring cannot be set up) and [`sim`]
//! (deterministic, in memory, with torn writes, lost unflushed data at a crash, fsync errors
//! and latency).

pub mod affinity;
pub mod buffer;
mod chain;
pub mod fallback;
pub mod local_time;
pub mod lock;
pub mod memlock;
mod posix;
pub mod select;
pub mod signals;
pub mod sim;
pub mod uring;

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use buffer::IoBuffer;

/// The high bits of a completion token name the component that issued the operation, so a
/// shard routes every completion to its owner. Commit-chain tokens carry none of them.
pub(crate) mod token_tag {
    /// Cold reads and read-aheads of the commitlog.
    pub(crate) const READ: u64 = 1 << 62;
    /// Checkpoint writes and syncs of the shard.
    pub(crate) const CHECKPOINT: u64 = 1 << 61;
    /// Zero writes ahead of the commitlog's writer.
    pub(crate) const PREFILL: u64 = 1 << 60;

    // Distinct bits, so no component mistakes another's completion for its own.
    const _: () =
        assert!(READ & CHECKPOINT == 0 && READ & PREFILL == 0 && CHECKPOINT & PREFILL == 0);
}

/// Backend-local handle of an open file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileHandle(pub u32);

/// How a file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// O_DIRECT: offsets, lengths and buffer addresses must be aligned to [`buffer::ALIGNMENT`].
    Direct,
    /// Page-cache I/O, for small metadata files and consume-queue/index files.
    Buffered,
}

/// Whether opening may create the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    No,
    Yes,
}

/// One data-plane operation.
#[derive(Debug)]
pub enum Op {
    /// Write `buffer[range]` at `offset`. With `atomic` the write is issued with RWF_ATOMIC
    /// (untorn: after a power loss the range holds all old or all new bytes); only ask for it
    /// where [`Storage::untorn_writes`] says [`UntornWrites::Atomic`], for a power-of-two
    /// length inside its unit range at an offset aligned to that length.
    Write {
        file: FileHandle,
        offset: u64,
        buffer: IoBuffer,
        range: std::ops::Range<usize>,
        atomic: bool,
    },
    /// Read into `buffer[range]` from `offset`.
    Read {
        file: FileHandle,
        offset: u64,
        buffer: IoBuffer,
        range: std::ops::Range<usize>,
    },
    /// fdatasync(2): data plus the metadata needed to read it back.
    Fdatasync { file: FileHandle },
}

/// An operation with the caller's token, returned in its completion.
#[derive(Debug)]
pub struct ChainLink {
    pub op: Op,
    pub token: u64,
}

/// Why an operation failed, in terms a caller can branch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoErrorKind {
    /// An earlier link of the chain failed or was short.
    Canceled,
    /// The device or filesystem reported an error (EIO and friends).
    Device,
    /// ENOSPC / EDQUOT.
    NoSpace,
    /// Anything else.
    Other,
}

/// A failed operation: the kind plus the raw errno where one exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoError {
    pub kind: IoErrorKind,
    pub errno: i32,
}

impl IoError {
    pub fn from_errno(errno: i32) -> Self {
        let kind = match errno {
            libc::ECANCELED => IoErrorKind::Canceled,
            libc::EIO => IoErrorKind::Device,
            libc::ENOSPC | libc::EDQUOT => IoErrorKind::NoSpace,
            _ => IoErrorKind::Other,
        };
        Self { kind, errno }
    }

    pub fn canceled() -> Self {
        Self {
            kind: IoErrorKind::Canceled,
            errno: libc::ECANCELED,
        }
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}: {}",
            self.kind,
            io::Error::from_raw_os_error(self.errno)
        )
    }
}

impl std::error::Error for IoError {}

/// The result of one operation: bytes transferred (0 for fdatasync) and the buffer back.
#[derive(Debug)]
pub struct Completion {
    pub token: u64,
    pub result: Result<usize, IoError>,
    pub buffer: Option<IoBuffer>,
}

/// Why a chain could not be submitted; the links come back untouched.
#[derive(Debug)]
pub struct SubmitError {
    pub reason: SubmitErrorReason,
    pub links: Vec<ChainLink>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitErrorReason {
    /// The in-flight limit is reached; reap completions first.
    Busy,
    /// The backend is shut down or broken.
    Closed,
}

/// What a 4 KiB aligned O_DIRECT write to a file can leave behind when power fails in the
/// middle of it, as probed when the file was opened (`statx`). It decides how the commitlog's
/// rewrite of its partial tail block is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UntornWrites {
    /// The file supports RWF_ATOMIC writes of `unit_min..=unit_max` bytes (STATX_WRITE_ATOMIC)
    /// and 4096 is inside that range: a write issued with RWF_ATOMIC lands whole or not at all.
    Atomic { unit_min: u32, unit_max: u32 },
    /// The device's logical block (the O_DIRECT offset alignment) is `block` >= 4096 bytes, so
    /// an aligned 4 KiB write is one device block and is not torn.
    Sectors { block: u32 },
    /// Neither: a 4 KiB write can land in part (`block` is the logical block, 0 if unknown).
    Tearable { block: u32 },
}

/// The write size whose tearing matters: the commitlog's partial tail block.
pub const UNTORN_WRITE_BYTES: u32 = 4096;

impl UntornWrites {
    /// Classify a `statx` answer: the atomic-write unit range if the kernel reported one, and
    /// the O_DIRECT offset alignment (the logical block) if it reported that.
    pub fn from_statx(atomic: Option<(u32, u32)>, dio_offset_align: Option<u32>) -> Self {
        let block = dio_offset_align.unwrap_or(0);
        match atomic {
            Some((unit_min, unit_max))
                if unit_min > 0
                    && unit_min <= UNTORN_WRITE_BYTES
                    && UNTORN_WRITE_BYTES <= unit_max =>
            {
                Self::Atomic { unit_min, unit_max }
            }
            _ if block >= UNTORN_WRITE_BYTES => Self::Sectors { block },
            _ => Self::Tearable { block },
        }
    }
}

impl fmt::Display for UntornWrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Atomic { unit_min, unit_max } => write!(
                f,
                "atomic writes (RWF_ATOMIC, statx atomic write unit {unit_min}..{unit_max} bytes)"
            ),
            Self::Sectors { block } => write!(
                f,
                "4 KiB sectors (logical block {block} bytes: an aligned 4 KiB write is one block)"
            ),
            Self::Tearable { block } => write!(
                f,
                "none (logical block {block} bytes and no atomic write support: a power loss \
                 during a tail-block rewrite can tear acknowledged records in that block; \
                 recovery truncates at the first bad CRC)"
            ),
        }
    }
}

/// Which backend runs, for logs and `--io-backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Uring,
    Fallback,
    Sim,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Uring => "io_uring",
            Self::Fallback => "fallback",
            Self::Sim => "sim",
        })
    }
}

/// The storage seam. One instance per shard; `!Send` users keep it on their core.
pub trait Storage {
    fn kind(&self) -> BackendKind;

    // Control plane: synchronous, rare.
    fn open(&mut self, path: &Path, create: Create, mode: OpenMode) -> io::Result<FileHandle>;
    fn close(&mut self, file: FileHandle) -> io::Result<()>;
    /// Reserve `length` bytes from 0 (fallocate mode 0, so i_size becomes `length`).
    fn allocate(&mut self, file: FileHandle, length: u64) -> io::Result<()>;
    fn file_size(&mut self, file: FileHandle) -> io::Result<u64>;
    fn truncate(&mut self, file: FileHandle, length: u64) -> io::Result<()>;
    /// Synchronous positioned read for recovery and cold metadata; returns bytes read.
    fn read_blocking(
        &mut self,
        file: FileHandle,
        offset: u64,
        target: &mut [u8],
    ) -> io::Result<usize>;
    /// Synchronous positioned write for buffered metadata files (never for O_DIRECT files).
    fn write_blocking(&mut self, file: FileHandle, offset: u64, source: &[u8]) -> io::Result<()>;
    /// Synchronous fdatasync, for metadata files at checkpoint time.
    fn sync_blocking(&mut self, file: FileHandle) -> io::Result<()>;
    fn remove_file(&mut self, path: &Path) -> io::Result<()>;
    fn rename(&mut self, source: &Path, target: &Path) -> io::Result<()>;
    fn create_directory_all(&mut self, path: &Path) -> io::Result<()>;
    /// fsync a directory so a created, renamed or removed entry survives a crash.
    fn sync_directory(&mut self, path: &Path) -> io::Result<()>;
    /// Names (not paths) of the entries of a directory; empty if it does not exist.
    fn list_directory(&mut self, path: &Path) -> io::Result<Vec<String>>;
    fn exists(&mut self, path: &Path) -> bool;
    /// Whole small file, for JSON config tables and the checkpoint.
    fn read_whole(&mut self, path: &Path) -> io::Result<Vec<u8>>;
    /// Write a small file atomically: temporary file, fdatasync, rename, directory fsync.
    fn write_whole_atomic(&mut self, path: &Path, contents: &[u8]) -> io::Result<()>;
    /// Filesystem usage of the directory's device as (used bytes, total bytes).
    fn disk_usage(&mut self, path: &Path) -> io::Result<(u64, u64)>;
    /// How a 4 KiB write to `file` survives a power loss, as probed when it was opened
    /// ([`UntornWrites::Tearable`] for buffered or unknown files; never fails).
    fn untorn_writes(&self, file: FileHandle) -> UntornWrites;

    // Data plane.
    /// Take an aligned buffer from the pool; `None` when the pool is exhausted.
    fn buffer(&mut self) -> Option<IoBuffer>;
    /// Return a buffer to the pool.
    fn recycle(&mut self, buffer: IoBuffer);
    /// Submit a chain (see the module docs). Never blocks; `Busy` when the in-flight cap is hit.
    fn submit(&mut self, links: Vec<ChainLink>) -> Result<(), SubmitError>;
    /// Move finished completions into `completions`, waiting up to `timeout` for at least one
    /// when nothing is ready and something is in flight (`None` = do not wait).
    fn poll(
        &mut self,
        completions: &mut Vec<Completion>,
        timeout: Option<Duration>,
    ) -> io::Result<()>;
    /// Operations submitted and not yet returned by `poll`.
    fn in_flight(&self) -> usize;
    /// A descriptor that becomes readable when completions are waiting, for an event loop.
    fn notify_fd(&self) -> Option<RawFd>;
}

/// A path inside the store, for error messages.
pub fn describe(path: &Path) -> PathBuf {
    path.to_path_buf()
}
