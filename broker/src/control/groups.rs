//! Subscription-group configs, persisted as `config/subscriptionGroup.json`. With
//! `autoCreateSubscriptionGroup` a group is created on its first heartbeat or pull.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::PathBuf;

use ringmq_protocol::body::consumer::{SubscriptionGroupConfig, SubscriptionGroupWrapper};
use ringmq_protocol::body::topic_config::DataVersion;
use ringmq_protocol::body::JsonBody;

use crate::persist;

/// Where a group's pulls are steered with `slaveReadEnable` (RocketMQ's
/// `PullMessageProcessor`): `brokerId` while the consumer keeps up,
/// `whichBrokerWhenConsumeSlowly` while it is far behind. Both are set per group by
/// `updateSubGroup -i` and `-w`; a negative value names no broker and means the master.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GroupReadRoute {
    pub(crate) broker_id: i64,
    pub(crate) when_slow: i64,
}

impl GroupReadRoute {
    pub(crate) fn of(config: &SubscriptionGroupConfig) -> Self {
        Self {
            broker_id: config.broker_id.max(0),
            when_slow: config.which_broker_when_consume_slowly.max(0),
        }
    }
}

impl Default for GroupReadRoute {
    /// A group without a config gets RocketMQ's defaults, as if auto-created.
    fn default() -> Self {
        Self::of(&SubscriptionGroupConfig::default())
    }
}

/// The subscription-group table.
#[derive(Debug)]
pub(crate) struct GroupTable {
    path: PathBuf,
    groups: BTreeMap<String, SubscriptionGroupConfig>,
    version: DataVersion,
    /// Bumped on every change, so the control plane knows when to publish.
    revision: u64,
}

impl GroupTable {
    pub(crate) fn load(path: PathBuf) -> io::Result<Self> {
        let wrapper = persist::load_json::<SubscriptionGroupWrapper>(&path)?;
        Ok(Self {
            path,
            groups: wrapper.subscription_group_table,
            version: wrapper.data_version,
            revision: 0,
        })
    }

    /// Changes so far; compare two readings to see whether the table changed.
    pub(crate) fn revision(&self) -> u64 {
        self.revision
    }

    /// Where each group's consumers are told to pull from, for the shards' snapshot.
    pub(crate) fn read_routes(&self) -> HashMap<String, GroupReadRoute> {
        self.groups
            .iter()
            .map(|(name, config)| (name.clone(), GroupReadRoute::of(config)))
            .collect()
    }

    pub(crate) fn get(&self, group: &str) -> Option<&SubscriptionGroupConfig> {
        self.groups.get(group)
    }

    /// The group's config, creating it with defaults when `auto_create` allows.
    pub(crate) fn find_or_create(
        &mut self,
        group: &str,
        auto_create: bool,
        now_ms: i64,
    ) -> io::Result<Option<&SubscriptionGroupConfig>> {
        if !self.groups.contains_key(group) {
            if !auto_create {
                return Ok(None);
            }
            let config = SubscriptionGroupConfig {
                group_name: group.to_owned(),
                ..SubscriptionGroupConfig::default()
            };
            self.put(config, now_ms)?;
        }
        Ok(self.groups.get(group))
    }

    pub(crate) fn put(&mut self, config: SubscriptionGroupConfig, now_ms: i64) -> io::Result<()> {
        self.groups.insert(config.group_name.clone(), config);
        self.revision += 1;
        self.version.counter += 1;
        self.version.timestamp = now_ms;
        self.persist()
    }

    pub(crate) fn remove(&mut self, group: &str, now_ms: i64) -> io::Result<bool> {
        let removed = self.groups.remove(group).is_some();
        if removed {
            self.revision += 1;
            self.version.counter += 1;
            self.version.timestamp = now_ms;
            self.persist()?;
        }
        Ok(removed)
    }

    /// Take the master's table (a slave's copy).
    pub(crate) fn replace_from_master(
        &mut self,
        master: SubscriptionGroupWrapper,
    ) -> io::Result<()> {
        if master.subscription_group_table == self.groups {
            return Ok(());
        }
        self.groups = master.subscription_group_table;
        self.revision += 1;
        self.version = master.data_version;
        self.persist()
    }

    pub(crate) fn wrapper(&self) -> SubscriptionGroupWrapper {
        SubscriptionGroupWrapper {
            data_version: self.version.clone(),
            subscription_group_table: self.groups.clone(),
            ..SubscriptionGroupWrapper::default()
        }
    }

    fn persist(&self) -> io::Result<()> {
        persist::write_atomic(&self.path, &self.wrapper().encode())
    }
}
