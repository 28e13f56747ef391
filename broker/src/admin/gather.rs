//! Admin requests that need facts only the shards have (queue offsets, store times, commitlog
//! bounds). The control plane answers with [`crate::control::Outcome::Gather`] and a [`Plan`];
//! the shard then sends a [`Part`] to every shard (itself included), each answers for the
//! queues it owns, and when every [`Answer`] is back the plan's [`Finish`] builds the reply on
//! the control shard.

use std::collections::{BTreeMap, HashMap};

use ringmq_engine::shard::{owner_of, Boundary, ReadLimits};
use ringmq_engine::types::{QueueId, QueueOffset, TimestampMs};
use ringmq_protocol::record;

use crate::control::topics::SCHEDULE_TOPIC;
use crate::message::{Message, Origin};
use crate::shard::BrokerShard;

/// One queue an admin request asks about; `at`: also the store time of this offset.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct QueueProbe {
    pub(crate) topic: String,
    pub(crate) queue_id: u32,
    pub(crate) at: Option<u64>,
}

/// What every shard computes.
#[derive(Clone, Debug)]
pub(crate) enum ShardQuery {
    /// Bounds and last store time of each queue.
    Queues(Vec<QueueProbe>),
    /// As `Queues`, plus how far `group` has pulled each queue.
    GroupQueues {
        group: String,
        queues: Vec<QueueProbe>,
    },
    /// The first offset stored at or after `timestamp_ms` in each queue; the max offset when
    /// `timestamp_ms` is negative.
    OffsetsAt {
        queues: Vec<QueueProbe>,
        timestamp_ms: i64,
    },
    /// Commitlog facts.
    Store,
    /// Replication state (`haStatus`).
    Ha,
}

/// Facts about one queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct QueueFacts {
    pub(crate) min: u64,
    pub(crate) max: u64,
    /// Store time of the last message; 0 if the queue is empty.
    pub(crate) last_store_ms: i64,
    /// Store time of the probe's `at` offset; 0 if none.
    pub(crate) at_store_ms: i64,
    /// For [`ShardQuery::OffsetsAt`]: the offset found.
    pub(crate) offset_at: u64,
    /// For [`ShardQuery::GroupQueues`]: the next offset of the group's latest pull.
    pub(crate) pulled: Option<u64>,
}

/// Commitlog facts, merged over shards.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct StoreFacts {
    /// Delay level → max offset of its schedule queue.
    pub(crate) schedule_max: BTreeMap<i32, u64>,
    pub(crate) min_offset: u64,
    pub(crate) max_offset: u64,
    /// Store time of the oldest record still kept; 0 if none.
    pub(crate) earliest_ms: i64,
    /// Appended bytes not yet visible to readers.
    pub(crate) behind_bytes: u64,
    pub(crate) disk_ratio: f64,
    pub(crate) ha: HaFacts,
}

/// Replication facts, merged over shards (see `ha::master::HaMaster::facts`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HaFacts {
    /// Master: slaves replicating every shard (the fewest over shards).
    pub(crate) slaves: usize,
    /// Master: bytes written but not acknowledged by the slowest slave, summed over shards.
    pub(crate) behind_bytes: u64,
    /// Master: distinct slave addresses.
    pub(crate) slave_addrs: std::collections::BTreeSet<String>,
    /// Slave: shards streaming from the master.
    pub(crate) connected_shards: u16,
    /// Slave: bytes received from the master.
    pub(crate) received_bytes: u64,
    /// Slave: the master's HA address.
    pub(crate) master_ha: Option<String>,
}

/// One shard's replication state, for `haStatus`.
#[derive(Clone, Debug)]
pub(crate) struct ShardHa {
    pub(crate) shard: u16,
    /// End of what this shard appended, and of what it wrote.
    pub(crate) appended: u64,
    pub(crate) written: u64,
    /// Master: the slaves copying this shard's log.
    pub(crate) peers: Vec<crate::ha::master::PeerStatus>,
    /// Slave: this shard's replication client.
    pub(crate) client: Option<crate::ha::slave::ClientStatus>,
}

/// What to do with the gathered facts.
#[derive(Debug)]
pub(crate) enum Finish {
    TopicStats,
    ConsumeStats {
        /// (topic, queue) → committed offset of the group.
        committed: BTreeMap<(String, u32), i64>,
        consume_tps: f64,
    },
    ResetOffset {
        group: String,
        topic: String,
        timestamp_ms: i64,
        /// An explicit offset for every queue asked about, instead of the one at the time.
        offset: Option<i64>,
    },
    RuntimeInfo(BTreeMap<String, String>),
    HaStatus,
}

/// A control-plane decision to gather.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) query: ShardQuery,
    pub(crate) finish: Finish,
}

/// One shard's task.
#[derive(Debug)]
pub(crate) struct Part {
    id: u64,
    reply_to: u16,
    query: ShardQuery,
}

