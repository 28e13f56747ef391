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
        }
    }
}

impl std::error::Error for AdminError {}

/// Send `request` to `address` on a fresh connection and return its response, whatever its code.
fn exchange(address: &str, request: &RemotingCommand) -> io::Result<RemotingCommand> {
    let target = address.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    })?;
    let mut stream = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut bytes = Vec::new();
    frame::encode(request, &mut bytes);
    stream.write_all(&bytes)?;
    let mut buffer = Vec::new();
    let mut chunk = vec![0_u8; 1 << 16];
    loop {
        let decoded = frame::decode(&buffer, FRAME_BYTES_MAX)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))?;
        if let Some((command, used)) = decoded {
            buffer.drain(..used);
            if command.is_response() && command.opaque == request.opaque {
                return Ok(command);
            }
            continue;
        }
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before answering",
            ));
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// Send `request` to one server; a non-SUCCESS answer becomes [`AdminError::Refused`].
pub(crate) fn call(
    role: &'static str,
    address: &str,
    request: &RemotingCommand,
) -> Result<RemotingCommand, AdminError> {
    let response = exchange(address, request).map_err(|cause| AdminError::Unreachable {
        role,
        address: address.to_owned(),
        cause,
    })?;
    if response.code == response_code::SUCCESS {
        return Ok(response);
    }
    Err(AdminError::Refused {
        role,
        address: address.to_owned(),
        request: request_code::name(request.code).unwrap_or("request"),
        code: response.code,
        remark: response.remark.clone().unwrap_or_default(),
    })
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
