//! The name server's network loop: one thread, one mio `Poll`, nonblocking sockets.
//!
//! The thread owns [`Namesrv`] (all tables) outright; requests are served in arrival order per
//! connection and replies are queued on the connection that asked. Bounds, all in
//! [`crate::constants`]: at most [`CONNECTIONS_MAX`] connections (more are closed on accept);
//! a connection's read buffer holds at most one frame of [`FRAME_BYTES_MAX`] plus one read
//! chunk; its unsent replies at most [`WRITE_QUEUE_BYTES_MAX`] bytes, past which it is closed as
//! a slow reader. A connection is served at most [`FRAMES_PER_EVENT_MAX`] frames per turn and
//! then queued behind the others, so one busy client cannot starve the rest.
//!
//! A malformed or oversized frame closes that connection (with a log line) and nothing else.
//! Closing a connection removes the brokers that registered over it.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use ringmq_protocol::frame;
use ringmq_protocol::read_buffer::ReadBuffer;

use crate::clock::{MonotonicMs, SystemClock};
use crate::constants::{
    CONNECTIONS_MAX, FRAMES_PER_EVENT_MAX, FRAME_BYTES_MAX, READ_CHUNK_BYTES, READ_ROOM_MIN_BYTES,
    WRITE_QUEUE_BYTES_MAX,
};
use crate::handlers::{Arrival, Namesrv};
use crate::liveness::ConnectionId;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_CONNECTION: usize = 2;

/// Read no more while this many unprocessed bytes are buffered.
const READ_BUFFER_BYTES_MAX: usize = FRAME_BYTES_MAX + READ_CHUNK_BYTES;

/// Why a connection is being closed; each becomes one log line.
#[derive(Debug)]
enum CloseReason {
    PeerClosed,
    Io(io::Error),
    BadFrame(frame::FrameError),
    SlowReader(usize),
    Idle(u64),
    BrokerExpired,
}

/// How a read pass ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fill {
    /// The socket has no more bytes for now.
    Drained,
    /// The read buffer is full; more may be waiting in the socket.
    Full,
    /// The peer shut down its sending side; requests already received are still answered.
    PeerFinished,
}

#[derive(Debug)]
struct Connection {
    id: ConnectionId,
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes read and not yet decoded.
    read_buffer: ReadBuffer,
    write_buffer: Vec<u8>,
    write_offset: usize,
    last_activity: MonotonicMs,
}

impl Connection {
    fn unsent_bytes(&self) -> usize {
        self.write_buffer.len() - self.write_offset
    }

    /// Read until the socket would block, the buffer is full, or the peer finished sending.
    fn fill(&mut self) -> Result<Fill, CloseReason> {
        while self.read_buffer.len() < READ_BUFFER_BYTES_MAX {
            let count = match self.stream.read(self.read_buffer.room()) {
                Ok(count) => count,
                Err(error) => match error.kind() {
                    io::ErrorKind::WouldBlock => return Ok(Fill::Drained),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(CloseReason::Io(error)),
                },
            };
            self.read_buffer.filled(count);
            if count == 0 {
                return Ok(Fill::PeerFinished);
            }
        }
        Ok(Fill::Full)
    }

    /// Write queued replies until done or the socket would block.
    fn flush(&mut self) -> Result<(), CloseReason> {
        while self.write_offset < self.write_buffer.len() {
            match self.stream.write(&self.write_buffer[self.write_offset..]) {
                Ok(0) => return Err(CloseReason::PeerClosed),
                Ok(count) => self.write_offset += count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(CloseReason::Io(error)),
            }
        }
        if self.write_offset == self.write_buffer.len() {
            self.write_buffer.clear();
            self.write_offset = 0;
        } else if self.write_offset > WRITE_QUEUE_BYTES_MAX / 2 {
            self.write_buffer.drain(..self.write_offset);
            self.write_offset = 0;
        }
        Ok(())
    }
}

