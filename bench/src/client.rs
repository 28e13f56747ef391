//! A minimal blocking remoting client with pipelining: several requests may be in flight on
//! one connection and responses are matched by opaque. Built on the protocol crate only, so
//! the bench tool does not depend on the broker it measures.

use std::io::{self, Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::ops::Range;
use std::time::Duration;

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::frame;
use ringmq_protocol::serialize::HeaderScope;

/// Largest response frame accepted (pull responses carry many messages).
const FRAME_BYTES_MAX: usize = 64 << 20;
/// Read buffer of a connection: zeroed once, then reused; it grows only for a larger frame.
const READ_BUFFER_BYTES: usize = 1 << 20;

/// One connection.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    /// Bytes read are `buffer[read_start..filled]`.
    buffer: Vec<u8>,
    read_start: usize,
    filled: usize,
    next_opaque: i32,
    encode: Vec<u8>,
    /// How much of each response header is decoded: a sender that does not verify needs only
    /// the code, opaque and remark; skipping extFields saves a third of a send response's
    /// decoding (callgrind: 7,300 → 4,900 instructions).
    scope: HeaderScope,
}

impl Connection {
    pub(crate) fn connect(address: &str, timeout: Duration) -> io::Result<Self> {
        let target = address.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{address} resolves to nothing"),
            )
        })?;
        let stream = TcpStream::connect_timeout(&target, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Self {
            stream,
            buffer: vec![0; READ_BUFFER_BYTES],
            read_start: 0,
            filled: 0,
            next_opaque: 0,
            encode: Vec::new(),
            scope: HeaderScope::Full,
        })
    }

    /// Decode responses without their extFields from now on (see [`HeaderScope`]).
    pub(crate) fn skip_ext_fields(&mut self) {
        self.scope = HeaderScope::WithoutExtFields;
    }

    /// Send a request; returns its opaque.
    pub(crate) fn send(&mut self, request: RemotingCommand) -> io::Result<i32> {
        let opaque = self.queue(request);
        self.flush_queued()?;
        Ok(opaque)
    }

    /// Encode a request behind the ones already queued; `flush_queued` writes them all at once.
    pub(crate) fn queue(&mut self, request: RemotingCommand) -> i32 {
        encode_next(&mut self.next_opaque, request, &mut self.encode)
    }

    /// Write every queued request in one go.
    pub(crate) fn flush_queued(&mut self) -> io::Result<()> {
        let written = self.stream.write_all(&self.encode);
        self.encode.clear();
        written
    }

    /// The next response among the bytes already read, skipping server-initiated requests;
    /// `None` when they hold no complete one.
    fn decode_buffered(&mut self) -> io::Result<Option<RemotingCommand>> {
        let Some((mut command, body)) = self.decode_buffered_in_place()? else {
            return Ok(None);
        };
        command.body = self.buffer[body].to_vec().into();
        Ok(Some(command))
    }

    /// As `decode_buffered`, but the body stays in the read buffer: the response comes back
    /// with an empty body and the body's range in `buffer`.
    fn decode_buffered_in_place(&mut self) -> io::Result<Option<(RemotingCommand, Range<usize>)>> {
        loop {
            let at = self.read_start;
            let decoded = frame::decode_in_place_scoped(
                &self.buffer[at..self.filled],
                FRAME_BYTES_MAX,
                self.scope,
            )
            .map_err(invalid_data)?;
            let Some((command, body, used)) = decoded else {
                return Ok(None);
            };
            self.read_start += used;
            if command.is_response() {
                return Ok(Some((command, at + body.start..at + body.end)));
            }
        }
    }

    /// A response already read from the socket, without reading more. A malformed frame stays
    /// in the buffer for the next `receive` to report.
    pub(crate) fn buffered_response(&mut self) -> Option<RemotingCommand> {
        self.decode_buffered().ok().flatten()
    }

    /// The next response (any opaque).
    pub(crate) fn receive(&mut self) -> io::Result<RemotingCommand> {
        loop {
            if let Some(command) = self.decode_buffered()? {
                return Ok(command);
            }
            self.fill()?;
        }
    }

    /// Hand the next response to `visit` with its body borrowed from the read buffer, so a
    /// reader that only scans the body never copies it. With `wait` false only responses
    /// already read are taken (`None` when there is none).
    pub(crate) fn receive_in_place<T>(
        &mut self,
        wait: bool,
        visit: impl FnOnce(RemotingCommand, &[u8]) -> T,
    ) -> io::Result<Option<T>> {
        loop {
            if let Some((command, body)) = self.decode_buffered_in_place()? {
                return Ok(Some(visit(command, &self.buffer[body])));
            }
            if !wait {
                return Ok(None);
            }
            self.fill()?;
        }
    }

    /// Read more bytes behind those buffered. The buffer is reused without zeroing: a partial
    /// frame moves to the front once little room is left behind it, and the buffer doubles
    /// only when one frame does not fit.
    fn fill(&mut self) -> io::Result<()> {
        if self.read_start == self.filled {
            self.read_start = 0;
            self.filled = 0;
        } else if self.buffer.len() - self.filled < self.buffer.len() / 4 {
            self.buffer.copy_within(self.read_start..self.filled, 0);
            self.filled -= self.read_start;
            self.read_start = 0;
        }
        if self.filled == self.buffer.len() {
            let doubled = self.buffer.len() * 2;
            self.buffer.resize(doubled, 0);
        }
        match self.stream.read(&mut self.buffer[self.filled..]) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )),
            Ok(count) => {
                self.filled += count;
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Send and wait for this request's response.
    pub(crate) fn call(&mut self, request: RemotingCommand) -> io::Result<RemotingCommand> {
        let opaque = self.send(request)?;
        loop {
            let response = self.receive()?;
            if response.opaque == opaque {
                return Ok(response);
            }
        }
    }
}

fn invalid_data(error: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error.to_string())
}

/// Give `request` the connection's next opaque and append its frame to `out`.
fn encode_next(next_opaque: &mut i32, mut request: RemotingCommand, out: &mut Vec<u8>) -> i32 {
    *next_opaque = next_opaque.wrapping_add(1);
    request.opaque = *next_opaque;
    frame::encode(&request, out);
    request.opaque
}

/// A request with string ext fields.
pub(crate) fn request(code: i32, ext: &[(&str, String)]) -> RemotingCommand {
    let mut command = RemotingCommand::request(code);
    for (key, value) in ext {
        command.ext_fields.insert(*key, value.as_str());
    }
    command
}

/// The sending half of a split connection.
#[derive(Debug)]
pub(crate) struct WriteHalf {
    stream: TcpStream,
    next_opaque: i32,
    encode: Vec<u8>,
}

impl WriteHalf {
    /// Send a request; returns its opaque.
    pub(crate) fn send(&mut self, request: RemotingCommand) -> io::Result<i32> {
        self.encode.clear();
        let opaque = encode_next(&mut self.next_opaque, request, &mut self.encode);
        self.stream.write_all(&self.encode)?;
        Ok(opaque)
    }
}

impl Connection {
    /// Split into a sending half and a receiving half for two threads.
    pub(crate) fn split(self) -> io::Result<(WriteHalf, Connection)> {
        let writer = WriteHalf {
            stream: self.stream.try_clone()?,
            next_opaque: self.next_opaque,
            encode: Vec::new(),
        };
        Ok((writer, self))
    }
}
