//! Produce-path headers: SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320),
//! their response, and CONSUMER_SEND_MSG_BACK (36).
//!
//! V2 carries the V1 fields under one-letter keys `a`..`n` to make fastjson faster; SEND_BATCH
//! uses the V2 header too. Handlers should call [`SendMessageRequestHeader::from_request`], which
//! picks the layout by request code and maps V2 onto V1 as Java's `parseRequestHeader` does.

use super::{header, HeaderError};
use crate::command::RemotingCommand;
use crate::request_code;

/// The ext keys that hold the topic and the queue id of a send with `code` (`topic` and
/// `queueId` for SEND_MESSAGE, `b` and `e` for SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE);
/// `None` for any other code.
#[must_use]
pub fn send_route_keys(code: i32) -> Option<(&'static str, &'static str)> {
    match code {
        request_code::SEND_MESSAGE => Some(("topic", "queueId")),
        request_code::SEND_MESSAGE_V2 | request_code::SEND_BATCH_MESSAGE => Some(("b", "e")),
        _ => None,
    }
}

header! {
    /// SEND_MESSAGE (10) request header (`SendMessageRequestHeader`).
    pub struct SendMessageRequestHeader {
        producer_group: String = "producerGroup",
        topic: String = "topic",
        /// Topic whose config a new topic inherits, normally `TBW102`.
        default_topic: String = "defaultTopic",
        default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        /// −1 asks the broker to choose.
        queue_id: i32 = "queueId",
        sys_flag: i32 = "sysFlag",
        born_timestamp: i64 = "bornTimestamp",
        flag: i32 = "flag",
        properties: Option<String> = "properties",
        reconsume_times: Option<i32> = "reconsumeTimes",
        unit_mode: Option<bool> = "unitMode",
        batch: Option<bool> = "batch",
        max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        /// 5.x RPC field: the broker the client addressed.
        broker_name: Option<String> = "bname",
    }
}

header! {
    /// SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320) request header
    /// (`SendMessageRequestHeaderV2`); same fields as V1 under short keys.
    pub struct SendMessageRequestHeaderV2 {
        a: String = "a",
        b: String = "b",
        c: String = "c",
        d: i32 = "d",
        e: i32 = "e",
        f: i32 = "f",
        g: i64 = "g",
        h: i32 = "h",
        i: Option<String> = "i",
        j: Option<i32> = "j",
        k: Option<bool> = "k",
        l: Option<i32> = "l",
        m: Option<bool> = "m",
        n: Option<String> = "n",
    }
}

