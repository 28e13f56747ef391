//! A stored message as the admin tool sees it: one record of a pull, query or view body,
//! decoded and owned, with the texts mqadmin prints for it (`QueryMsgByIdSubCommand.printMsg`
//! labels, Java's `MessageExt.toString` for `consumeMessage`) and its `--format json` object.
//!
//! The message id mqadmin shows is the client's unique key (`UNIQ_KEY`), falling back to the
//! offsetMsgId (store host and commitlog offset) for messages sent without one.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use ringmq_protocol::properties;
use ringmq_protocol::record::{self, RecordError};
use serde_json::{json, Value};

use super::client::AdminError;
use super::clock;

/// Where mqadmin writes message bodies (`Message Body Path:`).
const BODY_DIRECTORY: &str = "/tmp/rocketmq/msgbodys";

/// One decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredMessage {
    /// The broker the message was read from, when the caller knows it (pulls).
    pub(crate) broker_name: Option<String>,
    pub(crate) topic: String,
    pub(crate) queue_id: i32,
    pub(crate) queue_offset: i64,
    pub(crate) commit_log_offset: i64,
    pub(crate) store_size: usize,
    pub(crate) sys_flag: i32,
    pub(crate) flag: i32,
    pub(crate) body_crc: i32,
    pub(crate) born_timestamp: i64,
    pub(crate) born_host: SocketAddr,
    pub(crate) store_timestamp: i64,
    pub(crate) store_host: SocketAddr,
    pub(crate) reconsume_times: i32,
    pub(crate) prepared_transaction_offset: i64,
    pub(crate) properties: String,
    pub(crate) body: Vec<u8>,
}

impl StoredMessage {
    /// Every record of a pull, query or view response body.
    pub(crate) fn decode_all(bytes: &[u8]) -> Result<Vec<Self>, RecordError> {
        let records = record::decode_all(bytes)?;
        Ok(records
            .into_iter()
            .map(|record| Self {
                broker_name: None,
                topic: record.topic.to_owned(),
                queue_id: record.queue_id,
                queue_offset: record.queue_offset,
                commit_log_offset: record.physical_offset,
                store_size: record.total_size,
                sys_flag: record.sys_flag,
                flag: record.flag,
                body_crc: record.body_crc,
                born_timestamp: record.born_timestamp,
                born_host: record.born_host,
                store_timestamp: record.store_timestamp,
                store_host: record.store_host,
                reconsume_times: record.reconsume_times,
                prepared_transaction_offset: record.prepared_transaction_offset,
                properties: record.properties.to_owned(),
                body: record.body.to_vec(),
            })
            .collect())
    }

    /// Every record of a response body from `address`; a bad record names the broker.
    pub(crate) fn decode_response(address: &str, bytes: &[u8]) -> Result<Vec<Self>, AdminError> {
        Self::decode_all(bytes).map_err(|cause| AdminError::Record {
            address: address.to_owned(),
            cause,
        })
    }

    pub(crate) fn property(&self, key: &str) -> Option<&str> {
        properties::find(&self.properties, key)
    }

    /// The offsetMsgId: store host and commitlog offset.
    pub(crate) fn offset_msg_id(&self) -> String {
        record::offset_msg_id(self.store_host, self.commit_log_offset)
    }

    /// The id clients know the message by: its unique key, else its offsetMsgId.
    pub(crate) fn msg_id(&self) -> String {
        self.property(properties::UNIQ_KEY)
            .map_or_else(|| self.offset_msg_id(), str::to_owned)
    }

    pub(crate) fn tags(&self) -> Option<&str> {
        self.property(properties::TAGS)
    }

    /// The keys, space-separated as stored.
    pub(crate) fn keys(&self) -> Option<&str> {
        self.property(properties::KEYS)
    }

    /// `[value]`, or `[null]` when absent, as mqadmin prints Tags and Keys.
    pub(crate) fn bracketed(value: Option<&str>) -> String {
        format!("[{}]", value.unwrap_or("null"))
    }

    /// The properties as Java's `HashMap.toString` prints them: `{KEY=value, ...}`.
    pub(crate) fn properties_text(&self) -> String {
        let entries: Vec<String> = properties::pairs(&self.properties)
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        format!("{{{}}}", entries.join(", "))
    }

    /// Java's `MessageExt.toString`, which `consumeMessage` prints after `MSGID:`.
    pub(crate) fn java_text(&self) -> String {
        let body: Vec<String> = self
            .body
            .iter()
            .map(|byte| i8::from_ne_bytes([*byte]).to_string())
            .collect();
        let mut text = String::new();
        let _ = write!(
            text,
            "MessageExt [brokerName={}, queueId={}, storeSize={}, queueOffset={}, sysFlag={}, \
             bornTimestamp={}, bornHost=/{}, storeTimestamp={}, storeHost=/{}, msgId={}, \
             commitLogOffset={}, bodyCRC={}, reconsumeTimes={}, preparedTransactionOffset={}, ",
            self.broker_name.as_deref().unwrap_or("null"),
            self.queue_id,
            self.store_size,
            self.queue_offset,
            self.sys_flag,
            self.born_timestamp,
            self.born_host,
            self.store_timestamp,
            self.store_host,
            self.offset_msg_id(),
            self.commit_log_offset,
            self.body_crc,
            self.reconsume_times,
            self.prepared_transaction_offset,
        );
        let _ = write!(
            text,
            "toString()=Message{{topic='{}', flag={}, properties={}, body=[{}], \
             transactionId='null'}}]",
            self.topic,
            self.flag,
            self.properties_text(),
            body.join(", ")
        );
        text
    }

