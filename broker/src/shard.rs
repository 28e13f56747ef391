//! One broker shard: a pinned thread that owns an engine shard, the client connections it
//! accepted, the parked pulls and unacknowledged SYNC_FLUSH sends of its queues, and (on shard
//! 0) the control plane.
//!
//! The loop: wait on mio (sockets, the inbox waker, the storage completion fd), read frames,
//! route each request to its owner (here, or another shard's bounded inbox — a full inbox is
//! answered SYSTEM_BUSY), tick the engine, answer sends that became durable and pulls that
//! found messages, flush sockets. Only this thread writes to its sockets, so frames never
//! interleave; responses carry the request's opaque and may complete out of order.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use ringmq_engine::shard::Shard;
use ringmq_engine::types::PhysicalOffset;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::frame::{self, RawFrame};

use crate::connection::{Connection, Inbound, Outgoing, ReadOutcome};
use crate::context::BrokerContext;
use crate::control::snapshot::ControlSnapshot;
use crate::control::ControlPlane;
use crate::long_poll::LongPolls;
use crate::message::{ConnectionRef, Inbox, Message, Origin, Outboxes, Response, SendError};
use crate::routing::{self, Target, CONTROL_SHARD};

pub(crate) const WAKER: Token = Token(0);
const STORAGE: Token = Token(1);
const LISTENER_FIRST: usize = 2;
/// Listener positions: listenPort, the VIP port, then (on masters) the HA port.
const HA_LISTENER: usize = 2;
/// A slave shard's connection to its master's HA port.
pub(crate) const HA_CLIENT: Token = Token(CONNECTION_FIRST - 1);
const CONNECTION_FIRST: usize = 16;
/// Connections one shard serves at most.
const CONNECTIONS_MAX: usize = 16_384;
/// Inbox messages handled per loop iteration, so sockets are not starved.
const INBOX_BATCH_MAX: usize = 4096;
/// The loop wakes at least this often for timers (long polls, flush timeouts, heartbeats).
const TIMER_PERIOD: Duration = Duration::from_millis(10);

/// Requests that append to the log, which a slave refuses (RocketMQ 4.x answers
/// SERVICE_NOT_AVAILABLE: "messages are put to the slave").
fn writes_messages(code: i32) -> bool {
    use ringmq_protocol::request_code as code;
    matches!(
        code,
        code::SEND_MESSAGE
            | code::SEND_MESSAGE_V2
            | code::SEND_BATCH_MESSAGE
            | code::CONSUMER_SEND_MSG_BACK
    )
}

/// A send waiting for its record to become durable (SYNC_FLUSH) or replicated (SYNC_MASTER).
#[derive(Debug)]
pub(crate) struct PendingAck {
    pub(crate) end: PhysicalOffset,
    pub(crate) origin: Origin,
    pub(crate) response: Response,
    /// When the local wait (written, or durable under SYNC_FLUSH) gives up:
    /// `syncFlushTimeout` after the append.
    pub(crate) flush_deadline: Duration,
    /// When the wait for slave acknowledgements gives up: `slaveTimeout` after the append.
    pub(crate) replica_deadline: Duration,
    pub(crate) replicas: ReplicaWait,
}

/// What a send waits for from the slaves of its log (SYNC_MASTER).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplicaWait {
    /// Nothing: not a SYNC_MASTER, the message's WAIT is false, or SLAVE_NOT_AVAILABLE.
    None,
    /// Acknowledgements of `end` from this many slaves.
    Acks(usize),
    /// Too few slaves were in sync, but HA connections had not sent their first report: they
    /// may be slaves of this log. Becomes `Acks` once enough slaves are in sync, or
    /// SLAVE_NOT_AVAILABLE once every connection reported (or `slaveTimeout` passed).
    Undecided(usize),
}

