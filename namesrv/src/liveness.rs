//! Broker liveness: when each registered broker address was last heard from, and over which
//! connection. Pure and clock-driven: callers pass the current monotonic time in.
//!
//! A broker re-registers every 30 s; one silent for longer than its heartbeat timeout (120 s by
//! default, or the `heartbeatTimeoutMillis` it registered with) is expired by [`Liveness::expire`],
//! which the server calls every `scanNotActiveBrokerInterval`. A broker whose connection closes
//! is removed at once ([`Liveness::connection_closed`]). The caller then removes the returned
//! addresses from the route table; the two tables hold the same key set.

use std::collections::BTreeMap;

use crate::clock::MonotonicMs;
use crate::route_table::BrokerAddrKey;

/// A server connection, unique for the process lifetime (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(pub u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LiveEntry {
    last_heard: MonotonicMs,
    timeout_ms: u64,
    connection: Option<ConnectionId>,
}

/// A broker removed for silence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired {
    pub key: BrokerAddrKey,
    pub silent_ms: u64,
    pub timeout_ms: u64,
    /// The connection it registered over, which the server should close (as RocketMQ does).
    pub connection: Option<ConnectionId>,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Liveness {
    entries: BTreeMap<BrokerAddrKey, LiveEntry>,
}

impl Liveness {
    pub fn new() -> Self {
        Self::default()
    }

    /// A registration arrived from `key` over `connection` at `now`.
    pub fn heartbeat(
        &mut self,
        key: BrokerAddrKey,
        now: MonotonicMs,
        timeout_ms: u64,
        connection: Option<ConnectionId>,
    ) {
        assert!(
            timeout_ms > 0,
            "a zero heartbeat timeout would expire at once"
        );
        self.entries.insert(
            key,
            LiveEntry {
                last_heard: now,
                timeout_ms,
                connection,
            },
        );
    }

    /// Refresh `key` without a full registration (QUERY_DATA_VERSION with an unchanged
    /// version). Returns false when `key` is not registered.
    pub fn touch(&mut self, key: &BrokerAddrKey, now: MonotonicMs) -> bool {
        match self.entries.get_mut(key) {
            Some(entry) => {
                entry.last_heard = entry.last_heard.max(now);
                true
            }
            None => false,
        }
    }

    pub fn remove(&mut self, key: &BrokerAddrKey) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Remove and return every broker silent for longer than its timeout at `now`.
    pub fn expire(&mut self, now: MonotonicMs) -> Vec<Expired> {
        let mut expired = Vec::new();
        self.entries.retain(|key, entry| {
            let silent_ms = now.since(entry.last_heard);
            let alive = silent_ms <= entry.timeout_ms;
            if !alive {
                expired.push(Expired {
                    key: key.clone(),
                    silent_ms,
                    timeout_ms: entry.timeout_ms,
                    connection: entry.connection,
                });
            }
            alive
        });
        expired
    }

    /// Remove and return every broker registered over `connection`.
    pub fn connection_closed(&mut self, connection: ConnectionId) -> Vec<BrokerAddrKey> {
        let mut closed = Vec::new();
        self.entries.retain(|key, entry| {
            let keep = entry.connection != Some(connection);
            if !keep {
                closed.push(key.clone());
            }
            keep
        });
        closed
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(addr: &str) -> BrokerAddrKey {
        BrokerAddrKey {
            cluster: "C".to_owned(),
            addr: addr.to_owned(),
        }
    }

    #[test]
    fn broker_silent_exactly_timeout_survives_one_ms_more_expires() {
        let mut live = Liveness::new();
        live.heartbeat(key("a"), MonotonicMs(1_000), 120_000, Some(ConnectionId(7)));
        assert!(live.expire(MonotonicMs(121_000)).is_empty());
        let expired = live.expire(MonotonicMs(121_001));
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].key, key("a"));
        assert_eq!(expired[0].silent_ms, 120_001);
        assert_eq!(expired[0].connection, Some(ConnectionId(7)));
        assert!(live.is_empty());
    }

    #[test]
    fn heartbeat_postpones_expiry_and_per_broker_timeouts_differ() {
        let mut live = Liveness::new();
        live.heartbeat(key("slow"), MonotonicMs(0), 120_000, None);
        live.heartbeat(key("fast"), MonotonicMs(0), 300, None);
        live.heartbeat(key("slow"), MonotonicMs(100_000), 120_000, None);
        let expired = live.expire(MonotonicMs(130_000));
        assert_eq!(
            expired.iter().map(|e| e.key.clone()).collect::<Vec<_>>(),
            [key("fast")]
        );
        assert_eq!(live.len(), 1);
    }

    #[test]
    fn touch_refreshes_only_registered_brokers_and_never_moves_time_back() {
        let mut live = Liveness::new();
        assert!(!live.touch(&key("a"), MonotonicMs(5)));
        live.heartbeat(key("a"), MonotonicMs(10), 100, None);
        assert!(live.touch(&key("a"), MonotonicMs(50)));
        assert!(live.touch(&key("a"), MonotonicMs(20)));
        assert!(live.expire(MonotonicMs(150)).is_empty());
        assert_eq!(live.expire(MonotonicMs(151)).len(), 1);
    }

    #[test]
    fn closing_a_connection_removes_only_brokers_registered_over_it() {
        let mut live = Liveness::new();
        live.heartbeat(key("a"), MonotonicMs(0), 100, Some(ConnectionId(1)));
        live.heartbeat(key("b"), MonotonicMs(0), 100, Some(ConnectionId(1)));
        live.heartbeat(key("c"), MonotonicMs(0), 100, Some(ConnectionId(2)));
        let closed = live.connection_closed(ConnectionId(1));
        assert_eq!(closed, [key("a"), key("b")]);
        assert!(live.connection_closed(ConnectionId(1)).is_empty());
        assert_eq!(live.len(), 1);
    }

    #[test]
    fn re_registering_over_a_new_connection_moves_ownership() {
        let mut live = Liveness::new();
        live.heartbeat(key("a"), MonotonicMs(0), 100, Some(ConnectionId(1)));
        live.heartbeat(key("a"), MonotonicMs(1), 100, Some(ConnectionId(2)));
        assert!(live.connection_closed(ConnectionId(1)).is_empty());
        assert_eq!(live.connection_closed(ConnectionId(2)), [key("a")]);
    }
}
