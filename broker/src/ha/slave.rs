//! The slave side of the HA stream: each shard keeps one connection to the master's HA port
//! for its own log, reports where that log ends, appends what the master ships at the same
//! physical offsets, and acknowledges what it holds.
//!
//! A shard connects only once everything it appended is stored, reports `appended` as where
//! to start, then acknowledges what it holds (appended under ASYNC_FLUSH, durable under
//! SYNC_FLUSH: see [`acknowledgeable`]) after each applied transfer and every
//! `haSendHeartbeatInterval`. A transfer that does not continue the log, or
//! `haHousekeepingInterval` without traffic, drops the connection; the next one starts again
//! from the log's end. The socket is read only after a readable event,
//! so an idle link costs no system calls between the master's heartbeats.
//!
//! A slave whose log ends before the master's now starts (the master's retention deleted
//! the records in between while the slave was away) cannot catch up: it says so, naming both
//! offsets and the fix, and tries again only every `STRANDED_RETRY_DELAY`. It does not empty
//! itself: its log may be the only copy of those records, and a slave pointed at the wrong
//! master would lose everything.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::TcpStream;
use mio::Interest;
use ringmq_engine::shard::ReplicaError;
use ringmq_engine::types::PhysicalOffset;
use ringmq_protocol::ha;
use ringmq_protocol::read_buffer::ReadBuffer;

use super::PerSecond;
use crate::config::FlushDiskType;
use crate::shard::BrokerShard;

/// Bytes read from the master per loop turn at most.
const READ_BYTES_MAX: usize = 4 << 20;
/// Size of the receive buffer at rest, and the step it grows by.
const READ_CHUNK_BYTES: usize = 256 * 1024;
/// A read call is offered at least this much free space.
const READ_ROOM_MIN_BYTES: usize = 64 * 1024;
/// Received bytes not yet appended, at most.
const BACKLOG_BYTES_MAX: usize = 16 << 20;
/// Wait before reconnecting after a failure.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// Wait before reconnecting when the master no longer holds this log's continuation: only
/// the operator can fix that, so retrying often would only repeat the message.
const STRANDED_RETRY_DELAY: Duration = Duration::from_secs(30);
/// A connect that has not completed after this long is abandoned.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest transfer body accepted (a master batches at most `haTransferBatchSize`, but a
/// single record may be larger).
const TRANSFER_BODY_MAX: u32 = 8 << 20;

#[derive(Debug)]
enum Link {
    Idle { retry_at: Duration },
    Connecting { stream: TcpStream, since: Duration },
    Streaming(Box<Stream>),
}

#[derive(Debug)]
struct Stream {
    socket: TcpStream,
    inbound: ReadBuffer,
    /// Body bytes of the current transfer still to come.
    body_left: usize,
    /// Received records not yet appended (a partial record, or the log was busy).
    pending: Vec<u8>,
    pending_at: PhysicalOffset,
    reported: PhysicalOffset,
    last_read: Duration,
    last_report: Duration,
    /// A readable event arrived and the socket was not read until `WouldBlock` since.
    readable: bool,
}

/// Why a connection ends and when to try again.
#[derive(Debug)]
struct Disconnect {
    reason: String,
    retry_in: Duration,
    /// Logged as an error: it does not heal by retrying.
    severe: bool,
}

impl From<String> for Disconnect {
    fn from(reason: String) -> Self {
        Self {
            reason,
            retry_in: RECONNECT_DELAY,
            severe: false,
        }
    }
}

/// One shard's replication client.
#[derive(Debug)]
pub(crate) struct HaSlave {
    master: Option<SocketAddr>,
    link: Link,
    /// Bytes received from the master, for the HA status.
    pub(crate) received_bytes: u64,
    /// The same, per second (`haStatus`).
    received: PerSecond,
    /// When the master was last heard from, and when this slave last reported (monotonic);
    /// kept across reconnects, as RocketMQ's `HAClient` keeps them.
    last_read: Option<Duration>,
    last_report: Option<Duration>,
}

/// What `haStatus` shows of one shard's replication client.
#[derive(Clone, Debug)]
pub(crate) struct ClientStatus {
    pub(crate) master: Option<SocketAddr>,
    pub(crate) received_per_second: u64,
    /// How long ago the master was last heard from, and this slave last reported.
    pub(crate) since_read: Option<Duration>,
    pub(crate) since_report: Option<Duration>,
}