impl SendMessageRequestHeader {
    /// Decode the send header of a 10, 310 or 320 request, whichever layout it uses.
    pub fn from_request(command: &RemotingCommand) -> Result<Self, HeaderError> {
        match command.code {
            request_code::SEND_MESSAGE => Self::from_command(command),
            request_code::SEND_MESSAGE_V2 | request_code::SEND_BATCH_MESSAGE => {
                SendMessageRequestHeaderV2::from_command(command).map(Self::from)
            }
            code => Err(HeaderError::WrongCode {
                code,
                expected: "SEND_MESSAGE, SEND_MESSAGE_V2 or SEND_BATCH_MESSAGE",
            }),
        }
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> Self {
        Self {
            producer_group: v2.a,
            topic: v2.b,
            default_topic: v2.c,
            default_topic_queue_nums: v2.d,
            queue_id: v2.e,
            sys_flag: v2.f,
            born_timestamp: v2.g,
            flag: v2.h,
            properties: v2.i,
            reconsume_times: v2.j,
            unit_mode: v2.k,
            max_reconsume_times: v2.l,
            batch: v2.m,
            broker_name: v2.n,
        }
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v1: SendMessageRequestHeader) -> Self {
        Self {
            a: v1.producer_group,
            b: v1.topic,
            c: v1.default_topic,
            d: v1.default_topic_queue_nums,
            e: v1.queue_id,
            f: v1.sys_flag,
            g: v1.born_timestamp,
            h: v1.flag,
            i: v1.properties,
            j: v1.reconsume_times,
            k: v1.unit_mode,
            l: v1.max_reconsume_times,
            m: v1.batch,
            n: v1.broker_name,
        }
    }
}

header! {
    /// Response to a send (`SendMessageResponseHeader`). The broker must also put `MSG_REGION`
    /// and `TRACE_ON` in the ext fields: the Java client reads them after this header.
    pub struct SendMessageResponseHeader {
        /// offsetMsgId; for a batch, the comma-separated list.
        msg_id: String = "msgId",
        queue_id: i32 = "queueId",
        /// Consume-queue offset of the (first) message.
        queue_offset: i64 = "queueOffset",
        transaction_id: Option<String> = "transactionId",
        batch_uniq_id: Option<String> = "batchUniqId",
        recall_handle: Option<String> = "recallHandle",
    }
}

header! {
    /// CONSUMER_SEND_MSG_BACK (36) request header (`ConsumerSendMsgBackRequestHeader`).
    pub struct ConsumerSendMsgBackRequestHeader {
        /// Commitlog physical offset of the message that failed.
        offset: i64 = "offset",
        group: String = "group",
        /// 0: broker decides (3 + reconsumeTimes); negative: straight to the DLQ.
        delay_level: i32 = "delayLevel",
        origin_msg_id: Option<String> = "originMsgId",
        origin_topic: Option<String> = "originTopic",
        /// Java default false.
        unit_mode: Option<bool> = "unitMode",
        max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        broker_name: Option<String> = "bname",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_request(code: i32) -> RemotingCommand {
        let mut command = RemotingCommand::request(code);
        for (key, value) in [
            ("a", "P"),
            ("b", "T"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "1"),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("i", "TAGS\u{1}A\u{2}"),
            ("j", "0"),
            ("k", "false"),
            ("m", "true"),
            ("n", "broker-a"),
        ] {
            command.ext_fields.insert(key, value);
        }
        command
    }

    #[test]
    fn v2_and_batch_short_names_map_onto_v1_fields() {
        for code in [
            request_code::SEND_MESSAGE_V2,
            request_code::SEND_BATCH_MESSAGE,
        ] {
            let header = SendMessageRequestHeader::from_request(&v2_request(code)).unwrap();
            assert_eq!(header.producer_group, "P");
            assert_eq!(header.topic, "T");
            assert_eq!(header.default_topic_queue_nums, 4);
            assert_eq!(header.queue_id, 1);
            assert_eq!(header.born_timestamp, 1_700_000_000_000);
            assert_eq!(header.batch, Some(true));
            assert_eq!(header.max_reconsume_times, None);
            assert_eq!(header.broker_name.as_deref(), Some("broker-a"));
        }
    }

    #[test]
    fn v1_written_then_read_as_v2_loses_nothing() {
        let v1 = SendMessageRequestHeader::from_request(&v2_request(310)).unwrap();
        let mut command = RemotingCommand::request(request_code::SEND_MESSAGE);
        v1.write_to(&mut command);
        assert_eq!(
            SendMessageRequestHeader::from_request(&command).unwrap(),
            v1
        );
        let v2 = SendMessageRequestHeaderV2::from(v1.clone());
        assert_eq!(SendMessageRequestHeader::from(v2), v1);
    }

    #[test]
    fn v2_missing_topic_reports_the_short_key() {
        let mut command = v2_request(310);
        command.ext_fields.remove("b");
        let error = SendMessageRequestHeader::from_request(&command).unwrap_err();
        assert_eq!(error, HeaderError::Missing { field: "b" });
    }

    #[test]
    fn non_send_code_is_rejected_not_misparsed() {
        let error = SendMessageRequestHeader::from_request(&v2_request(11)).unwrap_err();
        assert!(matches!(error, HeaderError::WrongCode { code: 11, .. }));
    }
}
