//! Name-server route bodies: [`TopicRouteData`] (GET_ROUTEINFO_BY_TOPIC 105), [`ClusterInfo`]
//! (GET_BROKER_CLUSTER_INFO 106) and [`TopicList`] (206, 224).
//!
//! Routes are always encoded in the standard 5.x form every client accepts: quoted numeric
//! `brokerAddrs` keys, `filterServerTable` present, `enableActingMaster` and `topicSysFlag`
//! present. rocketmq-client-rust requires all of those.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::JsonBody;

/// brokerId of a master in `brokerAddrs`.
pub const MASTER_ID: i64 = 0;

/// The route of one topic.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicRouteData {
    pub broker_datas: Vec<BrokerData>,
    /// brokerAddr -> filter servers; always `{}` for ringmq but required by some clients.
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// `"brokerName:queueNum;..."` for ordered topics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    pub queue_datas: Vec<QueueData>,
    /// 5.x static topics; passed through untyped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_by_broker: Option<BTreeMap<String, serde_json::Value>>,
}

impl JsonBody for TopicRouteData {
    const NAME: &'static str = "TopicRouteData";
}

/// The queues of one topic on one broker.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct QueueData {
    pub broker_name: String,
    /// PermName bits.
    pub perm: i32,
    pub read_queue_nums: i32,
    /// Java ≤ 4.8 spelled it `topicSynFlag`.
    #[serde(alias = "topicSynFlag")]
    pub topic_sys_flag: i32,
    pub write_queue_nums: i32,
}

/// One broker group: a master (id 0) and its slaves.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BrokerData {
    /// brokerId -> `ip:port`; serialised with quoted keys.
    pub broker_addrs: BTreeMap<i64, String>,
    pub broker_name: String,
    pub cluster: String,
    pub enable_acting_master: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

/// Every broker group and which cluster it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClusterInfo {
    /// brokerName -> broker group.
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// clusterName -> brokerNames.
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

impl JsonBody for ClusterInfo {
    const NAME: &'static str = "ClusterInfo";
}

/// A set of topic names.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    pub topic_list: BTreeSet<String>,
}

impl JsonBody for TopicList {
    const NAME: &'static str = "TopicList";
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE_ROUTE: &str = r#"{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;

    fn reference_route() -> TopicRouteData {
        TopicRouteData {
            broker_datas: vec![BrokerData {
                broker_addrs: BTreeMap::from([
                    (0, "10.0.0.1:10911".to_owned()),
                    (1, "10.0.0.2:10911".to_owned()),
                ]),
                broker_name: "broker-a".to_owned(),
                cluster: "DefaultCluster".to_owned(),
                ..BrokerData::default()
            }],
            queue_datas: vec![QueueData {
                broker_name: "broker-a".to_owned(),
                perm: 6,
                read_queue_nums: 4,
                write_queue_nums: 4,
                ..QueueData::default()
            }],
            ..TopicRouteData::default()
        }
    }

    #[test]
    fn route_encodes_to_the_reference_standard_json() {
        let text = String::from_utf8(reference_route().encode()).unwrap();
        assert_eq!(text, REFERENCE_ROUTE);
    }

    #[test]
    fn legacy_route_with_unquoted_keys_and_topic_syn_flag_decodes() {
        let legacy = r#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},
            "brokerName":"broker-a","cluster":"DefaultCluster"}],
            "queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,
            "topicSynFlag":0,"writeQueueNums":4}]}"#;
        assert_eq!(
            TopicRouteData::decode(legacy.as_bytes()).unwrap(),
            reference_route()
        );
    }

    #[test]
    fn cluster_info_round_trips() {
        let info = ClusterInfo {
            broker_addr_table: BTreeMap::from([(
                "broker-a".to_owned(),
                reference_route().broker_datas[0].clone(),
            )]),
            cluster_addr_table: BTreeMap::from([(
                "DefaultCluster".to_owned(),
                BTreeSet::from(["broker-a".to_owned()]),
            )]),
        };
        assert_eq!(ClusterInfo::decode(&info.encode()).unwrap(), info);
    }
}
