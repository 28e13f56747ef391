//! Bodies of the broker administration codes `mqadmin` and the dashboard use:
//! [`TopicStatsTable`] (GET_TOPIC_STATS_INFO 202), [`ConsumerConnection`]
//! (GET_CONSUMER_CONNECTION_LIST 203), [`ProducerConnection`] (GET_PRODUCER_CONNECTION_LIST
//! 204), [`ConsumeStats`] (GET_CONSUME_STATS 208), [`ResetOffsetBody`]
//! (INVOKE_BROKER_TO_RESET_OFFSET 222 response, RESET_CONSUMER_CLIENT_OFFSET 220 request),
//! [`GroupList`] (QUERY_TOPIC_CONSUME_BY_WHO 300), [`DelayOffsetSerializeWrapper`]
//! (`config/delayOffset.json`, GET_ALL_DELAY_OFFSET 45) and [`HaRuntimeInfo`]
//! (GET_BROKER_HA_STATUS 907, `mqadmin haStatus`).
//!
//! Java keys several of these maps by `MessageQueue`, which fastjson writes as a JSON object in
//! key position (`{{"brokerName":..}:{..}}`) — not JSON. We write the key as a string holding
//! the queue's compact JSON (`{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}":{..}}`),
//! which is standard JSON, what rocketmq-rust's `any_key_map` reads, and what fastjson's map
//! reader turns back into a bean key. Decoding accepts the same form.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::consumer::MessageQueue;
use super::heartbeat::SubscriptionData;
use super::JsonBody;

/// Serde adapter for `BTreeMap<MessageQueue, V>` with stringified-JSON keys.
pub mod queue_keyed {
    use std::collections::BTreeMap;

    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::body::consumer::MessageQueue;

    pub fn serialize<S, V>(
        map: &BTreeMap<MessageQueue, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        V: Serialize,
    {
        let mut keyed = BTreeMap::new();
        for (queue, value) in map {
            let key = serde_json::to_string(queue).map_err(S::Error::custom)?;
            keyed.insert(key, value);
        }
        keyed.serialize(serializer)
    }

    pub fn deserialize<'de, D, V>(deserializer: D) -> Result<BTreeMap<MessageQueue, V>, D::Error>
    where
        D: Deserializer<'de>,
        V: Deserialize<'de>,
    {
        let keyed = BTreeMap::<String, V>::deserialize(deserializer)?;
        let mut map = BTreeMap::new();
        for (key, value) in keyed {
            let queue: MessageQueue = serde_json::from_str(&key).map_err(D::Error::custom)?;
            map.insert(queue, value);
        }
        Ok(map)
    }
}

/// Offsets of one queue (Java `TopicOffset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicOffset {
    /// Store time (ms) of the last message; 0 when the queue is empty.
    pub last_update_timestamp: i64,
    pub max_offset: i64,
    pub min_offset: i64,
}

/// Per-queue offsets of a topic on one broker.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicStatsTable {
    #[serde(with = "queue_keyed")]
    pub offset_table: BTreeMap<MessageQueue, TopicOffset>,
}

impl JsonBody for TopicStatsTable {
    const NAME: &'static str = "TopicStatsTable";
}

/// A consumer group's progress on one queue (Java `OffsetWrapper`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OffsetWrapper {
    /// The queue's max offset (next to be written).
    pub broker_offset: i64,
    /// The group's committed offset (next to consume).
    pub consumer_offset: i64,
    /// Store time of the last consumed message; 0 if none.
    pub last_timestamp: i64,
    /// 5.x: offset the group has pulled to; tools compute in-flight as pull − consumer.
    pub pull_offset: i64,
}

/// A consumer group's progress on a broker.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumeStats {
    pub consume_tps: f64,
    #[serde(with = "queue_keyed")]
    pub offset_table: BTreeMap<MessageQueue, OffsetWrapper>,
}

