//! ringmq broker: a thread-per-core front end speaking RocketMQ's remoting protocol over the
//! ringmq storage engine. See docs/ARCHITECTURE.md.
#![forbid(unsafe_code)]

mod admin;
mod cli;
pub mod config;
mod connection;
mod context;
mod control;
mod error;
mod ha;
mod handlers;
mod host;
mod idle_poll;
mod log;
mod long_poll;
mod message;
mod persist;
mod pull_offsets;
mod registration;
mod relay;
mod remoting_client;
mod routing;
mod runtime;
mod schedule;
mod shard;

pub use cli::{run, serve};
pub use runtime::{start, BrokerHandle, StartError};
