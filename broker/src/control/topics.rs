//! The broker's topic table, persisted as `config/topics.json` in RocketMQ's layout.
//!
//! `TBW102` (perm 7, with INHERIT) exists when `autoCreateTopicEnable` is on, so unmodified
//! clients can send to topics that do not exist yet: the broker creates them on first send
//! with `min(client defaultTopicQueueNums, TBW102 write queues)` queues.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use ringmq_protocol::body::topic_config::{
    DataVersion, TopicConfig, TopicConfigSerializeWrapper, PERM_INHERIT, PERM_READ, PERM_WRITE,
};
use ringmq_protocol::body::JsonBody;

use crate::persist;

/// The default topic new topics inherit from.
pub(crate) const AUTO_CREATE_TOPIC: &str = "TBW102";
/// Longest topic name RocketMQ accepts for normal topics.
pub(crate) const TOPIC_NAME_BYTES_MAX: usize = 127;
/// Longest name for retry and dead-letter topics.
pub(crate) const SYSTEM_TOPIC_NAME_BYTES_MAX: usize = 255;
pub(crate) const RETRY_PREFIX: &str = "%RETRY%";
pub(crate) const DLQ_PREFIX: &str = "%DLQ%";
/// Delayed messages wait in queue `level - 1` of this topic until their level's delay passed.
pub(crate) const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Topics clients may never send to directly.
const FORBIDDEN_TOPICS: [&str; 3] = [
    SCHEDULE_TOPIC,
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
];

/// Why a topic name is refused, in RocketMQ's words where clients match on them.
pub(crate) fn validate_topic_name(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("The specified topic is blank.".to_owned());
    }
    let max = if topic.starts_with(RETRY_PREFIX) || topic.starts_with(DLQ_PREFIX) {
        SYSTEM_TOPIC_NAME_BYTES_MAX
    } else {
        TOPIC_NAME_BYTES_MAX
    };
    if topic.len() > max {
        return Err(format!(
            "The specified topic is longer than topic max length {max}."
        ));
    }
    if !topic
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'%' | b'|' | b'_' | b'-'))
    {
        return Err(format!(
            "The specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
        ));
    }
    Ok(())
}

pub(crate) fn is_forbidden_for_send(topic: &str) -> bool {
    FORBIDDEN_TOPICS.contains(&topic)
}

/// The topic table and its persistence.
#[derive(Debug)]
pub(crate) struct TopicTable {
    path: PathBuf,
    topics: BTreeMap<String, TopicConfig>,
    version: DataVersion,
}

impl TopicTable {
    /// Load `topics.json` (or start empty) and make sure the built-in topics exist.
    pub(crate) fn load(
        path: PathBuf,
        auto_create: bool,
        default_queue_count: u32,
        now_ms: i64,
    ) -> io::Result<Self> {
        let wrapper = persist::load_json::<TopicConfigSerializeWrapper>(&path)?;
        let mut table = Self {
            path,
            topics: wrapper.topic_config_table,
            version: wrapper.data_version,
        };
        let queues = i32::try_from(default_queue_count).unwrap_or(8);
        if auto_create {
            table
                .topics
                .entry(AUTO_CREATE_TOPIC.to_owned())
                .or_insert_with(|| TopicConfig {
                    topic_name: AUTO_CREATE_TOPIC.to_owned(),
                    read_queue_nums: queues,
                    write_queue_nums: queues,
                    perm: PERM_INHERIT | PERM_READ | PERM_WRITE,
                    ..TopicConfig::default()
                });
        } else {
            table.topics.remove(AUTO_CREATE_TOPIC);
        }
        table.touch(now_ms);
        Ok(table)
    }

    /// The topics RocketMQ brokers create at start (`TopicConfigManager.init`): one named
    /// after the cluster (16 queues) and one after the broker (1 queue), readable and writable
    /// only with `clusterTopicEnable` / `brokerTopicEnable` (else INHERIT only), and with
    /// `traceTopicEnable` the trace topic (1 queue). An existing entry keeps its queue counts;
    /// the permission follows the switch at every start. A name that is not a valid topic name
    /// (a cluster called `a b`) is skipped and returned, for the log.
    pub(crate) fn ensure_start_topics(
        &mut self,
        config: &crate::config::BrokerConfig,
    ) -> Vec<String> {
        let switched = |enabled: bool| {
            if enabled {
                PERM_INHERIT | PERM_READ | PERM_WRITE
            } else {
                PERM_INHERIT
            }
        };
        let mut wanted = vec![
            (
                config.broker_cluster_name.as_str(),
                16,
                switched(config.cluster_topic_enable),
            ),
            (
                config.broker_name.as_str(),
                1,
                switched(config.broker_topic_enable),
            ),
        ];
        if config.trace_topic_enable {
            wanted.push((
                config.msg_trace_topic_name.as_str(),
                1,
                PERM_READ | PERM_WRITE,
            ));
        }
        let mut skipped = Vec::new();
        for (topic, queues, perm) in wanted {
            if validate_topic_name(topic).is_err() {
                skipped.push(topic.to_owned());
                continue;
            }
            let entry = self
                .topics
                .entry(topic.to_owned())
                .or_insert_with(|| TopicConfig {
                    topic_name: topic.to_owned(),
                    read_queue_nums: queues,
                    write_queue_nums: queues,
                    ..TopicConfig::default()
                });
            entry.perm = perm;
        }
        skipped
    }