impl JsonBody for ConsumeStats {
    const NAME: &'static str = "ConsumeStats";
}

/// One client connection (Java `Connection`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Connection {
    pub client_addr: String,
    pub client_id: String,
    /// `LanguageCode` name, e.g. `JAVA`.
    pub language: String,
    /// `MQVersion` ordinal of the client.
    pub version: i32,
}

/// The members of a consumer group connected to a broker, with the group's subscriptions.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerConnection {
    pub connection_set: Vec<Connection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_from_where: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_model: Option<String>,
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

impl JsonBody for ConsumerConnection {
    const NAME: &'static str = "ConsumerConnection";
}

/// The members of a producer group connected to a broker.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProducerConnection {
    pub connection_set: Vec<Connection>,
}

impl JsonBody for ProducerConnection {
    const NAME: &'static str = "ProducerConnection";
}

/// Offsets a group was reset to, per queue.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResetOffsetBody {
    #[serde(with = "queue_keyed")]
    pub offset_table: BTreeMap<MessageQueue, i64>,
}

impl JsonBody for ResetOffsetBody {
    const NAME: &'static str = "ResetOffsetBody";
}

/// The consumer groups of a topic on one broker: those online and subscribed to it, and those
/// with committed offsets in it.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GroupList {
    pub group_list: BTreeSet<String>,
}

impl JsonBody for GroupList {
    const NAME: &'static str = "GroupList";
}

/// Delivery progress of the delay levels: level (1-based) → next offset of queue `level-1` of
/// `SCHEDULE_TOPIC_XXXX` to deliver. Java writes the level keys unquoted; decoding accepts both.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DelayOffsetSerializeWrapper {
    pub offset_table: BTreeMap<i32, i64>,
}

impl JsonBody for DelayOffsetSerializeWrapper {
    const NAME: &'static str = "DelayOffsetSerializeWrapper";
}

/// A broker's replication state (Java `HARuntimeInfo`): a master fills `master`,
/// `masterCommitLogMaxOffset`, `inSyncSlaveNums` and one `haConnectionInfo` entry per slave
/// connection; a slave fills `haClientRuntimeInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HaRuntimeInfo {
    pub ha_client_runtime_info: HaClientRuntimeInfo,
    pub ha_connection_info: Vec<HaConnectionRuntimeInfo>,
    pub in_sync_slave_nums: i32,
    pub master: bool,
    pub master_commit_log_max_offset: i64,
}

impl JsonBody for HaRuntimeInfo {
    const NAME: &'static str = "HARuntimeInfo";
}

/// One slave connection of a master (Java `HARuntimeInfo.HAConnectionRuntimeInfo`).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HaConnectionRuntimeInfo {
    /// The slave's `ip:port`.
    pub addr: String,
    /// How far the slave is behind: the master's max offset minus `slave_ack_offset`.
    pub diff: i64,
    pub in_sync: bool,
    pub slave_ack_offset: i64,
    /// Where the master continues shipping.
    pub transfer_from_where: i64,
    pub transferred_byte_in_second: i64,
}

