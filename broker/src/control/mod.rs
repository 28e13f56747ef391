//! The control plane, owned by shard 0: topics, subscription groups, consumer offsets and the
//! clients known from heartbeats. It is the single writer of that state; every change is
//! published to the other shards as a new [`snapshot::ControlSnapshot`].

pub(crate) mod clients;
mod codes;
pub(crate) mod delay_offsets;
pub(crate) use codes::{unsupported, OFFSET_NOT_FOUND_MARK};
pub(crate) mod groups;
pub(crate) mod offsets;
pub(crate) mod snapshot;
pub(crate) mod topics;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ringmq_protocol::body::consumer::MessageQueue;
use ringmq_protocol::body::topic_config::{PERM_READ, PERM_WRITE};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::client::NotifyConsumerIdsChangedRequestHeader;
use ringmq_protocol::request_code;

use crate::context::BrokerContext;
use crate::log::Log;
use crate::message::{ConnectionRef, Origin, Response};
use crate::registration::RegistrationHandle;
use crate::shard::BrokerShard;

use self::clients::ClientRegistry;
use self::delay_offsets::DelayOffsetTable;
use self::groups::GroupTable;
use self::offsets::OffsetTable;
use self::snapshot::ControlSnapshot;
use self::topics::TopicTable;

/// Clients silent for this long are dropped (`channelExpiredTimeout`).
const CLIENT_EXPIRY: Duration = Duration::from_secs(120);
/// How often offsets are persisted (`flushConsumerOffsetInterval`).
const OFFSET_PERSIST_PERIOD: Duration = Duration::from_secs(5);
/// How often the broker re-registers with the name servers (`registerNameServerPeriod`).
const REGISTER_PERIOD: Duration = Duration::from_secs(30);
/// How often expired clients are looked for.
const CLIENT_SCAN_PERIOD: Duration = Duration::from_secs(10);
/// Orderly-consumption locks expire after this long without renewal (`rebalanceLockMaxLiveTime`).
const QUEUE_LOCK_EXPIRY: Duration = Duration::from_secs(60);

/// What the shard does with a control request's result.
#[derive(Debug)]
pub(crate) enum Outcome {
    Reply(RemotingCommand, Response),
    NoReply,
    /// Route the (possibly rewritten) request again, e.g. a send after its topic was created.
    Route(RemotingCommand),
    /// Ask every shard for facts, then reply (admin statistics; see `admin::gather`).
    Gather(RemotingCommand, crate::admin::gather::Plan),
    /// Pass the request on to a consumer client and its answer back (see `relay`); with a
    /// commitlog offset, the record there becomes the body first.
    Relay(
        RemotingCommand,
        crate::relay::RelayTarget,
        Option<ringmq_engine::types::PhysicalOffset>,
    ),
}

/// What a slave copies from its master every few seconds (RocketMQ's `SlaveSynchronize`).
#[derive(Debug)]
pub(crate) struct MasterTables {
    pub(crate) topics: ringmq_protocol::body::topic_config::TopicConfigSerializeWrapper,
    pub(crate) groups: ringmq_protocol::body::consumer::SubscriptionGroupWrapper,
    pub(crate) offsets: ringmq_protocol::body::consumer::ConsumerOffsetSerializeWrapper,
}

