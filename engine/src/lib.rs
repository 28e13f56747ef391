//! ringmq storage engine.
//!
//! One [`shard`] per core owns a commitlog of O_DIRECT segments written through the
//! [`io::Storage`] seam (io_uring, a portable fallback, or the simulator), the consume queues
//! of the (topic, queueId) pairs assigned to it, and its key index. See docs/ARCHITECTURE.md.

pub mod clock;
pub mod constants;
pub mod io;
pub mod types;
