//! What a shard needs to know about its store: paths, sizes, flush policy and retention.
//!
//! The broker maps RocketMQ's properties (`storePathRootDir`, `mappedFileSizeCommitLog`,
//! `flushDiskType`, …) onto this struct; the engine never parses text.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::constants::{
    BUFFER_POOL_BYTES_DEFAULT, COMMITLOG_SEGMENT_BYTES_DEFAULT, COMMITLOG_SEGMENT_BYTES_MIN,
    CONSUME_QUEUE_ENTRY_BYTES, CONSUME_QUEUE_FILE_BYTES_DEFAULT, ZERO_FILL_AHEAD_BYTES_DEFAULT,
};
use crate::io::memlock::{PoolRequest, PoolSizing};

/// When an append counts as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushMode {
    /// Acknowledged only after an fdatasync that covers it (`SYNC_FLUSH`).
    Sync,
    /// Acknowledged once written to the device queue; fdatasync on a timer (`ASYNC_FLUSH`).
    Async,
}

/// Store locations, as RocketMQ lays them out under `storePathRootDir`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorePaths {
    pub root: PathBuf,
    pub commitlog: PathBuf,
    pub consume_queue: PathBuf,
    pub index: PathBuf,
    pub checkpoint: PathBuf,
    pub abort: PathBuf,
    pub lock: PathBuf,
}

impl StorePaths {
    /// RocketMQ's default layout under `root`.
    pub fn under(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            commitlog: root.join("commitlog"),
            consume_queue: root.join("consumequeue"),
            index: root.join("index"),
            checkpoint: root.join("checkpoint"),
            abort: root.join("abort"),
            lock: root.join("lock"),
        }
    }
}

/// Retention and disk-space policy (`deleteWhen`, `fileReservedTime`, `diskMaxUsedSpaceRatio`).
#[derive(Clone, Debug, PartialEq)]
pub struct RetentionConfig {
    /// Hours of the day (0–23) at which expired segments are deleted.
    pub delete_hours: Vec<u8>,
    /// Age after which a segment is expired (`fileReservedTime`, hours).
    pub reserved: Duration,
    /// Above this used fraction of the disk, expired files go at any hour.
    pub disk_max_used_ratio: f64,
    /// Above this, the oldest segments go even if not expired.
    pub disk_clean_forcibly_ratio: f64,
    /// Above this, appends are refused.
    pub disk_refuse_writes_ratio: f64,
    /// How often the policy is evaluated.
    pub check_interval: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            delete_hours: vec![4],
            reserved: Duration::from_secs(72 * 3600),
            disk_max_used_ratio: 0.75,
            disk_clean_forcibly_ratio: 0.85,
            disk_refuse_writes_ratio: 0.90,
            check_interval: Duration::from_secs(10),
        }
    }
}

/// Everything a shard needs, shared by all shards of a store.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    pub paths: StorePaths,
    pub shard_count: u16,
    pub segment_bytes: u64,
    pub consume_queue_file_bytes: u64,
    pub flush_mode: FlushMode,
    /// `flushIntervalCommitLog`: ASYNC_FLUSH fdatasync period.
    pub flush_interval: Duration,
    /// `flushCommitLogLeastPages`: ASYNC_FLUSH waits for this many 4 KiB pages…
    pub flush_least_pages: u64,
    /// …unless `flushCommitLogThoroughInterval` has passed since the last flush.
    pub flush_thorough_interval: Duration,
    /// `syncFlushTimeout`: a SYNC_FLUSH append not durable by then reports FLUSH_DISK_TIMEOUT.
    pub sync_flush_timeout: Duration,
    /// Bytes of recently written data kept in memory for zero-copy reads.
    pub tail_cache_bytes: usize,
    /// How far ahead of the writer the commitlog is zero-filled, so data writes overwrite
    /// written blocks instead of converting unwritten extents (0: off; see
    /// `commitlog/prefill.rs`).
    pub zero_fill_ahead_bytes: u64,
    /// Bytes of the aligned buffer pool for staging batches and in-flight writes: exactly
    /// this, or at most this when `buffer_pool_sizing` is `FromMemlock` (`bufferPoolBytes`
    /// unset).
    pub buffer_pool_bytes: usize,
    /// Whether `buffer_pool_bytes` was set by the operator or may shrink to fit
    /// RLIMIT_MEMLOCK so the pool can be registered with io_uring ([`crate::io::memlock`]).
    pub buffer_pool_sizing: PoolSizing,
    /// How often consume queues, index and checkpoint are made durable.
    pub checkpoint_interval: Duration,
    /// `maxHashSlotNum` and `maxIndexNum` of an index file.
    pub index_hash_slots: u32,
    pub index_entries_max: u32,
    /// `checkCRCOnRecover`.
    pub check_crc_on_recover: bool,
    /// The host:port stored as STOREHOST and encoded in offsetMsgIds.
    pub store_host: std::net::SocketAddr,
    pub retention: RetentionConfig,
}

