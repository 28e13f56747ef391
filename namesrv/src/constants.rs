//! Every bound the name server enforces, in one place, with their relationships checked at
//! compile time.

/// Default listen port (RocketMQ `NamesrvStartup`).
pub const LISTEN_PORT_DEFAULT: u16 = 9876;

/// A broker silent for this long is removed (RocketMQ `DEFAULT_BROKER_CHANNEL_EXPIRED_TIME`).
pub const BROKER_CHANNEL_EXPIRED_MS_DEFAULT: u64 = 120_000;

/// How often silent brokers are looked for (`scanNotActiveBrokerInterval`).
pub const SCAN_NOT_ACTIVE_BROKER_INTERVAL_MS_DEFAULT: u64 = 5_000;

/// A connection with no traffic either way for this long is closed
/// (`serverChannelMaxIdleTimeSeconds`).
pub const CHANNEL_IDLE_SECONDS_DEFAULT: u64 = 120;

/// Largest frame accepted (RocketMQ `com.rocketmq.remoting.frameMaxLength`, 16 MiB).
pub const FRAME_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Open connections at most; further accepts are closed at once.
pub const CONNECTIONS_MAX: usize = 4096;

/// A connection's receive buffer at rest, and the step it grows by for a large frame.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;

/// A `read` call is offered at least this much free space.
pub const READ_ROOM_MIN_BYTES: usize = 8 * 1024;

/// Unsent reply bytes a connection may hold before it is closed as a slow reader. A route or
/// cluster reply is a few KiB; this leaves room for a pipelined burst.
pub const WRITE_QUEUE_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Frames handled per connection per readiness event before other connections get a turn.
pub const FRAMES_PER_EVENT_MAX: usize = 256;

/// Rolling log: size at which `namesrv.log` is renamed to `namesrv.log.1`.
pub const LOG_FILE_BYTES_MAX: u64 = 128 * 1024 * 1024;

/// Rolling log: how many renamed files (`.1` … `.N`) are kept.
pub const LOG_FILES_KEPT_MAX: u32 = 5;

/// Entries in one KV namespace and namespaces overall; a put beyond these is refused.
pub const KV_ENTRIES_MAX: usize = 100_000;

const _: () = assert!(WRITE_QUEUE_BYTES_MAX >= FRAME_BYTES_MAX);
const _: () = assert!(READ_CHUNK_BYTES <= FRAME_BYTES_MAX);
const _: () =
    assert!(SCAN_NOT_ACTIVE_BROKER_INTERVAL_MS_DEFAULT < BROKER_CHANNEL_EXPIRED_MS_DEFAULT);
