//! Requests a tool asks the broker to pass on to a consumer client: GET_CONSUMER_RUNNING_INFO
//! (307) and CONSUME_MESSAGE_DIRECTLY (309), as RocketMQ's `AdminBrokerProcessor.callConsumer`
//! and `Broker2Client.callClient` do.
//!
//! The control plane finds the client's connection by group and client id (from heartbeats)
//! and answers RocketMQ's refusal when it is not online. A 309 first visits the shard whose
//! commitlog holds the message named by the request's `msgId`, which becomes the body. The
//! request then goes to the shard that owns the client's socket: only that shard writes to it.
//! There it gets an opaque of the broker's own, is written to the client, and waits in
//! [`Relays`] until the client's response arrives on the same connection with that opaque.
//! The response is passed back to the tool as it came, under the tool's opaque.
//!
//! A client that does not answer within [`RELAY_TIMEOUT`] gets the tool a CONSUME_MSG_TIMEOUT,
//! a connection that closes first a SYSTEM_ERROR, both with RocketMQ's remarks. At most
//! [`RELAYS_WAITING_MAX`] relays wait per shard; beyond that the tool gets SYSTEM_BUSY.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use ringmq_engine::types::PhysicalOffset;
use ringmq_protocol::command::{RemotingCommand, SerializeType};
use ringmq_protocol::response_code;

use crate::error::response;
use crate::message::{ConnectionRef, Message, Origin, Response};
use crate::shard::BrokerShard;

/// How long a client may take to answer (`Broker2Client.callClient`'s 10 s).
pub(crate) const RELAY_TIMEOUT: Duration = Duration::from_secs(10);
/// Relays one shard keeps waiting for client answers at most.
pub(crate) const RELAYS_WAITING_MAX: usize = 1024;

/// The client a request is relayed to.
#[derive(Clone, Debug)]
pub(crate) struct RelayTarget {
    pub(crate) connection: ConnectionRef,
    pub(crate) peer: SocketAddr,
    pub(crate) group: String,
    pub(crate) client_id: String,
}

/// A request on its way to a client, between shards.
#[derive(Debug)]
pub(crate) struct Relay {
    /// The tool's connection and its request (ext fields as the client will get them).
    pub(crate) origin: Origin,
    pub(crate) request: RemotingCommand,
    pub(crate) target: RelayTarget,
    /// CONSUME_MESSAGE_DIRECTLY: the record that becomes the body, read on its shard first.
    pub(crate) record: Option<PhysicalOffset>,
}

/// A relayed request waiting for the client's answer.
#[derive(Debug)]
pub(crate) struct Waiting {
    reply_to: ConnectionRef,
    reply_opaque: i32,
    reply_serialize_type: SerializeType,
    /// The tool sent a oneway request: the client's answer is dropped.
    reply_unwanted: bool,
    deadline: Duration,
    target: RelayTarget,
}

impl Waiting {
    /// The broker's own answer to the tool (timeout, connection lost).
    fn answer(&self, code: i32, remark: String) -> Response {
        let mut command = RemotingCommand::request(code);
        command.remark = Some(remark);
        self.addressed(command)
    }

    /// `command` under the tool's opaque and serialisation.
    fn addressed(&self, mut command: RemotingCommand) -> Response {
        command.opaque = self.reply_opaque;
        command.serialize_type = self.reply_serialize_type;
        command.flag = ringmq_protocol::command::FLAG_RESPONSE;
        Response::new(command)
    }

    /// `callConsumer`'s answer to a RemotingTimeoutException.
    fn timed_out(&self) -> Response {
        let remark = format!(
            "consumer <{}> <{}> Timeout: org.apache.rocketmq.remoting.exception.\
             RemotingTimeoutException: wait response on the channel </{}> timeout, {}(ms)",
            self.target.group,
            self.target.client_id,
            self.target.peer,
            RELAY_TIMEOUT.as_millis()
        );
        self.answer(response_code::CONSUME_MSG_TIMEOUT, remark)
    }
}

/// `callConsumer`'s answer when the request could not be written or the connection closed
/// before the answer (a RemotingSendRequestException).
fn send_failed(target: &RelayTarget) -> String {
    format!(
        "invoke consumer <{}> <{}> Exception: org.apache.rocketmq.remoting.exception.\
         RemotingSendRequestException: send request to </{}> failed",
        target.group, target.client_id, target.peer
    )
}

