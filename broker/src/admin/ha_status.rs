//! GET_BROKER_HA_STATUS (907), what `mqadmin haStatus` prints: a master's slave
//! connections with their acknowledged offsets and lag, or a slave's link to its master, in
//! RocketMQ 5.x's `HARuntimeInfo` body.
//!
//! Replication is per shard (`crate::ha`), so a slave of a master with N shards holds N
//! connections and is listed N times, once per shard's log; its offsets carry the shard in
//! their top bits, as every physical offset does. With one shard the figures mean exactly
//! what they mean on a Java broker.

use std::collections::BTreeMap;
use std::time::Duration;

use ringmq_engine::types::PhysicalOffset;
use ringmq_protocol::body::admin::{HaClientRuntimeInfo, HaConnectionRuntimeInfo, HaRuntimeInfo};

use super::as_i64;
use super::gather::ShardHa;
use crate::config::BrokerRole;
use crate::ha::master::acked_in_sync;

/// Build the body from every shard's state. `now_ms`: the wall clock, to turn the clients'
/// "how long ago" into timestamps.
pub(crate) fn runtime_info(
    role: BrokerRole,
    max_gap: u64,
    now_ms: i64,
    shards: &BTreeMap<u16, ShardHa>,
) -> HaRuntimeInfo {
    if role == BrokerRole::Slave {
        return HaRuntimeInfo {
            master: false,
            ha_client_runtime_info: client_info(now_ms, shards),
            ..HaRuntimeInfo::default()
        };
    }
    let mut info = HaRuntimeInfo {
        master: true,
        master_commit_log_max_offset: as_i64(
            shards
                .values()
                .map(|shard| shard.appended)
                .max()
                .unwrap_or(0),
        ),
        ..HaRuntimeInfo::default()
    };
    // A slave is in sync when it is in sync on every shard's log, as a SYNC_MASTER send
    // needs (`shard::ReplicaWait`): the fewest over shards.
    let mut in_sync_everywhere: Option<usize> = None;
    for shard in shards.values() {
        let mut in_sync_here = 0;
        for peer in &shard.peers {
            let in_sync = acked_in_sync(peer.acked, PhysicalOffset(shard.written), max_gap);
            in_sync_here += usize::from(in_sync);
            let (slave_ack_offset, diff) = match peer.acked {
                Some(acked) => (
                    as_i64(acked.0),
                    as_i64(shard.appended.saturating_sub(acked.0)),
                ),
                // Java's slaveAckOffset before the first acknowledgement.
                None => (-1, as_i64(shard.appended)),
            };
            info.ha_connection_info.push(HaConnectionRuntimeInfo {
                addr: peer.peer.to_string(),
                diff,
                in_sync,
                slave_ack_offset,
                transfer_from_where: as_i64(peer.next.0),
                transferred_byte_in_second: as_i64(peer.shipped_per_second),
            });
        }
        in_sync_everywhere = Some(in_sync_everywhere.map_or(in_sync_here, |n| n.min(in_sync_here)));
    }
    info.in_sync_slave_nums = i32::try_from(in_sync_everywhere.unwrap_or(0)).unwrap_or(i32::MAX);
    info
}

