//! Which shard handles a request.
//!
//! Requests about one (topic, queueId) go to the shard that owns that queue; requests about
//! a physical offset go to the shard encoded in the offset; everything about groups, clients,
//! topics and offsets of consumers goes to the control plane on shard 0. A send with
//! `queueId = -1` gets a queue chosen here, round-robin per connection shard.

use ringmq_engine::shard::owner_of;
use ringmq_engine::types::{PhysicalOffset, QueueId};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::frame::{self, RawFrame};
use ringmq_protocol::header::send::send_route_keys;
use ringmq_protocol::request_code as code;

use crate::control::snapshot::ControlSnapshot;

/// The shard of the control plane.
pub(crate) const CONTROL_SHARD: u16 = 0;

/// Prefix of ext keys the broker adds to requests it routes internally (a re-routed send, a
/// resolved send-back, a scheduled delivery). Requests read from sockets lose every such key,
/// so a client cannot forge one.
pub(crate) const INTERNAL_PREFIX: &str = "_ringmq";
/// Set on sends the broker makes itself: they may target system topics (SCHEDULE_TOPIC_XXXX).
pub(crate) const INTERNAL_SEND: &str = "_ringmqInternal";
/// The born host (`ip:port`) of a message the broker re-appends on the producer's behalf.
pub(crate) const INTERNAL_BORN_HOST: &str = "_ringmqBornHost";
/// Set by the control plane on a CONSUMER_SEND_MSG_BACK whose group it resolved: the
/// maxReconsumeTimes to apply. The request then goes to the shard holding the record.
pub(crate) const SEND_BACK_RESOLVED: &str = "_ringmqSendBackMax";

/// Drop the internal ext keys from a request read off a socket.
pub(crate) fn strip_internal(request: &mut RemotingCommand) {
    request
        .ext_fields
        .retain(|key, _| !key.starts_with(INTERNAL_PREFIX));
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Shard(u16),
    Control,
    /// Every shard's part is needed (index queries).
    AllShards,
}

/// The (topic, queueId) a request names, from the V1 or V2 field names.
pub(crate) fn queue_of(request: &RemotingCommand) -> Option<(&str, i32)> {
    let (topic_key, queue_key) = send_route_keys(request.code).unwrap_or(("topic", "queueId"));
    let topic = request.ext(topic_key)?;
    let queue = request.ext(queue_key)?.trim().parse().ok()?;
    Some((topic, queue))
}

/// Decide the target of `request`. `next_queue` picks a queue for sends with queueId −1.
pub(crate) fn target(
    request: &mut RemotingCommand,
    snapshot: &ControlSnapshot,
    shard_count: u16,
    next_queue: &mut u32,
) -> Target {
    match request.code {
        code::SEND_MESSAGE | code::SEND_MESSAGE_V2 | code::SEND_BATCH_MESSAGE => {
            send_target(request, snapshot, shard_count, next_queue)
        }
        code::PULL_MESSAGE
        | code::GET_MAX_OFFSET
        | code::GET_MIN_OFFSET
        | code::GET_EARLIEST_MSG_STORETIME
        | code::SEARCH_OFFSET_BY_TIMESTAMP => match queue_of(request) {
            Some((topic, queue)) => queue_shard(topic, queue, shard_count),
            None => Target::Shard(CONTROL_SHARD),
        },
        code::CONSUMER_SEND_MSG_BACK if request.ext(SEND_BACK_RESOLVED).is_none() => {
            Target::Control
        }
        // A resolved send-back, like a view, runs where the record is.
        code::VIEW_MESSAGE_BY_ID | code::CONSUMER_SEND_MSG_BACK => match request
            .ext("offset")
            .and_then(|offset| offset.trim().parse::<u64>().ok())
        {
            Some(offset) if PhysicalOffset(offset).shard().0 < shard_count => {
                Target::Shard(PhysicalOffset(offset).shard().0)
            }
            _ => Target::Shard(CONTROL_SHARD),
        },
        code::QUERY_MESSAGE => Target::AllShards,
        // The control plane found no committed offset and asks the queue's owner.
        code::QUERY_CONSUMER_OFFSET
            if request.ext(crate::control::OFFSET_NOT_FOUND_MARK).is_some() =>
        {
            match queue_of(request) {
                Some((topic, queue)) => queue_shard(topic, queue, shard_count),
                None => Target::Shard(CONTROL_SHARD),
            }
        }
        _ => Target::Control,
    }
}