/// The relays of one shard waiting for answers, by (connection id, opaque sent). Pure state:
/// time comes in as an argument.
#[derive(Debug, Default)]
pub(crate) struct Relays {
    waiting: HashMap<(u64, i32), Waiting>,
    last_opaque: i32,
}

impl Relays {
    /// Wait for the answer on connection `id`; the opaque to send under, or `None` when
    /// [`RELAYS_WAITING_MAX`] already wait.
    fn open(&mut self, id: u64, waiting: Waiting) -> Option<i32> {
        if self.waiting.len() >= RELAYS_WAITING_MAX {
            return None;
        }
        loop {
            // Positive and never 0: server pushes that carry no opaque of ours use 0.
            self.last_opaque = self.last_opaque.checked_add(1).unwrap_or(1);
            if !self.waiting.contains_key(&(id, self.last_opaque)) {
                break;
            }
        }
        self.waiting.insert((id, self.last_opaque), waiting);
        Some(self.last_opaque)
    }

    fn take(&mut self, id: u64, opaque: i32) -> Option<Waiting> {
        self.waiting.remove(&(id, opaque))
    }

    fn take_expired(&mut self, now: Duration) -> Vec<Waiting> {
        let expired: Vec<(u64, i32)> = self
            .waiting
            .iter()
            .filter(|(_, waiting)| waiting.deadline <= now)
            .map(|(key, _)| *key)
            .collect();
        expired
            .into_iter()
            .filter_map(|key| self.waiting.remove(&key))
            .collect()
    }