    /// The body as text in `charset` (UTF-8, US-ASCII or ISO-8859-1), or `None` for another
    /// charset name.
    pub(crate) fn body_text(&self, charset: &str) -> Option<String> {
        match charset.to_ascii_uppercase().replace('_', "-").as_str() {
            "UTF-8" | "UTF8" | "US-ASCII" | "ASCII" => {
                Some(String::from_utf8_lossy(&self.body).into_owned())
            }
            "ISO-8859-1" | "LATIN1" => Some(self.body.iter().map(|b| char::from(*b)).collect()),
            _ => None,
        }
    }

    /// Write the body where mqadmin does (`/tmp/rocketmq/msgbodys/<msgId>[_index]`) and return
    /// the path.
    pub(crate) fn write_body_file(&self, index: usize) -> std::io::Result<String> {
        let directory = PathBuf::from(BODY_DIRECTORY);
        std::fs::create_dir_all(&directory)?;
        let name = if index > 0 {
            format!("{}_{index}", self.msg_id())
        } else {
            self.msg_id()
        };
        let path = directory.join(name);
        std::fs::write(&path, &self.body)?;
        Ok(path.display().to_string())
    }

    /// The labelled lines of mqadmin's message detail, from `Topic:` to `Properties:`.
    pub(crate) fn detail_lines(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Topic:", self.topic.clone()),
            ("Tags:", Self::bracketed(self.tags())),
            ("Keys:", Self::bracketed(self.keys())),
            ("Queue ID:", self.queue_id.to_string()),
            ("Queue Offset:", self.queue_offset.to_string()),
            ("CommitLog Offset:", self.commit_log_offset.to_string()),
            ("Reconsume Times:", self.reconsume_times.to_string()),
            ("Born Timestamp:", clock::millis_text(self.born_timestamp)),
            ("Store Timestamp:", clock::millis_text(self.store_timestamp)),
            ("Born Host:", self.born_host.to_string()),
            ("Store Host:", self.store_host.to_string()),
            ("System Flag:", self.sys_flag.to_string()),
            ("Properties:", self.properties_text()),
        ]
    }

    /// The `--format json` object of the message; the body as (lossy) UTF-8.
    pub(crate) fn json(&self) -> Value {
        let properties: serde_json::Map<String, Value> = properties::pairs(&self.properties)
            .map(|(key, value)| (key.to_owned(), Value::from(value)))
            .collect();
        json!({
            "msgId": self.msg_id(),
            "offsetMsgId": self.offset_msg_id(),
            "brokerName": self.broker_name,
            "topic": self.topic,
            "tags": self.tags(),
            "keys": self.keys(),
            "queueId": self.queue_id,
            "queueOffset": self.queue_offset,
            "commitLogOffset": self.commit_log_offset,
            "reconsumeTimes": self.reconsume_times,
            "bornTimestamp": self.born_timestamp,
            "storeTimestamp": self.store_timestamp,
            "bornHost": self.born_host.to_string(),
            "storeHost": self.store_host.to_string(),
            "sysFlag": self.sys_flag,
            "properties": properties,
            "body": String::from_utf8_lossy(&self.body),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringmq_protocol::record::{MessageDraft, StoreStamp};

    fn message(properties: &str, body: &[u8]) -> StoredMessage {
        let draft = MessageDraft {
            topic: "T",
            queue_id: 1,
            flag: 0,
            body,
            properties,
            sys_flag: 0,
            born_timestamp: 1_000,
            born_host: "10.0.0.2:5000".parse().unwrap(),
            store_host: "10.0.0.1:10911".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        };
        let stamp = StoreStamp {
            queue_offset: 7,
            physical_offset: 4096,
            store_timestamp: 2_000,
        };
        let mut bytes = vec![0; draft.encoded_len().unwrap()];
        draft.encode(stamp, &mut bytes).unwrap();
        StoredMessage::decode_all(&bytes).unwrap().remove(0)
    }

    #[test]
    fn message_id_is_the_unique_key_else_the_offset_id() {
        let with_key = message("UNIQ_KEY\u{1}ABC\u{2}", b"x");
        assert_eq!(with_key.msg_id(), "ABC");
        let without = message("", b"x");
        assert_eq!(without.msg_id(), without.offset_msg_id());
        assert_eq!(without.offset_msg_id(), "0A00000100002A9F0000000000001000");
    }

    #[test]
    fn java_texts_print_null_for_missing_tags_and_signed_body_bytes() {
        let message = message("TAGS\u{1}A\u{2}", &[104, 0xFF]);
        assert_eq!(StoredMessage::bracketed(message.tags()), "[A]");
        assert_eq!(StoredMessage::bracketed(message.keys()), "[null]");
        let text = message.java_text();
        assert!(text.starts_with("MessageExt [brokerName=null, queueId=1, storeSize="));
        assert!(text.contains("bornHost=/10.0.0.2:5000"), "{text}");
        assert!(
            text.ends_with("properties={TAGS=A}, body=[104, -1], transactionId='null'}]"),
            "{text}"
        );
    }
}
