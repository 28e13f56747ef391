//! Master/slave replication over RocketMQ's classic HA stream (see `ringmq_protocol::ha` and
//! docs/internals/replication.md).
//!
//! Replication is per shard: shard k of a slave replicates shard k of its master over its
//! own connection, so each log has one writer on each side and the thread-per-core design
//! holds on both. A master and its slaves therefore run the same `shards` count and
//! `mappedFileSizeCommitLog`.

pub(crate) mod master;
pub(crate) mod slave;
