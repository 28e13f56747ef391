//! The master side of the HA stream: slaves connect to the HA port, report the offset of
//! one shard's log, and receive that shard's stored records from there on.
//!
//! Every shard accepts on the HA port (SO_REUSEPORT), so a connection may land on a shard
//! that does not own the log its slave asks for. The first report names the shard (physical
//! offsets carry it in their top bits); the accepting shard then hands the socket to its
//! owner through the owner's inbox, and only the owner ever writes to it. Shipped bytes are
//! slices of the tail cache or of a cold O_DIRECT window, written with `writev` behind a
//! 12-byte header, never copied in user space.

use std::collections::{HashMap, VecDeque};
use std::io::{IoSlice, Read, Write};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

use bytes::{Buf, Bytes};
use mio::net::TcpStream;
use mio::{Interest, Token};
use ringmq_engine::types::PhysicalOffset;
use ringmq_protocol::ha;

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
}

impl HaMaster {
    pub(crate) fn owns(&self, id: u64) -> bool {
        self.peers.contains_key(&id)
    }

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
            .filter(|peer| {
                peer.acked
                    .is_some_and(|acked| written.0.saturating_sub(acked.0) < max_gap)
            })
            .count()
    }

    pub(crate) fn status(&self) -> Vec<PeerStatus> {
        self.peers
            .values()
            .filter(|peer| peer.next.is_some())
            .map(|peer| PeerStatus {
                peer: peer.peer,
                acked: peer.acked,
            })
            .collect()
    }
}

/// A slave connected to the HA port of this shard.
pub(crate) fn accept(shard: &mut BrokerShard, stream: TcpStream, peer: SocketAddr) {
    add_peer(shard, stream, peer, Vec::new());
}

/// A slave connection handed over by the shard that accepted it, with the report bytes that
/// shard already read.
pub(crate) fn adopt(shard: &mut BrokerShard, fd: OwnedFd, peer: SocketAddr, reports: Vec<u8>) {
    add_peer(shard, TcpStream::from(fd), peer, reports);
}

fn add_peer(shard: &mut BrokerShard, mut stream: TcpStream, peer: SocketAddr, reports: Vec<u8>) {
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
        },
    );
}

fn close(shard: &mut BrokerShard, id: u64, reason: &str) {
    if let Some(mut peer) = shard.ha_master.peers.remove(&id) {
        let _ = shard.poll.registry().deregister(&mut peer.stream);
        shard.context.log.warn(&format!(
            "HA: closing the connection from slave {}: {reason}",
            peer.peer
        ));
    }
}

/// Read reports, ship records, send heartbeats and drop silent slaves; every loop turn.
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
    read_reports(peer)?;
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
    let Some(mut next) = peer.next else {
        return Ok(());
    };
    while peer.queued_bytes < QUEUED_BYTES_MAX {
        match shard.engine.replica_span(next, batch) {
            Ok(Some(span)) => {
                let size = u32::try_from(span.bytes.len()).unwrap_or(u32::MAX);
                let header = ha::encode_transfer_header(span.offset.0, size);
                peer.queue(Bytes::copy_from_slice(&header));
                peer.queue(span.bytes);
                next = span.next;
            }
            Ok(None) => break,
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

    /// Write queued bytes until the socket is full.
    fn flush(&mut self, now: Duration) -> Result<(), String> {
        while !self.queued.is_empty() {
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
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(format!("write failed: {error}")),
            }
        }
        Ok(())
    }
}

fn read_reports(peer: &mut HaPeer) -> Result<(), String> {
    let mut scratch = [0u8; REPORT_READ_BYTES];
    loop {
        match peer.stream.read(&mut scratch) {
            Ok(0) => return Err("the slave closed the connection".to_owned()),
            Ok(read) => peer.reports.extend_from_slice(&scratch[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(format!("read failed: {error}")),
        }
    }
}

/// Act on a report; true when the connection left this shard.
fn on_report(shard: &mut BrokerShard, id: u64, report: PhysicalOffset) -> Result<bool, String> {
    let written = shard.engine.written();
    let Some(peer) = shard.ha_master.peers.get_mut(&id) else {
        return Ok(true);
    };
    if peer.next.is_some() {
        if report > written {
            // A bogus ack would let SYNC_MASTER answer without a real copy (RocketMQ #1155).
            return Err(format!(
                "acknowledged offset {} is past this log's end {}",
                report.0, written.0
            ));
        }
        peer.acked = Some(peer.acked.map_or(report, |acked| acked.max(report)));
        return Ok(false);
    }
    let owner = report.shard().0;
    if owner != shard.index {
        hand_over(shard, id, report, owner)?;
        return Ok(true);
    }
    let start = if report > written {
        shard.context.log.warn(&format!(
            "HA: slave {} reports offset {} past this log's end {}: it holds records this \
             master lost (an unclean stop) and must truncate; shipping from {}",
            peer.peer, report.0, written.0, written.0
        ));
        // Tell it at once where this log ends; it truncates to there.
        peer.queue(Bytes::copy_from_slice(&ha::encode_transfer_header(
            written.0, 0,
        )));
        written
    } else {
        report.max(shard.engine.min_offset())
    };
    shard.context.log.info(&format!(
        "HA: slave {} replicates shard {} from offset {}",
        peer.peer, shard.index, start.0
    ));
    peer.acked = (start == report).then_some(report);
    peer.next = Some(start);
    Ok(false)
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
    let _ = shard.poll.registry().deregister(&mut peer.stream);
    let reports = ha::encode_report(report.0).to_vec();
    let fd = OwnedFd::from(peer.stream);
    shard.deliver(
        owner,
        Message::HaAdopt {
            fd,
            peer: peer.peer,
            reports,
        },
    );
    Ok(())
}