impl HaSlave {
    pub(crate) fn new(master: Option<SocketAddr>) -> Self {
        Self {
            master,
            link: Link::Idle {
                retry_at: Duration::ZERO,
            },
            received_bytes: 0,
            received: PerSecond::default(),
            last_read: None,
            last_report: None,
        }
    }

    pub(crate) fn status(&self, now: Duration) -> ClientStatus {
        ClientStatus {
            master: self.master,
            received_per_second: self.received.last_second(now),
            since_read: self.last_read.map(|at| now.saturating_sub(at)),
            since_report: self.last_report.map(|at| now.saturating_sub(at)),
        }
    }

    pub(crate) fn master(&self) -> Option<SocketAddr> {
        self.master
    }

    pub(crate) fn connected(&self) -> bool {
        matches!(self.link, Link::Streaming(_))
    }
}

/// An event on the HA socket: a streaming link reads it on the next turn.
pub(crate) fn on_event(shard: &mut BrokerShard, readable: bool) {
    if let Some(HaSlave {
        link: Link::Streaming(stream),
        ..
    }) = shard.ha_slave.as_mut()
    {
        stream.readable |= readable;
    }
}

/// A name server named the master's HA address. A configured `haMasterAddress` wins over
/// what name servers say, as in RocketMQ.
pub(crate) fn set_master(shard: &mut BrokerShard, master: Option<SocketAddr>) {
    if shard.context.config.ha_master_address.is_some() {
        return;
    }
    let Some(slave) = shard.ha_slave.as_mut() else {
        return;
    };
    if slave.master == master {
        return;
    }
    slave.master = master;
    shard.context.log.info(&format!(
        "HA: shard {} replicates from master {}",
        shard.index,
        master.map_or_else(|| "(none yet)".to_owned(), |addr| addr.to_string())
    ));
    disconnect(shard, None);
}

/// Drop the link; without a reason, reconnect at once.
fn disconnect(shard: &mut BrokerShard, why: Option<Disconnect>) {
    let now = shard.engine.monotonic();
    let retry_in = why.as_ref().map_or(Duration::ZERO, |why| why.retry_in);
    let Some(slave) = shard.ha_slave.as_mut() else {
        return;
    };
    let link = std::mem::replace(
        &mut slave.link,
        Link::Idle {
            retry_at: now + retry_in,
        },
    );
    let stream = match link {
        Link::Idle { .. } => None,
        Link::Connecting { stream, .. } => Some(stream),
        Link::Streaming(stream) => Some(stream.socket),
    };
    if let Some(mut stream) = stream {
        let _ = shard.poll.registry().deregister(&mut stream);
    }
    if let Some(why) = why {
        let line = format!(
            "HA: shard {} disconnected from master {}: {}",
            shard.index,
            slave
                .master
                .map_or_else(|| "?".to_owned(), |addr| addr.to_string()),
            why.reason
        );
        if why.severe {
            shard.context.log.error(&line);
        } else {
            shard.context.log.warn(&line);
        }
    }
}

