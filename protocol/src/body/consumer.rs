//! Consumer-side bodies: [`SubscriptionGroupConfig`] (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP 200)
//! and its table [`SubscriptionGroupWrapper`] (GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201), the
//! committed-offset table [`ConsumerOffsetSerializeWrapper`] (GET_ALL_CONSUMER_OFFSET 43),
//! [`ConsumerIdList`] (GET_CONSUMER_LIST_BY_GROUP 38) and the ordered-consumption lock bodies
//! [`LockBatchRequestBody`] / [`LockBatchResponseBody`] (LOCK_BATCH_MQ 41, UNLOCK_BATCH_MQ 42).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::topic_config::DataVersion;
use super::JsonBody;

/// A consumer group's configuration; defaults are Java's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionGroupConfig {
    pub attributes: BTreeMap<String, String>,
    pub broker_id: i64,
    pub consume_broadcast_enable: bool,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    pub consume_message_orderly: bool,
    pub consume_timeout_minute: i32,
    pub group_name: String,
    /// Passed through untyped (`{"type":"CUSTOMIZED",...}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_retry_policy: Option<serde_json::Value>,
    pub group_sys_flag: i32,
    pub notify_consumer_ids_changed_enable: bool,
    pub retry_max_times: i32,
    pub retry_queue_nums: i32,
    /// 5.x; passed through untyped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data_set: Option<serde_json::Value>,
    pub which_broker_when_consume_slowly: i64,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        Self {
            attributes: BTreeMap::new(),
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: false,
            consume_timeout_minute: 15,
            group_name: String::new(),
            group_retry_policy: None,
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            subscription_data_set: None,
            which_broker_when_consume_slowly: 1,
        }
    }
}

impl JsonBody for SubscriptionGroupConfig {
    const NAME: &'static str = "SubscriptionGroupConfig";
}

/// Every subscription group of a broker, with its version.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionGroupWrapper {
    pub data_version: DataVersion,
    /// group -> topic -> forbidden bits.
    pub forbidden_table: BTreeMap<String, BTreeMap<String, i32>>,
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

impl JsonBody for SubscriptionGroupWrapper {
    const NAME: &'static str = "SubscriptionGroupWrapper";
}

/// Committed offsets: `topic@group` -> queueId -> next offset to consume. Java writes the
/// queueId keys unquoted; decoding accepts both.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerOffsetSerializeWrapper {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_version: Option<DataVersion>,
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

impl JsonBody for ConsumerOffsetSerializeWrapper {
    const NAME: &'static str = "ConsumerOffsetSerializeWrapper";
}

/// The client ids of a consumer group's members (`GetConsumerListByGroupResponseBody`).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerIdList {
    pub consumer_id_list: Vec<String>,
}

impl JsonBody for ConsumerIdList {
    const NAME: &'static str = "GetConsumerListByGroupResponseBody";
}

/// One queue of a topic on a broker.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MessageQueue {
    pub broker_name: String,
    pub queue_id: i32,
    pub topic: String,
}

/// LOCK_BATCH_MQ and UNLOCK_BATCH_MQ request body.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LockBatchRequestBody {
    pub client_id: String,
    pub consumer_group: String,
    pub mq_set: Vec<MessageQueue>,
    pub only_this_broker: bool,
}

impl JsonBody for LockBatchRequestBody {
    const NAME: &'static str = "LockBatchRequestBody";
}

/// LOCK_BATCH_MQ response body: the queues now locked by the requester.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet")]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}

impl JsonBody for LockBatchResponseBody {
    const NAME: &'static str = "LockBatchResponseBody";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_offset_table_with_unquoted_queue_ids_decodes() {
        let text = br#"{"offsetTable":{"T@G":{0:123,1:45}}}"#;
        let table = ConsumerOffsetSerializeWrapper::decode(text).unwrap();
        assert_eq!(table.offset_table["T@G"][&1], 45);
        assert_eq!(
            String::from_utf8(table.encode()).unwrap(),
            r#"{"offsetTable":{"T@G":{"0":123,"1":45}}}"#
        );
    }

    #[test]
    fn lock_batch_bodies_use_java_names() {
        let text = br#"{"clientId":"c","consumerGroup":"G","mqSet":[{"brokerName":"b","queueId":0,"topic":"T"}],"onlyThisBroker":false}"#;
        let request = LockBatchRequestBody::decode(text).unwrap();
        assert_eq!(request.encode(), text.to_vec());
        let response = LockBatchResponseBody {
            lock_ok_mq_set: request.mq_set,
        };
        assert!(String::from_utf8(response.encode())
            .unwrap()
            .starts_with(r#"{"lockOKMQSet":[{"brokerName":"b""#));
    }

    #[test]
    fn consumer_id_list_key_is_consumer_id_list() {
        let list = ConsumerIdList {
            consumer_id_list: vec!["10.0.0.5@1".to_owned()],
        };
        assert_eq!(
            list.encode(),
            br#"{"consumerIdList":["10.0.0.5@1"]}"#.to_vec()
        );
    }

    #[test]
    fn subscription_group_defaults_match_java() {
        let config = SubscriptionGroupConfig::decode(br#"{"groupName":"G"}"#).unwrap();
        assert!(config.consume_enable);
        assert_eq!(config.retry_max_times, 16);
        assert_eq!(config.which_broker_when_consume_slowly, 1);
    }
}
