//! [`HeartbeatData`]: the HEART_BEAT (34) body, by which clients register their producer and
//! consumer groups and the subscriptions pulls are filtered by.
//!
//! Enum fields accept unknown names as `Unknown` rather than failing the whole heartbeat, and
//! may be null (ali-ons omits some); any field that is null takes its default, since
//! JavaScript and C++ clients serialise unset fields as null where fastjson omits them.

use serde::{Deserialize, Serialize};

use super::JsonBody;

/// One client's registration.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HeartbeatData {
    #[serde(rename = "clientID")]
    #[serde(deserialize_with = "super::null_as_default")]
    pub client_id: String,
    #[serde(deserialize_with = "super::null_as_default")]
    pub consumer_data_set: Vec<ConsumerData>,
    /// Heartbeat V2 (opt-in on clients); 0 otherwise.
    #[serde(deserialize_with = "super::null_as_default")]
    pub heartbeat_fingerprint: i32,
    #[serde(deserialize_with = "super::null_as_default")]
    pub producer_data_set: Vec<ProducerData>,
    /// Heartbeat V2: subscriptions omitted because unchanged.
    #[serde(deserialize_with = "super::null_as_default")]
    pub without_sub: bool,
}

impl JsonBody for HeartbeatData {
    const NAME: &'static str = "HeartbeatData";
}

/// A producer group the client belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProducerData {
    #[serde(deserialize_with = "super::null_as_default")]
    pub group_name: String,
}

/// A consumer group the client belongs to, with its subscriptions.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_from_where: Option<ConsumeFromWhere>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_type: Option<ConsumeType>,
    #[serde(deserialize_with = "super::null_as_default")]
    pub group_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_model: Option<MessageModel>,
    #[serde(deserialize_with = "super::null_as_default")]
    pub subscription_data_set: Vec<SubscriptionData>,
    #[serde(deserialize_with = "super::null_as_default")]
    pub unit_mode: bool,
}

/// One topic subscription of a consumer group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionData {
    #[serde(deserialize_with = "super::null_as_default")]
    pub class_filter_mode: bool,
    /// Java `String.hashCode` of each tag in `tags_set`.
    #[serde(deserialize_with = "super::null_as_default")]
    pub code_set: Vec<i32>,
    /// `TAG` or `SQL92`.
    #[serde(deserialize_with = "null_as_tag")]
    pub expression_type: String,
    /// The expression as written, e.g. `TagA || TagB` or `*`.
    #[serde(deserialize_with = "super::null_as_default")]
    pub sub_string: String,
    /// Milliseconds timestamp version; pulls carrying a newer one are SUBSCRIPTION_NOT_LATEST.
    #[serde(deserialize_with = "super::null_as_default")]
    pub sub_version: i64,
    #[serde(deserialize_with = "super::null_as_default")]
    pub tags_set: Vec<String>,
    #[serde(deserialize_with = "super::null_as_default")]
    pub topic: String,
}

impl Default for SubscriptionData {
    fn default() -> Self {
        Self {
            class_filter_mode: false,
            code_set: Vec::new(),
            expression_type: EXPRESSION_TYPE_TAG.to_owned(),
            sub_string: String::new(),
            sub_version: 0,
            tags_set: Vec::new(),
            topic: String::new(),
        }
    }
}

fn null_as_tag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    Ok(value.unwrap_or_else(|| EXPRESSION_TYPE_TAG.to_owned()))
}

/// Subscription expression type: tags.
pub const EXPRESSION_TYPE_TAG: &str = "TAG";
/// Subscription expression type: SQL92 over properties.
pub const EXPRESSION_TYPE_SQL92: &str = "SQL92";
/// Subscription expression matching every tag.
pub const SUB_ALL: &str = "*";

/// Pull (actively) or push (passively) consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumeType {
    ConsumeActively,
    ConsumePassively,
    ConsumePop,
    #[serde(other)]
    Unknown,
}

/// Each message to one member of the group, or to every member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageModel {
    Broadcasting,
    Clustering,
    #[serde(other)]
    Unknown,
}

/// Where a group with no committed offset starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumeFromWhere {
    ConsumeFromLastOffset,
    ConsumeFromLastOffsetAndFromMinWhenBootFirst,
    ConsumeFromMinOffset,
    ConsumeFromMaxOffset,
    ConsumeFromFirstOffset,
    ConsumeFromTimestamp,
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE_HEARTBEAT: &str = r#"{"clientID":"10.0.0.5@12345","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"G","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"T"}],"unitMode":false}],"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"P"}],"withoutSub":false}"#;

    #[test]
    fn reference_heartbeat_round_trips_byte_for_byte() {
        let heartbeat = HeartbeatData::decode(REFERENCE_HEARTBEAT.as_bytes()).unwrap();
        assert_eq!(heartbeat.client_id, "10.0.0.5@12345");
        let consumer = &heartbeat.consumer_data_set[0];
        assert_eq!(consumer.message_model, Some(MessageModel::Clustering));
        assert_eq!(consumer.subscription_data_set[0].code_set, vec![2_598_919]);
        assert_eq!(
            String::from_utf8(heartbeat.encode()).unwrap(),
            REFERENCE_HEARTBEAT
        );
    }

    #[test]
    fn unknown_enum_names_and_nulls_do_not_reject_the_heartbeat() {
        let text = r#"{"clientID":"c","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_MOON",
            "consumeType":null,"groupName":"G","subscriptionDataSet":[{"topic":"T",
            "expressionType":null,"tagsSet":null}]}],"producerDataSet":null}"#;
        let heartbeat = HeartbeatData::decode(text.as_bytes()).unwrap();
        let consumer = &heartbeat.consumer_data_set[0];
        assert_eq!(consumer.consume_from_where, Some(ConsumeFromWhere::Unknown));
        assert_eq!(consumer.consume_type, None);
        assert_eq!(consumer.subscription_data_set[0].expression_type, "TAG");
    }
}
