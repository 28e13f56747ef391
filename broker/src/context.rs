//! What every shard of one broker shares, immutable after start: the configuration, the
//! advertised address, the log and the counters the admin tools read.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::config::BrokerConfig;
use crate::log::Log;

/// Counters for GET_BROKER_RUNTIME_INFO and clusterList.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) messages_put: AtomicU64,
    pub(crate) messages_got: AtomicU64,
    pub(crate) bytes_put: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, value: u64) {
        counter.fetch_add(value, Ordering::Relaxed);
    }

    pub(crate) fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Broker-wide facts.
#[derive(Debug)]
pub(crate) struct BrokerContext {
    pub(crate) config: BrokerConfig,
    /// brokerIP1:listenPort: stored in every record and registered with name servers.
    pub(crate) store_host: SocketAddr,
    pub(crate) shard_count: u16,
    pub(crate) max_frame_bytes: usize,
    pub(crate) log: Log,
    pub(crate) counters: Counters,
    pub(crate) started_ms: i64,
    /// Physical memory, for `accessMessageInMemoryMaxRatio`.
    pub(crate) physical_memory_bytes: u64,
    /// HA connections accepted whose first report has not been read yet (see
    /// `ha::master::Unclaimed`); every shard counts them as slaves in sync.
    pub(crate) ha_unclaimed: AtomicUsize,
}

/// Total physical memory from /proc/meminfo (0 when unreadable).
pub(crate) fn physical_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0)
}

impl BrokerContext {
    pub(crate) fn broker_addr(&self) -> String {
        self.store_host.to_string()
    }
}
