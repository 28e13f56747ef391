//! Parked pulls: a PULL_MESSAGE that found nothing new waits here, keyed by its queue, until
//! a message is dispatched to that queue or its suspend timeout passes. A pull whose first
//! message is on disk waits here too, until a cold read settles. Sans-IO: the shard feeds
//! arrivals, settled reads and time in and re-runs what comes out.

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
    /// Times it has waited for a cold read (0 for a long poll).
    pub(crate) cold_waits: u8,
}

/// Parked pulls by (topic, queueId).
#[derive(Debug, Default)]
pub(crate) struct LongPolls {
    parked: HashMap<(String, u32), Vec<ParkedPull>, foldhash::fast::RandomState>,
    /// Pulls waiting for a cold read, oldest first; all re-run when any read settles.
    cold: Vec<ParkedPull>,
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

    /// Park a pull until a cold read settles or its deadline passes.
    pub(crate) fn park_cold(&mut self, pull: ParkedPull) {
        self.cold.push(pull);
        self.count += 1;
    }

    /// Every pull waiting for a cold read, oldest first.
    pub(crate) fn take_cold(&mut self, into: &mut Vec<ParkedPull>) {
        self.count -= self.cold.len();
        into.append(&mut self.cold);
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
        let mut removed = take_due(&mut self.cold, now, into);
        self.parked.retain(|_, waiting| {
            removed += take_due(waiting, now, into);
            !waiting.is_empty()
        });
        self.count -= removed;
    }

    /// Everything, at shutdown.
    pub(crate) fn take_all(&mut self, into: &mut Vec<ParkedPull>) {
        into.append(&mut self.cold);
        for (_, waiting) in self.parked.drain() {
            into.extend(waiting);
        }
        self.count = 0;
    }

    /// Forget pulls of a closed connection.
    pub(crate) fn remove_connection(&mut self, connection: ConnectionRef) {
        let before = self.cold.len();
        self.cold
            .retain(|pull| pull.origin.connection != connection);
        let mut removed = before - self.cold.len();
        self.parked.retain(|_, waiting| {
            let before = waiting.len();
            waiting.retain(|pull| pull.origin.connection != connection);
            removed += before - waiting.len();
            !waiting.is_empty()
        });
        self.count -= removed;
    }
}

/// Move the pulls of `waiting` whose deadline passed into `into`, keeping the order of
/// both; returns how many. Allocates only when one is due.
fn take_due(waiting: &mut Vec<ParkedPull>, now: Duration, into: &mut Vec<ParkedPull>) -> usize {
    let due = |pull: &ParkedPull| pull.deadline <= now;
    if !waiting.iter().any(due) {
        return 0;
    }
    let (expired, kept): (Vec<ParkedPull>, Vec<ParkedPull>) =
        std::mem::take(waiting).into_iter().partition(due);
    *waiting = kept;
    let count = expired.len();
    into.extend(expired);
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pull(connection: u64, deadline_ms: u64, cold_waits: u8) -> ParkedPull {
        ParkedPull {
            origin: Origin {
                connection: ConnectionRef {
                    shard: 0,
                    id: connection,
                },
                peer: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
            },
            request: RemotingCommand::request(11),
            offset: 0,
            deadline: Duration::from_millis(deadline_ms),
            cold_waits,
        }
    }

    #[test]
    fn pulls_waiting_for_a_cold_read_count_toward_the_cap_and_leave_every_way() {
        // Hazard: a cold-parked pull lost on one of the exits (settled read, deadline, closed
        // connection, shutdown) hangs its consumer; one counted twice or never uncounted
        // wrongly fills the cap, after which pulls stop parking.
        let mut polls = LongPolls::default();
        polls.park_cold(pull(1, 100, 1));
        polls.park_cold(pull(2, 300, 1));
        polls.park_cold(pull(3, 500, 2));
        polls.park("T", 0, pull(1, 1_000, 0));
        assert_eq!(polls.count, 4);

        let mut out = Vec::new();
        polls.take_expired(Duration::from_millis(200), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].origin.connection.id, 1);
        assert_eq!(polls.count, 3);

        polls.remove_connection(ConnectionRef { shard: 0, id: 2 });
        assert_eq!(polls.count, 2);

        out.clear();
        polls.take_cold(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].cold_waits, 2);
        assert_eq!(polls.count, 1);

        polls.park_cold(pull(4, 100, 1));
        out.clear();
        polls.take_all(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(polls.count, 0);
    }
}
