//! Parked pulls: a PULL_MESSAGE that found nothing new waits here, keyed by its queue, until
//! a message is dispatched to that queue or its suspend timeout passes. Sans-IO: the shard
//! feeds arrivals and time in and re-runs what comes out.

use std::collections::HashMap;
use std::time::Duration;

use ringmq_protocol::command::RemotingCommand;

use crate::message::{ConnectionRef, Origin};

/// Parked pulls per shard at most; beyond it a pull is answered at once (PULL_NOT_FOUND).
pub(crate) const PARKED_PULLS_MAX: usize = 65_536;

/// One parked pull.
#[derive(Debug)]
pub(crate) struct ParkedPull {
    pub(crate) origin: Origin,
    pub(crate) request: RemotingCommand,
    /// The queue offset it waits beyond.
    pub(crate) offset: u64,
    pub(crate) deadline: Duration,
}

/// Parked pulls by (topic, queueId).
#[derive(Debug, Default)]
pub(crate) struct LongPolls {
    parked: HashMap<(String, u32), Vec<ParkedPull>, foldhash::fast::RandomState>,
    count: usize,
}

impl LongPolls {
    pub(crate) fn is_full(&self) -> bool {
        self.count >= PARKED_PULLS_MAX
    }

    pub(crate) fn park(&mut self, topic: &str, queue_id: u32, pull: ParkedPull) {
        self.parked
            .entry((topic.to_owned(), queue_id))
            .or_default()
            .push(pull);
        self.count += 1;
    }

    /// Pulls of `topic`/`queue_id` that wait for an offset below `max_offset`.
    pub(crate) fn take_arrived(
        &mut self,
        topic: &str,
        queue_id: u32,
        max_offset: u64,
        into: &mut Vec<ParkedPull>,
    ) {
        // Called for every queue that received messages in a loop turn: with nothing parked
        // (a producer-only load) it returns before building the key.
        if self.count == 0 {
            return;
        }
        let key = (topic.to_owned(), queue_id);
        let Some(waiting) = self.parked.get_mut(&key) else {
            return;
        };
        let before = waiting.len();
        let mut index = 0;
        while index < waiting.len() {
            if waiting[index].offset < max_offset {
                into.push(waiting.swap_remove(index));
            } else {
                index += 1;
            }
        }
        self.count -= before - waiting.len();
        if waiting.is_empty() {
            self.parked.remove(&key);
        }
    }

    /// Pulls whose deadline passed.
    pub(crate) fn take_expired(&mut self, now: Duration, into: &mut Vec<ParkedPull>) {
        let mut removed = 0;
        self.parked.retain(|_, waiting| {
            let before = waiting.len();
            let mut index = 0;
            while index < waiting.len() {
                if waiting[index].deadline <= now {
                    into.push(waiting.swap_remove(index));
                } else {
                    index += 1;
                }
            }
            removed += before - waiting.len();
            !waiting.is_empty()
        });
        self.count -= removed;
    }

    /// Everything, at shutdown.
    pub(crate) fn take_all(&mut self, into: &mut Vec<ParkedPull>) {
        for (_, waiting) in self.parked.drain() {
            into.extend(waiting);
        }
        self.count = 0;
    }

    /// Forget pulls of a closed connection.
    pub(crate) fn remove_connection(&mut self, connection: ConnectionRef) {
        let mut removed = 0;
        self.parked.retain(|_, waiting| {
            let before = waiting.len();
            waiting.retain(|pull| pull.origin.connection != connection);
            removed += before - waiting.len();
            !waiting.is_empty()
        });
        self.count -= removed;
    }
}
