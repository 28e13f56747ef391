//! Clean shutdown of a shard: everything appended becomes durable, queues and index are
//! synced, and the checkpoint records the end of the log, so the next start scans nothing.

use std::time::Duration;

use crate::error::Latch;

use super::Shard;

/// Polls of 10 ms before giving up on outstanding I/O at close.
const CLOSE_POLLS_MAX: u32 = 3000;

/// Why a shard did not close cleanly; the next start recovers from the last checkpoint.
#[derive(Debug)]
#[non_exhaustive]
pub enum CloseError {
    ReadOnly(Latch),
    Io(std::io::Error),
    Stuck,
}

impl std::fmt::Display for CloseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ReadOnly(latch) => write!(f, "{latch}"),
            Self::Io(error) => write!(f, "closing the shard failed: {error}"),
            Self::Stuck => f.write_str("outstanding I/O did not finish within 30 s"),
        }
    }
}

impl std::error::Error for CloseError {}

impl Shard {
    /// Flush and close. Consumes the shard: durability never happens in `Drop`.
    pub fn close(mut self) -> Result<(), CloseError> {
        self.commitlog.stop_prefill();
        self.commitlog.request_flush();
        for _ in 0..CLOSE_POLLS_MAX {
            self.wait(Duration::from_millis(10))
                .map_err(CloseError::Io)?;
            if let Some(latch) = self.commitlog.latch() {
                return Err(CloseError::ReadOnly(latch.clone()));
            }
            let settled = self.commitlog.durable() == self.commitlog.appended()
                && self.checkpoint_in_flight.is_none()
                && self.storage.in_flight() == 0;
            if settled {
                return self.finish_close();
            }
            self.commitlog.request_flush();
        }
        Err(CloseError::Stuck)
    }

    fn finish_close(mut self) -> Result<(), CloseError> {
        let target = self.checkpoint_target();
        let storage = self.storage.as_mut();
        for queues in self.topics.values_mut() {
            for state in queues.values_mut() {
                state.queue.close(storage).map_err(CloseError::Io)?;
            }
        }
        self.index.close(storage).map_err(CloseError::Io)?;
        self.checkpoint
            .write(storage, &target)
            .map_err(CloseError::Io)?;
        self.commitlog.close(storage).map_err(CloseError::Io)?;
        self.checkpoint.close(storage).map_err(CloseError::Io)
    }
}