/// The event loop. Built on the caller's thread, then [`Server::run`] on the server thread.
#[derive(Debug)]
pub(crate) struct Server {
    poll: Poll,
    listener: TcpListener,
    local_addr: SocketAddr,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    connections: Vec<Option<Connection>>,
    free_slots: Vec<usize>,
    open_connections: usize,
    next_connection_id: u64,
    /// Connections with buffered work left after their last turn.
    pending: VecDeque<usize>,
    namesrv: Namesrv,
    clock: SystemClock,
    next_scan: MonotonicMs,
}

impl Server {
    pub(crate) fn bind(address: SocketAddr, namesrv: Namesrv) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(address)?;
        let local_addr = listener.local_addr()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let clock = SystemClock::new();
        let next_scan = clock
            .monotonic()
            .plus(namesrv.config.scan_not_active_broker_interval_ms);
        Ok(Self {
            poll,
            listener,
            local_addr,
            waker,
            stop: Arc::new(AtomicBool::new(false)),
            connections: Vec::new(),
            free_slots: Vec::new(),
            open_connections: 0,
            next_connection_id: 1,
            pending: VecDeque::new(),
            namesrv,
            clock,
            next_scan,
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A flag and a waker that stop [`Server::run`] from another thread.
    pub(crate) fn stopper(&self) -> (Arc<AtomicBool>, Arc<Waker>) {
        (Arc::clone(&self.stop), Arc::clone(&self.waker))
    }

    pub(crate) fn namesrv_mut(&mut self) -> &mut Namesrv {
        &mut self.namesrv
    }

    /// Serve until stopped. Errors only if polling itself fails.
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        while !self.stop.load(Ordering::Acquire) {
            let timeout = self.poll_timeout();
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {}
                    Token(token) => self.serve(token - FIRST_CONNECTION),
                }
            }
            self.serve_pending();
            self.scan_if_due();
        }
        let wall = self.clock.wall();
        self.namesrv.log.info(wall, "The Name Server shutdown");
        Ok(())
    }

    fn poll_timeout(&self) -> Duration {
        if !self.pending.is_empty() {
            return Duration::ZERO;
        }
        let now = self.clock.monotonic();
        Duration::from_millis(self.next_scan.since(now).max(1))
    }

    fn accept_all(&mut self) {
        loop {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    // EMFILE and friends: leave the rest in the backlog for the next wakeup.
                    let wall = self.clock.wall();
                    self.namesrv
                        .log
                        .error(wall, &format!("accept failed: {error}"));
                    return;
                }
            };
            if self.open_connections >= CONNECTIONS_MAX {
                let wall = self.clock.wall();
                self.namesrv.log.warn(
                    wall,
                    &format!("refusing connection from {peer}: {CONNECTIONS_MAX} already open"),
                );
                continue;
            }
            self.add_connection(stream, peer);
        }
    }

    fn add_connection(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        let slot = self.free_slots.pop().unwrap_or_else(|| {
            self.connections.push(None);
            self.connections.len() - 1
        });
        let interest = Interest::READABLE | Interest::WRITABLE;
        let registered =
            self.poll
                .registry()
                .register(&mut stream, Token(slot + FIRST_CONNECTION), interest);
        if let Err(error) = registered {
            self.free_slots.push(slot);
            let wall = self.clock.wall();
            self.namesrv.log.error(
                wall,
                &format!("cannot register connection from {peer}: {error}"),
            );
            return;
        }
        // Replies are small and latency-bound; a failure here only costs latency.
        let _ = stream.set_nodelay(true);
        let id = ConnectionId(self.next_connection_id);
        self.next_connection_id += 1;
        self.open_connections += 1;
        self.connections[slot] = Some(Connection {
            id,
            stream,
            peer,
            read_buffer: ReadBuffer::new(READ_CHUNK_BYTES, READ_ROOM_MIN_BYTES),
            write_buffer: Vec::new(),
            write_offset: 0,
            last_activity: self.clock.monotonic(),
        });
    }

    fn serve_pending(&mut self) {
        for _ in 0..self.pending.len() {
            if let Some(slot) = self.pending.pop_front() {
                self.serve(slot);
            }
        }
    }

    /// One turn for one connection: read, handle up to a budget of frames, write.
    fn serve(&mut self, slot: usize) {
        let Some(Some(mut connection)) = self.connections.get_mut(slot).map(Option::take) else {
            return;
        };
        match self.turn(&mut connection) {
            Ok(more) => {
                if more && !self.pending.contains(&slot) {
                    self.pending.push_back(slot);
                }
                self.connections[slot] = Some(connection);
            }
            Err(reason) => self.close(slot, connection, &reason),
        }
    }

    fn turn(&mut self, connection: &mut Connection) -> Result<bool, CloseReason> {
        let fill = connection.fill()?;
        let now = self.clock.monotonic();
        let mut consumed = 0;
        let mut frames = 0;
        while frames < FRAMES_PER_EVENT_MAX {
            let decoded = frame::decode(
                &connection.read_buffer.unread()[consumed..],
                FRAME_BYTES_MAX,
            )
            .map_err(CloseReason::BadFrame)?;
            let Some((request, length)) = decoded else {
                break;
            };
            consumed += length;
            frames += 1;
            let arrival = Arrival {
                connection: connection.id,
                now,
                wall: self.clock.wall(),
            };
            if let Some(response) = self.namesrv.handle(&request, arrival) {
                frame::encode(&response, &mut connection.write_buffer);
            }
            if connection.unsent_bytes() > WRITE_QUEUE_BYTES_MAX {
                return Err(CloseReason::SlowReader(connection.unsent_bytes()));
            }
        }
        connection.read_buffer.consume(consumed);
        if consumed > 0 || !connection.read_buffer.is_empty() {
            connection.last_activity = now;
        }
        connection.flush()?;
        let budget_spent = frames == FRAMES_PER_EVENT_MAX;
        if fill == Fill::PeerFinished && !budget_spent {
            return Err(CloseReason::PeerClosed);
        }
        Ok(fill == Fill::Full || budget_spent)
    }

    fn close(&mut self, slot: usize, mut connection: Connection, reason: &CloseReason) {
        let _ = self.poll.registry().deregister(&mut connection.stream);
        self.free_slots.push(slot);
        self.open_connections -= 1;
        self.pending.retain(|pending| *pending != slot);
        let wall = self.clock.wall();
        let peer = connection.peer;
        match reason {
            CloseReason::PeerClosed => {}
            CloseReason::Io(error) => {
                self.namesrv
                    .log
                    .info(wall, &format!("closing {peer}: {error}"));
            }
            CloseReason::BadFrame(error) => self
                .namesrv
                .log
                .warn(wall, &format!("closing {peer}: bad frame: {error}")),
            CloseReason::SlowReader(unsent) => self.namesrv.log.warn(
                wall,
                &format!("closing {peer}: slow reader, {unsent} reply bytes unsent"),
            ),
            CloseReason::Idle(seconds) => self
                .namesrv
                .log
                .info(wall, &format!("closing {peer}: idle for {seconds} s")),
            CloseReason::BrokerExpired => self
                .namesrv
                .log
                .info(wall, &format!("closing {peer}: its broker expired")),
        }
        self.namesrv.connection_closed(connection.id, wall);
    }

    fn scan_if_due(&mut self) {
        let now = self.clock.monotonic();
        if now < self.next_scan {
            return;
        }
        self.next_scan = now.plus(self.namesrv.config.scan_not_active_broker_interval_ms);
        let wall = self.clock.wall();
        let expired = self.namesrv.scan(now, wall);
        let idle_ms = self
            .namesrv
            .config
            .server_channel_max_idle_time_seconds
            .saturating_mul(1000);
        for slot in 0..self.connections.len() {
            let Some(connection) = &self.connections[slot] else {
                continue;
            };
            let reason = if expired.contains(&connection.id) {
                CloseReason::BrokerExpired
            } else if idle_ms > 0 && now.since(connection.last_activity) > idle_ms {
                CloseReason::Idle(now.since(connection.last_activity) / 1000)
            } else {
                continue;
            };
            if let Some(connection) = self.connections[slot].take() {
                self.close(slot, connection, &reason);
            }
        }
    }
}
