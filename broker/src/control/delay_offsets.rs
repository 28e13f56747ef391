//! Delivery progress of the delay levels, persisted as `config/delayOffset.json` in RocketMQ's
//! layout (`{"offsetTable":{"1":12,...}}`: level → next offset of queue `level-1` of
//! `SCHEDULE_TOPIC_XXXX` to deliver). The shards owning the levels report progress; this table
//! is written every `flushDelayOffsetInterval` when it changed, and at shutdown.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use ringmq_protocol::body::admin::DelayOffsetSerializeWrapper;
use ringmq_protocol::body::JsonBody;

use crate::persist;

/// The delay-offset table.
#[derive(Debug)]
pub(crate) struct DelayOffsetTable {
    path: PathBuf,
    table: BTreeMap<i32, i64>,
    dirty: bool,
}

impl DelayOffsetTable {
    pub(crate) fn load(path: PathBuf) -> io::Result<Self> {
        let table = persist::load_json::<DelayOffsetSerializeWrapper>(&path)?.offset_table;
        Ok(Self {
            path,
            table,
            dirty: false,
        })
    }

    pub(crate) fn all(&self) -> &BTreeMap<i32, i64> {
        &self.table
    }

    pub(crate) fn update(&mut self, level: i32, offset: u64) {
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        if self.table.insert(level, offset) != Some(offset) {
            self.dirty = true;
        }
    }

    pub(crate) fn wrapper(&self) -> DelayOffsetSerializeWrapper {
        DelayOffsetSerializeWrapper {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_survives_a_restart_in_rocketmq_layout() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("delayOffset.json");
        let mut table = DelayOffsetTable::load(path.clone()).unwrap();
        table.update(2, 7);
        table.persist_if_dirty().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"{"offsetTable":{"2":7}}"#
        );
        assert_eq!(DelayOffsetTable::load(path).unwrap().all()[&2], 7);
    }
}