/// A slave's replication client (Java `HARuntimeInfo.HAClientRuntimeInfo`). Timestamps are
/// epoch milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HaClientRuntimeInfo {
    pub last_read_timestamp: i64,
    pub last_write_timestamp: i64,
    /// The master's HA address; absent until one is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_addr: Option<String>,
    pub master_flush_offset: i64,
    pub max_offset: i64,
    pub transferred_byte_in_second: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(id: i32) -> MessageQueue {
        MessageQueue {
            broker_name: "b".to_owned(),
            queue_id: id,
            topic: "T".to_owned(),
        }
    }

    #[test]
    fn queue_keys_are_stringified_json_and_round_trip() {
        let mut table = TopicStatsTable::default();
        table.offset_table.insert(
            queue(0),
            TopicOffset {
                last_update_timestamp: 5,
                max_offset: 2,
                min_offset: 0,
            },
        );
        let text = String::from_utf8(table.encode()).unwrap();
        assert_eq!(
            text,
            r#"{"offsetTable":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}":{"lastUpdateTimestamp":5,"maxOffset":2,"minOffset":0}}}"#
        );
        assert_eq!(TopicStatsTable::decode(text.as_bytes()).unwrap(), table);
    }

    #[test]
    fn consume_stats_carry_tps_and_offsets() {
        let mut stats = ConsumeStats {
            consume_tps: 1.5,
            ..ConsumeStats::default()
        };
        stats.offset_table.insert(
            queue(1),
            OffsetWrapper {
                broker_offset: 10,
                consumer_offset: 4,
                last_timestamp: 0,
                pull_offset: 4,
            },
        );
        let decoded = ConsumeStats::decode(&stats.encode()).unwrap();
        assert_eq!(decoded, stats);
        assert!(String::from_utf8(stats.encode())
            .unwrap()
            .starts_with(r#"{"consumeTps":1.5,"offsetTable""#));
    }

    #[test]
    fn java_delay_offsets_with_unquoted_levels_decode() {
        let table = DelayOffsetSerializeWrapper::decode(br#"{"offsetTable":{1:12,3:0}}"#).unwrap();
        assert_eq!(table.offset_table[&1], 12);
        assert_eq!(
            table.encode(),
            br#"{"offsetTable":{"1":12,"3":0}}"#.to_vec()
        );
    }

    // Hazard: Java's mqadmin haStatus decodes this body with fastjson; a renamed or missing
    // field would print zeros there without an error.
    #[test]
    fn ha_runtime_info_uses_the_java_field_names_in_fastjson_order() {
        let info = HaRuntimeInfo {
            master: true,
            master_commit_log_max_offset: 4096,
            in_sync_slave_nums: 1,
            ha_connection_info: vec![HaConnectionRuntimeInfo {
                addr: "127.0.0.1:51234".to_owned(),
                diff: 96,
                in_sync: true,
                slave_ack_offset: 4000,
                transfer_from_where: 4096,
                transferred_byte_in_second: 2048,
            }],
            ..HaRuntimeInfo::default()
        };
        let text = String::from_utf8(info.encode()).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"haClientRuntimeInfo":{"lastReadTimestamp":0,"lastWriteTimestamp":0,"#,
                r#""masterFlushOffset":0,"maxOffset":0,"transferredByteInSecond":0},"#,
                r#""haConnectionInfo":[{"addr":"127.0.0.1:51234","diff":96,"inSync":true,"#,
                r#""slaveAckOffset":4000,"transferFromWhere":4096,"transferredByteInSecond":2048}],"#,
                r#""inSyncSlaveNums":1,"master":true,"masterCommitLogMaxOffset":4096}"#
            )
        );
        assert_eq!(HaRuntimeInfo::decode(text.as_bytes()).unwrap(), info);
    }

    #[test]
    fn a_java_slave_ha_runtime_info_decodes() {
        // As a Java 5.x slave answers; a field ringmq does not know (`activated`) is ignored.
        let body = br#"{"haClientRuntimeInfo":{"activated":false,"lastReadTimestamp":1700000000123,"lastWriteTimestamp":1700000000456,"masterAddr":"10.0.0.1:10912","masterFlushOffset":0,"maxOffset":8192,"transferredByteInSecond":512},"haConnectionInfo":[],"inSyncSlaveNums":0,"master":false,"masterCommitLogMaxOffset":0}"#;
        let info = HaRuntimeInfo::decode(body).unwrap();
        assert!(!info.master);
        let client = &info.ha_client_runtime_info;
        assert_eq!(client.master_addr.as_deref(), Some("10.0.0.1:10912"));
        assert_eq!(
            (
                client.max_offset,
                client.last_write_timestamp,
                client.transferred_byte_in_second
            ),
            (8192, 1_700_000_000_456, 512)
        );
    }
}
