//! ringmq broker.
#![forbid(unsafe_code)]

pub mod config;
