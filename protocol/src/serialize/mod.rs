//! The two header serialisations a frame can carry: JSON (type 0) and ROCKETMQ binary (type 1).
//!
//! Both turn a [`RemotingCommand`](crate::command::RemotingCommand)'s header fields into bytes
//! and back; the body never passes through here. Decoders take bytes from the network, so they
//! return [`HeaderDecodeError`] for anything malformed and never panic.

use std::fmt;

pub mod json;
pub mod rocketmq;

/// How much of a header to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderScope {
    /// Every field, extFields included.
    Full,
    /// Every field but extFields, which are checked only for framing (JSON: the value is
    /// skipped as an unknown key's value is; binary: its length is checked) and left empty.
    /// For a reader that needs only `code`, `opaque` and `remark`, such as a load generator
    /// counting send responses: the extFields are a third of a send response's decoding.
    WithoutExtFields,
}

/// Why a header could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderDecodeError {
    /// The JSON header is not a JSON object of the expected shape.
    Json { reason: String },
    /// A binary header ended inside `field`.
    Truncated {
        field: &'static str,
        needed: usize,
        available: usize,
    },
    /// A binary header announced a negative length for `field`.
    NegativeLength { field: &'static str, length: i64 },
    /// A string in a binary header is not UTF-8.
    NotUtf8 { field: &'static str },
    /// Bytes remain after the last field of a binary header.
    TrailingBytes { count: usize },
}

impl fmt::Display for HeaderDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json { reason } => write!(
                f,
                "JSON header is malformed ({reason}); expected an object like \
                 {{\"code\":105,\"extFields\":{{..}},\"flag\":0,\"opaque\":1,..}}"
            ),
            Self::Truncated {
                field,
                needed,
                available,
            } => write!(
                f,
                "binary header truncated in `{field}`: needs {needed} bytes, {available} left"
            ),
            Self::NegativeLength { field, length } => write!(
                f,
                "binary header gives `{field}` a negative length {length}; expected >= 0"
            ),
            Self::NotUtf8 { field } => {
                write!(f, "binary header `{field}` is not UTF-8")
            }
            Self::TrailingBytes { count } => write!(
                f,
                "binary header has {count} bytes after its ext fields; expected none"
            ),
        }
    }
}

impl std::error::Error for HeaderDecodeError {}
