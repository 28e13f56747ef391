//! The admin tool's view of the cluster: one blocking request/response exchange per call to a
//! name server or a broker, and [`AdminError`], which names the server and the cause of every
//! failure an operator can see.
//!
//! Name-server calls try each address of `-n` in turn, as RocketMQ's client does, and only fail
//! when none of them answers.

use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use ringmq_protocol::body::BodyError;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::HeaderError;
use ringmq_protocol::record::RecordError;
use ringmq_protocol::{frame, request_code, response_code};

/// Largest response frame accepted (a topic list or a stats table of a big cluster).
const FRAME_BYTES_MAX: usize = 64 << 20;
/// How long a connect may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a server may take to answer one request.
const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Why an admin command failed.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum AdminError {
    /// Bad flags; the text says which and how to fix them.
    Usage(String),
    /// No name server address from `-n` or `NAMESRV_ADDR`.
    NoNameServer,
    /// A server could not be reached or the exchange broke off.
    Unreachable {
        role: &'static str,
        address: String,
        cause: io::Error,
    },
    /// A server answered with a failure code.
    Refused {
        role: &'static str,
        address: String,
        request: &'static str,
        code: i32,
        remark: String,
    },
    /// The name server has no route for the topic.
    TopicNotExist(String),
    /// No broker matches a `-c` cluster or `-b` address.
    NoBroker(String),
    /// A response body did not decode.
    Body { address: String, cause: BodyError },
    /// A message record in a response body did not decode.
    Record { address: String, cause: RecordError },
    /// A response header lacked a field or held a bad value.
    Header { address: String, cause: HeaderError },
    /// A lookup found nothing; the text says what was looked for and where.
    NotFound(String),
    /// A command that acts on several servers (or messages, `what`) failed on some; each
    /// failure was printed.
    Partial {
        failed: usize,
        total: usize,
        what: &'static str,
    },
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(text) => f.write_str(text),
            Self::NoNameServer => f.write_str(
                "no name server address: pass -n 'host:9876;host2:9876' or set NAMESRV_ADDR",
            ),
            Self::Unreachable {
                role,
                address,
                cause,
            } => write!(f, "cannot reach {role} {address}: {cause}"),
            Self::Refused {
                role,
                address,
                request,
                code,
                remark,
            } => write!(
                f,
                "{role} {address} refused {request}: CODE: {code} DESC: {remark}"
            ),
            Self::TopicNotExist(topic) => write!(f, "topic [{topic}] does not exist"),
            Self::NoBroker(what) => write!(f, "no broker found for {what}"),
            Self::Body { address, cause } => write!(f, "bad response from {address}: {cause}"),
            Self::Record { address, cause } => {
                write!(f, "bad message record from {address}: {cause}")
            }
            Self::Header { address, cause } => {
                write!(f, "bad response header from {address}: {cause}")
            }
            Self::NotFound(what) => f.write_str(what),
            Self::Partial {
                failed,
                total,
                what,
            } => write!(
                f,
                "{failed} of {total} {what} failed (see the errors above)"
            ),
        }
    }
}

impl std::error::Error for AdminError {}

/// One connection to a server, for commands that send many requests (probes, pulls); each
/// [`Session::call`] waits for its own response.
#[derive(Debug)]
pub(crate) struct Session {
    role: &'static str,
    address: String,
    stream: TcpStream,
    buffer: Vec<u8>,
    next_opaque: i32,
}

impl Session {
    /// Connect to `address`; `role` names the server in errors ("broker", "name server").
    pub(crate) fn open(role: &'static str, address: &str) -> Result<Self, AdminError> {
        let unreachable = |cause| AdminError::Unreachable {
            role,
            address: address.to_owned(),
            cause,
        };
        let target = address
            .to_socket_addrs()
            .map_err(unreachable)?
            .next()
            .ok_or_else(|| {
                unreachable(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the address resolves to nothing",
                ))
            })?;
        let stream = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .map_err(unreachable)?;
        Ok(Self {
            role,
            address: address.to_owned(),
            stream,
            buffer: Vec::new(),
            next_opaque: 1,
        })
    }

    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Send `request` and return its response; a non-SUCCESS answer becomes
    /// [`AdminError::Refused`].
    pub(crate) fn call(
        &mut self,
        request: &RemotingCommand,
    ) -> Result<RemotingCommand, AdminError> {
        let response = self.exchange(request)?;
        if response.code == response_code::SUCCESS {
            return Ok(response);
        }
        Err(self.refused(request, &response))
    }

    /// Send `request` and return its response, whatever its code.
    pub(crate) fn exchange(
        &mut self,
        request: &RemotingCommand,
    ) -> Result<RemotingCommand, AdminError> {
        let mut request = request.clone();
        request.opaque = self.next_opaque;
        self.next_opaque = self.next_opaque.wrapping_add(1);
        self.round_trip(&request)
            .map_err(|cause| AdminError::Unreachable {
                role: self.role,
                address: self.address.clone(),
                cause,
            })
    }

    /// The error for a non-SUCCESS `response` to `request`, naming this server.
    pub(crate) fn refused(
        &self,
        request: &RemotingCommand,
        response: &RemotingCommand,
    ) -> AdminError {
        AdminError::Refused {
            role: self.role,
            address: self.address.clone(),
            request: request_code::name(request.code).unwrap_or("request"),
            code: response.code,
            remark: response.remark.clone().unwrap_or_default(),
        }
    }

    fn round_trip(&mut self, request: &RemotingCommand) -> io::Result<RemotingCommand> {
        let mut bytes = Vec::new();
        frame::encode(request, &mut bytes);
        self.stream.write_all(&bytes)?;
        let mut chunk = vec![0_u8; 1 << 16];
        loop {
            let decoded = frame::decode(&self.buffer, FRAME_BYTES_MAX)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))?;
            if let Some((command, used)) = decoded {
                self.buffer.drain(..used);
                if command.is_response() && command.opaque == request.opaque {
                    return Ok(command);
                }
                continue;
            }
            let read = self.stream.read(&mut chunk)?;
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection before answering",
                ));
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}

/// Send `request` to one server on a fresh connection; a non-SUCCESS answer becomes
/// [`AdminError::Refused`].
pub(crate) fn call(
    role: &'static str,
    address: &str,
    request: &RemotingCommand,
) -> Result<RemotingCommand, AdminError> {
    Session::open(role, address)?.call(request)
}

/// Send `request` to the first name server of `addresses` that answers.
pub(crate) fn call_namesrv(
    addresses: &[String],
    request: &RemotingCommand,
) -> Result<RemotingCommand, AdminError> {
    let mut last = AdminError::NoNameServer;
    for address in addresses {
        match call("name server", address, request) {
            Err(error @ AdminError::Unreachable { .. }) => last = error,
            other => return other,
        }
    }
    Err(last)
}

/// Send `request` to every name server; each must accept it.
pub(crate) fn call_every_namesrv(
    addresses: &[String],
    request: &RemotingCommand,
) -> Result<(), AdminError> {
    if addresses.is_empty() {
        return Err(AdminError::NoNameServer);
    }
    for address in addresses {
        call("name server", address, request)?;
    }
    Ok(())
}

/// Decode a JSON body, naming the server on failure.
pub(crate) fn decode<T: ringmq_protocol::body::JsonBody>(
    address: &str,
    response: &RemotingCommand,
) -> Result<T, AdminError> {
    T::decode(&response.body).map_err(|cause| AdminError::Body {
        address: address.to_owned(),
        cause,
    })
}
