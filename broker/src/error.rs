//! The one place where handler failures become RocketMQ response codes and remarks.

use std::fmt;

use ringmq_engine::error::{AppendError, ReadError};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::HeaderError;
use ringmq_protocol::response_code as code;

use crate::message::Response;

/// RocketMQ's remark for flow control, which Java clients recognise.
pub(crate) const SYSTEM_BUSY_REMARK: &str =
    "[REJECTREQUEST]system busy, start flow control for a while";

/// Why a request failed, in terms that map onto one response code.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum HandlerError {
    /// A required header field is missing or malformed.
    Header(HeaderError),
    /// The message or request violates a rule (MESSAGE_ILLEGAL).
    MessageIllegal(String),
    InvalidParameter(String),
    NoPermission(String),
    TopicNotExist(String),
    SubscriptionGroupNotExist(String),
    /// Overload: the client should back off.
    Busy,
    /// The store refuses writes (read-only latch, full disk, slave).
    ServiceNotAvailable(String),
    System(String),
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(error) => write!(f, "{error}"),
            Self::Busy => write!(
                f,
                "{SYSTEM_BUSY_REMARK} (commitlog staging buffers are full)"
            ),
            Self::MessageIllegal(text)
            | Self::InvalidParameter(text)
            | Self::NoPermission(text)
            | Self::TopicNotExist(text)
            | Self::SubscriptionGroupNotExist(text)
            | Self::ServiceNotAvailable(text)
            | Self::System(text) => f.write_str(text),
        }
    }
}

impl HandlerError {
    pub(crate) fn code(&self) -> i32 {
        match self {
            Self::Header(_) | Self::System(_) => code::SYSTEM_ERROR,
            Self::MessageIllegal(_) => code::MESSAGE_ILLEGAL,
            Self::InvalidParameter(_) => code::INVALID_PARAMETER,
            Self::NoPermission(_) => code::NO_PERMISSION,
            Self::TopicNotExist(_) => code::TOPIC_NOT_EXIST,
            Self::SubscriptionGroupNotExist(_) => code::SUBSCRIPTION_GROUP_NOT_EXIST,
            Self::Busy => code::SYSTEM_BUSY,
            Self::ServiceNotAvailable(_) => code::SERVICE_NOT_AVAILABLE,
        }
    }

    pub(crate) fn into_response(self, request: &RemotingCommand) -> Response {
        response(request, self.code(), Some(self.to_string()))
    }
}

impl From<HeaderError> for HandlerError {
    fn from(error: HeaderError) -> Self {
        Self::Header(error)
    }
}

impl From<AppendError> for HandlerError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Busy => Self::Busy,
            AppendError::TooLarge { .. } | AppendError::Malformed(_) => {
                Self::MessageIllegal(error.to_string())
            }
            other => Self::ServiceNotAvailable(other.to_string()),
        }
    }
}

impl From<ReadError> for HandlerError {
    fn from(error: ReadError) -> Self {
        Self::System(error.to_string())
    }
}

/// A response to `request` with `code` and `remark` (ext fields empty but present).
pub(crate) fn response(request: &RemotingCommand, code: i32, remark: Option<String>) -> Response {
    Response::new(RemotingCommand::response_to(request, code, remark))
}

pub(crate) fn success(request: &RemotingCommand) -> Response {
    response(request, code::SUCCESS, None)
}

pub(crate) fn system_busy(request: &RemotingCommand) -> Response {
    response(
        request,
        code::SYSTEM_BUSY,
        Some(SYSTEM_BUSY_REMARK.to_owned()),
    )
}

pub(crate) fn not_supported(request: &RemotingCommand) -> Response {
    let remark = format!(" request type {} not supported", request.code);
    response(request, code::REQUEST_CODE_NOT_SUPPORTED, Some(remark))
}