fn client_info(now_ms: i64, shards: &BTreeMap<u16, ShardHa>) -> HaClientRuntimeInfo {
    let clients: Vec<_> = shards
        .values()
        .filter_map(|shard| shard.client.as_ref())
        .collect();
    // The most recent exchange over the shards' links; 0 when none ever happened.
    let latest = |since: &dyn Fn(&crate::ha::slave::ClientStatus) -> Option<Duration>| {
        clients
            .iter()
            .filter_map(|client| since(client))
            .min()
            .map_or(0, |ago| {
                now_ms.saturating_sub(i64::try_from(ago.as_millis()).unwrap_or(i64::MAX))
            })
    };
    HaClientRuntimeInfo {
        last_read_timestamp: latest(&|client| client.since_read),
        last_write_timestamp: latest(&|client| client.since_report),
        master_addr: clients
            .iter()
            .find_map(|client| client.master)
            .map(|addr| addr.to_string()),
        // Only RocketMQ's controller mode sets it; 0 there otherwise, too.
        master_flush_offset: 0,
        max_offset: as_i64(
            shards
                .values()
                .map(|shard| shard.appended)
                .max()
                .unwrap_or(0),
        ),
        transferred_byte_in_second: as_i64(
            clients
                .iter()
                .map(|client| client.received_per_second)
                .sum(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use ringmq_engine::types::PhysicalOffset;

    use super::*;
    use crate::ha::master::PeerStatus;
    use crate::ha::slave::ClientStatus;

    const GAP: u64 = 1000;

    fn peer(port: u16, acked: Option<u64>) -> PeerStatus {
        PeerStatus {
            peer: ([127, 0, 0, 1], port).into(),
            acked: acked.map(PhysicalOffset),
            next: PhysicalOffset(acked.unwrap_or(0)),
            shipped_per_second: 4096,
        }
    }

    fn shard(index: u16, written: u64, peers: Vec<PeerStatus>) -> (u16, ShardHa) {
        let ha = ShardHa {
            shard: index,
            appended: written + 10,
            written,
            peers,
            client: None,
        };
        (index, ha)
    }

    // Hazard: with several shards a slave in sync on one log but far behind on another is
    // not in sync for a SYNC_MASTER send; haStatus must not count it.
    #[test]
    fn a_slave_counts_as_in_sync_only_when_it_is_on_every_shard() {
        let shards = BTreeMap::from([
            shard(0, 5_000, vec![peer(1, Some(4_500)), peer(2, Some(4_900))]),
            shard(1, 9_000, vec![peer(1, Some(8_999)), peer(2, Some(1_000))]),
        ]);
        let info = runtime_info(BrokerRole::SyncMaster, GAP, 0, &shards);
        assert!(info.master);
        assert_eq!(info.master_commit_log_max_offset, 9_010);
        assert_eq!(info.in_sync_slave_nums, 1);
        let rows: Vec<(&str, i64, i64, bool)> = info
            .ha_connection_info
            .iter()
            .map(|c| (c.addr.as_str(), c.slave_ack_offset, c.diff, c.in_sync))
            .collect();
        assert_eq!(
            rows,
            [
                ("127.0.0.1:1", 4_500, 510, true),
                ("127.0.0.1:2", 4_900, 110, true),
                ("127.0.0.1:1", 8_999, 11, true),
                ("127.0.0.1:2", 1_000, 8_010, false),
            ]
        );
    }

    #[test]
    fn a_slave_that_never_acknowledged_shows_java_minus_one_and_is_not_in_sync() {
        let shards = BTreeMap::from([shard(0, 100, vec![peer(7, None)])]);
        let info = runtime_info(BrokerRole::AsyncMaster, GAP, 0, &shards);
        let row = &info.ha_connection_info[0];
        assert_eq!(
            (row.slave_ack_offset, row.diff, row.in_sync),
            (-1, 110, false)
        );
        assert_eq!(info.in_sync_slave_nums, 0);
    }

    #[test]
    fn a_slave_reports_its_master_the_latest_exchange_and_the_summed_rate() {
        let client = |read_ago: u64, rate: u64| ClientStatus {
            master: Some(([127, 0, 0, 1], 10_912).into()),
            received_per_second: rate,
            since_read: Some(Duration::from_millis(read_ago)),
            since_report: Some(Duration::from_millis(read_ago + 1)),
        };
        let mut shards = BTreeMap::from([shard(0, 100, Vec::new()), shard(1, 300, Vec::new())]);
        for (index, read_ago, rate) in [(0, 50, 1_000), (1, 20, 24)] {
            if let Some(shard) = shards.get_mut(&index) {
                shard.client = Some(client(read_ago, rate));
            }
        }
        let info = runtime_info(BrokerRole::Slave, GAP, 1_000_000, &shards);
        assert!(!info.master);
        let client = &info.ha_client_runtime_info;
        assert_eq!(client.master_addr.as_deref(), Some("127.0.0.1:10912"));
        assert_eq!(client.max_offset, 310);
        assert_eq!(client.transferred_byte_in_second, 1_024);
        assert_eq!(
            (client.last_read_timestamp, client.last_write_timestamp),
            (999_980, 999_979)
        );
    }
}
