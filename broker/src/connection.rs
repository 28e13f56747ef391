//! One client connection on its shard: buffered reads split into frames, and a bounded queue
//! of outgoing frames written with `writev` so pull bodies go out straight from the store's
//! buffers.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read as _, Write as _};
use std::net::SocketAddr;

use bytes::Bytes;
use mio::net::TcpStream;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::frame::{self, FrameError, RawFrame};
use ringmq_protocol::read_buffer::ReadBuffer;

use crate::message::Response;

/// Size of a connection's read buffer, and the step by which it grows for larger frames.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// A read is not attempted into less free space than this.
const READ_ROOM_MIN_BYTES: usize = 8 * 1024;
/// Outgoing bytes queued for one connection before it counts as a slow reader and is closed.
pub(crate) const WRITE_QUEUE_BYTES_MAX: usize = 256 << 20;
/// Slices handed to one `writev`.
const WRITEV_SLICES_MAX: usize = 64;

/// What reading produced.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    /// The peer is still there.
    Open,
    /// The peer closed, or the stream failed.
    Closed,
    /// A frame was malformed; close with this reason.
    Malformed(FrameError),
}

/// A frame read from a connection.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// Decoded by the reading shard.
    Request(RemotingCommand),
    /// A send for a queue that shard `owner` owns, handed to it undecoded (the whole frame,
    /// length field included): decoding it is most of a send's cost on the reading shard, and
    /// one connection's sends otherwise load its shard twice as much as the others.
    Undecoded { owner: u16, frame: Bytes },
}

/// A frame ready for a socket: the head (length, header and, for most frames, the body) and
/// body segments written after it without copying (pulls).
#[derive(Debug)]
pub(crate) struct Outgoing {
    head: Bytes,
    body: Vec<Bytes>,
}

impl Outgoing {
    /// Encode `response`; the shard that made it does this, so the connection's shard only
    /// queues bytes.
    pub(crate) fn response(response: Response) -> Self {
        let mut head = Vec::with_capacity(256);
        if response.body.is_empty() {
            frame::encode(&response.command, &mut head);
        } else {
            frame::encode_head(&response.command, response.body_len(), &mut head);
        }
        Self {
            head: Bytes::from(head),
            body: response.body,
        }
    }
}

/// A connection and its buffers.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    /// Bytes read and not yet decoded.
    read_buffer: ReadBuffer,
    write_queue: VecDeque<Bytes>,
    write_bytes: usize,
    /// Its shard is final: its first requests were read (see `BrokerShard::read_connection`).
    pub(crate) settled: bool,
}

impl Connection {
    pub(crate) fn new(stream: TcpStream, peer: SocketAddr) -> Self {
        Self {
            stream,
            peer,
            read_buffer: ReadBuffer::new(READ_CHUNK_BYTES, READ_ROOM_MIN_BYTES),
            write_queue: VecDeque::new(),
            write_bytes: 0,
            settled: false,
        }
    }

    /// Read what is available and append every complete frame to `frames`. A frame for which
    /// `undecoded_owner` names a shard is handed on as it is (see [`Inbound::Undecoded`]);
    /// every other one is decoded here.
    pub(crate) fn read_frames(
        &mut self,
        max_frame_bytes: usize,
        undecoded_owner: &mut dyn FnMut(&RawFrame<'_>) -> Option<u16>,
        frames: &mut Vec<Inbound>,
    ) -> ReadOutcome {
        loop {
            if let Some(outcome) = self.split_frames(max_frame_bytes, undecoded_owner, frames) {
                return outcome;
            }
            match self.stream.read(self.read_buffer.room()) {
                Ok(0) => return ReadOutcome::Closed,
                Ok(count) => self.read_buffer.filled(count),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return match self.split_frames(max_frame_bytes, undecoded_owner, frames) {
                        Some(outcome) => outcome,
                        None => ReadOutcome::Open,
                    };
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return ReadOutcome::Closed,
            }
        }
    }

    /// Take complete frames; `Some` only on a malformed frame.
    fn split_frames(
        &mut self,
        max_frame_bytes: usize,
        undecoded_owner: &mut dyn FnMut(&RawFrame<'_>) -> Option<u16>,
        frames: &mut Vec<Inbound>,
    ) -> Option<ReadOutcome> {
        loop {
            let unread = self.read_buffer.unread();
            let raw = match frame::split(unread, max_frame_bytes) {
                Ok(Some(raw)) => raw,
                Ok(None) => return None,
                Err(error) => return Some(ReadOutcome::Malformed(error)),
            };
            if let Some(owner) = undecoded_owner(&raw) {
                let frame = Bytes::copy_from_slice(&unread[..raw.consumed]);
                self.read_buffer.consume(frame.len());
                frames.push(Inbound::Undecoded { owner, frame });
                continue;
            }
            match frame::decode_split(&raw) {
                Ok(command) => {
                    self.read_buffer.consume(raw.consumed);
                    frames.push(Inbound::Request(command));
                }
                Err(error) => return Some(ReadOutcome::Malformed(error)),
            }
        }
    }

    /// Queue an encoded frame; false when the peer is too slow and the connection must close.
    pub(crate) fn queue(&mut self, outgoing: Outgoing) -> bool {
        self.push(outgoing.head);
        for segment in outgoing.body {
            self.push(segment);
        }
        self.write_bytes <= WRITE_QUEUE_BYTES_MAX
    }

    /// Queue a whole command (server-initiated requests).
    pub(crate) fn queue_command(&mut self, command: &RemotingCommand) -> bool {
        let mut bytes = Vec::with_capacity(256);
        frame::encode(command, &mut bytes);
        self.push(Bytes::from(bytes));
        self.write_bytes <= WRITE_QUEUE_BYTES_MAX
    }

    fn push(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.write_bytes += bytes.len();
            self.write_queue.push_back(bytes);
        }
    }

    pub(crate) fn has_pending_writes(&self) -> bool {
        !self.write_queue.is_empty()
    }

    /// Write as much as the socket takes; Err means the connection is broken.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        while !self.write_queue.is_empty() {
            let slices: Vec<IoSlice<'_>> = self
                .write_queue
                .iter()
                .take(WRITEV_SLICES_MAX)
                .map(|b| IoSlice::new(b))
                .collect();
            match self.stream.write_vectored(&slices) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(mut written) => {
                    self.write_bytes -= written;
                    while written > 0 {
                        let front = self
                            .write_queue
                            .front_mut()
                            .expect("written bytes came from the queue");
                        if written >= front.len() {
                            written -= front.len();
                            self.write_queue.pop_front();
                        } else {
                            let _ = front.split_to(written);
                            written = 0;
                        }
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}
