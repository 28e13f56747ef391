//! Every size, limit and timeout of the engine, with compile-time checks of how they relate.

use crate::io::buffer::ALIGNMENT;

/// Most shards a store may have; keeps encoded physical offsets below `i64::MAX`.
pub const SHARDS_MAX: u16 = 1024;

/// Default commitlog segment size (`mappedFileSizeCommitLog`).
pub const COMMITLOG_SEGMENT_BYTES_DEFAULT: u64 = 1 << 30;
/// Smallest accepted segment size; tests use small segments to exercise rolling.
pub const COMMITLOG_SEGMENT_BYTES_MIN: u64 = 64 * 1024;

/// Default consume-queue file size (`mappedFileSizeConsumeQueue`): 300,000 entries.
pub const CONSUME_QUEUE_FILE_BYTES_DEFAULT: u64 = 300_000 * CONSUME_QUEUE_ENTRY_BYTES;
/// One consume-queue entry: commitlog offset i64, size i32, tag hash i64.
pub const CONSUME_QUEUE_ENTRY_BYTES: u64 = 20;

/// Bytes of one group-commit batch, and so of one staging buffer from the pool.
pub const COMMIT_BATCH_BYTES_MAX: usize = 1 << 20;
/// Batches appended while a chain is in flight, waiting for the next chain.
pub const COMMIT_BATCHES_PENDING_MAX: usize = 16;

/// Default `bufferPoolBytes`: the pool's share for staging and in-flight writes (the tail
/// cache's `tailCacheBytes` comes on top; see `EngineConfig::pool_request`).
pub const BUFFER_POOL_BYTES_DEFAULT: usize = 32 << 20;
/// Smallest pool worth registering when it is sized from RLIMIT_MEMLOCK (`io::memlock`), in
/// batches: a full chain in flight (`CHAIN_BYTES_MAX`, 4 batches), the next chain filling
/// meanwhile (4 more, the staging batch included), the newest written batch (the tail cache
/// cannot give it back while its last block may be rewritten) and the cold-read windows (4;
/// they hold pool buffers). With fewer, an append finds no free buffer while a full chain is
/// in flight and is refused as Busy (SYSTEM_BUSY to producers) although the disk keeps up;
/// a larger unregistered pool is the better deal then. Checked in `commitlog/mod.rs`.
pub const BUFFER_POOL_BYTES_MIN: usize = 13 * COMMIT_BATCH_BYTES_MAX;

/// Default `zeroFillAheadBytes`: how far ahead of the writer segment files are zero-filled
/// (`commitlog/prefill.rs`). 32 zero writes of 1 MiB: far enough that the writer does not
/// catch up between two of them, near enough that a restart wastes little.
pub const ZERO_FILL_AHEAD_BYTES_DEFAULT: u64 = 32 << 20;

/// BLANK record written at the end of a segment: total size i32 + magic i32.
pub const END_OF_SEGMENT_BLANK_BYTES_MIN: u64 = 8;

/// Largest single record: RocketMQ's default `maxMessageSize` (4 MiB of body) plus the
/// largest properties (32 KiB) and the fixed fields, rounded up. A record that does not fit
/// in a pool buffer is staged in a batch of its own with a buffer of its size
/// (`Commitlog::ensure_room`); recovery and cold reads read windows at least this large.
pub const RECORD_BYTES_MAX: usize = (4 << 20) + (64 << 10);

const _: () = assert!(COMMIT_BATCH_BYTES_MAX % ALIGNMENT == 0);
const _: () = assert!(BUFFER_POOL_BYTES_MIN <= BUFFER_POOL_BYTES_DEFAULT);
const _: () = assert!(COMMITLOG_SEGMENT_BYTES_MIN % (ALIGNMENT as u64) == 0);
const _: () = assert!(CONSUME_QUEUE_FILE_BYTES_DEFAULT % CONSUME_QUEUE_ENTRY_BYTES == 0);
const _: () = assert!(RECORD_BYTES_MAX % ALIGNMENT == 0);