/// A queue lock of an orderly consumer.
#[derive(Debug, Clone)]
pub(crate) struct QueueLock {
    pub(crate) client_id: String,
    pub(crate) renewed: Duration,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct ControlPlane {
    pub(crate) context: Arc<BrokerContext>,
    pub(crate) topics: TopicTable,
    pub(crate) groups: GroupTable,
    pub(crate) offsets: OffsetTable,
    pub(crate) delay_offsets: DelayOffsetTable,
    pub(crate) clients: ClientRegistry,
    pub(crate) locks: BTreeMap<(String, MessageQueue), QueueLock>,
    pub(crate) broker_permission: i32,
    pub(crate) sampler: crate::admin::runtime_info::Sampler,
    registration: RegistrationHandle,
    changed: bool,
    /// The group table's revision in the last published snapshot.
    published_groups: Option<u64>,
    last_offset_persist: Duration,
    last_register: Option<Duration>,
    last_client_scan: Duration,
}

impl ControlPlane {
    pub(crate) fn load(
        context: Arc<BrokerContext>,
        registration: RegistrationHandle,
        now_ms: i64,
    ) -> std::io::Result<Self> {
        let config_dir = context.config.store_paths().config;
        let topics = TopicTable::load(
            config_dir.join("topics.json"),
            context.config.auto_create_topic,
            context.config.default_topic_queue_count,
            now_ms,
        )?;
        let mut topics = topics;
        for skipped in topics.ensure_start_topics(&context.config) {
            context.log.warn(&format!(
                "no topic named after [{skipped}] is created at start: it is not a valid topic \
                 name (^[%|a-zA-Z0-9_-]+$, at most 127 characters)"
            ));
        }
        let levels = context.config.message_delay_levels.len().max(1);
        topics.ensure_system_topic(
            topics::SCHEDULE_TOPIC,
            i32::try_from(levels).unwrap_or(i32::MAX),
        );
        let groups = GroupTable::load(config_dir.join("subscriptionGroup.json"))?;
        let offsets = OffsetTable::load(config_dir.join("consumerOffset.json"))?;
        let delay_offsets = DelayOffsetTable::load(config_dir.join("delayOffset.json"))?;
        Ok(Self {
            context,
            topics,
            groups,
            offsets,
            delay_offsets,
            clients: ClientRegistry::default(),
            locks: BTreeMap::new(),
            broker_permission: PERM_READ | PERM_WRITE,
            sampler: crate::admin::runtime_info::Sampler::default(),
            registration,
            changed: true,
            published_groups: None,
            last_offset_persist: Duration::ZERO,
            last_register: None,
            last_client_scan: Duration::ZERO,
        })
    }

    /// Mark the published state stale (topics, subscriptions or permissions changed).
    pub(crate) fn mark_changed(&mut self) {
        self.changed = true;
    }

    pub(crate) fn handle(
        &mut self,
        shard: &mut BrokerShard,
        origin: &Origin,
        request: RemotingCommand,
    ) -> Outcome {
        codes::handle(self, shard, origin, request)
    }

    pub(crate) fn connection_closed(&mut self, connection: ConnectionRef) -> Vec<String> {
        let changed = self.clients.connection_closed(connection);
        if !changed.is_empty() {
            self.changed = true;
        }
        changed
    }

    pub(crate) fn commit_offset(&mut self, group: &str, topic: &str, queue_id: u32, offset: u64) {
        let queue = i32::try_from(queue_id).unwrap_or(i32::MAX);
        self.offsets.commit(
            topic,
            group,
            queue,
            i64::try_from(offset).unwrap_or(i64::MAX),
        );
    }

    /// NOTIFY_CONSUMER_IDS_CHANGED (oneway) to each member of the changed groups.
    pub(crate) fn consumer_ids_changed(
        &self,
        groups: &[String],
    ) -> Vec<(ConnectionRef, RemotingCommand)> {
        let mut pushes = Vec::new();
        for name in groups {
            let Some(group) = self.clients.consumer_group(name) else {
                continue;
            };
            let notify = self
                .groups
                .get(name)
                .is_none_or(|config| config.notify_consumer_ids_changed_enable);
            if !notify {
                continue;
            }
            for connection in group.members.keys() {
                let mut command =
                    RemotingCommand::request(request_code::NOTIFY_CONSUMER_IDS_CHANGED);
                command.flag = ringmq_protocol::command::FLAG_ONEWAY;
                NotifyConsumerIdsChangedRequestHeader {
                    consumer_group: name.clone(),
                }
                .write_to(&mut command);
                pushes.push((*connection, command));
            }
        }
        pushes
    }

