//! Message lookup headers: QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33).

use super::header;

/// Ext key a client sets to `"true"` on QUERY_MESSAGE to look up by UNIQ_KEY.
pub const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

header! {
    /// QUERY_MESSAGE (12) request header.
    pub struct QueryMessageRequestHeader {
        topic: String = "topic",
        key: String = "key",
        max_num: i32 = "maxNum",
        /// Milliseconds since the epoch.
        begin_timestamp: i64 = "beginTimestamp",
        end_timestamp: i64 = "endTimestamp",
        /// Not a Java header field: the ext flag [`UNIQUE_KEY_QUERY`].
        unique_key_query: Option<bool> = "_UNIQUE_KEY_QUERY",
    }
}

header! {
    /// QUERY_MESSAGE response header.
    pub struct QueryMessageResponseHeader {
        index_last_update_timestamp: i64 = "indexLastUpdateTimestamp",
        index_last_update_phyoffset: i64 = "indexLastUpdatePhyoffset",
    }
}

header! {
    /// VIEW_MESSAGE_BY_ID (33) request header.
    pub struct ViewMessageRequestHeader {
        /// Commitlog physical offset decoded from the offsetMsgId.
        offset: i64 = "offset",
        /// 5.x.
        topic: Option<String> = "topic",
    }
}
