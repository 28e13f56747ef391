//! PULL_MESSAGE (11) request and response headers.

use super::header;

/// PullSysFlag bit: commit `commitOffset` with this pull.
pub const PULL_FLAG_COMMIT_OFFSET: i32 = 0x1;
/// PullSysFlag bit: the broker may park the pull (long polling).
pub const PULL_FLAG_SUSPEND: i32 = 0x2;
/// PullSysFlag bit: use `subscription` from this request, not the heartbeat's.
pub const PULL_FLAG_SUBSCRIPTION: i32 = 0x4;
/// PullSysFlag bit: class filter mode.
pub const PULL_FLAG_CLASS_FILTER: i32 = 0x8;
/// PullSysFlag bit: lite pull consumer.
pub const PULL_FLAG_LITE_PULL: i32 = 0x10;

header! {
    /// PULL_MESSAGE (11) request header (`PullMessageRequestHeader`).
    pub struct PullMessageRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: String = "topic",
        queue_id: i32 = "queueId",
        /// Next logical offset wanted.
        queue_offset: i64 = "queueOffset",
        max_msg_nums: i32 = "maxMsgNums",
        /// `PULL_FLAG_*` bits.
        sys_flag: i32 = "sysFlag",
        commit_offset: i64 = "commitOffset",
        suspend_timeout_millis: i64 = "suspendTimeoutMillis",
        subscription: Option<String> = "subscription",
        sub_version: i64 = "subVersion",
        /// `TAG` (default) or `SQL92`.
        expression_type: Option<String> = "expressionType",
        max_msg_bytes: Option<i32> = "maxMsgBytes",
        request_source: Option<i32> = "requestSource",
        /// Spelled as in Java.
        proxy_forward_client_id: Option<String> = "proxyFrowardClientId",
        broker_name: Option<String> = "bname",
    }
}

header! {
    /// PULL_MESSAGE response header (`PullMessageResponseHeader`). The four required fields must
    /// be sent on every pull response code, not only SUCCESS: clients fail without them.
    pub struct PullMessageResponseHeader {
        /// 0 = master.
        suggest_which_broker_id: i64 = "suggestWhichBrokerId",
        next_begin_offset: i64 = "nextBeginOffset",
        min_offset: i64 = "minOffset",
        max_offset: i64 = "maxOffset",
        offset_delta: Option<i64> = "offsetDelta",
        topic_sys_flag: Option<i32> = "topicSysFlag",
        group_sys_flag: Option<i32> = "groupSysFlag",
        forbidden_type: Option<i32> = "forbiddenType",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::RemotingCommand;
    use crate::header::HeaderError;

    #[test]
    fn ali_ons_pull_with_numeric_values_parses() {
        let mut command = RemotingCommand::request(11);
        for (key, value) in [
            ("consumerGroup", "G"),
            ("topic", "T"),
            ("queueId", "0"),
            ("queueOffset", "12"),
            ("maxMsgNums", "32"),
            ("sysFlag", "6"),
            ("commitOffset", "0"),
            ("suspendTimeoutMillis", "15000"),
            ("subscription", "*"),
            ("subVersion", "1690000000000"),
        ] {
            command.ext_fields.insert(key, value);
        }
        let header = PullMessageRequestHeader::from_command(&command).unwrap();
        assert_eq!(header.sys_flag & PULL_FLAG_SUSPEND, PULL_FLAG_SUSPEND);
        assert_eq!(header.sub_version, 1_690_000_000_000);
        command.ext_fields.insert("queueOffset", "-x");
        let error = PullMessageRequestHeader::from_command(&command).unwrap_err();
        assert!(matches!(
            error,
            HeaderError::BadNumber {
                field: "queueOffset",
                ..
            }
        ));
    }

    #[test]
    fn response_always_carries_the_four_required_fields() {
        let header = PullMessageResponseHeader::default();
        let mut command = RemotingCommand::request(0);
        header.write_to(&mut command);
        for key in [
            "suggestWhichBrokerId",
            "nextBeginOffset",
            "minOffset",
            "maxOffset",
        ] {
            assert_eq!(command.ext(key), Some("0"), "{key}");
        }
        assert_eq!(command.ext_fields.len(), 4);
    }
}
