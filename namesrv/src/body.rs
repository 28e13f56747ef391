//! JSON bodies the name server reads and writes, in RocketMQ's field names.
//!
//! The shared wire bodies (routes, cluster info, topic lists, registrations, data versions, KV
//! tables) come from the protocol crate and are re-exported here; this file adds the few bodies
//! only the name server uses. Field order in each struct is alphabetical, which is what Java's
//! fastjson (`MapSortField`) emits. Inputs are decoded leniently: unknown fields are ignored and
//! missing ones take defaults, since brokers of several versions send these bodies.

use std::collections::BTreeMap;

pub use ringmq_protocol::body::kv_table::KvTable as KvTableBody;
pub use ringmq_protocol::body::register::RegisterBrokerBody;
pub use ringmq_protocol::body::route::{
    BrokerData, ClusterInfo, QueueData, TopicList, TopicRouteData, MASTER_ID,
};
pub use ringmq_protocol::body::topic_config::{
    DataVersion, TopicConfig, TopicConfigSerializeWrapper, PERM_READ, PERM_WRITE,
};
pub use ringmq_protocol::body::JsonBody;
use serde::{Deserialize, Serialize};

/// The addresses of one broker name (`BrokerMemberGroup`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerMemberGroup {
    pub broker_addrs: BTreeMap<i64, String>,
    pub broker_name: String,
    pub cluster: String,
}

/// Reply body of GET_BROKER_MEMBER_GROUP (`GetBrokerMemberGroupResponseBody`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerMemberGroupBody {
    pub broker_member_group: BrokerMemberGroup,
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
        let decoded = RegisterBrokerBody::decode(body.as_bytes()).unwrap();
        let wrapper = decoded.topic_config_serialize_wrapper;
        assert_eq!(wrapper.data_version.counter, 3);
        assert_eq!(wrapper.topic_config_table["T"].read_queue_nums, 4);
    }
}