/// Connect, receive, append and acknowledge; every loop turn.
pub(crate) fn pump(shard: &mut BrokerShard) {
    let now = shard.engine.monotonic();
    let ready = shard.engine.visible() >= shard.engine.appended();
    let Some(slave) = shard.ha_slave.as_mut() else {
        return;
    };
    let result = match &mut slave.link {
        Link::Idle { retry_at } if *retry_at <= now && ready => match slave.master {
            Some(master) => connect(shard, master).map_err(Disconnect::from),
            None => Ok(()),
        },
        Link::Idle { .. } => Ok(()),
        Link::Connecting { stream, since } => match connect_state(stream, *since, now) {
            Ok(true) => {
                start_streaming(shard);
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(reason) => Err(Disconnect::from(reason)),
        },
        Link::Streaming(_) => stream_turn(shard),
    };
    if let Err(why) = result {
        disconnect(shard, Some(why));
    }
}

fn connect(shard: &mut BrokerShard, master: SocketAddr) -> Result<(), String> {
    let mut stream =
        TcpStream::connect(master).map_err(|error| format!("connect failed: {error}"))?;
    shard
        .poll
        .registry()
        .register(
            &mut stream,
            crate::shard::HA_CLIENT,
            Interest::READABLE | Interest::WRITABLE,
        )
        .map_err(|error| format!("cannot register the HA socket: {error}"))?;
    let since = shard.engine.monotonic();
    if let Some(slave) = shard.ha_slave.as_mut() {
        slave.link = Link::Connecting { stream, since };
    }
    Ok(())
}

/// Whether a connecting socket is connected yet.
fn connect_state(stream: &TcpStream, since: Duration, now: Duration) -> Result<bool, String> {
    if let Ok(Some(error)) | Err(error) = stream.take_error() {
        return Err(format!("connect failed: {error}"));
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == ErrorKind::NotConnected => {
            if now.saturating_sub(since) > CONNECT_TIMEOUT {
                Err("connect timed out".to_owned())
            } else {
                Ok(false)
            }
        }
        Err(error) => Err(format!("connect failed: {error}")),
    }
}

fn start_streaming(shard: &mut BrokerShard) {
    let now = shard.engine.monotonic();
    let start = shard.engine.appended();
    let Some(slave) = shard.ha_slave.as_mut() else {
        return;
    };
    let link = std::mem::replace(&mut slave.link, Link::Idle { retry_at: now });
    let Link::Connecting { stream, .. } = link else {
        slave.link = link;
        return;
    };
    let mut stream = Stream {
        socket: stream,
        inbound: ReadBuffer::new(READ_CHUNK_BYTES, READ_ROOM_MIN_BYTES),
        body_left: 0,
        pending: Vec::new(),
        pending_at: start,
        reported: start,
        last_read: now,
        last_report: now,
        readable: true,
    };
    let first = stream.report(start, now);
    slave.link = Link::Streaming(Box::new(stream));
    match first {
        Ok(()) => shard.context.log.info(&format!(
            "HA: shard {} connected to master {}, reporting offset {}",
            shard.index,
            slave
                .master
                .map_or_else(|| "?".to_owned(), |addr| addr.to_string()),
            start.0
        )),
        Err(reason) => disconnect(shard, Some(Disconnect::from(reason))),
    }
}

impl Stream {
    /// Send an 8-byte report. A full socket buffer skips it: the next turn reports again.
    fn report(&mut self, offset: PhysicalOffset, now: Duration) -> Result<(), String> {
        match self.socket.write(&ha::encode_report(offset.0)) {
            Ok(8) => {
                self.reported = offset;
                self.last_report = now;
                Ok(())
            }
            Ok(_) => Err("a report was cut short".to_owned()),
            Err(error) if error.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(error) => Err(format!("report failed: {error}")),
        }
    }

    /// Read what the master sent, until `WouldBlock` (which ends the readable edge) or
    /// `READ_BYTES_MAX`; an error when it closed the connection.
    fn read(&mut self, now: Duration) -> Result<usize, String> {
        let mut total = 0;
        while total < READ_BYTES_MAX {
            let result = self.socket.read(self.inbound.room());
            let read = match result {
                Ok(read) => read,
                Err(error) => match error.kind() {
                    ErrorKind::WouldBlock => {
                        self.readable = false;
                        break;
                    }
                    ErrorKind::Interrupted => continue,
                    _ => return Err(format!("read failed: {error}")),
                },
            };
            self.inbound.filled(read);
            if read == 0 {
                return Err("the master closed the connection".to_owned());
            }
            total += read;
            self.last_read = now;
        }
        Ok(total)
    }
}

/// One turn of a streaming connection.
fn stream_turn(shard: &mut BrokerShard) -> Result<(), Disconnect> {
    let now = shard.engine.monotonic();
    let Some(slave) = shard.ha_slave.as_mut() else {
        return Ok(());
    };
    let link = std::mem::replace(&mut slave.link, Link::Idle { retry_at: now });
    let Link::Streaming(mut stream) = link else {
        slave.link = link;
        return Ok(());
    };
    let result = stream_turn_with(shard, &mut stream, now);
    if let Some(slave) = shard.ha_slave.as_mut() {
        if let Ok(received) = result {
            let received = u64::try_from(received).unwrap_or(u64::MAX);
            slave.received_bytes += received;
            slave.received.add(received, now);
        }
        slave.last_read = Some(stream.last_read);
        slave.last_report = Some(stream.last_report);
        // Put the link back even on failure so `disconnect` deregisters its socket.
        slave.link = Link::Streaming(stream);
    }
    result.map(drop)
}

fn stream_turn_with(
    shard: &mut BrokerShard,
    stream: &mut Stream,
    now: Duration,
) -> Result<usize, Disconnect> {
    let config = &shard.context.config;
    let (heartbeat, housekeeping) = (
        config.ha_send_heartbeat_interval,
        config.ha_housekeeping_interval,
    );
    // A log that keeps refusing appends (busy) stops the reads, so memory stays bounded and
    // TCP flow control slows the master down.
    let received =
        if stream.readable && stream.pending.len() + stream.inbound.len() < BACKLOG_BYTES_MAX {
            stream.read(now)?
        } else {
            0
        };
    if now.saturating_sub(stream.last_read) > housekeeping {
        return Err(Disconnect::from(format!(
            "nothing from the master for {} ms",
            housekeeping.as_millis()
        )));
    }
    apply(shard, stream)?;
    let held = acknowledgeable(
        shard.context.config.flush_disk_type,
        shard.engine.latch().is_some(),
        shard.engine.appended(),
        shard.engine.visible(),
    );
    if held > stream.reported || now.saturating_sub(stream.last_report) >= heartbeat {
        stream.report(held, now)?;
    }
    Ok(received)
}

/// The offset this slave acknowledges: under ASYNC_FLUSH everything it appended, as a Java
/// slave reports what it put in its page cache (the write is under way, and a SYNC_MASTER
/// shipped only what its own write had completed); under SYNC_FLUSH only what an fdatasync
/// covered. After a failed write (a latched, read-only log) only what is readable.
///
/// Acknowledging appended records instead of written ones takes the slave's write out of
/// every SYNC_MASTER send's wait: measured in docs/benchmarks.md.
fn acknowledgeable(
    flush: FlushDiskType,
    latched: bool,
    appended: PhysicalOffset,
    visible: PhysicalOffset,
) -> PhysicalOffset {
    match flush {
        FlushDiskType::AsyncFlush if !latched => appended,
        _ => visible,
    }
}

/// Parse transfers out of `inbound` and append their bodies to the log. Each transfer is
/// appended before the next header is checked: a BLANK moves the log's end to the next
/// segment, so the next transfer's offset only matches once the BLANK is applied. While the
/// log refuses appends (busy), parsing stops and the bytes wait in `inbound`.
fn apply(shard: &mut BrokerShard, stream: &mut Stream) -> Result<(), Disconnect> {
    let mut cursor = 0usize;
    let result = loop {
        if stream.body_left == 0 {
            if !append_pending(shard, stream)? {
                break Ok(());
            }
            let header =
                ha::decode_transfer_header(&stream.inbound.unread()[cursor..], TRANSFER_BODY_MAX)
                    .map_err(|error| error.to_string())?;
            let Some(header) = header else {
                break Ok(());
            };
            check_offset(shard, stream, PhysicalOffset(header.offset))?;
            cursor += ha::TRANSFER_HEADER_BYTES;
            stream.body_left = usize::try_from(header.size).unwrap_or(usize::MAX);
            continue;
        }
        let available = stream.inbound.len() - cursor;
        if available == 0 {
            break Ok(());
        }
        let take = available.min(stream.body_left);
        stream
            .pending
            .extend_from_slice(&stream.inbound.unread()[cursor..cursor + take]);
        cursor += take;
        stream.body_left -= take;
    };
    stream.inbound.consume(cursor);
    result
}

/// Whether a transfer starting at `master` continues this log (truncating or starting an
/// empty log where the master says, when that is what it means).
fn check_offset(
    shard: &mut BrokerShard,
    stream: &mut Stream,
    master: PhysicalOffset,
) -> Result<(), Disconnect> {
    let expected = PhysicalOffset(
        stream.pending_at.0 + u64::try_from(stream.pending.len()).unwrap_or(u64::MAX),
    );
    let empty = expected.local() == 0 && stream.pending.is_empty();
    if master < expected && stream.pending.is_empty() {
        truncate_to_master(shard, stream, master)?;
    } else if master > expected && empty && master.shard() == expected.shard() {
        // An empty slave joining after the master's retention removed its oldest segments
        // starts where the master's log now starts.
        stream.pending_at = master;
    } else if master > expected && stream.pending.is_empty() && master.shard() == expected.shard() {
        return Err(stranded(shard, expected, master));
    } else if master != expected {
        return Err(Disconnect::from(diverged(expected, master)));
    }
    Ok(())
}

/// The master's log starts after this slave's ends: a master ships from a slave's offset
/// unless that offset is no longer in its log, so its retention deleted records this slave
/// never received.
fn stranded(shard: &BrokerShard, ours: PhysicalOffset, master: PhysicalOffset) -> Disconnect {
    Disconnect {
        reason: format!(
            "this slave's log ends at {} but the master's log now starts at {}: the master \
             deleted the records in between (fileReservedTime) while this slave was away, so \
             it cannot catch up. Stop this slave, move its store directory ({}) aside and \
             start it again: an empty slave copies the master's log from {}. Retrying in {} s",
            ours.0,
            master.0,
            shard.context.config.store_path_root_dir.display(),
            master.0,
            STRANDED_RETRY_DELAY.as_secs()
        ),
        retry_in: STRANDED_RETRY_DELAY,
        severe: true,
    }
}

/// Whether `bytes` starts with a whole record or a BLANK header.
fn starts_whole_record(bytes: &[u8]) -> bool {
    let Some(header) = bytes.get(..8) else {
        return false;
    };
    let size = i32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let magic = i32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    magic == ringmq_protocol::record::MAGIC_BLANK
        || usize::try_from(size).is_ok_and(|size| size <= bytes.len())
}

/// Append what is pending; false while the log is busy and bytes are left over.
fn append_pending(shard: &mut BrokerShard, stream: &mut Stream) -> Result<bool, String> {
    if stream.pending.is_empty() {
        return Ok(true);
    }
    match shard
        .engine
        .append_replicated(stream.pending_at, &stream.pending)
    {
        Ok(taken) => {
            stream.pending.drain(..taken);
            stream.pending_at = shard.engine.appended();
            // What is left is the start of a record the next transfer completes, or a whole
            // record the busy log refused for now.
            Ok(!starts_whole_record(&stream.pending))
        }
        Err(ReplicaError::Append(ringmq_engine::error::AppendError::Busy)) => Ok(false),
        Err(error) => Err(format!("cannot append replicated records: {error}")),
    }
}

/// The master's log ends before this slave's: it lost records it had already shipped (a
/// power loss before its own fdatasync). Cut this log back to the master's end, at most
/// `haMaxGapNotInSync` bytes, so both hold the same history again.
fn truncate_to_master(
    shard: &mut BrokerShard,
    stream: &mut Stream,
    master: PhysicalOffset,
) -> Result<(), String> {
    let ours = shard.engine.appended();
    let gap = ours.0 - master.0;
    if gap > u64::from(shard.context.config.ha_max_gap_not_in_sync) {
        return Err(format!(
            "{}; that is more than haMaxGapNotInSync ({} bytes), so this slave does not \
             truncate itself: check that it follows the right master",
            diverged(ours, master),
            shard.context.config.ha_max_gap_not_in_sync
        ));
    }
    match shard.engine.truncate_replica(master) {
        Ok(removed) => {
            shard.context.log.warn(&format!(
                "HA: shard {} truncated its log from {} to {} ({removed} bytes): the master's \
                 log ends there; it lost records it had replicated (an unclean stop)",
                shard.index, ours.0, master.0
            ));
            stream.pending_at = shard.engine.appended();
            stream.reported = PhysicalOffset(0);
            Ok(())
        }
        Err(error) => Err(format!(
            "{}; truncating to the master's end failed ({error}), retrying",
            diverged(ours, master)
        )),
    }
}

/// The master's stream does not continue this log.
fn diverged(expected: PhysicalOffset, master: PhysicalOffset) -> String {
    if master < expected {
        format!(
            "the master sends offset {} but this slave's log already ends at {}: the master \
             lost records it had replicated (an unclean stop), so this slave holds {} bytes \
             the master does not have",
            master.0,
            expected.0,
            expected.0 - master.0
        )
    } else {
        format!(
            "the master sends offset {} but this slave's log ends at {}",
            master.0, expected.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPENDED: PhysicalOffset = PhysicalOffset(9_000);
    const VISIBLE: PhysicalOffset = PhysicalOffset(4_096);

    // Hazard: a SYNC_FLUSH slave acknowledging records its fdatasync has not covered would
    // let a SYNC_MASTER promise a durable copy that a power loss on the slave can take.
    #[test]
    fn a_sync_flush_slave_acknowledges_only_durable_records() {
        let held = acknowledgeable(FlushDiskType::SyncFlush, false, APPENDED, VISIBLE);
        assert_eq!(held, VISIBLE);
    }

    // Hazard: waiting for the slave's own write keeps a SYNC_MASTER send waiting for two
    // writes in a row; a Java slave acknowledges what it put in its page cache.
    #[test]
    fn an_async_flush_slave_acknowledges_what_it_appended() {
        let held = acknowledgeable(FlushDiskType::AsyncFlush, false, APPENDED, VISIBLE);
        assert_eq!(held, APPENDED);
    }

    // Hazard: after a failed write the appended records will never be written; they must not
    // be acknowledged to a master deciding whether a send is replicated.
    #[test]
    fn a_latched_slave_acknowledges_only_readable_records() {
        let held = acknowledgeable(FlushDiskType::AsyncFlush, true, APPENDED, VISIBLE);
        assert_eq!(held, VISIBLE);
    }
}