impl EngineConfig {
    /// Defaults of RocketMQ, rooted at `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            paths: StorePaths::under(root),
            shard_count: 1,
            segment_bytes: COMMITLOG_SEGMENT_BYTES_DEFAULT,
            consume_queue_file_bytes: CONSUME_QUEUE_FILE_BYTES_DEFAULT,
            flush_mode: FlushMode::Async,
            flush_interval: Duration::from_millis(500),
            flush_least_pages: 4,
            flush_thorough_interval: Duration::from_secs(10),
            sync_flush_timeout: Duration::from_secs(5),
            tail_cache_bytes: 64 << 20,
            zero_fill_ahead_bytes: ZERO_FILL_AHEAD_BYTES_DEFAULT,
            buffer_pool_bytes: BUFFER_POOL_BYTES_DEFAULT,
            buffer_pool_sizing: PoolSizing::FromMemlock,
            checkpoint_interval: Duration::from_secs(1),
            index_hash_slots: 5_000_000,
            index_entries_max: 20_000_000,
            check_crc_on_recover: true,
            store_host: std::net::SocketAddr::from(([127, 0, 0, 1], 10911)),
            retention: RetentionConfig::default(),
        }
    }

    /// The buffer pool one shard's storage backend should get. Tail-cache chunks are pool
    /// buffers that were written, so the pool holds the tail cache too: its size is
    /// `tail_cache_bytes + buffer_pool_bytes`, and when it is sized from RLIMIT_MEMLOCK the
    /// tail cache keeps what the writes leave of it.
    pub fn pool_request(&self) -> PoolRequest {
        let bytes = self.tail_cache_bytes.saturating_add(self.buffer_pool_bytes);
        PoolRequest {
            sizing: self.buffer_pool_sizing,
            ..PoolRequest::from_memlock(bytes, usize::from(self.shard_count))
        }
    }

    /// Reject values the engine cannot run with, naming the value and what is expected.
    pub fn validate(&self) -> Result<(), String> {
        if self.segment_bytes < COMMITLOG_SEGMENT_BYTES_MIN || self.segment_bytes % 4096 != 0 {
            return Err(format!(
                "mappedFileSizeCommitLog={}: expected a multiple of 4096 of at least {}",
                self.segment_bytes, COMMITLOG_SEGMENT_BYTES_MIN
            ));
        }
        if self.consume_queue_file_bytes == 0
            || self.consume_queue_file_bytes % CONSUME_QUEUE_ENTRY_BYTES != 0
        {
            return Err(format!(
                "mappedFileSizeConsumeQueue={}: expected a positive multiple of 20",
                self.consume_queue_file_bytes
            ));
        }
        if self.shard_count == 0 || self.shard_count > crate::constants::SHARDS_MAX {
            return Err(format!(
                "shards={}: expected 1 to {}",
                self.shard_count,
                crate::constants::SHARDS_MAX
            ));
        }
        if self.index_hash_slots == 0 || self.index_entries_max < 2 {
            return Err("maxHashSlotNum and maxIndexNum must be positive".to_owned());
        }
        Ok(())
    }
}
