//! Name-server headers: REGISTER_BROKER (103), UNREGISTER_BROKER (104),
//! GET_ROUTEINFO_BY_TOPIC (105), GET_TOPICS_BY_CLUSTER (224), DELETE_TOPIC_IN_NAMESRV (216),
//! WIPE_WRITE_PERM_OF_BROKER (205), ADD_WRITE_PERM_OF_BROKER (327), PUT_KV_CONFIG (100),
//! GET_KV_CONFIG (101), DELETE_KV_CONFIG (102), GET_KVLIST_BY_NAMESPACE (219),
//! QUERY_DATA_VERSION (322). GET_BROKER_CLUSTER_INFO (106), GET_ALL_TOPIC_LIST_FROM_NAMESERVER
//! (206), UPDATE_NAMESRV_CONFIG (318) and GET_NAMESRV_CONFIG (319) carry no header.

use super::header;

header! {
    /// REGISTER_BROKER (103) request header. The body is a
    /// [`RegisterBrokerBody`](crate::body::register::RegisterBrokerBody).
    pub struct RegisterBrokerRequestHeader {
        broker_name: String = "brokerName",
        /// brokerIP1:listenPort.
        broker_addr: String = "brokerAddr",
        cluster_name: String = "clusterName",
        /// brokerIP2:haListenPort.
        ha_server_addr: String = "haServerAddr",
        /// 0 = master.
        broker_id: i64 = "brokerId",
        heartbeat_timeout_millis: Option<i64> = "heartbeatTimeoutMillis",
        enable_acting_master: Option<bool> = "enableActingMaster",
        /// Absent means false.
        compressed: Option<bool> = "compressed",
        /// CRC32 & 0x7FFFFFFF of the body; absent or 0 skips the check.
        body_crc32: Option<i32> = "bodyCrc32",
    }
}

header! {
    /// REGISTER_BROKER response header; slaves learn the master's HA endpoint from it.
    pub struct RegisterBrokerResponseHeader {
        ha_server_addr: Option<String> = "haServerAddr",
        master_addr: Option<String> = "masterAddr",
    }
}

header! {
    /// UNREGISTER_BROKER (104) and QUERY_DATA_VERSION (322) request header.
    pub struct BrokerIdentityRequestHeader {
        broker_name: String = "brokerName",
        broker_addr: String = "brokerAddr",
        cluster_name: String = "clusterName",
        broker_id: i64 = "brokerId",
    }
}

header! {
    /// QUERY_DATA_VERSION (322) response header.
    pub struct QueryDataVersionResponseHeader {
        changed: bool = "changed",
    }
}

header! {
    /// GET_ROUTEINFO_BY_TOPIC (105) request header.
    pub struct GetRouteInfoRequestHeader {
        topic: String = "topic",
        /// Ask for quoted numeric map keys even from an old-version request.
        accept_standard_json_only: Option<bool> = "acceptStandardJsonOnly",
    }
}

header! {
    /// GET_TOPICS_BY_CLUSTER (224) request header.
    pub struct GetTopicsByClusterRequestHeader {
        cluster: String = "cluster",
    }
}

header! {
    /// DELETE_TOPIC_IN_NAMESRV (216) request header.
    pub struct DeleteTopicFromNamesrvRequestHeader {
        topic: String = "topic",
        /// Absent: delete from every cluster.
        cluster_name: Option<String> = "clusterName",
    }
}

header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205) and ADD_WRITE_PERM_OF_BROKER (327) request header.
    pub struct BrokerNameRequestHeader {
        broker_name: String = "brokerName",
    }
}

header! {
    /// WIPE_WRITE_PERM_OF_BROKER response header.
    pub struct WipeWritePermOfBrokerResponseHeader {
        wipe_topic_count: i32 = "wipeTopicCount",
    }
}

header! {
    /// ADD_WRITE_PERM_OF_BROKER response header.
    pub struct AddWritePermOfBrokerResponseHeader {
        add_topic_count: i32 = "addTopicCount",
    }
}

header! {
    /// PUT_KV_CONFIG (100) request header.
    pub struct PutKvConfigRequestHeader {
        namespace: String = "namespace",
        key: String = "key",
        value: String = "value",
    }
}

header! {
    /// GET_KV_CONFIG (101) and DELETE_KV_CONFIG (102) request header.
    pub struct KvConfigKeyRequestHeader {
        namespace: String = "namespace",
        key: String = "key",
    }
}

header! {
    /// GET_KV_CONFIG response header.
    pub struct GetKvConfigResponseHeader {
        value: Option<String> = "value",
    }
}

header! {
    /// GET_KVLIST_BY_NAMESPACE (219) request header.
    pub struct GetKvListByNamespaceRequestHeader {
        namespace: String = "namespace",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::RemotingCommand;
    use crate::header::HeaderError;

    #[test]
    fn register_broker_requires_ha_server_addr() {
        let mut command = RemotingCommand::request(103)
            .with_ext("brokerName", &"broker-a")
            .with_ext("brokerAddr", &"10.0.0.1:10911")
            .with_ext("clusterName", &"DefaultCluster")
            .with_ext("brokerId", &0)
            .with_ext("bodyCrc32", &12345);
        let error = RegisterBrokerRequestHeader::from_command(&command).unwrap_err();
        assert_eq!(
            error,
            HeaderError::Missing {
                field: "haServerAddr"
            }
        );
        command = command.with_ext("haServerAddr", &"10.0.0.1:10912");
        let header = RegisterBrokerRequestHeader::from_command(&command).unwrap();
        assert_eq!(header.body_crc32, Some(12345));
        assert_eq!(header.compressed, None);
    }
}
