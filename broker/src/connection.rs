//! One client connection on its shard: buffered reads split into frames, and a bounded queue
//! of outgoing frames written with `writev` so pull bodies go out straight from the store's
//! buffers.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read as _, Write as _};
use std::net::SocketAddr;

use bytes::Bytes;
use mio::net::TcpStream;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::frame::{self, FrameError};
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

    /// Read what is available and append every complete frame to `frames`.
    pub(crate) fn read_frames(
        &mut self,
        max_frame_bytes: usize,
        frames: &mut Vec<RemotingCommand>,
    ) -> ReadOutcome {
        loop {
            if let Some(outcome) = self.split_frames(max_frame_bytes, frames) {
                return outcome;
            }
            match self.stream.read(self.read_buffer.room()) {
                Ok(0) => return ReadOutcome::Closed,
                Ok(count) => self.read_buffer.filled(count),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return match self.split_frames(max_frame_bytes, frames) {
                        Some(outcome) => outcome,
                        None => ReadOutcome::Open,
                    };
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return ReadOutcome::Closed,
            }
        }
    }

    /// Decode complete frames; `Some` only on a malformed frame.
    fn split_frames(
        &mut self,
        max_frame_bytes: usize,
        frames: &mut Vec<RemotingCommand>,
    ) -> Option<ReadOutcome> {
        loop {
            match frame::decode(self.read_buffer.unread(), max_frame_bytes) {
                Ok(Some((command, consumed))) => {
                    self.read_buffer.consume(consumed);
                    frames.push(command);
                }
                Ok(None) => return None,
                Err(error) => return Some(ReadOutcome::Malformed(error)),
            }
        }
    }

    /// Queue a response; false when the peer is too slow and the connection must close.
    pub(crate) fn queue_response(&mut self, response: &Response) -> bool {
        let mut head = Vec::with_capacity(256);
        if response.body.is_empty() {
            frame::encode(&response.command, &mut head);
            self.push(Bytes::from(head));
        } else {
            frame::encode_head(&response.command, response.body_len(), &mut head);
            self.push(Bytes::from(head));
            for segment in &response.body {
                self.push(segment.clone());
            }
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
