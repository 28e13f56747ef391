//! Producers and consumers known from heartbeats, by group, with the connection each came on.
//!
//! A client is dropped when its connection closes or after `channelExpiredTimeout` (120 s)
//! without a heartbeat. Consumer-group membership changes are reported so the control plane
//! can send NOTIFY_CONSUMER_IDS_CHANGED to the group's members.

use std::collections::{BTreeMap, HashMap};

use ringmq_protocol::body::heartbeat::{ConsumerData, SubscriptionData};
use ringmq_protocol::command::Language;

use crate::message::ConnectionRef;

/// A client connection as registered by heartbeat.
#[derive(Debug, Clone)]
pub(crate) struct ClientChannel {
    pub(crate) client_id: String,
    pub(crate) peer: std::net::SocketAddr,
    pub(crate) language: Language,
    pub(crate) version: i32,
    pub(crate) last_heartbeat_ms: i64,
}

/// One consumer group's members and subscriptions.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConsumerGroup {
    pub(crate) consume_type: String,
    pub(crate) message_model: String,
    pub(crate) consume_from_where: String,
    pub(crate) subscriptions: BTreeMap<String, SubscriptionData>,
    pub(crate) members: BTreeMap<ConnectionRef, ClientChannel>,
}

/// The Java enum name serde gives a value (`CONSUME_PASSIVELY`, …), or "" when absent.
fn java_name<T: serde::Serialize>(value: Option<&T>) -> String {
    value
        .and_then(|value| serde_json::to_value(value).ok())
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// All registered clients.
#[derive(Debug, Default)]
pub(crate) struct ClientRegistry {
    producers: HashMap<String, BTreeMap<ConnectionRef, ClientChannel>>,
    consumers: HashMap<String, ConsumerGroup>,
}

impl ClientRegistry {
    pub(crate) fn register_producer(
        &mut self,
        group: &str,
        connection: ConnectionRef,
        channel: ClientChannel,
    ) {
        self.producers
            .entry(group.to_owned())
            .or_default()
            .insert(connection, channel);
    }

    /// Register or refresh a consumer; true when the group's membership changed.
    pub(crate) fn register_consumer(
        &mut self,
        data: &ConsumerData,
        connection: ConnectionRef,
        channel: ClientChannel,
    ) -> bool {
        let group = self.consumers.entry(data.group_name.clone()).or_default();
        group.consume_type = java_name(data.consume_type.as_ref());
        group.message_model = java_name(data.message_model.as_ref());
        group.consume_from_where = java_name(data.consume_from_where.as_ref());
        for subscription in &data.subscription_data_set {
            let newer = group
                .subscriptions
                .get(&subscription.topic)
                .is_none_or(|known| known.sub_version <= subscription.sub_version);
            if newer {
                group
                    .subscriptions
                    .insert(subscription.topic.clone(), subscription.clone());
            }
        }
        group.members.insert(connection, channel).is_none()
    }

    pub(crate) fn unregister(
        &mut self,
        connection: ConnectionRef,
        producer_group: Option<&str>,
        consumer_group: Option<&str>,
    ) -> Vec<String> {
        if let Some(group) = producer_group {
            if let Some(members) = self.producers.get_mut(group) {
                members.remove(&connection);
            }
        }
        let mut changed = Vec::new();
        if let Some(name) = consumer_group {
            if let Some(group) = self.consumers.get_mut(name) {
                if group.members.remove(&connection).is_some() {
                    changed.push(name.to_owned());
                }
            }
        }
        self.drop_empty();
        changed
    }

    /// Forget a closed connection everywhere; returns the consumer groups that changed.
    pub(crate) fn connection_closed(&mut self, connection: ConnectionRef) -> Vec<String> {
        for members in self.producers.values_mut() {
            members.remove(&connection);
        }
        let mut changed = Vec::new();
        for (name, group) in &mut self.consumers {
            if group.members.remove(&connection).is_some() {
                changed.push(name.clone());
            }
        }
        self.drop_empty();
        changed
    }

    /// Drop clients silent for longer than `timeout_ms`; returns the groups that changed.
    pub(crate) fn expire(&mut self, now_ms: i64, timeout_ms: i64) -> Vec<String> {
        let alive = |channel: &ClientChannel| now_ms - channel.last_heartbeat_ms <= timeout_ms;
        for members in self.producers.values_mut() {
            members.retain(|_, channel| alive(channel));
        }
        let mut changed = Vec::new();
        for (name, group) in &mut self.consumers {
            let before = group.members.len();
            group.members.retain(|_, channel| alive(channel));
            if group.members.len() != before {
                changed.push(name.clone());
            }
        }
        self.drop_empty();
        changed
    }

    fn drop_empty(&mut self) {
        self.producers.retain(|_, members| !members.is_empty());
        self.consumers.retain(|_, group| !group.members.is_empty());
    }

    pub(crate) fn consumer_group(&self, group: &str) -> Option<&ConsumerGroup> {
        self.consumers.get(group)
    }

    pub(crate) fn producer_group(
        &self,
        group: &str,
    ) -> Option<&BTreeMap<ConnectionRef, ClientChannel>> {
        self.producers.get(group)
    }

    /// Client ids of a consumer group, sorted and unique.
    pub(crate) fn consumer_ids(&self, group: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .consumers
            .get(group)
            .map(|group| {
                group
                    .members
                    .values()
                    .map(|channel| channel.client_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids.dedup();
        ids
    }

    /// group → topic → subscription, for the shards' snapshot.
    pub(crate) fn subscriptions(&self) -> HashMap<String, HashMap<String, SubscriptionData>> {
        self.consumers
            .iter()
            .map(|(name, group)| {
                let topics = group
                    .subscriptions
                    .iter()
                    .map(|(t, s)| (t.clone(), s.clone()))
                    .collect();
                (name.clone(), topics)
            })
            .collect()
    }
}
