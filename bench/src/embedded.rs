//! `--embedded`: benchmark a name server and broker started in this process on a temporary
//! store, so one command measures the whole path (client, protocol, broker, engine, disk).
//!
//! The bench crate does not depend on the broker (it measures it); the `ringmq` binary, which
//! links both, passes a [`Launcher`] that starts the cluster. The run owns the cluster: it is
//! stopped, and its store removed, after the run and its verification finished.

/// What `--embedded`, `--flush`, `--shards` and `--io-backend` ask the launcher for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddedSpec {
    /// SYNC_FLUSH (answer a send once an fdatasync covered it) instead of ASYNC_FLUSH.
    pub sync_flush: bool,
    /// Engine shards; `None` lets the broker choose (one per core).
    pub shards: Option<u16>,
    /// `auto`, `uring` or `fallback`, as `ringmq broker --io-backend`.
    pub io_backend: String,
}

impl Default for EmbeddedSpec {
    fn default() -> Self {
        Self {
            sync_flush: false,
            shards: None,
            io_backend: "auto".to_owned(),
        }
    }
}

impl EmbeddedSpec {
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "flush": if self.sync_flush { "SYNC_FLUSH" } else { "ASYNC_FLUSH" },
            "shards": self.shards,
            "io_backend": self.io_backend,
        })
    }
}

/// A name server and broker running in this process for one benchmark.
pub trait EmbeddedCluster {
    /// `ip:port` of the name server, as `-n` takes it.
    fn namesrv_address(&self) -> String;
    /// Where the temporary store lives (printed so a failed run can be inspected).
    fn store_description(&self) -> String;
    /// Shut the broker and name server down cleanly and remove the temporary store.
    fn stop(self: Box<Self>) -> Result<(), String>;
}

/// Starts an [`EmbeddedCluster`]; provided by the `ringmq` binary.
pub type Launcher = dyn Fn(&EmbeddedSpec) -> Result<Box<dyn EmbeddedCluster>, String>;
