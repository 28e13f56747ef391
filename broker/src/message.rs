//! What shards say to each other: forwarded requests, responses to write, control updates.
//!
//! Every shard has one bounded inbox. A full inbox is overload: the sender answers the client
//! SYSTEM_BUSY instead of queueing more, so memory stays bounded under any load.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use bytes::Bytes;
use ringmq_protocol::command::RemotingCommand;

use crate::control::snapshot::ControlSnapshot;

/// Messages a shard's inbox holds at most.
pub(crate) const INBOX_MESSAGES_MAX: usize = 16_384;

/// A client connection: the shard that owns its socket and its id there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ConnectionRef {
    pub(crate) shard: u16,
    pub(crate) id: u64,
}

/// A response: the command (header) and body segments written after it without copying.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) command: RemotingCommand,
    pub(crate) body: Vec<Bytes>,
}

impl Response {
    pub(crate) fn new(command: RemotingCommand) -> Self {
        Self {
            command,
            body: Vec::new(),
        }
    }

    pub(crate) fn body_len(&self) -> usize {
        if self.body.is_empty() {
            self.command.body.len()
        } else {
            self.body.iter().map(Bytes::len).sum()
        }
    }
}

/// Facts about the client connection that sent a request.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) connection: ConnectionRef,
    pub(crate) peer: std::net::SocketAddr,
}

/// One message between shards.
#[derive(Debug)]
pub(crate) enum Message {
    /// Handle this request here: by the control plane (`control`) or as the queue's owner.
    Request {
        origin: Origin,
        request: RemotingCommand,
        control: bool,
    },
    /// A send another shard read for one of this shard's queues, still undecoded (the whole
    /// frame): this shard decodes it and routes it as if it had read it.
    Undecoded { origin: Origin, frame: Bytes },
    /// Contribute this shard's part of a request that needs every shard (index queries).
    Gather(crate::handlers::query::Gather),
    /// One shard's part of a gathered request, back to the shard that scattered it.
    Gathered(crate::handlers::query::Gathered),
    /// Contribute this shard's facts to an admin request (topic/consume stats, runtime info).
    AdminGather(crate::admin::gather::Part),
    /// One shard's facts, back to the shard that scattered the admin request.
    AdminAnswer(crate::admin::gather::Answer),
    /// Write this response to one of your connections (for the scheduler's virtual
    /// connection, which reads it; clients' responses come encoded, as `Write`).
    Respond { connection: u64, response: Response },
    /// Write this encoded frame to one of your connections.
    Write {
        connection: u64,
        frame: crate::connection::Outgoing,
    },
    /// A client's answer to a request written to it, read by another shard from an
    /// undecoded frame (see `relay`).
    ClientAnswer {
        connection: u64,
        answer: RemotingCommand,
    },
    /// Close one of your connections: a frame read from it turned out malformed.
    Close { connection: u64, reason: String },
    /// Send this server-initiated request (e.g. NOTIFY_CONSUMER_IDS_CHANGED) to a client.
    Push {
        connection: u64,
        command: RemotingCommand,
    },
    /// A tool's request on its way to a consumer client (see `relay`).
    Relay(Box<crate::relay::Relay>),
    /// New topics and subscriptions from the control plane.
    Snapshot(Arc<ControlSnapshot>),
    /// A client connection closed (to the control plane, to drop its registrations).
    ConnectionClosed { connection: ConnectionRef },
    /// A consumer's pull committed an offset (to the control plane).
    CommitOffset {
        group: String,
        topic: String,
        queue_id: u32,
        offset: u64,
    },
    /// A delay level's delivery progress (to the control plane, which persists it).
    DelayProgress { level: i32, offset: u64 },
    /// A slave's HA connection accepted by another shard, for the shard owning the log it
    /// asked for, with the report bytes already read from it.
    HaAdopt {
        fd: std::os::fd::OwnedFd,
        peer: std::net::SocketAddr,
        reports: Vec<u8>,
        /// Keeps the connection counted as a slave until its new owner reads the report.
        unclaimed: Option<crate::ha::master::Unclaimed>,
    },
    /// A client connection for this shard to serve from now on (already counted as this
    /// shard's), starting with `requests` already read from it: handed over at accept because
    /// this shard had the fewest (`ConnectionCounts::place`, no requests yet), or after its
    /// first requests because they all name this shard's queues (`ConnectionCounts::claim`).
    Adopt {
        connection: Box<crate::connection::Connection>,
        requests: Vec<crate::connection::Inbound>,
    },
    /// A slave learned its master's HA address.
    MasterChanged { ha: Option<std::net::SocketAddr> },
    /// A slave's periodic copy of the master's topics, groups and offsets (to the control
    /// plane).
    MasterTables(Box<crate::control::MasterTables>),
    /// Stop accepting, finish, flush and exit.
    Shutdown,
}

/// The sending side of every shard's inbox, plus its waker.
#[derive(Clone)]
pub(crate) struct Outboxes {
    senders: Vec<SyncSender<Message>>,
    wakers: Vec<Arc<mio::Waker>>,
}

impl std::fmt::Debug for Outboxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outboxes")
            .field("shards", &self.senders.len())
            .finish_non_exhaustive()
    }
}

/// Why a message could not be delivered.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The target's inbox is full: answer SYSTEM_BUSY. Boxed so the common `Ok` stays small;
    /// only the failure path allocates.
    Full(Box<Message>),
    /// The target shard has stopped.
    Gone(Box<Message>),
}

impl Outboxes {
    pub(crate) fn new(senders: Vec<SyncSender<Message>>, wakers: Vec<Arc<mio::Waker>>) -> Self {
        Self { senders, wakers }
    }

    pub(crate) fn shard_count(&self) -> u16 {
        u16::try_from(self.senders.len()).expect("shards are capped below u16::MAX")
    }

    /// Queue `message` for `shard` without waking it (see [`Outboxes::wake`]).
    pub(crate) fn send(&self, shard: u16, message: Message) -> Result<(), SendError> {
        match self.senders[usize::from(shard)].try_send(message) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(message)) => Err(SendError::Full(Box::new(message))),
            Err(TrySendError::Disconnected(message)) => Err(SendError::Gone(Box::new(message))),
        }
    }

    /// Wake `shard` so it drains its inbox; one wake covers every message sent before it.
    pub(crate) fn wake(&self, shard: u16) {
        // A failed wake means the target's poll is gone, i.e. it is shutting down.
        let _ = self.wakers[usize::from(shard)].wake();
    }

    pub(crate) fn send_and_wake(&self, shard: u16, message: Message) -> Result<(), SendError> {
        self.send(shard, message)?;
        self.wake(shard);
        Ok(())
    }
}

/// A shard's receiving side.
pub(crate) type Inbox = Receiver<Message>;