/// See the module docs.
pub(crate) struct BrokerShard {
    pub(crate) index: u16,
    pub(crate) context: Arc<BrokerContext>,
    pub(crate) engine: Shard,
    pub(crate) snapshot: Arc<ControlSnapshot>,
    pub(crate) control: Option<ControlPlane>,
    pub(crate) outboxes: Outboxes,
    inbox: Inbox,
    pub(crate) poll: Poll,
    listeners: Vec<TcpListener>,
    connections: HashMap<u64, Connection, foldhash::fast::RandomState>,
    /// Connections with queued output, written once per loop turn so the answers produced in
    /// one turn share a `writev`.
    unflushed: Vec<u64>,
    next_connection: u64,
    pub(crate) pending_acks: VecDeque<PendingAck>,
    pub(crate) long_polls: LongPolls,
    undelivered: VecDeque<(u16, Message)>,
    wake: Vec<bool>,
    next_queue: u32,
    stopping: bool,
    frames: Vec<Inbound>,
    pub(crate) gathers: crate::handlers::query::Gathers,
    pub(crate) scheduler: crate::schedule::Scheduler,
    pub(crate) admin_gathers: crate::admin::gather::AdminGathers,
    pub(crate) ha_master: crate::ha::master::HaMaster,
    pub(crate) ha_slave: Option<crate::ha::slave::HaSlave>,
    /// Tool requests written to this shard's clients, waiting for their answers.
    pub(crate) relays: crate::relay::Relays,
    /// How far each group has pulled the queues this shard owns.
    pub(crate) pull_offsets: crate::pull_offsets::PullOffsets,
    /// Sends other shards read and handed here undecoded (logged at shutdown).
    undecoded_received: u64,
}

impl std::fmt::Debug for BrokerShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerShard")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// Everything a shard thread is started with.
pub(crate) struct ShardParts {
    pub(crate) index: u16,
    pub(crate) context: Arc<BrokerContext>,
    pub(crate) engine: Shard,
    pub(crate) snapshot: Arc<ControlSnapshot>,
    pub(crate) control: Option<ControlPlane>,
    pub(crate) outboxes: Outboxes,
    pub(crate) inbox: Inbox,
    pub(crate) poll: Poll,
    pub(crate) listeners: Vec<std::net::TcpListener>,
    /// Delay level → next offset to deliver, as persisted.
    pub(crate) delay_offsets: std::collections::BTreeMap<i32, i64>,
}

/// A slave's replication state, with the configured `haMasterAddress` if any; `None` on a
/// master.
fn ha_slave_of(context: &BrokerContext) -> Option<crate::ha::slave::HaSlave> {
    (context.config.broker_role == crate::config::BrokerRole::Slave).then(|| {
        let configured = context
            .config
            .ha_master_address
            .as_deref()
            .and_then(|address| address.parse().ok());
        crate::ha::slave::HaSlave::new(configured)
    })
}

impl BrokerShard {
    pub(crate) fn new(parts: ShardParts) -> std::io::Result<Self> {
        let ShardParts {
            index,
            context,
            engine,
            snapshot,
            control,
            outboxes,
            inbox,
            poll,
            listeners,
            delay_offsets,
        } = parts;
        let mut registered = Vec::new();
        for (position, listener) in listeners.into_iter().enumerate() {
            listener.set_nonblocking(true)?;
            let mut listener = TcpListener::from_std(listener);
            poll.registry().register(
                &mut listener,
                Token(LISTENER_FIRST + position),
                Interest::READABLE,
            )?;
            registered.push(listener);
        }
        if let Some(fd) = engine.notify_fd() {
            poll.registry()
                .register(&mut SourceFd(&fd), STORAGE, Interest::READABLE)?;
        }
        let scheduler = crate::schedule::Scheduler::new(
            index,
            outboxes.shard_count(),
            &context.config.message_delay_levels,
            &delay_offsets,
        );
        let shard_count = usize::from(outboxes.shard_count());
        let ha_slave = ha_slave_of(&context);
        Ok(Self {
            index,
            context,
            engine,
            snapshot,
            control,
            outboxes,
            inbox,
            poll,
            listeners: registered,
            connections: HashMap::default(),
            unflushed: Vec::new(),
            next_connection: u64::try_from(CONNECTION_FIRST).expect("small"),
            pending_acks: VecDeque::new(),
            long_polls: LongPolls::default(),
            undelivered: VecDeque::new(),
            wake: vec![false; shard_count],
            next_queue: 0,
            stopping: false,
            frames: Vec::new(),
            gathers: crate::handlers::query::Gathers::default(),
            scheduler,
            admin_gathers: crate::admin::gather::AdminGathers::default(),
            ha_master: crate::ha::master::HaMaster::default(),
            ha_slave,
            relays: crate::relay::Relays::default(),
            pull_offsets: crate::pull_offsets::PullOffsets::default(),
            undecoded_received: 0,
        })
    }

