//! Topic configuration as brokers persist and exchange it: [`TopicConfig`], the versioned
//! table [`TopicConfigSerializeWrapper`] (REGISTER_BROKER body part, GET_ALL_TOPIC_CONFIG 21
//! response) and [`DataVersion`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::JsonBody;
use crate::header::TopicFilterType;

/// PermName bit: the topic is readable.
pub const PERM_READ: i32 = 4;
/// PermName bit: the topic is writable.
pub const PERM_WRITE: i32 = 2;
/// PermName bit: new topics may inherit this topic's config (TBW102).
pub const PERM_INHERIT: i32 = 1;
/// PermName bit: priority.
pub const PERM_PRIORITY: i32 = 8;

/// A version stamp for a replicated table: changes whenever the table changes.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DataVersion {
    pub counter: i64,
    pub state_version: i64,
    /// Milliseconds since the epoch of the last change.
    pub timestamp: i64,
}

impl JsonBody for DataVersion {
    const NAME: &'static str = "DataVersion";
}

/// One topic's configuration (Java `TopicConfig`); defaults are Java's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicConfig {
    pub attributes: BTreeMap<String, String>,
    pub order: bool,
    /// `PERM_*` bits.
    pub perm: i32,
    pub read_queue_nums: i32,
    pub topic_filter_type: TopicFilterType,
    pub topic_name: String,
    pub topic_sys_flag: i32,
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            attributes: BTreeMap::new(),
            order: false,
            perm: PERM_READ | PERM_WRITE,
            read_queue_nums: 16,
            topic_filter_type: TopicFilterType::SingleTag,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: 16,
        }
    }
}

impl JsonBody for TopicConfig {
    const NAME: &'static str = "TopicConfig";
}

/// A broker's whole topic table with its version (Java `TopicConfigAndMappingSerializeWrapper`,
/// which extends `TopicConfigSerializeWrapper` with the 5.x static-topic mapping fields; those are
/// passed through untyped).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicConfigSerializeWrapper {
    pub data_version: DataVersion,
    pub mapping_data_version: DataVersion,
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    pub topic_queue_mapping_detail_map: BTreeMap<String, serde_json::Value>,
    pub topic_queue_mapping_info_map: BTreeMap<String, serde_json::Value>,
}

impl JsonBody for TopicConfigSerializeWrapper {
    const NAME: &'static str = "TopicConfigSerializeWrapper";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_config_matches_the_java_layout_byte_for_byte() {
        let config = TopicConfig {
            perm: 6,
            read_queue_nums: 4,
            write_queue_nums: 4,
            topic_name: "T".to_owned(),
            ..TopicConfig::default()
        };
        assert_eq!(
            String::from_utf8(config.encode()).unwrap(),
            r#"{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":4}"#
        );
    }

    #[test]
    fn missing_topic_config_fields_take_java_defaults() {
        let config = TopicConfig::decode(br#"{"topicName":"T","extra":[1]}"#).unwrap();
        assert_eq!(config.read_queue_nums, 16);
        assert_eq!(config.perm, 6);
    }
}
