//! The route table: which brokers serve which topics, and which clusters hold which brokers.
//! Pure state with one owner (the server loop); no I/O and no clock.
//!
//! Semantics follow RocketMQ 5.x `RouteInfoManager`:
//! - a broker name groups a master (id 0) and slaves (id ≥ 1), each an `ip:port` address;
//! - topic queue data is written only by the master's registration (or, with acting master,
//!   by the lowest-id slave when no master is registered), and only when the broker's
//!   [`DataVersion`] changed or this broker name has no queue data for the topic yet;
//! - removing an address removes it from its broker name; a broker name with no addresses left
//!   is removed from its cluster, and its queue data is removed from every topic; a topic with
//!   no queue data left is removed.
//!
//! Invariants (checked by [`RouteTable::check_invariants`] in tests): every broker name has at
//! least one address; every cluster member exists and names that cluster; every topic has at
//! least one queue data, each for an existing broker name.

use std::collections::{BTreeMap, BTreeSet};

pub use crate::body::MASTER_ID;
use crate::body::{
    BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfig, TopicRouteData, PERM_READ,
    PERM_WRITE,
};

/// A broker process as the liveness table knows it: cluster plus address (`BrokerAddrInfo`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BrokerAddrKey {
    pub cluster: String,
    pub addr: String,
}

/// Everything one REGISTER_BROKER carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    pub cluster: String,
    pub broker_name: String,
    pub broker_addr: String,
    pub broker_id: i64,
    pub ha_server_addr: String,
    /// `None` for brokers older than 5.0, which do not send the field.
    pub enable_acting_master: Option<bool>,
    pub zone_name: Option<String>,
    pub data_version: DataVersion,
    pub topics: BTreeMap<String, TopicConfig>,
    pub filter_servers: Vec<String>,
}

/// Result of a registration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegisterOutcome {
    /// False when a newer registration for the same broker id holds the slot (RocketMQ keeps the
    /// one with the higher state version).
    pub accepted: bool,
    /// For slaves: the master's address, when the master is registered.
    pub master_addr: Option<String>,
    /// For slaves: the master's HA address, when the master is registered.
    pub ha_server_addr: Option<String>,
}

/// A broker address removed from the table, for logging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedBroker {
    pub key: BrokerAddrKey,
    pub broker_name: String,
    /// True when this was the broker name's last address, so its routes went with it.
    pub broker_name_removed: bool,
}

/// Per-address registration details kept between registrations.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BrokerRecord {
    data_version: DataVersion,
    ha_server_addr: String,
}

