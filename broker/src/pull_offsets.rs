//! How far each consumer group has pulled each queue (RocketMQ's `pullOffsetTable`): the
//! next offset of the group's latest pull of the queue, kept by the queue's owning shard.
//!
//! GET_CONSUME_STATS reports it as `pullOffset`, so tools show the messages a group pulled but
//! has not committed (`#Inflight` of consumerProgress). RocketMQ keeps it in memory only, and
//! so does ringmq: after a restart the figure starts again from the committed offset. At most
//! [`PULL_OFFSETS_MAX`] (group, topic, queue) entries are kept per shard; a pull of a new one
//! beyond that is not recorded, and its in-flight figure reads 0, as for a group that never
//! pulled.

use std::collections::HashMap;

/// Entries one shard records at most.
pub(crate) const PULL_OFFSETS_MAX: usize = 1 << 20;

/// topic → group → queue id → next offset. Nested so that recording a pull looks the strings
/// up by reference and allocates only for a new entry.
#[derive(Debug, Default)]
pub(crate) struct PullOffsets {
    topics: HashMap<String, HashMap<String, HashMap<u32, u64>>>,
    entries: usize,
}

impl PullOffsets {
    /// Record that `group`'s latest pull of the queue ends before `next`.
    pub(crate) fn record(&mut self, group: &str, topic: &str, queue_id: u32, next: u64) {
        if let Some(queues) = self
            .topics
            .get_mut(topic)
            .and_then(|groups| groups.get_mut(group))
        {
            if let Some(offset) = queues.get_mut(&queue_id) {
                *offset = next;
                return;
            }
        }
        if self.entries >= PULL_OFFSETS_MAX {
            return;
        }
        self.entries += 1;
        self.topics
            .entry(topic.to_owned())
            .or_default()
            .entry(group.to_owned())
            .or_default()
            .insert(queue_id, next);
    }

    /// The next offset of `group`'s latest pull of the queue, if one was recorded.
    pub(crate) fn get(&self, group: &str, topic: &str, queue_id: u32) -> Option<u64> {
        self.topics.get(topic)?.get(group)?.get(&queue_id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hazard: the in-flight figure is pulled − committed; recording only the first pull (or
    // mixing up groups or queues) shows a wrong backlog of pulled-but-uncommitted messages.
    #[test]
    fn the_latest_pull_of_each_group_and_queue_is_kept_apart() {
        let mut pulls = PullOffsets::default();
        pulls.record("G", "T", 0, 32);
        pulls.record("G", "T", 0, 64);
        pulls.record("G", "T", 1, 5);
        pulls.record("H", "T", 0, 7);
        assert_eq!(pulls.get("G", "T", 0), Some(64));
        assert_eq!(pulls.get("G", "T", 1), Some(5));
        assert_eq!(pulls.get("H", "T", 0), Some(7));
        assert_eq!(pulls.get("G", "U", 0), None);
        assert_eq!(pulls.entries, 3);
    }

    #[test]
    fn entries_are_bounded_but_known_ones_still_move() {
        let mut pulls = PullOffsets {
            entries: PULL_OFFSETS_MAX - 1,
            ..PullOffsets::default()
        };
        pulls.record("G", "T", 0, 1);
        pulls.record("G", "T", 1, 1);
        assert_eq!(pulls.get("G", "T", 1), None, "over the bound: not recorded");
        pulls.record("G", "T", 0, 9);
        assert_eq!(pulls.get("G", "T", 0), Some(9));
    }
}
