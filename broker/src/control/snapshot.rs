//! The read-mostly view of control-plane state that every shard holds: topics, the
//! subscriptions consumers registered by heartbeat, and where each group's pulls are
//! steered. The control plane (shard 0) is its only
//! writer; it publishes a new `Arc` after each change and shards swap it in between requests.

use std::collections::HashMap;

use ringmq_protocol::body::heartbeat::SubscriptionData;
use ringmq_protocol::body::topic_config::TopicConfig;

use super::groups::GroupReadRoute;

/// One published version of the control plane's state.
#[derive(Debug, Default, Clone)]
pub(crate) struct ControlSnapshot {
    /// Looked up by every send and pull (foldhash, not SipHash).
    pub(crate) topics: HashMap<String, TopicConfig, foldhash::fast::RandomState>,
    /// group → topic → subscription registered by heartbeat.
    pub(crate) subscriptions: HashMap<String, HashMap<String, SubscriptionData>>,
    /// `brokerPermission` (PERM_READ | PERM_WRITE unless wiped).
    pub(crate) broker_permission: i32,
    /// group → its pull steering, from the subscription-group table.
    pub(crate) group_reads: HashMap<String, GroupReadRoute>,
}

impl ControlSnapshot {
    pub(crate) fn topic(&self, name: &str) -> Option<&TopicConfig> {
        self.topics.get(name)
    }

    /// A group's pull steering; RocketMQ's defaults for a group without a config.
    pub(crate) fn group_reads(&self, group: &str) -> GroupReadRoute {
        self.group_reads.get(group).copied().unwrap_or_default()
    }

    pub(crate) fn subscription(&self, group: &str, topic: &str) -> Option<&SubscriptionData> {
        self.subscriptions
            .get(group)
            .and_then(|topics| topics.get(topic))
    }
}
