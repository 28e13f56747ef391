//! The master side of the HA stream: slaves connect to the HA port, report the offset of
//! one shard's log, and receive that shard's stored records from there on.
//!
//! Every shard accepts on the HA port (SO_REUSEPORT), so a connection may land on a shard
//! that does not own the log its slave asks for. The first report names the shard (physical
//! offsets carry it in their top bits); the accepting shard then hands the socket to its
//! owner through the owner's inbox, and only the owner ever writes to it. Shipped bytes are
//! slices of the tail cache or of a cold O_DIRECT window, written with `writev` behind a
//! 12-byte header, never copied in user space.
//!
//! A connection counts from its accept, as RocketMQ's `HAConnection` does: until its first
//! report names a shard it holds an [`Unclaimed`] ticket, and a send that finds too few
//! slaves in sync waits for the tickets before it answers SLAVE_NOT_AVAILABLE. Sockets are
//! read only after a readable event and written only while writable, so an idle slave costs
//! no system calls between heartbeats.

use std::collections::{HashMap, VecDeque};
use std::io::{IoSlice, Read, Write};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use mio::net::TcpStream;
use mio::{Interest, Token};
use ringmq_engine::shard::SpanRead;
use ringmq_engine::types::PhysicalOffset;
use ringmq_protocol::ha;

use super::PerSecond;
use crate::context::BrokerContext;
use crate::message::Message;
use crate::shard::BrokerShard;

/// Shipped bytes queued on one slave's socket before more are read from the log.
const QUEUED_BYTES_MAX: usize = 1 << 20;
/// Report bytes read per slave per loop turn.
const REPORT_READ_BYTES: usize = 4096;

/// One slave connection.
#[derive(Debug)]
pub(crate) struct HaPeer {
    stream: TcpStream,
    peer: SocketAddr,
    reports: Vec<u8>,
    /// Where shipping continues; `None` until the slave's first report.
    next: Option<PhysicalOffset>,
    /// The newest offset the slave acknowledged.
    pub(crate) acked: Option<PhysicalOffset>,
    queued: VecDeque<Bytes>,
    queued_bytes: usize,
    last_read: Duration,
    last_write: Duration,
    /// A readable event arrived and the socket was not read until `WouldBlock` since.
    readable: bool,
    /// The last write did not end in `WouldBlock` (or a writable event came after it).
    writable: bool,
    /// Held until the first report is read: see [`Unclaimed`].
    unclaimed: Option<Unclaimed>,
    /// The slave's log ends before this log starts (retention deleted the records in
    /// between): it was told where this log starts and gets nothing else.
    stranded: bool,
    /// Bytes written to the socket, for `haStatus`.
    shipped: PerSecond,
}

/// An HA connection whose first report has not been read yet, so nobody knows which shard's
/// log it will copy. RocketMQ 4.x counts a slave from its accept (`HAConnection` increments
/// `connectionCount`, which `HAService.isSlaveOK` reads), so a send right after a slave
/// connects waits for it instead of failing; here a send that finds too few slaves in sync
/// while tickets exist waits until they are gone before it decides (see
/// `shard::ReplicaWait::Undecided`). The ticket travels with a connection handed to another
/// shard and is dropped (uncounted) when the owner reads the report or the connection
/// closes.
#[derive(Debug)]
pub(crate) struct Unclaimed(Arc<BrokerContext>);

impl Unclaimed {
    fn new(context: &Arc<BrokerContext>) -> Self {
        context.ha_unclaimed.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(context))
    }
}

