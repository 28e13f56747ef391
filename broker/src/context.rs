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
    /// Client connections each shard owns or has been handed, indexed by shard: a shard that
    /// accepts a connection while another owns fewer hands it over
    /// (`BrokerShard::place_connection`), so SO_REUSEPORT's hashing of a few connections
    /// cannot leave one shard decoding every request while the other idles.
    pub(crate) client_connections: ConnectionCounts,
}

/// Client connections per shard, indexed by shard.
#[derive(Debug)]
pub(crate) struct ConnectionCounts(Box<[AtomicUsize]>);

impl ConnectionCounts {
    pub(crate) fn new(shards: u16) -> Self {
        Self((0..shards).map(|_| AtomicUsize::new(0)).collect())
    }

    fn count(&self, shard: usize) -> usize {
        self.0[shard].load(Ordering::Relaxed)
    }

    /// Where a connection `shard` just accepted should live: the shard with the fewest client
    /// connections when that is fewer than `shard` has, else `shard` itself. The choice is
    /// counted at once, so a burst of accepts spreads out before any handover is adopted.
    pub(crate) fn place(&self, shard: u16) -> u16 {
        let own = usize::from(shard).min(self.0.len().saturating_sub(1));
        let fewest = (0..self.0.len())
            .min_by_key(|&index| (self.count(index), index != own))
            .unwrap_or(own);
        let target = if self.count(fewest) < self.count(own) {
            fewest
        } else {
            own
        };
        self.0[target].fetch_add(1, Ordering::Relaxed);
        u16::try_from(target).unwrap_or(shard)
    }

    /// A connection counted on `from` is served by `to` after all.
    pub(crate) fn moved(&self, from: u16, to: u16) {
        if from != to {
            self.gone(from);
            if let Some(count) = self.0.get(usize::from(to)) {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Whether a connection of `from` whose traffic all goes to `to` may move there, and if
    /// so count it there. It may when `to` has no more connections than `from` and no more
    /// than an even share (rounded up) of all: connections follow their queues' owner, but
    /// traffic aimed at one shard cannot pile every connection onto it.
    pub(crate) fn claim(&self, from: u16, to: u16) -> bool {
        let (from_index, to_index) = (usize::from(from), usize::from(to));
        if from == to || from_index >= self.0.len() || to_index >= self.0.len() {
            return false;
        }
        let total: usize = (0..self.0.len()).map(|index| self.count(index)).sum();
        let even_share = total.div_ceil(self.0.len());
        let target = self.count(to_index);
        if target > self.count(from_index) || target > even_share {
            return false;
        }
        self.moved(from, to);
        true
    }

    /// A client connection of `shard` closed, or was refused after it was placed there.
    pub(crate) fn gone(&self, shard: u16) {
        if let Some(count) = self.0.get(usize::from(shard)) {
            // Saturating: never below zero even if a caller miscounts.
            let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
        }
    }
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

#[cfg(test)]
mod tests {
    use super::ConnectionCounts;

    // Hazard: SO_REUSEPORT hashes each connection to a shard, so a benchmark's four connections
    // landed 4:1 and one shard decoded every request while the other idled.
    #[test]
    fn a_burst_of_accepts_on_one_shard_spreads_over_all_shards() {
        let counts = ConnectionCounts::new(2);
        let placed: Vec<u16> = (0..4).map(|_| counts.place(0)).collect();
        assert_eq!(placed, [0, 1, 0, 1]);
    }

    #[test]
    fn a_shard_keeps_a_connection_when_no_other_has_fewer() {
        let counts = ConnectionCounts::new(3);
        assert_eq!(counts.place(2), 2);
        assert_eq!(counts.place(0), 0);
        assert_eq!(counts.place(1), 1);
        // All have one: the accepting shard keeps the fourth.
        assert_eq!(counts.place(1), 1);
        // Shard 1 now has two; shard 2 loses its connection and gets the next one from 1.
        counts.gone(2);
        assert_eq!(counts.place(1), 2);
    }

    // Hazard: a benchmark lane writes queues owned by one shard; served by the other shard,
    // every request and answer crossed between threads (1-2 us more per message).
    #[test]
    fn a_connection_moves_to_its_queues_owner_while_shards_stay_even() {
        let counts = ConnectionCounts::new(2);
        let placed: Vec<u16> = (0..4).map(|_| counts.place(0)).collect();
        assert_eq!(placed, [0, 1, 0, 1]);
        // Lanes 0 and 2 write shard 0's queues, lanes 1 and 3 shard 1's: two moves swap the
        // misplaced pair, one at a time, and the shards end even.
        assert!(counts.claim(1, 0), "2 connections each: a tie may move");
        assert!(counts.claim(0, 1), "3 against 1: back to even");
        assert_eq!((counts.count(0), counts.count(1)), (2, 2));
    }

    #[test]
    fn traffic_aimed_at_one_shard_does_not_pile_every_connection_onto_it() {
        let counts = ConnectionCounts::new(2);
        for _ in 0..4 {
            counts.place(0);
        }
        assert!(counts.claim(1, 0));
        assert!(!counts.claim(1, 0), "shard 0 has 3 of the 4 already");
        assert!(!counts.claim(0, 0));
        assert!(!counts.claim(0, 7), "no such shard");
        assert_eq!((counts.count(0), counts.count(1)), (3, 1));
    }

    #[test]
    fn counts_follow_connections_that_move_or_go() {
        let counts = ConnectionCounts::new(2);
        assert_eq!(counts.place(0), 0);
        counts.moved(0, 1);
        assert_eq!(counts.place(1), 0);
        counts.gone(0);
        counts.gone(0);
        assert_eq!(counts.place(1), 0, "a count never goes below zero");
    }
}
