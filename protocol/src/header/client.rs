//! Client-registry headers: UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38), and the
//! requests a broker relays to a consumer client: GET_CONSUMER_RUNNING_INFO (307),
//! CONSUME_MESSAGE_DIRECTLY (309).
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

header! {
    /// GET_CONSUMER_RUNNING_INFO (307): tool to broker, relayed by the broker to the client
    /// named by `clientId` on its own connection.
    pub struct GetConsumerRunningInfoRequestHeader {
        consumer_group: String = "consumerGroup",
        client_id: String = "clientId",
        jstack_enable: Option<bool> = "jstackEnable",
    }
}

header! {
    /// CONSUME_MESSAGE_DIRECTLY (309) (`ConsumeMessageDirectlyResultRequestHeader`): tool to
    /// broker, relayed to the client with the stored message as the body; the broker adds
    /// `brokerName`, `topicSysFlag` and `groupSysFlag`.
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        consumer_group: String = "consumerGroup",
        client_id: Option<String> = "clientId",
        /// The offsetMsgId of the message (store host and commitlog offset).
        msg_id: Option<String> = "msgId",
        broker_name: Option<String> = "brokerName",
        topic: Option<String> = "topic",
        topic_sys_flag: Option<i32> = "topicSysFlag",
        group_sys_flag: Option<i32> = "groupSysFlag",
    }
}
