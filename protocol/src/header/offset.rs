//! Consumer-offset and queue-offset headers: QUERY_CONSUMER_OFFSET (14),
//! UPDATE_CONSUMER_OFFSET (15), SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30),
//! GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32).

use super::{header, BoundaryType};

header! {
    /// QUERY_CONSUMER_OFFSET (14) request header.
    pub struct QueryConsumerOffsetRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: String = "topic",
        queue_id: i32 = "queueId",
        /// 5.x; absent means false (answer QUERY_NOT_FOUND when nothing is stored).
        set_zero_if_not_found: Option<bool> = "setZeroIfNotFound",
    }
}

header! {
    /// UPDATE_CONSUMER_OFFSET (15) request header; Java sends it oneway. Some clients send
    /// `commitOffset` −1, which handlers should tolerate.
    pub struct UpdateConsumerOffsetRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: String = "topic",
        queue_id: i32 = "queueId",
        /// Next offset to consume.
        commit_offset: i64 = "commitOffset",
    }
}

header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) request header.
    pub struct SearchOffsetRequestHeader {
        topic: String = "topic",
        queue_id: i32 = "queueId",
        /// Milliseconds since the epoch.
        timestamp: i64 = "timestamp",
        /// 5.x; absent means lower.
        boundary_type: Option<BoundaryType> = "boundaryType",
    }
}

header! {
    /// GET_MAX_OFFSET (30) request header.
    pub struct GetMaxOffsetRequestHeader {
        topic: String = "topic",
        queue_id: i32 = "queueId",
        /// 5.x; absent means true.
        committed: Option<bool> = "committed",
    }
}

header! {
    /// GET_MIN_OFFSET (31) request header.
    pub struct GetMinOffsetRequestHeader {
        topic: String = "topic",
        queue_id: i32 = "queueId",
    }
}

header! {
    /// GET_EARLIEST_MSG_STORETIME (32) request header.
    pub struct GetEarliestMsgStoretimeRequestHeader {
        topic: String = "topic",
        queue_id: i32 = "queueId",
    }
}

header! {
    /// Response header of 14, 29, 30 and 31: one `offset`.
    pub struct OffsetResponseHeader {
        offset: i64 = "offset",
    }
}

header! {
    /// GET_EARLIEST_MSG_STORETIME (32) response header.
    pub struct GetEarliestMsgStoretimeResponseHeader {
        timestamp: i64 = "timestamp",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::RemotingCommand;

    #[test]
    fn search_offset_boundary_is_case_insensitive_and_defaults_lower() {
        let mut command = RemotingCommand::request(29)
            .with_ext("topic", &"T")
            .with_ext("queueId", &0)
            .with_ext("timestamp", &1)
            .with_ext("boundaryType", &"UPPER");
        let header = SearchOffsetRequestHeader::from_command(&command).unwrap();
        assert_eq!(header.boundary_type, Some(BoundaryType::Upper));
        command.ext_fields.insert("boundaryType", "sideways");
        let header = SearchOffsetRequestHeader::from_command(&command).unwrap();
        assert_eq!(header.boundary_type, Some(BoundaryType::Lower));
    }

    #[test]
    fn negative_commit_offset_from_ali_ons_still_parses() {
        let command = RemotingCommand::request(15)
            .with_ext("consumerGroup", &"G")
            .with_ext("topic", &"T")
            .with_ext("queueId", &3)
            .with_ext("commitOffset", &-1);
        let header = UpdateConsumerOffsetRequestHeader::from_command(&command).unwrap();
        assert_eq!(header.commit_offset, -1);
    }
}