/// Which way to change write permission on a broker's queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WritePerm {
    /// WIPE_WRITE_PERM_OF_BROKER: clear the write bit.
    Wipe,
    /// ADD_WRITE_PERM_OF_BROKER: set read and write.
    Add,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct RouteTable {
    /// topic → broker name → queue data.
    topic_queues: BTreeMap<String, BTreeMap<String, QueueData>>,
    /// broker name → addresses.
    brokers: BTreeMap<String, BrokerData>,
    /// cluster → broker names.
    clusters: BTreeMap<String, BTreeSet<String>>,
    filter_servers: BTreeMap<BrokerAddrKey, Vec<String>>,
    records: BTreeMap<BrokerAddrKey, BrokerRecord>,
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Apply one REGISTER_BROKER.
    pub fn register(&mut self, registration: &Registration) -> RegisterOutcome {
        let key = BrokerAddrKey {
            cluster: registration.cluster.clone(),
            addr: registration.broker_addr.clone(),
        };
        self.clusters
            .entry(registration.cluster.clone())
            .or_default()
            .insert(registration.broker_name.clone());
        let mut register_first = !self.brokers.contains_key(&registration.broker_name);
        if !self.newer_registration_absent(registration) {
            self.records.remove(&key);
            return RegisterOutcome::default();
        }
        let broker = self
            .brokers
            .entry(registration.broker_name.clone())
            .or_insert_with(|| BrokerData {
                cluster: registration.cluster.clone(),
                broker_name: registration.broker_name.clone(),
                ..BrokerData::default()
            });
        broker.enable_acting_master = registration.enable_acting_master.unwrap_or(false);
        broker.zone_name.clone_from(&registration.zone_name);
        // A slave promoted to master re-registers the same address under id 0: drop the old id.
        broker
            .broker_addrs
            .retain(|id, addr| *addr != registration.broker_addr || *id == registration.broker_id);
        let previous = broker
            .broker_addrs
            .insert(registration.broker_id, registration.broker_addr.clone());
        register_first = register_first || previous.is_none_or(|addr| addr.is_empty());
        let is_master = registration.broker_id == MASTER_ID;
        let min_id = broker.broker_addrs.keys().next().copied();
        let is_prime_slave = registration.enable_acting_master.is_some()
            && !is_master
            && min_id == Some(registration.broker_id);
        let acting = is_prime_slave && broker.enable_acting_master;
        if is_master || is_prime_slave {
            self.update_queue_datas(registration, &key, register_first, acting);
        }
        self.records.insert(
            key.clone(),
            BrokerRecord {
                data_version: registration.data_version.clone(),
                ha_server_addr: registration.ha_server_addr.clone(),
            },
        );
        if registration.filter_servers.is_empty() {
            self.filter_servers.remove(&key);
        } else {
            self.filter_servers
                .insert(key, registration.filter_servers.clone());
        }
        let mut outcome = RegisterOutcome {
            accepted: true,
            ..RegisterOutcome::default()
        };
        if !is_master {
            self.fill_master(registration, &mut outcome);
        }
        outcome
    }

    /// False when another address holds this broker id with a higher state version.
    fn newer_registration_absent(&self, registration: &Registration) -> bool {
        let Some(broker) = self.brokers.get(&registration.broker_name) else {
            return true;
        };
        let Some(old_addr) = broker.broker_addrs.get(&registration.broker_id) else {
            return true;
        };
        if *old_addr == registration.broker_addr {
            return true;
        }
        let old_key = BrokerAddrKey {
            cluster: registration.cluster.clone(),
            addr: old_addr.clone(),
        };
        self.records.get(&old_key).is_none_or(|record| {
            record.data_version.state_version <= registration.data_version.state_version
        })
    }

    fn update_queue_datas(
        &mut self,
        registration: &Registration,
        key: &BrokerAddrKey,
        register_first: bool,
        acting_master: bool,
    ) {
        let version_changed = self
            .records
            .get(key)
            .is_none_or(|record| record.data_version != registration.data_version);
        for (topic, config) in &registration.topics {
            let present = self
                .topic_queues
                .get(topic)
                .is_some_and(|queues| queues.contains_key(&registration.broker_name));
            if !(register_first || version_changed || !present) {
                continue;
            }
            let mut perm = config.perm;
            if acting_master {
                // The acting master of a broker name without master is read-only.
                perm &= !PERM_WRITE;
            }
            let queue_data = QueueData {
                broker_name: registration.broker_name.clone(),
                perm,
                read_queue_nums: config.read_queue_nums,
                topic_sys_flag: config.topic_sys_flag,
                write_queue_nums: config.write_queue_nums,
            };
            self.topic_queues
                .entry(topic.clone())
                .or_default()
                .insert(registration.broker_name.clone(), queue_data);
        }
    }

    fn fill_master(&self, registration: &Registration, outcome: &mut RegisterOutcome) {
        let master_addr = self
            .brokers
            .get(&registration.broker_name)
            .and_then(|broker| broker.broker_addrs.get(&MASTER_ID));
        let Some(master_addr) = master_addr else {
            return;
        };
        let master_key = BrokerAddrKey {
            cluster: registration.cluster.clone(),
            addr: master_addr.clone(),
        };
        if let Some(record) = self.records.get(&master_key) {
            outcome.ha_server_addr = Some(record.ha_server_addr.clone());
            outcome.master_addr = Some(master_addr.clone());
        }
    }

    /// Apply one UNREGISTER_BROKER: remove `key.addr` from `broker_name`.
    pub fn unregister(&mut self, key: &BrokerAddrKey, broker_name: &str) -> Option<RemovedBroker> {
        let known = self.records.remove(key).is_some();
        self.filter_servers.remove(key);
        let broker = self.brokers.get_mut(broker_name)?;
        let before = broker.broker_addrs.len();
        broker.broker_addrs.retain(|_, addr| *addr != key.addr);
        let removed_address = broker.broker_addrs.len() != before;
        let broker_name_removed = broker.broker_addrs.is_empty();
        if broker_name_removed {
            self.brokers.remove(broker_name);
            // Java removes the name from `key.cluster` only; a broker name that once registered
            // under a second cluster would linger there, so remove it everywhere.
            self.clusters.retain(|_, names| {
                names.remove(broker_name);
                !names.is_empty()
            });
            self.remove_queue_datas_of(broker_name);
        }
        (known || removed_address).then(|| RemovedBroker {
            key: key.clone(),
            broker_name: broker_name.to_owned(),
            broker_name_removed,
        })
    }

    /// Remove an address whose broker went silent or whose connection closed; the broker name
    /// is found by searching the cluster (RocketMQ `onChannelDestroy`).
    pub fn remove_address(&mut self, key: &BrokerAddrKey) -> Vec<RemovedBroker> {
        let names: Vec<String> = self
            .brokers
            .values()
            .filter(|broker| {
                broker.cluster == key.cluster
                    && broker.broker_addrs.values().any(|a| *a == key.addr)
            })
            .map(|broker| broker.broker_name.clone())
            .collect();
        let mut removed: Vec<RemovedBroker> = names
            .iter()
            .filter_map(|name| self.unregister(key, name))
            .collect();
        if removed.is_empty() && self.records.remove(key).is_some() {
            self.filter_servers.remove(key);
            removed.push(RemovedBroker {
                key: key.clone(),
                broker_name: String::new(),
                broker_name_removed: false,
            });
        }
        removed
    }

    fn remove_queue_datas_of(&mut self, broker_name: &str) {
        self.topic_queues.retain(|_, queues| {
            queues.remove(broker_name);
            !queues.is_empty()
        });
    }

    /// The route of `topic`, or `None` when no broker serves it (TOPIC_NOT_EXIST).
    pub fn route(&self, topic: &str, support_acting_master: bool) -> Option<TopicRouteData> {
        let queues = self.topic_queues.get(topic)?;
        let mut route = TopicRouteData {
            queue_datas: queues.values().cloned().collect(),
            ..TopicRouteData::default()
        };
        for broker_name in queues.keys() {
            let Some(broker) = self.brokers.get(broker_name) else {
                continue;
            };
            for addr in broker.broker_addrs.values() {
                let key = BrokerAddrKey {
                    cluster: broker.cluster.clone(),
                    addr: addr.clone(),
                };
                if let Some(servers) = self.filter_servers.get(&key) {
                    route
                        .filter_server_table
                        .insert(addr.clone(), servers.clone());
                }
            }
            route.broker_datas.push(broker.clone());
        }
        if route.broker_datas.is_empty() {
            return None;
        }
        if support_acting_master {
            promote_acting_masters(&mut route);
        }
        Some(route)
    }

    /// GET_BROKER_CLUSTER_INFO.
    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            broker_addr_table: self.brokers.clone(),
            cluster_addr_table: self.clusters.clone(),
        }
    }

    /// Addresses of `broker_name` by broker id.
    pub fn broker_addrs(&self, broker_name: &str) -> Option<&BTreeMap<i64, String>> {
        self.brokers
            .get(broker_name)
            .map(|broker| &broker.broker_addrs)
    }

    /// Every topic with queue data.
    pub fn topics(&self) -> BTreeSet<String> {
        self.topic_queues.keys().cloned().collect()
    }

    /// Topics served by at least one broker of `cluster`.
    pub fn topics_of_cluster(&self, cluster: &str) -> BTreeSet<String> {
        let Some(names) = self.clusters.get(cluster) else {
            return BTreeSet::new();
        };
        self.topic_queues
            .iter()
            .filter(|(_, queues)| queues.keys().any(|name| names.contains(name)))
            .map(|(topic, _)| topic.clone())
            .collect()
    }

    /// DELETE_TOPIC_IN_NAMESRV: drop the topic, or only its queues on `cluster`'s brokers.
    pub fn delete_topic(&mut self, topic: &str, cluster: Option<&str>) {
        let Some(cluster) = cluster.filter(|name| !name.is_empty()) else {
            self.topic_queues.remove(topic);
            return;
        };
        let Some(names) = self.clusters.get(cluster) else {
            return;
        };
        if let Some(queues) = self.topic_queues.get_mut(topic) {
            queues.retain(|name, _| !names.contains(name));
            if queues.is_empty() {
                self.topic_queues.remove(topic);
            }
        }
    }

    /// WIPE/ADD_WRITE_PERM_OF_BROKER; returns how many topics were changed.
    pub fn set_write_perm(&mut self, broker_name: &str, change: WritePerm) -> usize {
        let mut changed = 0;
        for queue in self
            .topic_queues
            .values_mut()
            .filter_map(|queues| queues.get_mut(broker_name))
        {
            queue.perm = match change {
                WritePerm::Wipe => queue.perm & !PERM_WRITE,
                WritePerm::Add => PERM_READ | PERM_WRITE,
            };
            changed += 1;
        }
        changed
    }

    /// The data version last registered by `key`, if it is registered.
    pub fn data_version(&self, key: &BrokerAddrKey) -> Option<&DataVersion> {
        self.records.get(key).map(|record| &record.data_version)
    }

    /// Number of registered broker addresses.
    pub fn broker_count(&self) -> usize {
        self.records.len()
    }

    /// Panic if an invariant from the module documentation does not hold. O(table size).
    pub fn check_invariants(&self) {
        for (name, broker) in &self.brokers {
            assert_eq!(*name, broker.broker_name);
            assert!(
                !broker.broker_addrs.is_empty(),
                "broker {name} has no address"
            );
            let members = self.clusters.get(&broker.cluster);
            assert!(
                members.is_some_and(|m| m.contains(name)),
                "broker {name} missing from cluster {}",
                broker.cluster
            );
        }
        for (cluster, names) in &self.clusters {
            assert!(!names.is_empty(), "cluster {cluster} is empty");
            for name in names {
                assert!(self.brokers.contains_key(name), "{cluster}/{name} unknown");
            }
        }
        for (topic, queues) in &self.topic_queues {
            assert!(!queues.is_empty(), "topic {topic} has no queue data");
            for (name, queue) in queues {
                assert_eq!(*name, queue.broker_name);
                assert!(self.brokers.contains_key(name), "{topic} on unknown {name}");
            }
        }
    }
}

