//! Subscription-group configs, persisted as `config/subscriptionGroup.json`. With
//! `autoCreateSubscriptionGroup` a group is created on its first heartbeat or pull.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use ringmq_protocol::body::consumer::{SubscriptionGroupConfig, SubscriptionGroupWrapper};
use ringmq_protocol::body::topic_config::DataVersion;
use ringmq_protocol::body::JsonBody;

use crate::persist;

/// The subscription-group table.
#[derive(Debug)]
pub(crate) struct GroupTable {
    path: PathBuf,
    groups: BTreeMap<String, SubscriptionGroupConfig>,
    version: DataVersion,
}

impl GroupTable {
    pub(crate) fn load(path: PathBuf) -> io::Result<Self> {
        let wrapper = persist::load_json::<SubscriptionGroupWrapper>(&path)?;
        Ok(Self {
            path,
            groups: wrapper.subscription_group_table,
            version: wrapper.data_version,
        })
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
        self.version.counter += 1;
        self.version.timestamp = now_ms;
        self.persist()
    }

    pub(crate) fn remove(&mut self, group: &str, now_ms: i64) -> io::Result<bool> {
        let removed = self.groups.remove(group).is_some();
        if removed {
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