impl Drop for Unclaimed {
    fn drop(&mut self) {
        self.0.ha_unclaimed.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The slaves of one shard's log (and connections not yet claimed by a shard).
#[derive(Debug, Default)]
pub(crate) struct HaMaster {
    peers: HashMap<u64, HaPeer>,
}

/// A slave's view for runtime info and the HA status command.
#[derive(Clone, Debug)]
pub(crate) struct PeerStatus {
    pub(crate) peer: SocketAddr,
    pub(crate) acked: Option<PhysicalOffset>,
    /// Where shipping continues (`transferFromWhere`).
    pub(crate) next: PhysicalOffset,
    /// Bytes written to the slave in the last whole second.
    pub(crate) shipped_per_second: u64,
}

impl HaMaster {
    /// Slaves that acknowledged at least `end`.
    pub(crate) fn acked_at_least(&self, end: PhysicalOffset) -> usize {
        self.peers
            .values()
            .filter(|peer| peer.acked.is_some_and(|acked| acked >= end))
            .count()
    }

    /// Slaves connected to this log and less than `max_gap` bytes behind `written`
    /// (`DefaultHAService.isSlaveOK`).
    pub(crate) fn in_sync(&self, written: PhysicalOffset, max_gap: u64) -> usize {
        self.peers
            .values()
            .filter(|peer| acked_in_sync(peer.acked, written, max_gap))
            .count()
    }

    /// Note an event on a slave's socket; false when `id` is not a slave connection.
    pub(crate) fn on_event(&mut self, id: u64, readable: bool, writable: bool) -> bool {
        let Some(peer) = self.peers.get_mut(&id) else {
            return false;
        };
        peer.readable |= readable;
        peer.writable |= writable;
        true
    }

    /// The slaves copying this log, ordered by address.
    pub(crate) fn status(&self, now: Duration) -> Vec<PeerStatus> {
        let mut status: Vec<PeerStatus> = self
            .peers
            .values()
            .filter(|peer| !peer.stranded)
            .filter_map(|peer| {
                Some(PeerStatus {
                    peer: peer.peer,
                    acked: peer.acked,
                    next: peer.next?,
                    shipped_per_second: peer.shipped.last_second(now),
                })
            })
            .collect();
        status.sort_by_key(|peer| peer.peer);
        status
    }
}

/// Whether a slave that acknowledged `acked` is in sync with a log written up to `written`:
/// less than `max_gap` bytes behind (`DefaultHAService.isInSyncSlave`). SYNC_MASTER sends and
/// `haStatus` both decide by this.
pub(crate) fn acked_in_sync(
    acked: Option<PhysicalOffset>,
    written: PhysicalOffset,
    max_gap: u64,
) -> bool {
    acked.is_some_and(|acked| written.0.saturating_sub(acked.0) < max_gap)
}

/// A slave connected to the HA port of this shard.
pub(crate) fn accept(shard: &mut BrokerShard, stream: TcpStream, peer: SocketAddr) {
    shard.context.log.info(&format!(
        "HA: slave {peer} connected; it counts as a slave until its first report"
    ));
    let unclaimed = Unclaimed::new(&shard.context);
    add_peer(shard, stream, peer, Vec::new(), Some(unclaimed));
}

/// A slave connection handed over by the shard that accepted it, with the report bytes that
/// shard already read.
pub(crate) fn adopt(
    shard: &mut BrokerShard,
    fd: OwnedFd,
    peer: SocketAddr,
    reports: Vec<u8>,
    unclaimed: Option<Unclaimed>,
) {
    add_peer(shard, TcpStream::from(fd), peer, reports, unclaimed);
}

fn add_peer(
    shard: &mut BrokerShard,
    mut stream: TcpStream,
    peer: SocketAddr,
    reports: Vec<u8>,
    unclaimed: Option<Unclaimed>,
) {
    let _ = stream.set_nodelay(true);
    let id = shard.allocate_connection_id();
    let token = Token(usize::try_from(id).unwrap_or(usize::MAX));
    if let Err(error) =
        shard
            .poll
            .registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
    {
        shard.context.log.warn(&format!(
            "HA: cannot register the connection from slave {peer}: {error}"
        ));
        return;
    }
    let now = shard.engine.monotonic();
    shard.ha_master.peers.insert(
        id,
        HaPeer {
            stream,
            peer,
            reports,
            next: None,
            acked: None,
            queued: VecDeque::new(),
            queued_bytes: 0,
            last_read: now,
            last_write: now,
            // Bytes that arrived before the registration raise no edge: look once.
            readable: true,
            writable: true,
            unclaimed,
            stranded: false,
            shipped: PerSecond::default(),
        },
    );
    peers_changed(shard);
}

/// The slaves of this shard changed: ship unwritten records while a SYNC_MASTER has one.
/// A SYNC_MASTER with a slave ships each batch when its write is submitted, so a send
/// waits for the slave while its own write is in flight, not after it. An ASYNC_MASTER
/// answers without the slave and ships what is written (no copy: measured 4 % faster).
fn peers_changed(shard: &mut BrokerShard) {
    let sync_master = shard.context.config.broker_role == crate::config::BrokerRole::SyncMaster;
    shard
        .engine
        .set_ship_unwritten(sync_master && !shard.ha_master.peers.is_empty());
}

fn close(shard: &mut BrokerShard, id: u64, reason: &str) {
    if let Some(mut peer) = shard.ha_master.peers.remove(&id) {
        let _ = shard.poll.registry().deregister(&mut peer.stream);
        shard.context.log.warn(&format!(
            "HA: closing the connection from slave {}: {reason}",
            peer.peer
        ));
        peers_changed(shard);
    }
}

/// Every loop turn: read reports (where an event said so), ship records, send heartbeats and
/// drop silent slaves. It makes no system call unless an event, a record or a heartbeat is due.
pub(crate) fn pump(shard: &mut BrokerShard) {
    let ids: Vec<u64> = shard.ha_master.peers.keys().copied().collect();
    for id in ids {
        if let Err(reason) = pump_peer(shard, id) {
            close(shard, id, &reason);
        }
    }
}

fn pump_peer(shard: &mut BrokerShard, id: u64) -> Result<(), String> {
    let now = shard.engine.monotonic();
    let Some(peer) = shard.ha_master.peers.get_mut(&id) else {
        return Ok(());
    };
    if peer.readable {
        read_reports(peer)?;
    }
    if let Some((report, used)) = ha::last_report(&peer.reports) {
        peer.reports.drain(..used);
        peer.last_read = now;
        if on_report(shard, id, PhysicalOffset(report))? {
            return Ok(());
        }
    }
    let config = &shard.context.config;
    let housekeeping = config.ha_housekeeping_interval;
    let heartbeat = config.ha_send_heartbeat_interval;
    let batch = usize::try_from(config.ha_transfer_batch_bytes).unwrap_or(usize::MAX);
    let Some(peer) = shard.ha_master.peers.get_mut(&id) else {
        return Ok(());
    };
    if now.saturating_sub(peer.last_read) > housekeeping {
        return Err(format!("no report for {} ms", housekeeping.as_millis()));
    }
    let Some(mut next) = peer.next.filter(|_| !peer.stranded) else {
        return peer.flush(now);
    };
    while peer.queued_bytes < QUEUED_BYTES_MAX {
        // Bytes on disk are read without waiting: the next loop turn after the read
        // completes (its completion wakes the shard) ships them.
        match shard.engine.replica_span_nonblocking(next, batch) {
            Ok(SpanRead::Span(span)) => {
                let size = u32::try_from(span.bytes.len()).unwrap_or(u32::MAX);
                let header = ha::encode_transfer_header(span.offset.0, size);
                peer.queue(Bytes::copy_from_slice(&header));
                peer.queue(span.bytes);
                next = span.next;
            }
            Ok(SpanRead::CaughtUp | SpanRead::Reading) => break,
            Err(error) => return Err(format!("cannot read the log at {}: {error}", next.0)),
        }
    }
    peer.next = Some(next);
    if peer.queued.is_empty() && now.saturating_sub(peer.last_write) >= heartbeat {
        let header = ha::encode_transfer_header(next.0, 0);
        peer.queue(Bytes::copy_from_slice(&header));
    }
    peer.flush(now)
}

impl HaPeer {
    fn queue(&mut self, bytes: Bytes) {
        self.queued_bytes += bytes.len();
        self.queued.push_back(bytes);
    }

    /// Write queued bytes until the socket is full; after that, only once it is writable
    /// again.
    fn flush(&mut self, now: Duration) -> Result<(), String> {
        while self.writable && !self.queued.is_empty() {
            let slices: Vec<IoSlice<'_>> = self
                .queued
                .iter()
                .take(64)
                .map(|bytes| IoSlice::new(bytes))
                .collect();
            match self.stream.write_vectored(&slices) {
                Ok(0) => return Err("the slave closed the connection".to_owned()),
                Ok(mut written) => {
                    self.last_write = now;
                    self.queued_bytes -= written;
                    self.shipped
                        .add(u64::try_from(written).unwrap_or(u64::MAX), now);
                    while written > 0 {
                        let Some(front) = self.queued.front_mut() else {
                            break;
                        };
                        if written >= front.len() {
                            written -= front.len();
                            self.queued.pop_front();
                        } else {
                            front.advance(written);
                            written = 0;
                        }
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    self.writable = false;
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(format!("write failed: {error}")),
            }
        }
        Ok(())
    }
}

/// Read until `WouldBlock`, which ends the readable edge.
fn read_reports(peer: &mut HaPeer) -> Result<(), String> {
    let mut scratch = [0u8; REPORT_READ_BYTES];
    loop {
        match peer.stream.read(&mut scratch) {
            Ok(0) => return Err("the slave closed the connection".to_owned()),
            Ok(read) => peer.reports.extend_from_slice(&scratch[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                peer.readable = false;
                return Ok(());
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(format!("read failed: {error}")),
        }
    }
}

/// Act on a report; true when the connection left this shard.
fn on_report(shard: &mut BrokerShard, id: u64, report: PhysicalOffset) -> Result<bool, String> {
    // A SYNC_MASTER ships records before its write of them completes: a slave may
    // acknowledge up to the appended end.
    let appended = shard.engine.appended();
    let Some(peer) = shard.ha_master.peers.get_mut(&id) else {
        return Ok(true);
    };
    if peer.next.is_none() {
        let owner = report.shard().0;
        if owner != shard.index {
            hand_over(shard, id, report, owner)?;
            return Ok(true);
        }
        start_shipping(shard, id, report);
        return Ok(false);
    }
    if report > appended {
        // A bogus ack would let SYNC_MASTER answer without a real copy (RocketMQ #1155).
        return Err(format!(
            "acknowledged offset {} is past this log's end {}",
            report.0, appended.0
        ));
    }
    if !peer.stranded {
        peer.acked = Some(peer.acked.map_or(report, |acked| acked.max(report)));
    }
    Ok(false)
}

/// The first report of a slave of this shard's log: decide where shipping starts.
fn start_shipping(shard: &mut BrokerShard, id: u64, report: PhysicalOffset) {
    // A slave may hold records this master appended but has not written yet (they are
    // shipped early); only records past the appended end were lost here.
    let end = shard.engine.appended();
    let min = shard.engine.min_offset();
    let log = &shard.context.log;
    let Some(peer) = shard.ha_master.peers.get_mut(&id) else {
        return;
    };
    // The shard is known now: the connection stops counting on every shard.
    peer.unclaimed = None;
    let start = if report > end {
        log.warn(&format!(
            "HA: slave {} reports offset {} past this log's end {}: it holds records this \
             master lost (an unclean stop) and must truncate; shipping from {}",
            peer.peer, report.0, end.0, end.0
        ));
        end
    } else if report < min && report.local() != 0 {
        // RocketMQ's master finds no data at such an offset and sends only heartbeats, so
        // the slave waits forever without a word. Say what happened on both sides instead.
        log.error(&format!(
            "HA: slave {} reports offset {} but this log now starts at {}: the records in \
             between were deleted here (fileReservedTime) while the slave was away, so it \
             cannot catch up. Stop that slave, move its store directory aside and start it \
             again: an empty slave copies this log from {}",
            peer.peer, report.0, min.0, min.0
        ));
        peer.stranded = true;
        min
    } else {
        report.max(min)
    };
    if start != report {
        // Tell it at once where this log continues: a slave ahead truncates to there, a
        // slave behind the retained log reports that it cannot catch up and disconnects.
        peer.queue(Bytes::copy_from_slice(&ha::encode_transfer_header(
            start.0, 0,
        )));
    }
    if !peer.stranded {
        log.info(&format!(
            "HA: slave {} replicates shard {} from offset {}",
            peer.peer, shard.index, start.0
        ));
    }
    peer.acked = (start == report).then_some(report);
    peer.next = Some(start);
}

/// Give the connection to the shard that owns the reported log.
fn hand_over(
    shard: &mut BrokerShard,
    id: u64,
    report: PhysicalOffset,
    owner: u16,
) -> Result<(), String> {
    if owner >= shard.outboxes.shard_count() {
        return Err(format!(
            "it asks for shard {owner} but this broker has {} shards; master and slave must \
             run the same `shards` count",
            shard.outboxes.shard_count()
        ));
    }
    let Some(mut peer) = shard.ha_master.peers.remove(&id) else {
        return Ok(());
    };
    peers_changed(shard);
    let _ = shard.poll.registry().deregister(&mut peer.stream);
    let reports = ha::encode_report(report.0).to_vec();
    let fd = OwnedFd::from(peer.stream);
    shard.deliver(
        owner,
        Message::HaAdopt {
            fd,
            peer: peer.peer,
            reports,
            unclaimed: peer.unclaimed,
        },
    );
    Ok(())
}
