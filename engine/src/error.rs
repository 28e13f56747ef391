//! Errors of the engine, per operation, with variants callers branch on.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::io::IoError;

/// Why the shard stopped accepting writes. Once latched it never clears: a failed write or
/// fdatasync may have lost data the kernel already discarded, so retrying would lie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Latch {
    pub operation: &'static str,
    pub segment: PathBuf,
    pub error: IoError,
}

impl fmt::Display for Latch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "commitlog is read-only after a failed {} on {}: {}; restart the broker to recover \
             from the last durable record (fsync is never retried)",
            self.operation,
            self.segment.display(),
            self.error
        )
    }
}

/// Why an append was refused. Nothing was stored when this is returned.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AppendError {
    /// A previous write or fsync failed (see [`Latch`]).
    ReadOnly(Latch),
    /// The record cannot be encoded (topic or properties too long).
    Malformed(String),
    /// The record is larger than a segment or a commit batch can hold.
    TooLarge { bytes: usize, max: usize },
    /// Staging buffers are all in use; the caller should answer SYSTEM_BUSY.
    Busy,
    /// The disk is above the refuse-writes threshold.
    DiskFull {
        used_ratio: f64,
        refuse_ratio: f64,
        max_used_ratio: f64,
    },
    /// Creating the next segment failed.
    SegmentCreation(String),
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReadOnly(latch) => write!(f, "{latch}"),
            Self::Malformed(reason) => write!(f, "message cannot be stored: {reason}"),
            Self::TooLarge { bytes, max } => {
                write!(
                    f,
                    "message of {bytes} bytes is larger than the {max}-byte record limit"
                )
            }
            Self::Busy => f.write_str("commitlog staging buffers are full, try again shortly"),
            Self::DiskFull {
                used_ratio,
                refuse_ratio,
                max_used_ratio,
            } => write!(
                f,
                "disk is {:.1}% full, above the {:.1}% limit for writes (diskMaxUsedSpaceRatio \
                 {:.1}%); free space or raise the limits",
                used_ratio * 100.0,
                refuse_ratio * 100.0,
                max_used_ratio * 100.0
            ),
            Self::SegmentCreation(reason) => {
                write!(f, "cannot create a commitlog segment: {reason}")
            }
        }
    }
}

impl std::error::Error for AppendError {}

/// Why a store could not be opened or recovered.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// Another process holds the store lock.
    Locked(String),
    /// A configuration value the store cannot run with.
    Config(String),
    /// The store was created with a different shard count.
    ShardCountChanged { stored: u16, configured: u16 },
    /// An I/O error while reading or repairing the store.
    Io {
        operation: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    /// The store content is not what the engine wrote (for example a foreign file).
    Corrupt { path: PathBuf, reason: String },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Locked(message) | Self::Config(message) => f.write_str(message),
            Self::ShardCountChanged { stored, configured } => write!(
                f,
                "store was created with shards={stored} but shards={configured} is configured; \
                 queues are owned by shard, so keep shards={stored} for this store"
            ),
            Self::Io {
                operation,
                path,
                error,
            } => {
                write!(f, "{operation} {} failed: {error}", path.display())
            }
            Self::Corrupt { path, reason } => write!(f, "{} is corrupt: {reason}", path.display()),
        }
    }
}

impl std::error::Error for OpenError {}

/// Why a read failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// No record starts at this physical offset (or it was deleted).
    NotFound,
    /// The offset belongs to another shard.
    WrongShard,
    Io(io::Error),
    Corrupt(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("no message at that offset"),
            Self::WrongShard => f.write_str("offset belongs to another shard"),
            Self::Io(error) => write!(f, "read failed: {error}"),
            Self::Corrupt(reason) => write!(f, "stored record is corrupt: {reason}"),
        }
    }
}

impl std::error::Error for ReadError {}
