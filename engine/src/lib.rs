//! ringmq storage engine.
//!
//! One [`shard`] per core owns a commitlog of O_DIRECT segments written through the
//! [`io::Storage`] seam (io_uring, a portable fallback, or the simulator), the consume queues
//! of the (topic, queueId) pairs assigned to it, and its key index. See docs/ARCHITECTURE.md.

pub mod checkpoint;
pub mod clock;
pub mod commitlog;
pub mod config;
pub mod constants;
pub mod consume_queue;
pub mod error;
pub mod index;
pub mod io;
pub mod recovery;
pub mod retention;
pub mod shard;
pub mod store;
pub mod types;
