//! Broker administration headers used by `mqadmin` and the console: UPDATE_AND_CREATE_TOPIC
//! (17), DELETE_TOPIC_IN_BROKER (215), GET_BROKER_CONFIG (26) response,
//! DELETE_SUBSCRIPTIONGROUP (207), GET_TOPIC_STATS_INFO (202), GET_CONSUMER_CONNECTION_LIST
//! (203, see [`super::client::ConsumerGroupRequestHeader`]), GET_PRODUCER_CONNECTION_LIST (204),
//! GET_CONSUME_STATS (208), INVOKE_BROKER_TO_RESET_OFFSET (222).

use super::{header, TopicFilterType};

header! {
    /// UPDATE_AND_CREATE_TOPIC (17) request header (`CreateTopicRequestHeader`).
    pub struct CreateTopicRequestHeader {
        topic: String = "topic",
        default_topic: String = "defaultTopic",
        read_queue_nums: i32 = "readQueueNums",
        write_queue_nums: i32 = "writeQueueNums",
        /// PermName bits: 8 priority, 4 read, 2 write, 1 inherit.
        perm: i32 = "perm",
        topic_filter_type: TopicFilterType = "topicFilterType",
        topic_sys_flag: Option<i32> = "topicSysFlag",
        order: bool = "order",
        /// 5.x, `+key=value,...`.
        attributes: Option<String> = "attributes",
        force: Option<bool> = "force",
    }
}

header! {
    /// DELETE_TOPIC_IN_BROKER (215) and GET_TOPIC_STATS_INFO (202) request header.
    pub struct TopicRequestHeader {
        topic: String = "topic",
    }
}

header! {
    /// GET_BROKER_CONFIG (26) response header; the body is the properties text.
    pub struct GetBrokerConfigResponseHeader {
        /// DataVersion JSON of the broker config.
        version: String = "version",
    }
}

header! {
    /// DELETE_SUBSCRIPTIONGROUP (207) request header.
    pub struct DeleteSubscriptionGroupRequestHeader {
        group_name: String = "groupName",
        /// Absent means false.
        clean_offset: Option<bool> = "cleanOffset",
    }
}

header! {
    /// GET_PRODUCER_CONNECTION_LIST (204) request header.
    pub struct GetProducerConnectionListRequestHeader {
        producer_group: String = "producerGroup",
    }
}

header! {
    /// GET_CONSUME_STATS (208) request header.
    pub struct GetConsumeStatsRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: Option<String> = "topic",
        /// 5.x: semicolon-separated topics.
        topic_list: Option<String> = "topicList",
    }
}

header! {
    /// INVOKE_BROKER_TO_RESET_OFFSET (222) request header (`ResetOffsetRequestHeader`).
    pub struct ResetOffsetRequestHeader {
        group: String = "group",
        topic: String = "topic",
        /// Absent means −1: all queues.
        queue_id: Option<i32> = "queueId",
        offset: Option<i64> = "offset",
        timestamp: i64 = "timestamp",
        is_force: bool = "isForce",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::RemotingCommand;
    use crate::header::HeaderError;

    #[test]
    fn unknown_topic_filter_type_is_rejected_with_the_choices() {
        let mut command = RemotingCommand::request(17);
        CreateTopicRequestHeader {
            topic: "T".to_owned(),
            default_topic: "TBW102".to_owned(),
            read_queue_nums: 8,
            write_queue_nums: 8,
            perm: 6,
            ..CreateTopicRequestHeader::default()
        }
        .write_to(&mut command);
        assert_eq!(command.ext("topicFilterType"), Some("SINGLE_TAG"));
        assert_eq!(command.ext("order"), Some("false"));
        command.ext_fields.insert("topicFilterType", "ANY");
        let error = CreateTopicRequestHeader::from_command(&command).unwrap_err();
        assert!(matches!(
            error,
            HeaderError::BadValue {
                field: "topicFilterType",
                ..
            }
        ));
    }
}