/// With `supportActingMaster`, a broker name whose master is gone and whose queues are
/// read-only shows its lowest-id slave as id 0 so clients can still consume from it.
fn promote_acting_masters(route: &mut TopicRouteData) {
    let queue_perms: BTreeMap<&str, i32> = route
        .queue_datas
        .iter()
        .map(|queue| (queue.broker_name.as_str(), queue.perm))
        .collect();
    for broker in &mut route.broker_datas {
        if broker.broker_addrs.is_empty()
            || broker.broker_addrs.contains_key(&MASTER_ID)
            || !broker.enable_acting_master
        {
            continue;
        }
        let writable = queue_perms
            .get(broker.broker_name.as_str())
            .is_none_or(|perm| perm & PERM_WRITE != 0);
        if !writable {
            if let Some((_, addr)) = broker.broker_addrs.pop_first() {
                broker.broker_addrs.insert(MASTER_ID, addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(read: i32, write: i32, perm: i32) -> TopicConfig {
        TopicConfig {
            perm,
            read_queue_nums: read,
            write_queue_nums: write,
            ..TopicConfig::default()
        }
    }

    fn registration(name: &str, addr: &str, id: i64, topics: &[&str]) -> Registration {
        Registration {
            cluster: "DefaultCluster".to_owned(),
            broker_name: name.to_owned(),
            broker_addr: addr.to_owned(),
            broker_id: id,
            ha_server_addr: format!("{addr}-ha"),
            enable_acting_master: Some(false),
            data_version: DataVersion {
                counter: 1,
                state_version: 0,
                timestamp: 1,
            },
            topics: topics
                .iter()
                .map(|t| ((*t).to_owned(), topic(4, 4, 6)))
                .collect(),
            ..Registration::default()
        }
    }

    fn key(addr: &str) -> BrokerAddrKey {
        BrokerAddrKey {
            cluster: "DefaultCluster".to_owned(),
            addr: addr.to_owned(),
        }
    }

    #[test]
    fn master_and_slave_share_one_broker_name_keyed_by_id() {
        let mut table = RouteTable::new();
        let master = table.register(&registration("a", "m:1", 0, &["T"]));
        assert!(master.accepted);
        assert_eq!(master.master_addr, None);
        let slave = table.register(&registration("a", "s:1", 1, &["T"]));
        assert_eq!(slave.master_addr.as_deref(), Some("m:1"));
        assert_eq!(slave.ha_server_addr.as_deref(), Some("m:1-ha"));
        let route = table.route("T", false).unwrap();
        assert_eq!(route.broker_datas.len(), 1);
        assert_eq!(route.broker_datas[0].broker_addrs.len(), 2);
        assert_eq!(route.broker_datas[0].broker_addrs[&0], "m:1");
        assert_eq!(route.queue_datas.len(), 1);
        table.check_invariants();
    }

    #[test]
    fn slave_registering_before_master_gets_no_master_addr_and_no_queues() {
        let mut table = RouteTable::new();
        let slave = table.register(&registration("a", "s:1", 1, &["T"]));
        assert_eq!(slave.master_addr, None);
        // An old-version slave (no enableActingMaster) never writes queue data.
        let mut old = registration("b", "s:2", 1, &["U"]);
        old.enable_acting_master = None;
        table.register(&old);
        assert!(table.route("U", false).is_none());
        table.check_invariants();
    }

    #[test]
    fn removing_master_keeps_routes_while_slave_remains() {
        let mut table = RouteTable::new();
        table.register(&registration("a", "m:1", 0, &["T"]));
        table.register(&registration("a", "s:1", 1, &["T"]));
        let removed = table.remove_address(&key("m:1"));
        assert_eq!(removed.len(), 1);
        assert!(!removed[0].broker_name_removed);
        let route = table.route("T", false).unwrap();
        assert_eq!(
            route.broker_datas[0]
                .broker_addrs
                .keys()
                .copied()
                .collect::<Vec<_>>(),
            [1]
        );
        table.check_invariants();
    }

    #[test]
    fn removing_last_address_drops_broker_name_cluster_and_orphan_topics() {
        let mut table = RouteTable::new();
        table.register(&registration("a", "m:1", 0, &["T", "Shared"]));
        table.register(&registration("b", "m:2", 0, &["Shared"]));
        let removed = table.remove_address(&key("m:1"));
        assert!(removed[0].broker_name_removed);
        assert!(table.route("T", false).is_none(), "topic only on a must go");
        let shared = table.route("Shared", false).unwrap();
        assert_eq!(shared.queue_datas.len(), 1);
        assert_eq!(shared.queue_datas[0].broker_name, "b");
        table.remove_address(&key("m:2"));
        assert!(table.cluster_info().cluster_addr_table.is_empty());
        assert_eq!(table.broker_count(), 0);
        table.check_invariants();
    }

    #[test]
    fn same_data_version_does_not_undo_wiped_write_perm() {
        let mut table = RouteTable::new();
        table.register(&registration("a", "m:1", 0, &["T"]));
        assert_eq!(table.set_write_perm("a", WritePerm::Wipe), 1);
        table.register(&registration("a", "m:1", 0, &["T"]));
        assert_eq!(table.route("T", false).unwrap().queue_datas[0].perm, 4);
        let mut newer = registration("a", "m:1", 0, &["T"]);
        newer.data_version.counter = 2;
        table.register(&newer);
        assert_eq!(table.route("T", false).unwrap().queue_datas[0].perm, 6);
        assert_eq!(table.set_write_perm("a", WritePerm::Wipe), 1);
        assert_eq!(table.set_write_perm("a", WritePerm::Add), 1);
        assert_eq!(table.route("T", false).unwrap().queue_datas[0].perm, 6);
    }

    #[test]
    fn deleted_topic_returns_on_next_registration_even_with_same_version() {
        let mut table = RouteTable::new();
        table.register(&registration("a", "m:1", 0, &["T"]));
        table.delete_topic("T", None);
        assert!(table.route("T", false).is_none());
        table.register(&registration("a", "m:1", 0, &["T"]));
        assert!(table.route("T", false).is_some());
        table.delete_topic("T", Some("OtherCluster"));
        assert!(table.route("T", false).is_some());
        table.delete_topic("T", Some("DefaultCluster"));
        assert!(table.route("T", false).is_none());
        table.check_invariants();
    }

    #[test]
    fn slave_promoted_to_master_on_same_address_drops_old_id() {
        let mut table = RouteTable::new();
        table.register(&registration("a", "s:1", 1, &["T"]));
        table.register(&registration("a", "s:1", 0, &["T"]));
        let info = table.cluster_info();
        let addrs = &info.broker_addr_table["a"].broker_addrs;
        assert_eq!(addrs.keys().copied().collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn stale_state_version_cannot_take_over_a_broker_id() {
        let mut table = RouteTable::new();
        let mut current = registration("a", "m:1", 0, &["T"]);
        current.data_version.state_version = 5;
        table.register(&current);
        let mut stale = registration("a", "m:9", 0, &["T"]);
        stale.data_version.state_version = 4;
        assert!(!table.register(&stale).accepted);
        let info = table.cluster_info();
        assert_eq!(info.broker_addr_table["a"].broker_addrs[&0], "m:1");
    }

    #[test]
    fn topics_by_cluster_and_cluster_info_reflect_registrations() {
        let mut table = RouteTable::new();
        table.register(&registration("a", "m:1", 0, &["T"]));
        let mut other = registration("c", "m:3", 0, &["U"]);
        other.cluster = "Other".to_owned();
        table.register(&other);
        assert_eq!(table.topics().len(), 2);
        let of_default: Vec<String> = table
            .topics_of_cluster("DefaultCluster")
            .into_iter()
            .collect();
        assert_eq!(of_default, ["T"]);
        assert!(table.topics_of_cluster("Nope").is_empty());
        assert_eq!(table.cluster_info().cluster_addr_table.len(), 2);
    }

    #[test]
    fn acting_master_shows_lowest_slave_as_master_when_queues_read_only() {
        let mut table = RouteTable::new();
        let mut slave = registration("a", "s:1", 1, &["T"]);
        slave.enable_acting_master = Some(true);
        table.register(&slave);
        // The prime slave's queues are registered read-only.
        let plain = table.route("T", false).unwrap();
        assert_eq!(plain.queue_datas[0].perm, 4);
        assert!(!plain.broker_datas[0].broker_addrs.contains_key(&0));
        let acting = table.route("T", true).unwrap();
        assert_eq!(acting.broker_datas[0].broker_addrs[&0], "s:1");
    }

    #[test]
    fn filter_servers_appear_in_route_and_go_with_the_broker() {
        let mut table = RouteTable::new();
        let mut master = registration("a", "m:1", 0, &["T"]);
        master.filter_servers = vec!["f:1".to_owned()];
        table.register(&master);
        let route = table.route("T", false).unwrap();
        assert_eq!(route.filter_server_table["m:1"], ["f:1"]);
        table.unregister(&key("m:1"), "a");
        assert!(table.route("T", false).is_none());
        assert!(table.filter_servers.is_empty());
    }
}