    fn take_connection(&mut self, id: u64) -> Vec<Waiting> {
        let keys: Vec<(u64, i32)> = self
            .waiting
            .keys()
            .filter(|(connection, _)| *connection == id)
            .copied()
            .collect();
        keys.into_iter()
            .filter_map(|key| self.waiting.remove(&key))
            .collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

/// Move `relay` one step on this shard: read its record if this shard holds it, then write it
/// to the client if this shard owns the client's socket; otherwise pass it to the shard that
/// does the next step.
pub(crate) fn advance(shard: &mut BrokerShard, mut relay: Relay) {
    if let Some(offset) = relay.record {
        let holder = offset.shard().0;
        if holder != shard.index {
            return shard.deliver(holder, Message::Relay(Box::new(relay)));
        }
        let Ok(record) = shard.engine.read_record(offset) else {
            let remark = format!("can not find message by the offset, {}", offset.0);
            let answer = response(&relay.request, response_code::SYSTEM_ERROR, Some(remark));
            return shard.respond(&relay.origin, &relay.request, answer);
        };
        relay.request.body = record;
        relay.record = None;
    }
    let owner = relay.target.connection.shard;
    if owner != shard.index {
        return shard.deliver(owner, Message::Relay(Box::new(relay)));
    }
    write_to_client(shard, relay);
}

/// On the shard owning the client's socket: write the request and wait for the answer.
fn write_to_client(shard: &mut BrokerShard, relay: Relay) {
    let Relay {
        origin,
        request,
        target,
        ..
    } = relay;
    let connection = target.connection;
    if !shard.has_connection(connection.id) {
        let answer = response(
            &request,
            response_code::SYSTEM_ERROR,
            Some(send_failed(&target)),
        );
        return shard.respond(&origin, &request, answer);
    }
    let waiting = Waiting {
        reply_to: origin.connection,
        reply_opaque: request.opaque,
        reply_serialize_type: request.serialize_type,
        reply_unwanted: request.is_oneway(),
        deadline: shard.engine.monotonic() + RELAY_TIMEOUT,
        target,
    };
    let Some(opaque) = shard.relays.open(connection.id, waiting) else {
        let remark = format!(
            "{RELAYS_WAITING_MAX} requests already wait for consumer clients' answers on this \
             shard; try again later"
        );
        let answer = response(&request, response_code::SYSTEM_BUSY, Some(remark));
        return shard.respond(&origin, &request, answer);
    };
    let mut outgoing = RemotingCommand::request(request.code);
    outgoing.opaque = opaque;
    outgoing.ext_fields = request.ext_fields;
    outgoing.body = request.body;
    shard.push_command(connection, outgoing);
}

/// A response frame read from connection `id`: the answer to a relay, or nothing we wait for
/// (answers to NOTIFY_CONSUMER_IDS_CHANGED and other pushes need no handling).
pub(crate) fn on_response(shard: &mut BrokerShard, id: u64, answer: RemotingCommand) {
    let Some(waiting) = shard.relays.take(id, answer.opaque) else {
        return;
    };
    if waiting.reply_unwanted {
        return;
    }
    let response = waiting.addressed(answer);
    shard.respond_to(waiting.reply_to, response);
}

/// Answer relays whose client did not answer in time.
pub(crate) fn expire(shard: &mut BrokerShard) {
    if shard.relays.is_empty() {
        return;
    }
    let now = shard.engine.monotonic();
    for waiting in shard.relays.take_expired(now) {
        if !waiting.reply_unwanted {
            let answer = waiting.timed_out();
            shard.respond_to(waiting.reply_to, answer);
        }
    }
}

/// Connection `id` closed: its relays will never be answered.
pub(crate) fn connection_closed(shard: &mut BrokerShard, id: u64) {
    for waiting in shard.relays.take_connection(id) {
        if !waiting.reply_unwanted {
            let remark = send_failed(&waiting.target);
            let answer = waiting.answer(response_code::SYSTEM_ERROR, remark);
            shard.respond_to(waiting.reply_to, answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(deadline_ms: u64) -> Waiting {
        Waiting {
            reply_to: ConnectionRef { shard: 0, id: 99 },
            reply_opaque: 7,
            reply_serialize_type: SerializeType::default(),
            reply_unwanted: false,
            deadline: Duration::from_millis(deadline_ms),
            target: RelayTarget {
                connection: ConnectionRef { shard: 1, id: 20 },
                peer: "127.0.0.1:5555".parse().unwrap(),
                group: "G".to_owned(),
                client_id: "127.0.0.1@1".to_owned(),
            },
        }
    }

    // Hazard: an answer matched by opaque alone would hand one client's answer to a relay
    // sent to another connection that happened to get the same opaque.
    #[test]
    fn answers_match_by_connection_and_opaque() {
        let mut relays = Relays::default();
        let first = relays.open(20, waiting(10)).unwrap();
        let second = relays.open(21, waiting(10)).unwrap();
        assert_ne!(first, 0);
        assert!(relays.take(21, first).is_none());
        assert!(relays.take(20, first).is_some());
        assert!(relays.take(20, first).is_none(), "an answer is taken once");
        assert!(relays.take(21, second).is_some());
        assert!(relays.is_empty());
    }

    // Hazard: a client that never answers would pin a waiting relay (and the tool) forever.
    #[test]
    fn unanswered_relays_expire_at_their_deadline_with_rocketmqs_timeout_remark() {
        let mut relays = Relays::default();
        relays.open(20, waiting(10)).unwrap();
        relays.open(20, waiting(30)).unwrap();
        assert!(relays.take_expired(Duration::from_millis(9)).is_empty());
        let expired = relays.take_expired(Duration::from_millis(10));
        assert_eq!(expired.len(), 1);
        let answer = expired[0].timed_out();
        assert_eq!(answer.command.code, response_code::CONSUME_MSG_TIMEOUT);
        assert_eq!(answer.command.opaque, 7);
        assert!(answer.command.is_response());
        assert_eq!(
            answer.command.remark.as_deref(),
            Some(
                "consumer <G> <127.0.0.1@1> Timeout: org.apache.rocketmq.remoting.exception.\
                 RemotingTimeoutException: wait response on the channel </127.0.0.1:5555> \
                 timeout, 10000(ms)"
            )
        );
        assert_eq!(relays.take_connection(20).len(), 1);
        assert!(relays.is_empty());
    }

    // Hazard: relays piling up for clients that do not answer must not grow without bound.
    #[test]
    fn waiting_relays_are_bounded() {
        let mut relays = Relays::default();
        for _ in 0..RELAYS_WAITING_MAX {
            assert!(relays.open(20, waiting(10)).is_some());
        }
        assert!(relays.open(21, waiting(10)).is_none());
    }
}