    /// Run until shut down; then flush and close the engine shard.
    pub(crate) fn run(mut self) -> Result<(), String> {
        let mut events = Events::with_capacity(1024);
        let idle_poll = Duration::from_micros(self.context.config.idle_poll_micros);
        let mut polling = crate::idle_poll::IdlePoll::new(idle_poll);
        loop {
            let timeout = if self.busy() {
                Duration::ZERO
            } else if polling.poll_next(|| self.engine.monotonic()) {
                // The io_uring worker that runs this shard's fdatasync, and the kernel thread
                // that issues its cache flush, are pinned to this core too. Polling without
                // yielding starved them: SYNC_FLUSH at 64 senders fell from 115k to 65k msg/s.
                std::thread::yield_now();
                Duration::ZERO
            } else {
                TIMER_PERIOD
            };
            if let Err(error) = self.poll.poll(&mut events, Some(timeout)) {
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(format!("shard {}: poll failed: {error}", self.index));
                }
            }
            if !events.is_empty() {
                polling.on_events(|| self.engine.monotonic());
            }
            for event in &events {
                // A hang-up or error is news for a reader too: its read returns it.
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                self.on_event(event.token(), readable, event.is_writable());
            }
            if self.drain_inbox() {
                break;
            }
            self.after_io();
        }
        self.shut_down()
    }

    fn busy(&self) -> bool {
        !self.undelivered.is_empty()
    }

    fn on_event(&mut self, token: Token, readable: bool, writable: bool) {
        match token.0 {
            0 | 1 => {}
            // Before the listener range, which contains the HA client's token.
            id if id == HA_CLIENT.0 => crate::ha::slave::on_event(self, readable),
            id if (LISTENER_FIRST..CONNECTION_FIRST).contains(&id) => {
                self.accept(id - LISTENER_FIRST);
            }
            id => {
                let id = u64::try_from(id).expect("tokens come from u64 ids");
                if self.ha_master.on_event(id, readable, writable) {
                    return;
                }
                if readable {
                    self.read_connection(id);
                }
                if writable {
                    self.flush_connection(id);
                }
            }
        }
    }

    fn accept(&mut self, listener: usize) {
        loop {
            let accepted = match self.listeners.get(listener) {
                Some(listener) => listener.accept(),
                None => return,
            };
            match accepted {
                Ok((stream, peer)) if listener == HA_LISTENER && !self.stopping => {
                    crate::ha::master::accept(self, stream, peer);
                }
                Ok((stream, peer)) => self.place_connection(stream, peer),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(error) => {
                    self.context
                        .log
                        .warn(&format!("shard {}: accept failed: {error}", self.index));
                    return;
                }
            }
        }
    }

    /// Serve a client connection here, or hand it to the shard with the fewest.
    fn place_connection(&mut self, stream: TcpStream, peer: std::net::SocketAddr) {
        let target = self.context.client_connections.place(self.index);
        let _ = stream.set_nodelay(true);
        let connection = Connection::new(stream, peer);
        if target == self.index || self.stopping {
            self.context.client_connections.moved(target, self.index);
            return self.adopt(connection, Vec::new());
        }
        self.hand_over(target, connection, Vec::new());
    }

    /// Hand `connection` (counted as `target`'s) and the requests already read from it to
    /// `target`; a full or stopped inbox keeps it here after all.
    fn hand_over(&mut self, target: u16, connection: Connection, requests: Vec<Inbound>) {
        let message = Message::Adopt {
            connection: Box::new(connection),
            requests,
        };
        match self.outboxes.send(target, message) {
            Ok(()) => self.wake[usize::from(target)] = true,
            Err(SendError::Full(message) | SendError::Gone(message)) => {
                self.context.client_connections.moved(target, self.index);
                if let Message::Adopt {
                    connection,
                    requests,
                } = *message
                {
                    self.adopt(*connection, requests);
                }
            }
        }
    }

    /// Serve `connection` here (it is counted as this shard's), starting with `requests`
    /// already read from it.
    fn adopt(&mut self, connection: Connection, mut requests: Vec<Inbound>) {
        let peer = connection.peer;
        if let Some(id) = self.register_connection(connection) {
            self.dispatch_read(id, peer, &mut requests);
        }
    }

    /// Serve `connection` here (it is counted as this shard's); its id, or `None` when it is
    /// refused (and closed).
    fn register_connection(&mut self, mut connection: Connection) -> Option<u64> {
        let peer = connection.peer;
        if self.connections.len() >= CONNECTIONS_MAX || self.stopping {
            self.context.client_connections.gone(self.index);
            if !self.stopping {
                self.context.log.warn(&format!(
                    "refusing connection from {peer}: {CONNECTIONS_MAX} connections open"
                ));
            }
            return None;
        }
        let id = self.allocate_connection_id();
        let token = Token(usize::try_from(id).expect("connection ids fit usize"));
        if let Err(error) = self.poll.registry().register(
            &mut connection.stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.context
                .log
                .warn(&format!("cannot register connection from {peer}: {error}"));
            self.context.client_connections.gone(self.index);
            return None;
        }
        self.connections.insert(id, connection);
        Some(id)
    }

    /// Whether client connection `id` of this shard is open.
    pub(crate) fn has_connection(&self, id: u64) -> bool {
        self.connections.contains_key(&id)
    }

    /// A fresh id (and mio token) for a socket of this shard.
    pub(crate) fn allocate_connection_id(&mut self) -> u64 {
        let id = self.next_connection;
        self.next_connection += 1;
        id
    }

    fn read_connection(&mut self, id: u64) {
        let Some(connection) = self.connections.get_mut(&id) else {
            return;
        };
        let mut frames = std::mem::take(&mut self.frames);
        // Sends for other shards' queues go to them undecoded, once the connection's shard is
        // final (its first requests decide whether it moves, so they are decoded here) and
        // unless this broker is a slave (it refuses sends where it reads them).
        let undecoding = connection.settled && self.ha_slave.is_none();
        let (index, snapshot) = (self.index, &self.snapshot);
        let shard_count = self.outboxes.shard_count();
        let mut undecoded_owner = |raw: &RawFrame<'_>| {
            if !undecoding {
                return None;
            }
            routing::undecoded_send_owner(raw, snapshot, shard_count)
                .filter(|&owner| owner != index)
        };
        let outcome = connection.read_frames(
            self.context.max_frame_bytes,
            &mut undecoded_owner,
            &mut frames,
        );
        let peer = connection.peer;
        let first = !connection.settled && !frames.is_empty();
        connection.settled |= first;
        if first
            && matches!(outcome, ReadOutcome::Open)
            && self.hand_to_queues_owner(id, &mut frames)
        {
            self.frames = frames;
            return;
        }
        self.dispatch_read(id, peer, &mut frames);
        self.frames = frames;
        match outcome {
            ReadOutcome::Open => {}
            ReadOutcome::Closed => self.close_connection(id, None),
            ReadOutcome::Malformed(error) => {
                self.close_connection(id, Some(format!("malformed frame from {peer}: {error}")));
            }
        }
    }

    /// Route frames just read from connection `id`.
    fn dispatch_read(&mut self, id: u64, peer: std::net::SocketAddr, frames: &mut Vec<Inbound>) {
        let origin = Origin {
            connection: ConnectionRef {
                shard: self.index,
                id,
            },
            peer,
        };
        for inbound in frames.drain(..) {
            match inbound {
                Inbound::Request(mut request) => {
                    routing::strip_internal(&mut request);
                    self.on_request(origin.clone(), request);
                }
                Inbound::Undecoded { owner, frame } => {
                    self.forward_undecoded(owner, origin.clone(), frame);
                }
            }
        }
    }

    /// Hand an undecoded send to its queue's owner; with the owner's inbox full it is decoded
    /// here and routed as any request (which answers SYSTEM_BUSY if the inbox is still full).
    fn forward_undecoded(&mut self, owner: u16, origin: Origin, frame: bytes::Bytes) {
        match self
            .outboxes
            .send(owner, Message::Undecoded { origin, frame })
        {
            Ok(()) => self.wake[usize::from(owner)] = true,
            Err(SendError::Full(message) | SendError::Gone(message)) => {
                if let Message::Undecoded { origin, frame } = *message {
                    self.on_undecoded(origin, &frame);
                }
            }
        }
    }

    /// Decode a frame read by `origin`'s shard and route it as that shard would have. A
    /// malformed frame closes the connection there, as a malformed frame read here would.
    fn on_undecoded(&mut self, origin: Origin, frame: &bytes::Bytes) {
        let decoded = match frame::decode_bytes(frame, self.context.max_frame_bytes) {
            Ok(Some((request, _))) => Ok(request),
            Ok(None) => Err("a frame cut short".to_owned()),
            Err(error) => Err(error.to_string()),
        };
        let connection = origin.connection;
        match decoded {
            Ok(answer) if answer.is_response() => self.deliver(
                connection.shard,
                Message::ClientAnswer {
                    connection: connection.id,
                    answer,
                },
            ),
            Ok(mut request) => {
                routing::strip_internal(&mut request);
                self.on_request(origin, request);
            }
            Err(error) => self.deliver(
                connection.shard,
                Message::Close {
                    connection: connection.id,
                    reason: format!("malformed frame from {}: {error}", origin.peer),
                },
            ),
        }
    }

    /// A connection's first requests, all for queues another shard owns: hand the connection
    /// and the requests to that shard, so they and every later one are served without
    /// crossing threads. `false` (the requests are still in `first`) when they have no single
    /// owner or the move would leave the shards uneven (`ConnectionCounts::claim`).
    fn hand_to_queues_owner(&mut self, id: u64, first: &mut Vec<Inbound>) -> bool {
        let counts = &self.context.client_connections;
        let mut requests = Vec::with_capacity(first.len());
        for inbound in first.iter() {
            match inbound {
                Inbound::Request(request) => requests.push(request),
                // Not made for a connection's first read; its owner would be known anyway.
                Inbound::Undecoded { .. } => return false,
            }
        }
        let Some(owner) = routing::queues_owner(requests, self.outboxes.shard_count()) else {
            return false;
        };
        if self.stopping || owner == self.index || !counts.claim(self.index, owner) {
            return false;
        }
        let Some(mut connection) = self.connections.remove(&id) else {
            counts.moved(owner, self.index);
            return false;
        };
        let _ = self.poll.registry().deregister(&mut connection.stream);
        self.hand_over(owner, connection, std::mem::take(first));
        true
    }

    fn flush_connection(&mut self, id: u64) {
        let Some(connection) = self.connections.get_mut(&id) else {
            return;
        };
        if let Err(error) = connection.flush() {
            let reason = format!("write to {} failed: {error}", connection.peer);
            self.close_connection(id, Some(reason));
        }
    }

    pub(crate) fn close_connection(&mut self, id: u64, reason: Option<String>) {
        let Some(mut connection) = self.connections.remove(&id) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut connection.stream);
        self.context.client_connections.gone(self.index);
        if let Some(reason) = reason {
            self.context
                .log
                .warn(&format!("closing connection: {reason}"));
        }
        let closed = ConnectionRef {
            shard: self.index,
            id,
        };
        self.long_polls.remove_connection(closed);
        crate::relay::connection_closed(self, id);
        self.deliver(
            CONTROL_SHARD,
            Message::ConnectionClosed { connection: closed },
        );
    }

    /// Route one decoded request.
    pub(crate) fn on_request(&mut self, origin: Origin, mut request: RemotingCommand) {
        if request.is_response() {
            // A client's answer to a request the broker wrote to it.
            return crate::relay::on_response(self, origin.connection.id, request);
        }
        ringmq_protocol::header::strip_credentials(&mut request);
        if self.ha_slave.is_some() && writes_messages(request.code) {
            let refusal = crate::error::HandlerError::ServiceNotAvailable(format!(
                "the broker[{}] is a SLAVE (brokerId {}) of {}: messages are put to the master \
                 (brokerId 0) only",
                self.context.broker_addr(),
                self.context.config.broker_id,
                self.context.config.broker_name
            ));
            let response = refusal.into_response(&request);
            return self.respond(&origin, &request, response);
        }
        let shard_count = self.outboxes.shard_count();
        let target = routing::target(
            &mut request,
            &self.snapshot,
            shard_count,
            &mut self.next_queue,
        );
        match target {
            Target::Shard(shard) if shard == self.index => self.execute(&origin, &request),
            Target::Control if self.index == CONTROL_SHARD => self.execute_control(origin, request),
            Target::Shard(shard) => self.forward(shard, origin, request, false),
            Target::Control => self.forward(CONTROL_SHARD, origin, request, true),
            Target::AllShards => crate::handlers::query::scatter(self, origin, request),
        }
    }

    /// Send a request to its owner; a full inbox is overload.
    pub(crate) fn forward(
        &mut self,
        shard: u16,
        origin: Origin,
        request: RemotingCommand,
        control: bool,
    ) {
        match self.outboxes.send(
            shard,
            Message::Request {
                origin,
                request,
                control,
            },
        ) {
            Ok(()) => self.wake[usize::from(shard)] = true,
            Err(SendError::Full(message) | SendError::Gone(message)) => {
                if let Message::Request {
                    origin, request, ..
                } = *message
                {
                    let response = crate::error::system_busy(&request);
                    self.respond(&origin, &request, response);
                }
            }
        }
    }

    /// Handle a request whose queue (or offset) this shard owns.
    pub(crate) fn execute(&mut self, origin: &Origin, request: &RemotingCommand) {
        if let Some(response) = crate::handlers::dispatch(self, origin, request) {
            self.respond(origin, request, response);
        }
    }

    fn execute_control(&mut self, origin: Origin, request: RemotingCommand) {
        let Some(mut control) = self.control.take() else {
            return self.forward(CONTROL_SHARD, origin, request, true);
        };
        let outcome = control.handle(self, &origin, request);
        self.control = Some(control);
        self.apply_control_outcome(origin, outcome);
    }

    fn apply_control_outcome(&mut self, origin: Origin, outcome: crate::control::Outcome) {
        // Publish first: a re-routed send must see the topic the control plane just created.
        self.publish_snapshot_if_changed();
        match outcome {
            crate::control::Outcome::Reply(request, response) => {
                self.respond(&origin, &request, response);
            }
            crate::control::Outcome::NoReply => {}
            crate::control::Outcome::Route(request) => self.on_request(origin, request),
            crate::control::Outcome::Gather(request, plan) => {
                crate::admin::gather::scatter(self, origin, request, plan);
            }
            crate::control::Outcome::Relay(request, target, record) => {
                let relay = crate::relay::Relay {
                    origin,
                    request,
                    target,
                    record,
                };
                crate::relay::advance(self, relay);
            }
        }
    }

    /// Answer `request` (never for oneway requests).
    pub(crate) fn respond(
        &mut self,
        origin: &Origin,
        request: &RemotingCommand,
        response: Response,
    ) {
        if request.is_oneway() {
            return;
        }
        self.respond_to(origin.connection, response);
    }

    pub(crate) fn respond_to(&mut self, connection: ConnectionRef, response: Response) {
        if connection.shard == self.index {
            self.write_response(connection.id, response);
        } else if connection.id == crate::schedule::SCHEDULE_CONNECTION {
            self.deliver(
                connection.shard,
                Message::Respond {
                    connection: connection.id,
                    response,
                },
            );
        } else {
            // Encoded here, so the connection's shard only queues the bytes.
            self.deliver(
                connection.shard,
                Message::Write {
                    connection: connection.id,
                    frame: Outgoing::response(response),
                },
            );
        }
    }

    /// Send a message that must not be lost (retried while the target inbox is full).
    pub(crate) fn deliver(&mut self, shard: u16, message: Message) {
        if shard == self.index {
            self.on_message(message);
            return;
        }
        match self.outboxes.send(shard, message) {
            Ok(()) => self.wake[usize::from(shard)] = true,
            Err(SendError::Full(message)) => self.undelivered.push_back((shard, *message)),
            Err(SendError::Gone(_)) => {}
        }
    }

    fn write_response(&mut self, id: u64, response: Response) {
        if id == crate::schedule::SCHEDULE_CONNECTION {
            return crate::schedule::on_response(self, &response);
        }
        self.write_frame(id, Outgoing::response(response));
    }

    fn write_frame(&mut self, id: u64, frame: Outgoing) {
        let Some(connection) = self.connections.get_mut(&id) else {
            return;
        };
        let was_idle = !connection.has_pending_writes();
        if !connection.queue(frame) {
            let reason = format!(
                "{} reads too slowly (over the write queue limit)",
                connection.peer
            );
            return self.close_connection(id, Some(reason));
        }
        if was_idle {
            self.unflushed.push(id);
        }
    }

    pub(crate) fn push_command(&mut self, connection: ConnectionRef, command: RemotingCommand) {
        if connection.shard != self.index {
            return self.deliver(
                connection.shard,
                Message::Push {
                    connection: connection.id,
                    command,
                },
            );
        }
        if let Some(target) = self.connections.get_mut(&connection.id) {
            let was_idle = !target.has_pending_writes();
            if target.queue_command(&command) && was_idle {
                self.unflushed.push(connection.id);
            }
        }
    }

    /// Handle queued messages; true when the shard must stop.
    fn drain_inbox(&mut self) -> bool {
        for _ in 0..INBOX_BATCH_MAX {
            match self.inbox.try_recv() {
                Ok(Message::Shutdown) => return true,
                Ok(message) => self.on_message(message),
                Err(_) => break,
            }
        }
        false
    }

    fn on_message(&mut self, message: Message) {
        match message {
            Message::Request {
                origin,
                request,
                control: true,
            } => self.execute_control(origin, request),
            Message::Request {
                origin,
                request,
                control: false,
            } => self.execute(&origin, &request),
            Message::Undecoded { origin, frame } => {
                self.undecoded_received += 1;
                self.on_undecoded(origin, &frame);
            }
            Message::Respond { .. }
            | Message::Write { .. }
            | Message::ClientAnswer { .. }
            | Message::Close { .. }
            | Message::Push { .. } => self.on_connection_message(message),
            Message::Relay(relay) => crate::relay::advance(self, *relay),
            Message::Snapshot(snapshot) => self.snapshot = snapshot,
            Message::ConnectionClosed { connection } => {
                if let Some(control) = self.control.as_mut() {
                    let changed = control.connection_closed(connection);
                    self.notify_groups_changed(&changed);
                    self.publish_snapshot_if_changed();
                }
            }
            Message::CommitOffset {
                group,
                topic,
                queue_id,
                offset,
            } => {
                if let Some(control) = self.control.as_mut() {
                    control.commit_offset(&group, &topic, queue_id, offset);
                }
            }
            Message::DelayProgress { level, offset } => {
                if let Some(control) = self.control.as_mut() {
                    control.delay_offsets.update(level, offset);
                }
            }
            Message::AdminGather(part) => crate::admin::gather::on_part(self, part),
            Message::AdminAnswer(answer) => crate::admin::gather::on_answer(self, answer),
            Message::Gather(gather) => crate::handlers::query::on_gather(self, &gather),
            Message::Gathered(result) => crate::handlers::query::on_gathered(self, result),
            Message::Adopt {
                connection,
                requests,
            } => self.adopt(*connection, requests),
            Message::HaAdopt { .. } | Message::MasterChanged { .. } | Message::MasterTables(_) => {
                self.on_replication_message(message);
            }
            Message::Shutdown => {}
        }
    }

    /// Messages about one of this shard's client connections.
    fn on_connection_message(&mut self, message: Message) {
        match message {
            Message::Respond {
                connection,
                response,
            } => self.write_response(connection, response),
            Message::Write { connection, frame } => self.write_frame(connection, frame),
            Message::ClientAnswer { connection, answer } => {
                crate::relay::on_response(self, connection, answer);
            }
            Message::Close { connection, reason } => {
                self.close_connection(connection, Some(reason));
            }
            Message::Push {
                connection,
                command,
            } => {
                self.push_command(
                    ConnectionRef {
                        shard: self.index,
                        id: connection,
                    },
                    command,
                );
            }
            _ => {}
        }
    }

    fn on_replication_message(&mut self, message: Message) {
        match message {
            Message::HaAdopt {
                fd,
                peer,
                reports,
                unclaimed,
            } => {
                crate::ha::master::adopt(self, fd, peer, reports, unclaimed);
            }
            Message::MasterChanged { ha } => crate::ha::slave::set_master(self, ha),
            Message::MasterTables(tables) => {
                if let Some(control) = self.control.as_mut() {
                    control.apply_master_tables(*tables);
                }
                self.publish_snapshot_if_changed();
            }
            _ => {}
        }
    }

    /// Engine tick, acknowledgements, long polls, timers, retries, wake-ups.
    fn after_io(&mut self) {
        // A slave appends what arrived before the tick, so the tick submits it at once, and
        // acknowledges after it, so what the tick saw written is reported without delay.
        crate::ha::slave::pump(self);
        if let Err(error) = self.engine.tick() {
            self.context.log.error(&format!(
                "shard {}: storage tick failed: {error}",
                self.index
            ));
        }
        while let Some(notice) = self.engine.take_notice() {
            self.context
                .log
                .warn(&format!("shard {}: {notice}", self.index));
        }
        crate::ha::master::pump(self);
        crate::ha::slave::pump(self);
        crate::handlers::send::complete_acks(self);
        crate::handlers::pull::wake_parked(self);
        crate::relay::expire(self);
        if self.ha_slave.is_none() {
            // A slave stores only what its master ships; delayed delivery runs on the master.
            crate::schedule::tick(self);
        }
        if let Some(mut control) = self.control.take() {
            control.on_timer(self);
            self.control = Some(control);
            self.publish_snapshot_if_changed();
        }
        let mut retry = std::mem::take(&mut self.undelivered);
        while let Some((shard, message)) = retry.pop_front() {
            self.deliver(shard, message);
        }
        // What a flush leaves queued (the socket was full) goes out on the writable event.
        let mut unflushed = std::mem::take(&mut self.unflushed);
        for id in unflushed.drain(..) {
            self.flush_connection(id);
        }
        self.unflushed = unflushed;
        for shard in 0..self.wake.len() {
            if std::mem::take(&mut self.wake[shard]) {
                self.outboxes.wake(u16::try_from(shard).expect("small"));
            }
        }
    }

    /// Send NOTIFY_CONSUMER_IDS_CHANGED to the members of each changed group.
    pub(crate) fn notify_groups_changed(&mut self, groups: &[String]) {
        let Some(control) = self.control.as_ref() else {
            return;
        };
        let pushes = control.consumer_ids_changed(groups);
        for (connection, command) in pushes {
            self.push_command(connection, command);
        }
    }

    /// Publish the control plane's state to every shard if it changed.
    pub(crate) fn publish_snapshot_if_changed(&mut self) {
        let Some(control) = self.control.as_mut() else {
            return;
        };
        let Some(snapshot) = control.take_snapshot_if_changed() else {
            return;
        };
        self.snapshot = Arc::clone(&snapshot);
        for shard in 1..self.outboxes.shard_count() {
            self.deliver(shard, Message::Snapshot(Arc::clone(&snapshot)));
        }
    }

    fn shut_down(mut self) -> Result<(), String> {
        self.stopping = true;
        let stats = self.engine.stats();
        self.context.log.info(&format!(
            "shard {}: {} records appended, {} chains, {} fdatasyncs, {} busy ({} pending full), \
             {} sends decoded here for other shards' connections, {} cold windows read ({} \
             without waiting), {} read ahead",
            self.index,
            stats.commitlog.records_appended,
            stats.commitlog.chains_submitted,
            stats.commitlog.fdatasyncs,
            stats.commitlog.busy_rejections,
            stats.commitlog.busy_pending_full,
            self.undecoded_received,
            stats.commitlog.cold_reads,
            stats.commitlog.deferred_reads,
            stats.commitlog.read_aheads,
        ));
        for mut listener in std::mem::take(&mut self.listeners) {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        crate::handlers::send::finish_acks(&mut self);
        crate::handlers::pull::release_parked(&mut self);
        if let Some(mut control) = self.control.take() {
            control.persist(&self.context.log);
        }
        let ids: Vec<u64> = self.connections.keys().copied().collect();
        for id in ids {
            self.flush_connection(id);
        }
        let index = self.index;
        self.engine
            .close()
            .map_err(|error| format!("shard {index}: {error}"))
    }
}