/// One shard's answer.
#[derive(Debug)]
pub(crate) struct Answer {
    id: u64,
    queues: Vec<(QueueProbe, QueueFacts)>,
    store: Option<StoreFacts>,
    ha: Option<ShardHa>,
}

/// Everything gathered for one request.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    pub(crate) queues: BTreeMap<QueueProbe, QueueFacts>,
    pub(crate) store: StoreFacts,
    /// By shard index.
    pub(crate) ha: BTreeMap<u16, ShardHa>,
}

#[derive(Debug)]
struct Waiting {
    origin: Origin,
    request: ringmq_protocol::command::RemotingCommand,
    remaining: u16,
    finish: Finish,
    gathered: Gathered,
}

/// Admin gathers a shard started and waits for, by id.
#[derive(Debug, Default)]
pub(crate) struct AdminGathers {
    next_id: u64,
    waiting: HashMap<u64, Waiting>,
}

pub(crate) fn scatter(
    shard: &mut BrokerShard,
    origin: Origin,
    request: ringmq_protocol::command::RemotingCommand,
    plan: Plan,
) {
    shard.admin_gathers.next_id += 1;
    let id = shard.admin_gathers.next_id;
    let shards = shard.outboxes.shard_count();
    let waiting = Waiting {
        origin,
        request,
        remaining: shards,
        finish: plan.finish,
        gathered: Gathered::default(),
    };
    shard.admin_gathers.waiting.insert(id, waiting);
    for target in 0..shards {
        let part = Part {
            id,
            reply_to: shard.index,
            query: plan.query.clone(),
        };
        shard.deliver(target, Message::AdminGather(part));
    }
}

/// Answer a part for the queues this shard owns.
pub(crate) fn on_part(shard: &mut BrokerShard, part: Part) {
    let shard_count = shard.outboxes.shard_count();
    let index = shard.index;
    let owned = |probe: &QueueProbe| {
        owner_of(&probe.topic, QueueId(probe.queue_id), shard_count).0 == index
    };
    let mut answer = Answer {
        id: part.id,
        queues: Vec::new(),
        store: None,
        ha: None,
    };
    match part.query {
        ShardQuery::Queues(probes) => {
            for probe in probes.into_iter().filter(|probe| owned(probe)) {
                let facts = queue_facts(shard, &probe);
                answer.queues.push((probe, facts));
            }
        }
        ShardQuery::GroupQueues { group, queues } => {
            for probe in queues.into_iter().filter(|probe| owned(probe)) {
                let mut facts = queue_facts(shard, &probe);
                facts.pulled = shard.pull_offsets.get(&group, &probe.topic, probe.queue_id);
                answer.queues.push((probe, facts));
            }
        }
        ShardQuery::OffsetsAt {
            queues,
            timestamp_ms,
        } => {
            for probe in queues.into_iter().filter(|probe| owned(probe)) {
                let mut facts = queue_facts(shard, &probe);
                // A negative time means "now": the max offset (skipAccumulatedMessage sends
                // -1). Clamping it to 0 instead would rewind the group to the oldest message.
                facts.offset_at = match u64::try_from(timestamp_ms) {
                    Err(_) => facts.max,
                    Ok(timestamp) => shard
                        .engine
                        .search_by_timestamp(
                            &probe.topic,
                            QueueId(probe.queue_id),
                            TimestampMs(timestamp),
                            Boundary::Lower,
                        )
                        .map_or(facts.max, |offset| offset.0),
                };
                answer.queues.push((probe, facts));
            }
        }
        ShardQuery::Store => answer.store = Some(store_facts(shard)),
        ShardQuery::Ha => answer.ha = Some(shard_ha(shard)),
    }
    shard.deliver(part.reply_to, Message::AdminAnswer(answer));
}

/// Store time of the message at `offset` of a queue, 0 if there is none.
fn store_time_at(shard: &mut BrokerShard, topic: &str, queue_id: u32, offset: u64) -> i64 {
    let limits = ReadLimits {
        messages_max: 1,
        bytes_max: usize::MAX,
    };
    shard
        .engine
        .read_queue(
            topic,
            QueueId(queue_id),
            QueueOffset(offset),
            limits,
            &|_| true,
        )
        .ok()
        .and_then(|read| read.messages.into_iter().next())
        .and_then(|message| record::peek_store_timestamp(&message.bytes))
        .unwrap_or(0)
}

fn queue_facts(shard: &mut BrokerShard, probe: &QueueProbe) -> QueueFacts {
    let (min, max) = shard
        .engine
        .queue_bounds(&probe.topic, QueueId(probe.queue_id));
    let last_store_ms = if max.0 > min.0 {
        store_time_at(shard, &probe.topic, probe.queue_id, max.0 - 1)
    } else {
        0
    };
    let at_store_ms = probe
        .at
        .filter(|at| (min.0..max.0).contains(at))
        .map_or(0, |at| {
            store_time_at(shard, &probe.topic, probe.queue_id, at)
        });
    QueueFacts {
        min: min.0,
        max: max.0,
        last_store_ms,
        at_store_ms,
        offset_at: 0,
        pulled: None,
    }
}

