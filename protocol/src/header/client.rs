//! Client-registry headers: UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38).
//! HEART_BEAT (34) has no header; its body is [`crate::body::heartbeat::HeartbeatData`].

use super::header;

header! {
    /// UNREGISTER_CLIENT (35) request header; one of the groups is set.
    pub struct UnregisterClientRequestHeader {
        client_id: String = "clientID",
        producer_group: Option<String> = "producerGroup",
        consumer_group: Option<String> = "consumerGroup",
    }
}

header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38) request header; also GET_CONSUMER_CONNECTION_LIST (203).
    pub struct ConsumerGroupRequestHeader {
        consumer_group: String = "consumerGroup",
    }
}

header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40), broker to client, oneway.
    pub struct NotifyConsumerIdsChangedRequestHeader {
        consumer_group: String = "consumerGroup",
    }
}
