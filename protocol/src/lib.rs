//! The RocketMQ remoting protocol, as bytes in and typed values out. No I/O.
//!
//! - [`command`]: a remoting command (header fields plus body).
//! - [`ext`]: a command's extFields, sorted, with known keys interned and short values inline.
//! - [`frame`]: length-prefixed frames carrying a command; encode and incremental decode.
//! - [`request_code`], [`response_code`]: the code constants.
//! - [`header`]: typed custom headers (extFields) for every code ringmq handles.
//! - [`batch`]: the SEND_BATCH_MESSAGE body of client-encoded messages.
//! - [`body`]: JSON bodies (routes, heartbeats, registration, groups, offsets) with serde.
//! - [`fuzz`]: one entry point per decoder, shared by cargo-fuzz and the corpus replay test.
//! - [`serialize`]: the JSON and ROCKETMQ binary header encodings.
//! - [`record`]: the stored message record shipped unchanged by pulls and replication.
//! - [`properties`]: the `key\x01value\x02` message property string.
//! - [`java`]: Java `String.hashCode`, used for tag hashes and the index.
//! - [`mq_version`]: names of `MQVersion` ordinals that clients send as their version.

#![forbid(unsafe_code)]

pub mod batch;
pub mod body;
mod code_table;
pub mod command;
pub mod ext;
pub mod frame;
pub mod fuzz;
pub mod ha;
pub mod header;
pub mod java;
pub mod mq_version;
pub mod properties;
pub mod read_buffer;
pub mod record;
pub mod request_code;
pub mod response_code;
pub mod samples;
pub mod serialize;