fn store_facts(shard: &mut BrokerShard) -> StoreFacts {
    let min_offset = shard.engine.min_offset();
    let appended = shard.engine.appended();
    let earliest_ms = if min_offset < appended {
        shard
            .engine
            .read_record(min_offset)
            .ok()
            .and_then(|bytes| record::peek_store_timestamp(&bytes))
            .unwrap_or(0)
    } else {
        0
    };
    let mut schedule_max = BTreeMap::new();
    let shard_count = shard.outboxes.shard_count();
    let levels = shard.context.config.message_delay_levels.len();
    for index in 0..levels {
        let queue_id = QueueId(u32::try_from(index).unwrap_or(u32::MAX));
        if owner_of(SCHEDULE_TOPIC, queue_id, shard_count).0 == shard.index {
            let (_, max) = shard.engine.queue_bounds(SCHEDULE_TOPIC, queue_id);
            schedule_max.insert(i32::try_from(index + 1).unwrap_or(i32::MAX), max.0);
        }
    }
    StoreFacts {
        schedule_max,
        min_offset: min_offset.0,
        max_offset: appended.0,
        earliest_ms,
        behind_bytes: appended.0.saturating_sub(shard.engine.visible().0),
        disk_ratio: shard.engine.commitlog_disk_ratio().unwrap_or(0.0),
        ha: ha_facts(shard),
    }
}

fn shard_ha(shard: &BrokerShard) -> ShardHa {
    let now = shard.engine.monotonic();
    ShardHa {
        shard: shard.index,
        appended: shard.engine.appended().0,
        written: shard.engine.written().0,
        peers: shard.ha_master.status(now),
        client: shard.ha_slave.as_ref().map(|slave| slave.status(now)),
    }
}

fn ha_facts(shard: &BrokerShard) -> HaFacts {
    let written = shard.engine.written();
    let peers = shard.ha_master.status(shard.engine.monotonic());
    let slowest = peers.iter().filter_map(|peer| peer.acked).min();
    HaFacts {
        slaves: peers.len(),
        behind_bytes: slowest.map_or(0, |acked| written.0.saturating_sub(acked.0)),
        slave_addrs: peers
            .iter()
            .map(|peer| peer.peer.ip().to_string())
            .collect(),
        connected_shards: u16::from(
            shard
                .ha_slave
                .as_ref()
                .is_some_and(crate::ha::slave::HaSlave::connected),
        ),
        received_bytes: shard.ha_slave.as_ref().map_or(0, |s| s.received_bytes),
        master_ha: shard
            .ha_slave
            .as_ref()
            .and_then(crate::ha::slave::HaSlave::master)
            .map(|addr| addr.to_string()),
    }
}

fn merge_store(total: &mut StoreFacts, part: StoreFacts, first: bool) {
    if first {
        *total = part;
        return;
    }
    total.min_offset = total.min_offset.min(part.min_offset);
    total.max_offset = total.max_offset.max(part.max_offset);
    total.earliest_ms = match (total.earliest_ms, part.earliest_ms) {
        (0, other) | (other, 0) => other,
        (a, b) => a.min(b),
    };
    total.behind_bytes += part.behind_bytes;
    total.ha.slaves = total.ha.slaves.min(part.ha.slaves);
    total.ha.behind_bytes += part.ha.behind_bytes;
    total.ha.slave_addrs.extend(part.ha.slave_addrs);
    total.ha.connected_shards += part.ha.connected_shards;
    total.ha.received_bytes += part.ha.received_bytes;
    total.ha.master_ha = total.ha.master_ha.take().or(part.ha.master_ha);
    total.disk_ratio = total.disk_ratio.max(part.disk_ratio);
    total.schedule_max.extend(part.schedule_max);
}

/// Collect an answer; finish the request when it was the last.
pub(crate) fn on_answer(shard: &mut BrokerShard, answer: Answer) {
    let Some(waiting) = shard.admin_gathers.waiting.get_mut(&answer.id) else {
        return;
    };
    let first = waiting.remaining == shard.outboxes.shard_count();
    waiting.remaining -= 1;
    waiting.gathered.queues.extend(answer.queues);
    if let Some(store) = answer.store {
        merge_store(&mut waiting.gathered.store, store, first);
    }
    if let Some(ha) = answer.ha {
        waiting.gathered.ha.insert(ha.shard, ha);
    }
    if waiting.remaining > 0 {
        return;
    }
    let Some(waiting) = shard.admin_gathers.waiting.remove(&answer.id) else {
        return;
    };
    let response = super::finish(shard, &waiting.request, waiting.finish, waiting.gathered);
    shard.respond(&waiting.origin, &waiting.request, response);
}
