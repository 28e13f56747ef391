//! Committed consumer offsets, `topic@group` → queue → next offset to consume, persisted as
//! `config/consumerOffset.json` in RocketMQ's layout every `flushConsumerOffsetInterval`.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use ringmq_protocol::body::consumer::ConsumerOffsetSerializeWrapper;
use ringmq_protocol::body::JsonBody;

use crate::persist;

/// The offset table.
#[derive(Debug)]
pub(crate) struct OffsetTable {
    path: PathBuf,
    table: BTreeMap<String, BTreeMap<i32, i64>>,
    dirty: bool,
}

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

impl OffsetTable {
    pub(crate) fn load(path: PathBuf) -> io::Result<Self> {
        let table = persist::load_json::<ConsumerOffsetSerializeWrapper>(&path)?.offset_table;
        Ok(Self {
            path,
            table,
            dirty: false,
        })
    }

    pub(crate) fn query(&self, topic: &str, group: &str, queue_id: i32) -> Option<i64> {
        self.table
            .get(&key(topic, group))
            .and_then(|queues| queues.get(&queue_id))
            .copied()
    }

    /// Record `offset`; negative offsets (a known ali-ons bug sends −1) are ignored.
    pub(crate) fn commit(&mut self, topic: &str, group: &str, queue_id: i32, offset: i64) {
        if offset < 0 {
            return;
        }
        let queues = self.table.entry(key(topic, group)).or_default();
        if queues.insert(queue_id, offset) != Some(offset) {
            self.dirty = true;
        }
    }

    pub(crate) fn remove_group(&mut self, group: &str) {
        let suffix = format!("@{group}");
        self.table.retain(|name, _| !name.ends_with(&suffix));
        self.dirty = true;
    }

    pub(crate) fn remove_topic(&mut self, topic: &str) {
        let prefix = format!("{topic}@");
        self.table.retain(|name, _| !name.starts_with(&prefix));
        self.dirty = true;
    }

    /// Topics with offsets for `group`.
    pub(crate) fn topics_of_group(&self, group: &str) -> Vec<String> {
        let suffix = format!("@{group}");
        self.table
            .keys()
            .filter_map(|name| name.strip_suffix(&suffix).map(str::to_owned))
            .collect()
    }

    /// Per group, the sum of its committed offsets (how far it consumed, for its TPS).
    pub(crate) fn group_totals(&self) -> BTreeMap<String, i64> {
        let mut totals = BTreeMap::new();
        for (name, queues) in &self.table {
            if let Some((_, group)) = name.rsplit_once('@') {
                let sum: i64 = queues.values().copied().sum();
                *totals.entry(group.to_owned()).or_insert(0) += sum;
            }
        }
        totals
    }

    /// Merge the master's offsets into this slave's table; the master's value wins.
    pub(crate) fn merge_from_master(&mut self, master: ConsumerOffsetSerializeWrapper) {
        for (name, queues) in master.offset_table {
            let ours = self.table.entry(name).or_default();
            for (queue, offset) in queues {
                if ours.insert(queue, offset) != Some(offset) {
                    self.dirty = true;
                }
            }
        }
    }

    pub(crate) fn wrapper(&self) -> ConsumerOffsetSerializeWrapper {
        ConsumerOffsetSerializeWrapper {
            data_version: None,
            offset_table: self.table.clone(),
        }
    }

    /// Write the table if it changed since the last write.
    pub(crate) fn persist_if_dirty(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        persist::write_atomic(&self.path, &self.wrapper().encode())?;
        self.dirty = false;
        Ok(())
    }
}
