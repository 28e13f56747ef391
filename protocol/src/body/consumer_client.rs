//! Bodies a consumer client answers with when a broker relays a tool's request to it:
//! [`ConsumerRunningInfo`] (GET_CONSUMER_RUNNING_INFO 307) and [`ConsumeMessageDirectlyResult`]
//! (CONSUME_MESSAGE_DIRECTLY 309).
//!
//! The broker passes these bodies through untouched; only tools decode them. Java clients
//! write `mqTable` with `MessageQueue` objects as keys (see [`super::quote_keys`]), and put
//! numbers as well as strings into `properties`, so property values are kept as JSON values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::admin::queue_keyed;
use super::consumer::MessageQueue;
use super::JsonBody;

/// `ConsumerRunningInfo.PROP_CONSUME_TYPE`.
pub const PROP_CONSUME_TYPE: &str = "PROP_CONSUME_TYPE";
/// `ConsumeType.CONSUME_PASSIVELY`: a push consumer.
pub const CONSUME_PASSIVELY: &str = "CONSUME_PASSIVELY";

/// What a consumer client reports about itself; only the parts tools read are typed.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerRunningInfo {
    /// Client settings and facts (`PROP_CONSUME_TYPE`, `PROP_CLIENT_VERSION`, …).
    pub properties: BTreeMap<String, serde_json::Value>,
    /// The queues the client holds now, with their process-queue state.
    #[serde(with = "queue_keyed")]
    pub mq_table: BTreeMap<MessageQueue, serde_json::Value>,
}

impl JsonBody for ConsumerRunningInfo {
    const NAME: &'static str = "ConsumerRunningInfo";
}

impl ConsumerRunningInfo {
    /// A property as text: strings as they are, other values as their JSON.
    pub fn property(&self, key: &str) -> Option<String> {
        self.properties.get(key).map(|value| match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    }

    /// `ConsumerRunningInfo.isPushType`: the client consumes passively (a push consumer).
    pub fn is_push_type(&self) -> bool {
        self.property(PROP_CONSUME_TYPE).as_deref() == Some(CONSUME_PASSIVELY)
    }
}

fn yes() -> bool {
    true
}

/// How a client consumed one message pushed to it (Java `ConsumeMessageDirectlyResult`).
/// rocketmq-client-rust 1.0.0 writes the field names in snake case; they are read too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumeMessageDirectlyResult {
    pub order: bool,
    #[serde(default = "yes", alias = "auto_commit")]
    pub auto_commit: bool,
    /// `CMResult` name: CR_SUCCESS, CR_LATER, CR_ROLLBACK, CR_COMMIT, CR_THROW_EXCEPTION,
    /// CR_RETURN_NULL.
    #[serde(skip_serializing_if = "Option::is_none", alias = "consume_result")]
    pub consume_result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    #[serde(alias = "spent_time_mills")]
    pub spent_time_mills: i64,
}

impl Default for ConsumeMessageDirectlyResult {
    fn default() -> Self {
        Self {
            order: false,
            auto_commit: true,
            consume_result: None,
            remark: None,
            spent_time_mills: 0,
        }
    }
}

impl JsonBody for ConsumeMessageDirectlyResult {
    const NAME: &'static str = "ConsumeMessageDirectlyResult";
}

impl ConsumeMessageDirectlyResult {
    /// Java's `toString`, which `queryMsgById -g -d` prints.
    pub fn java_text(&self) -> String {
        format!(
            "ConsumeMessageDirectlyResult [order={}, autoCommit={}, consumeResult={}, remark={}, \
             spentTimeMills={}]",
            self.order,
            self.auto_commit,
            self.consume_result.as_deref().unwrap_or("null"),
            self.remark.as_deref().unwrap_or("null"),
            self.spent_time_mills
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_info_with_fastjson_object_keys_decodes_its_queues_and_type() {
        // As a Java client (fastjson) writes it: bean keys, a numeric property.
        let body = br#"{"jstack":null,"mqTable":{{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"commitOffset":7,"locked":false}},"properties":{"PROP_CONSUME_TYPE":"CONSUME_PASSIVELY","PROP_THREADPOOL_CORE_SIZE":20},"statusTable":{},"subscriptionSet":[]}"#;
        let info = ConsumerRunningInfo::decode(body).unwrap();
        let queues: Vec<&MessageQueue> = info.mq_table.keys().collect();
        assert_eq!(queues.len(), 1);
        assert_eq!(
            (queues[0].broker_name.as_str(), queues[0].queue_id),
            ("broker-a", 1)
        );
        assert!(info.is_push_type());
        assert_eq!(
            info.property("PROP_THREADPOOL_CORE_SIZE").as_deref(),
            Some("20")
        );
    }

    #[test]
    fn a_pull_consumer_is_not_push_type() {
        let body = br#"{"properties":{"PROP_CONSUME_TYPE":"CONSUME_ACTIVELY"},"mqTable":{}}"#;
        assert!(!ConsumerRunningInfo::decode(body).unwrap().is_push_type());
    }

    #[test]
    fn direct_result_prints_like_java_and_defaults_auto_commit_to_true() {
        let result = ConsumeMessageDirectlyResult::decode(
            br#"{"consumeResult":"CR_SUCCESS","order":false,"spentTimeMills":3}"#,
        )
        .unwrap();
        assert_eq!(
            result.java_text(),
            "ConsumeMessageDirectlyResult [order=false, autoCommit=true, consumeResult=CR_SUCCESS, \
             remark=null, spentTimeMills=3]"
        );
        // As rocketmq-client-rust 1.0.0 writes it.
        let result = ConsumeMessageDirectlyResult::decode(
            br#"{"order":false,"auto_commit":false,"consume_result":"CR_LATER","remark":"x","spent_time_mills":9}"#,
        )
        .unwrap();
        assert_eq!(
            (
                result.auto_commit,
                result.consume_result.as_deref(),
                result.spent_time_mills
            ),
            (false, Some("CR_LATER"), 9)
        );
    }
}
