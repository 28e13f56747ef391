//! `ringmq bench --embedded`: the [`LocalCluster`] of `ringmq dev`, started inside the bench
//! process on a temporary store and free loopback ports, and removed when the run ends.
//!
//! The store is a fresh directory under `$TMPDIR` (it must be a filesystem that supports
//! O_DIRECT, as the broker's store always must). It is removed after a clean shutdown; if the
//! process is killed instead, the `ringmq-bench-*` directory stays behind for inspection.

use std::net::TcpListener;
use std::path::Path;

use ringmq_bench::{EmbeddedCluster, EmbeddedSpec};
use ringmq_broker::{BrokerHandle, StartError};
use ringmq_namesrv::NamesrvHandle;

use crate::cluster::LocalCluster;

/// Attempts at finding a free port block before giving up.
const PORT_ATTEMPTS_MAX: usize = 20;

/// A running embedded cluster and the store it owns.
#[derive(Debug)]
struct Embedded {
    namesrv: NamesrvHandle,
    broker: BrokerHandle,
    store: tempfile::TempDir,
}

impl EmbeddedCluster for Embedded {
    fn namesrv_address(&self) -> String {
        format!("127.0.0.1:{}", self.namesrv.local_addr().port())
    }

    fn store_description(&self) -> String {
        format!("{} (temporary)", self.store.path().display())
    }

    fn stop(self: Box<Self>) -> Result<(), String> {
        let Self {
            namesrv,
            broker,
            store,
        } = *self;
        let broker_stopped = broker
            .shutdown()
            .map_err(|error| format!("broker: {error}"));
        let namesrv_stopped = namesrv
            .shutdown()
            .map_err(|error| format!("name server: {error}"));
        let path = store.path().to_path_buf();
        broker_stopped?;
        namesrv_stopped?;
        store
            .close()
            .map_err(|error| format!("cannot remove the store {}: {error}", path.display()))
    }
}

/// A port the kernel considers free now, whose neighbours the broker also needs (port-2 for
/// VIP, port+1 for HA) fit in the port range; the broker's own check catches a lost race.
fn candidate_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|error| format!("cannot bind a loopback port: {error}"))?;
    let port = listener
        .local_addr()
        .map_err(|error| error.to_string())?
        .port();
    Ok(port.clamp(1026, 65_000))
}

fn start_broker(cluster: &mut LocalCluster, namesrv: &str) -> Result<BrokerHandle, String> {
    let mut last_error = String::new();
    for _ in 0..PORT_ATTEMPTS_MAX {
        cluster.port = candidate_port()?;
        let config = cluster.broker_config(namesrv)?;
        match ringmq_broker::start(config) {
            Ok(broker) => return Ok(broker),
            Err(error @ StartError::PortInUse { .. }) => last_error = error.to_string(),
            Err(error) => return Err(format!("broker: {error}")),
        }
    }
    Err(format!(
        "broker: no free port block after {PORT_ATTEMPTS_MAX} attempts; last: {last_error}"
    ))
}

fn start_in(store: &Path, spec: &EmbeddedSpec) -> Result<(NamesrvHandle, BrokerHandle), String> {
    let mut cluster = LocalCluster {
        store: store.to_path_buf(),
        namesrv_port: 0,
        port: 0,
        shards: spec.shards,
        sync_flush: spec.sync_flush,
        io_backend: spec.io_backend.clone(),
        settings: Vec::new(),
    };
    let namesrv = cluster.start_namesrv()?;
    let address = format!("127.0.0.1:{}", namesrv.local_addr().port());
    match start_broker(&mut cluster, &address) {
        Ok(broker) => Ok((namesrv, broker)),
        Err(message) => {
            let _ = namesrv.shutdown();
            Err(message)
        }
    }
}

/// The [`ringmq_bench::Launcher`] of the `ringmq` binary.
pub(crate) fn launch(spec: &EmbeddedSpec) -> Result<Box<dyn EmbeddedCluster>, String> {
    let store = tempfile::Builder::new()
        .prefix("ringmq-bench-")
        .tempdir()
        .map_err(|error| {
            format!("cannot create a temporary store under $TMPDIR ({error}); set TMPDIR to a writable directory")
        })?;
    let (namesrv, broker) = start_in(store.path(), spec)?;
    Ok(Box::new(Embedded {
        namesrv,
        broker,
        store,
    }))
}
