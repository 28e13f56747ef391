//! JSON bodies the name server reads and writes, in RocketMQ's field names.
//!
//! Field order in each struct is alphabetical, which is what Java's fastjson (`MapSortField`)
//! emits, so our output matches the Java name server byte for byte where the data agree.
//! Inputs are decoded leniently: unknown fields are ignored and missing ones take defaults, since
//! brokers of several versions send these bodies.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// `PermName.PERM_WRITE`.
pub const PERM_WRITE: u32 = 2;
/// `PermName.PERM_READ`.
pub const PERM_READ: u32 = 4;

/// A broker's topic-config version (`DataVersion`): a registration with the same version as
/// the last one carries no topic changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    pub counter: i64,
    pub state_version: i64,
    pub timestamp: i64,
}

/// One topic's queues on one broker name (`QueueData`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueData {
    pub broker_name: String,
    pub perm: u32,
    pub read_queue_nums: u32,
    pub topic_sys_flag: u32,
    pub write_queue_nums: u32,
}

/// The addresses of one broker name: id 0 is the master, others are slaves (`BrokerData`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    pub broker_addrs: BTreeMap<u64, String>,
    pub broker_name: String,
    pub cluster: String,
    pub enable_acting_master: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

/// Reply body of GET_ROUTEINFO_BY_TOPIC (`TopicRouteData`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    pub broker_datas: Vec<BrokerData>,
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    pub queue_datas: Vec<QueueData>,
}

/// Reply body of GET_BROKER_CLUSTER_INFO (`ClusterInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInfo {
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

/// The addresses of one broker name (`BrokerMemberGroup`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerMemberGroup {
    pub broker_addrs: BTreeMap<u64, String>,
    pub broker_name: String,
    pub cluster: String,
}

/// Reply body of GET_BROKER_MEMBER_GROUP (`GetBrokerMemberGroupResponseBody`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerMemberGroupBody {
    pub broker_member_group: BrokerMemberGroup,
}

/// Reply body of the topic-list codes (`TopicList`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    pub topic_list: BTreeSet<String>,
}

/// Reply body of GET_KVLIST_BY_NAMESPACE (`KVTable`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvTableBody {
    pub table: BTreeMap<String, String>,
}

/// One topic as a broker reports it in a registration (`TopicConfig`); only the fields the
/// route needs are kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    pub perm: u32,
    pub read_queue_nums: u32,
    pub topic_name: String,
    pub topic_sys_flag: u32,
    pub write_queue_nums: u32,
}

impl Default for TopicConfig {
    fn default() -> Self {
        // RocketMQ's TopicConfig defaults: 16 queues each way, read and write.
        Self {
            perm: PERM_READ | PERM_WRITE,
            read_queue_nums: 16,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: 16,
        }
    }
}

/// `TopicConfigSerializeWrapper` (5.x `TopicConfigAndMappingSerializeWrapper`); mapping fields
/// for static topics are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    pub data_version: DataVersion,
    pub topic_config_table: BTreeMap<String, TopicConfig>,
}

/// Request body of REGISTER_BROKER (`RegisterBrokerBody`), uncompressed form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    pub filter_server_list: Vec<String>,
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

/// The KV config file (`KVConfigSerializeWrapper`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KvConfigFile {
    pub config_table: BTreeMap<String, BTreeMap<String, String>>,
}

/// Compact JSON of a body. Serialising these plain structs cannot fail.
pub fn to_json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_json_has_java_field_order_quoted_ids_and_no_whitespace() {
        let route = TopicRouteData {
            broker_datas: vec![BrokerData {
                broker_addrs: BTreeMap::from([(0, "10.0.0.1:10911".to_owned())]),
                broker_name: "broker-a".to_owned(),
                cluster: "DefaultCluster".to_owned(),
                ..BrokerData::default()
            }],
            queue_datas: vec![QueueData {
                broker_name: "broker-a".to_owned(),
                perm: 6,
                read_queue_nums: 4,
                write_queue_nums: 4,
                topic_sys_flag: 0,
            }],
            ..TopicRouteData::default()
        };
        let text = String::from_utf8(to_json(&route)).unwrap();
        assert_eq!(
            text,
            "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"10.0.0.1:10911\"},\
             \"brokerName\":\"broker-a\",\"cluster\":\"DefaultCluster\",\
             \"enableActingMaster\":false}],\"filterServerTable\":{},\
             \"queueDatas\":[{\"brokerName\":\"broker-a\",\"perm\":6,\"readQueueNums\":4,\
             \"topicSysFlag\":0,\"writeQueueNums\":4}]}"
        );
    }

    #[test]
    fn java_register_body_with_unknown_fields_decodes() {
        let body = r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":
            {"counter":3,"stateVersion":0,"timestamp":1700000000000},"topicConfigTable":{"T":
            {"attributes":{},"order":false,"perm":6,"readQueueNums":4,
            "topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":4}},
            "topicQueueMappingInfoMap":{},"topicQueueMappingDetailMap":{}}}"#;
        let decoded: RegisterBrokerBody = serde_json::from_str(body).unwrap();
        let wrapper = decoded.topic_config_serialize_wrapper;
        assert_eq!(wrapper.data_version.counter, 3);
        assert_eq!(wrapper.topic_config_table["T"].read_queue_nums, 4);
    }
}
