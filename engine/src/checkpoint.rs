//! The checkpoint file: how far each shard's consume queues and index are durable.
//!
//! ```text
//! @0    RocketMQ header (shard 0 writes it): physicMsgTimestamp i64 | logicsMsgTimestamp i64
//!       | indexMsgTimestamp i64 | masterFlushedOffset i64 | confirmPhyOffset i64
//! @512*(1+s)  slot of shard s, 64 bytes used of 512:
//!       magic u32 "RMQC" | version u16 (1) | shard u16 | shard_count u16 | reserved u16
//!       | commitlog_durable u64 | queues_dispatched u64 | index_dispatched u64
//!       | physic_timestamp i64 | logics_timestamp i64 | index_timestamp i64 | crc32 u32
//! ```
//! Offsets are local to the shard's commitlog. Each shard writes only its own slot, with one
//! pwrite inside one 512-byte sector followed by fdatasync, so shards never coordinate and a
//! torn slot fails its CRC and is treated as absent (recovery then scans the whole log).
//! Invariant: a slot is written only after the queues and index it vouches for were synced.

use std::io;
use std::path::Path;

use crate::io::{Create, FileHandle, OpenMode, Storage};
use crate::types::ShardId;

const SLOT_BYTES: u64 = 512;
const SLOT_USED_BYTES: usize = 68;
const MAGIC: u32 = 0x524D_5143;
const VERSION: u16 = 1;

/// What a shard's slot vouches for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardCheckpoint {
    pub shard_count: u16,
    pub commitlog_durable: u64,
    pub queues_dispatched: u64,
    pub index_dispatched: u64,
    pub physic_timestamp: i64,
    pub logics_timestamp: i64,
    pub index_timestamp: i64,
}

impl ShardCheckpoint {
    fn encode(&self, shard: ShardId) -> [u8; SLOT_USED_BYTES] {
        let mut bytes = [0u8; SLOT_USED_BYTES];
        bytes[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        bytes[4..6].copy_from_slice(&VERSION.to_be_bytes());
        bytes[6..8].copy_from_slice(&shard.0.to_be_bytes());
        bytes[8..10].copy_from_slice(&self.shard_count.to_be_bytes());
        bytes[12..20].copy_from_slice(&self.commitlog_durable.to_be_bytes());
        bytes[20..28].copy_from_slice(&self.queues_dispatched.to_be_bytes());
        bytes[28..36].copy_from_slice(&self.index_dispatched.to_be_bytes());
        bytes[36..44].copy_from_slice(&self.physic_timestamp.to_be_bytes());
        bytes[44..52].copy_from_slice(&self.logics_timestamp.to_be_bytes());
        bytes[52..60].copy_from_slice(&self.index_timestamp.to_be_bytes());
        let crc = crc32fast::hash(&bytes[..64]);
        bytes[64..68].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    fn decode(bytes: &[u8], shard: ShardId) -> Option<Self> {
        let u16_at = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]);
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8"));
        let i64_at = |at: usize| i64::from_be_bytes(bytes[at..at + 8].try_into().expect("8"));
        if bytes.len() < SLOT_USED_BYTES {
            return None;
        }
        let crc = u32::from_be_bytes(bytes[64..68].try_into().expect("4"));
        let magic = u32::from_be_bytes(bytes[0..4].try_into().expect("4"));
        if magic != MAGIC || crc != crc32fast::hash(&bytes[..64]) || u16_at(6) != shard.0 {
            return None;
        }
        Some(Self {
            shard_count: u16_at(8),
            commitlog_durable: u64_at(12),
            queues_dispatched: u64_at(20),
            index_dispatched: u64_at(28),
            physic_timestamp: i64_at(36),
            logics_timestamp: i64_at(44),
            index_timestamp: i64_at(52),
        })
    }
}

/// One shard's handle on the checkpoint file.
#[derive(Debug)]
pub struct Checkpoint {
    shard: ShardId,
    file: FileHandle,
}

impl Checkpoint {
    /// Open the file and read this shard's slot (`None` if absent or torn).
    pub(crate) fn open(
        storage: &mut dyn Storage,
        path: &Path,
        shard: ShardId,
    ) -> io::Result<(Self, Option<ShardCheckpoint>)> {
        let parent = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty());
        if let Some(parent) = parent {
            storage.create_directory_all(parent)?;
        }
        let created = !storage.exists(path);
        let file = storage.open(path, Create::Yes, OpenMode::Buffered)?;
        if let Some(parent) = parent.filter(|_| created) {
            // Without this the new name may vanish at a power loss, taking every slot
            // written into the file with it (recovery would then rescan the whole log).
            storage.sync_directory(parent)?;
        }
        let mut bytes = [0u8; SLOT_USED_BYTES];
        let read = storage.read_blocking(file, slot_offset(shard), &mut bytes)?;
        let slot = ShardCheckpoint::decode(&bytes[..read], shard);
        Ok((Self { shard, file }, slot))
    }

    /// Durably record `slot` (the caller has synced what it vouches for).
    pub(crate) fn write(
        &mut self,
        storage: &mut dyn Storage,
        slot: &ShardCheckpoint,
    ) -> io::Result<()> {
        let file = self.stage(storage, slot)?;
        storage.sync_blocking(file)
    }

    /// Write `slot` into the page cache; the caller fdatasyncs the returned file.
    pub(crate) fn stage(
        &mut self,
        storage: &mut dyn Storage,
        slot: &ShardCheckpoint,
    ) -> io::Result<FileHandle> {
        if self.shard.0 == 0 {
            let mut header = [0u8; 40];
            header[0..8].copy_from_slice(&slot.physic_timestamp.to_be_bytes());
            header[8..16].copy_from_slice(&slot.logics_timestamp.to_be_bytes());
            header[16..24].copy_from_slice(&slot.index_timestamp.to_be_bytes());
            let durable = i64::try_from(slot.commitlog_durable).unwrap_or(i64::MAX);
            header[24..32].copy_from_slice(&durable.to_be_bytes());
            header[32..40].copy_from_slice(&durable.to_be_bytes());
            storage.write_blocking(self.file, 0, &header)?;
        }
        storage.write_blocking(self.file, slot_offset(self.shard), &slot.encode(self.shard))?;
        Ok(self.file)
    }

    pub(crate) fn close(self, storage: &mut dyn Storage) -> io::Result<()> {
        storage.close(self.file)
    }
}

fn slot_offset(shard: ShardId) -> u64 {
    SLOT_BYTES * (1 + u64::from(shard.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_round_trips_and_a_torn_one_is_rejected() {
        let slot = ShardCheckpoint {
            shard_count: 2,
            commitlog_durable: 4096,
            queues_dispatched: 4000,
            index_dispatched: 3000,
            physic_timestamp: 1,
            logics_timestamp: 2,
            index_timestamp: 3,
        };
        let mut bytes = slot.encode(ShardId(1));
        assert_eq!(ShardCheckpoint::decode(&bytes, ShardId(1)), Some(slot));
        assert_eq!(
            ShardCheckpoint::decode(&bytes, ShardId(0)),
            None,
            "another shard's slot"
        );
        bytes[20] ^= 1;
        assert_eq!(
            ShardCheckpoint::decode(&bytes, ShardId(1)),
            None,
            "torn slot"
        );
    }
}