    /// Make sure a broker-owned topic exists with `queues` queues (in memory; it is persisted
    /// with the next change, and re-created at every start anyway).
    pub(crate) fn ensure_system_topic(&mut self, topic: &str, queues: i32) {
        let config = self
            .topics
            .entry(topic.to_owned())
            .or_insert_with(|| TopicConfig {
                topic_name: topic.to_owned(),
                perm: PERM_READ | PERM_WRITE,
                ..TopicConfig::default()
            });
        config.read_queue_nums = config.read_queue_nums.max(queues);
        config.write_queue_nums = config.write_queue_nums.max(queues);
    }

    pub(crate) fn get(&self, topic: &str) -> Option<&TopicConfig> {
        self.topics.get(topic)
    }

    pub(crate) fn all(&self) -> &BTreeMap<String, TopicConfig> {
        &self.topics
    }

    pub(crate) fn version(&self) -> &DataVersion {
        &self.version
    }

    fn touch(&mut self, now_ms: i64) {
        self.version.counter += 1;
        self.version.timestamp = now_ms;
    }

    /// Insert or replace a topic and persist the table.
    pub(crate) fn put(&mut self, config: TopicConfig, now_ms: i64) -> io::Result<()> {
        self.topics.insert(config.topic_name.clone(), config);
        self.touch(now_ms);
        self.persist()
    }

    pub(crate) fn remove(&mut self, topic: &str, now_ms: i64) -> io::Result<bool> {
        let removed = self.topics.remove(topic).is_some();
        if removed {
            self.touch(now_ms);
            self.persist()?;
        }
        Ok(removed)
    }

    /// Take the master's table when its version differs; true when something changed.
    pub(crate) fn replace_from_master(
        &mut self,
        master: TopicConfigSerializeWrapper,
    ) -> io::Result<bool> {
        if master.data_version == self.version && master.topic_config_table == self.topics {
            return Ok(false);
        }
        self.topics = master.topic_config_table;
        self.version = master.data_version;
        self.persist()?;
        Ok(true)
    }

    pub(crate) fn wrapper(&self) -> TopicConfigSerializeWrapper {
        TopicConfigSerializeWrapper {
            data_version: self.version.clone(),
            topic_config_table: self.topics.clone(),
            ..TopicConfigSerializeWrapper::default()
        }
    }

    fn persist(&self) -> io::Result<()> {
        persist::write_atomic(&self.path, &self.wrapper().encode())
    }

    /// The config a send to the missing `topic` creates from `default_topic`, if allowed.
    pub(crate) fn inherit(
        &self,
        topic: &str,
        default_topic: &str,
        client_queue_count: i32,
        sys_flag: i32,
    ) -> Option<TopicConfig> {
        let parent = self.topics.get(default_topic)?;
        if parent.perm & PERM_INHERIT == 0 {
            return None;
        }
        let queues = client_queue_count.clamp(1, parent.write_queue_nums.max(1));
        Some(TopicConfig {
            topic_name: topic.to_owned(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: parent.perm & !PERM_INHERIT,
            topic_sys_flag: sys_flag,
            ..TopicConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_rocketmq_rules() {
        assert!(validate_topic_name("Topic_A-1").is_ok());
        assert!(validate_topic_name("%RETRY%group").is_ok());
        assert!(validate_topic_name("bad topic")
            .unwrap_err()
            .contains("illegal characters"));
        assert!(validate_topic_name(&"t".repeat(128))
            .unwrap_err()
            .contains("max length 127"));
        assert!(validate_topic_name(&format!("%DLQ%{}", "g".repeat(200))).is_ok());
        assert!(validate_topic_name("").is_err());
    }

    // Hazard: with autoCreateTopicEnable=false, clusterRT (which sends to the topic named
    // after the broker) finds no writable route unless the broker creates its own topics at
    // start, as RocketMQ's do.
    #[test]
    fn cluster_broker_and_trace_topics_exist_from_the_start_and_follow_their_switches() {
        let directory = tempfile::tempdir().unwrap();
        let mut table =
            TopicTable::load(directory.path().join("topics.json"), false, 8, 0).unwrap();
        let mut config = crate::config::BrokerConfig::defaults(None);
        config.broker_cluster_name = "ClusterA".to_owned();
        config.broker_name = "broker-x".to_owned();
        assert!(table.ensure_start_topics(&config).is_empty());
        let cluster = table.get("ClusterA").unwrap();
        assert_eq!((cluster.write_queue_nums, cluster.perm), (16, 7));
        let broker = table.get("broker-x").unwrap();
        assert_eq!((broker.write_queue_nums, broker.perm), (1, 7));
        assert!(table.get("RMQ_SYS_TRACE_TOPIC").is_none());

        config.broker_topic_enable = false;
        config.trace_topic_enable = true;
        table.ensure_start_topics(&config);
        assert_eq!(table.get("broker-x").unwrap().perm, PERM_INHERIT);
        let trace = table.get("RMQ_SYS_TRACE_TOPIC").unwrap();
        assert_eq!((trace.write_queue_nums, trace.perm), (1, 6));

        config.broker_cluster_name = "bad cluster".to_owned();
        assert_eq!(table.ensure_start_topics(&config), ["bad cluster"]);
    }
}