/// The shard owning every queue that the sends and pulls among `requests` name, when they
/// name queues of exactly one shard; `None` when they name none, a queue −1 (the broker
/// picks), or queues of several shards. A connection whose first requests have one owner
/// is served by that owner (`BrokerShard::read_connection`), so its requests and answers do
/// not cross between threads.
pub(crate) fn queues_owner<'a>(
    requests: impl IntoIterator<Item = &'a RemotingCommand>,
    shard_count: u16,
) -> Option<u16> {
    let mut owner = None;
    for request in requests {
        if !matches!(
            request.code,
            code::SEND_MESSAGE
                | code::SEND_MESSAGE_V2
                | code::SEND_BATCH_MESSAGE
                | code::PULL_MESSAGE
        ) {
            continue;
        }
        let (topic, queue) = queue_of(request)?;
        let queue = u32::try_from(queue).ok()?;
        let shard = owner_of(topic, QueueId(queue), shard_count).0;
        if owner.is_some_and(|owner| owner != shard) {
            return None;
        }
        owner = Some(shard);
    }
    owner
}

/// The shard owning the queue of a send read as `raw`, found without decoding the frame
/// (`frame::send_route`), when it may go there undecoded: the topic is known (an unknown one
/// goes to the control plane, which may create it) and the client chose the queue (for −1
/// the reading shard picks one). `None` means: decode it here.
pub(crate) fn undecoded_send_owner(
    raw: &RawFrame<'_>,
    snapshot: &ControlSnapshot,
    shard_count: u16,
) -> Option<u16> {
    let route = frame::send_route(raw)?;
    let queue = u32::try_from(route.queue_id).ok()?;
    snapshot.topic(route.topic)?;
    Some(owner_of(route.topic, QueueId(queue), shard_count).0)
}

fn queue_shard(topic: &str, queue: i32, shard_count: u16) -> Target {
    let queue = u32::try_from(queue).unwrap_or(0);
    Target::Shard(owner_of(topic, QueueId(queue), shard_count).0)
}

fn send_target(
    request: &mut RemotingCommand,
    snapshot: &ControlSnapshot,
    shard_count: u16,
    next_queue: &mut u32,
) -> Target {
    let (topic_key, queue_key) = send_route_keys(request.code).unwrap_or(("b", "e"));
    let Some(topic) = request.ext(topic_key).map(str::to_owned) else {
        return Target::Shard(CONTROL_SHARD);
    };
    let Some(config) = snapshot.topic(&topic) else {
        // Unknown topic: the control plane decides whether to create it.
        return Target::Control;
    };
    let queue: i32 = request
        .ext(queue_key)
        .and_then(|q| q.trim().parse().ok())
        .unwrap_or(-1);
    let queue = if queue < 0 {
        let count = u32::try_from(config.write_queue_nums.max(1)).unwrap_or(1);
        *next_queue = next_queue.wrapping_add(1);
        let chosen = i32::try_from(*next_queue % count).unwrap_or(0);
        request.ext_fields.insert(queue_key, chosen);
        chosen
    } else {
        queue
    };
    queue_shard(&topic, queue, shard_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(topic: &str, queue: i32) -> RemotingCommand {
        let mut request = RemotingCommand::request(code::SEND_MESSAGE_V2);
        request.ext_fields.insert("b", topic);
        request.ext_fields.insert("e", queue);
        request
    }

    fn pull(topic: &str, queue: i32) -> RemotingCommand {
        let mut request = RemotingCommand::request(code::PULL_MESSAGE);
        request.ext_fields.insert("topic", topic);
        request.ext_fields.insert("queueId", queue);
        request
    }

    /// Two queues of `topic` owned by different shards of two.
    fn queues_on_both_shards(topic: &str) -> (i32, i32) {
        let shard = |queue: i32| owner_of(topic, QueueId(queue.unsigned_abs()), 2).0;
        let other = (1..8)
            .find(|&queue| shard(queue) != shard(0))
            .expect("two owners");
        (0, other)
    }

    // Hazard: a connection moved to a shard that owns only some of its queues would still
    // cross threads, and a move decided on a heartbeat alone would pile connections onto
    // the control shard.
    #[test]
    fn a_connection_has_a_queues_owner_only_when_its_sends_and_pulls_agree() {
        let (here, there) = queues_on_both_shards("Bench");
        let owner = owner_of("Bench", QueueId(0), 2).0;
        let heartbeat = RemotingCommand::request(code::HEART_BEAT);
        assert_eq!(
            queues_owner(
                &[heartbeat.clone(), send("Bench", here), pull("Bench", here)],
                2
            ),
            Some(owner)
        );
        assert_eq!(
            queues_owner(&[send("Bench", here), send("Bench", there)], 2),
            None
        );
        assert_eq!(queues_owner(&[heartbeat], 2), None, "no queue named");
        assert_eq!(
            queues_owner(&[send("Bench", -1)], 2),
            None,
            "the broker picks"
        );
        assert_eq!(queues_owner(&[], 2), None);
    }
}
