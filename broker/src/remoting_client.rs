//! A blocking request/response client for low-rate broker-to-name-server traffic.

use std::io::{self, Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::frame::{self, FRAME_BYTES_MAX_DEFAULT};

/// One connection to a remoting server.
#[derive(Debug)]
pub(crate) struct RemotingClient {
    stream: TcpStream,
    buffer: Vec<u8>,
    next_opaque: i32,
}

impl RemotingClient {
    pub(crate) fn connect(address: &str, timeout: Duration) -> io::Result<Self> {
        let target = address.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{address} resolves to nothing"),
            )
        })?;
        let stream = TcpStream::connect_timeout(&target, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: Vec::new(),
            next_opaque: 1,
        })
    }

    /// Send `request` and wait for the response with the same opaque.
    pub(crate) fn call(&mut self, mut request: RemotingCommand) -> io::Result<RemotingCommand> {
        self.next_opaque = self.next_opaque.wrapping_add(1);
        request.opaque = self.next_opaque;
        let mut bytes = Vec::new();
        frame::encode(&request, &mut bytes);
        self.stream.write_all(&bytes)?;
        loop {
            match frame::decode(&self.buffer, FRAME_BYTES_MAX_DEFAULT) {
                Ok(Some((response, consumed))) => {
                    self.buffer.drain(..consumed);
                    if response.is_response() && response.opaque == request.opaque {
                        return Ok(response);
                    }
                }
                Ok(None) => {
                    let mut chunk = vec![0u8; 64 * 1024];
                    let read = self.stream.read(&mut chunk)?;
                    if read == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed by the peer",
                        ));
                    }
                    self.buffer.extend_from_slice(&chunk[..read]);
                }
                Err(error) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        error.to_string(),
                    ))
                }
            }
        }
    }
}