    /// A new snapshot if anything it holds changed since the last one.
    pub(crate) fn take_snapshot_if_changed(&mut self) -> Option<Arc<ControlSnapshot>> {
        let groups = self.groups.revision();
        if !self.changed && self.published_groups == Some(groups) {
            return None;
        }
        self.changed = false;
        self.published_groups = Some(groups);
        Some(Arc::new(ControlSnapshot {
            topics: self
                .topics
                .all()
                .iter()
                .map(|(name, config)| (name.clone(), config.clone()))
                .collect(),
            subscriptions: self.clients.subscriptions(),
            broker_permission: self.broker_permission,
            group_reads: self.groups.read_routes(),
        }))
    }

    /// Periodic work: client expiry, offset persistence, name-server registration.
    pub(crate) fn on_timer(&mut self, shard: &mut BrokerShard) {
        let now = shard.engine.monotonic();
        let offsets = &self.offsets;
        self.sampler.sample(
            now,
            shard.engine.now().as_i64(),
            &self.context.counters,
            || offsets.group_totals(),
        );
        if now.saturating_sub(self.last_client_scan) >= CLIENT_SCAN_PERIOD {
            self.last_client_scan = now;
            let expiry = i64::try_from(CLIENT_EXPIRY.as_millis()).unwrap_or(i64::MAX);
            let changed = self.clients.expire(shard.engine.now().as_i64(), expiry);
            if !changed.is_empty() {
                self.changed = true;
                for (connection, command) in self.consumer_ids_changed(&changed) {
                    shard.push_command(connection, command);
                }
            }
            let lock_expiry = QUEUE_LOCK_EXPIRY;
            self.locks
                .retain(|_, lock| now.saturating_sub(lock.renewed) < lock_expiry);
        }
        if now.saturating_sub(self.last_offset_persist) >= OFFSET_PERSIST_PERIOD {
            self.last_offset_persist = now;
            if let Err(error) = self.offsets.persist_if_dirty() {
                self.context
                    .log
                    .error(&format!("persisting consumer offsets failed: {error}"));
            }
            if let Err(error) = self.delay_offsets.persist_if_dirty() {
                self.context
                    .log
                    .error(&format!("persisting delay offsets failed: {error}"));
            }
        }
        let register_due = self
            .last_register
            .is_none_or(|last| now.saturating_sub(last) >= REGISTER_PERIOD);
        if register_due {
            self.register_now(now);
        }
    }

    /// Send the current topic table to the name servers (at start, every 30 s, on changes).
    pub(crate) fn register_now(&mut self, now: Duration) {
        self.last_register = Some(now);
        self.registration
            .register(self.topics.wrapper(), self.broker_permission);
    }

    /// A slave adopts its master's topics and groups and merges its consumer offsets, then
    /// persists them, so consumers reading from the slave resume where they were.
    pub(crate) fn apply_master_tables(&mut self, tables: MasterTables) {
        let log = self.context.log.clone();
        let topics_changed = self.topics.replace_from_master(tables.topics);
        match topics_changed {
            Ok(true) => {
                self.changed = true;
                self.last_register = None;
            }
            Ok(false) => {}
            Err(error) => log.error(&format!("persisting the master's topics failed: {error}")),
        }
        if let Err(error) = self.groups.replace_from_master(tables.groups) {
            log.error(&format!("persisting the master's groups failed: {error}"));
        }
        self.offsets.merge_from_master(tables.offsets);
    }

    /// Hands the started shards to the registration thread (a slave tells them its master).
    pub(crate) fn registration_attacher(&self) -> crate::registration::Attacher {
        self.registration.attacher()
    }

    /// Final persistence at shutdown.
    pub(crate) fn persist(&mut self, log: &Log) {
        if let Err(error) = self.offsets.persist_if_dirty() {
            log.error(&format!(
                "persisting consumer offsets at shutdown failed: {error}"
            ));
        }
        if let Err(error) = self.delay_offsets.persist_if_dirty() {
            log.error(&format!(
                "persisting delay offsets at shutdown failed: {error}"
            ));
        }
        self.registration.unregister();
    }
}
