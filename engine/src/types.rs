//! Offsets, ids and sizes that cross module boundaries, as newtypes.
//!
//! A physical offset is unique across the whole store: the owning shard sits in the high bits,
//! the byte position inside that shard's commitlog in the low [`SHARD_SHIFT`] bits. Worked
//! example: shard 1, local byte 4096 → `(1 << 48) | 4096` = 281_474_976_714_752, and a segment
//! of shard 1 starting at local byte 0 is named `00281474976710656`. The encoded value stays
//! below `i64::MAX` (Java clients read it as a signed long) because shards are capped at
//! [`crate::constants::SHARDS_MAX`].

use std::fmt;

/// Bits of a physical offset that address bytes inside one shard's commitlog.
pub const SHARD_SHIFT: u32 = 48;
const LOCAL_MASK: u64 = (1 << SHARD_SHIFT) - 1;

/// The core-pinned engine shard that owns a commitlog and a set of queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(pub u16);

/// Absolute commitlog offset, unique across shards (see the module docs for the encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PhysicalOffset(pub u64);

impl PhysicalOffset {
    pub fn new(shard: ShardId, local: u64) -> Self {
        assert!(
            local <= LOCAL_MASK,
            "local offset {local} overflows the shard's address space"
        );
        Self((u64::from(shard.0) << SHARD_SHIFT) | local)
    }

    pub fn shard(self) -> ShardId {
        let shard = self.0 >> SHARD_SHIFT;
        ShardId(u16::try_from(shard).expect("a u64 shifted right by 48 fits in 16 bits"))
    }

    /// Byte position inside the owning shard's commitlog.
    pub fn local(self) -> u64 {
        self.0 & LOCAL_MASK
    }

    #[must_use]
    pub fn plus(self, bytes: u64) -> Self {
        let result = Self(self.0 + bytes);
        assert_eq!(
            result.shard(),
            self.shard(),
            "offset arithmetic crossed a shard boundary"
        );
        result
    }

    /// Java reads offsets as signed longs; shards are capped so this always fits.
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).expect("physical offsets stay below i64::MAX by the shard cap")
    }
}

impl fmt::Display for PhysicalOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Logical position of a message inside one consume queue (entry index, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct QueueOffset(pub u64);

impl fmt::Display for QueueOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Queue number within a topic, as RocketMQ clients send it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub u32);

/// Milliseconds since the Unix epoch, as RocketMQ stores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TimestampMs(pub u64);

impl TimestampMs {
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }
}

/// File name of a segment or queue file: the 20-digit zero-padded start offset.
pub fn offset_file_name(offset: u64) -> String {
    format!("{offset:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_and_local_round_trip_without_crossing_bits() {
        let offset = PhysicalOffset::new(ShardId(1), 4096);
        assert_eq!(offset.0, 281_474_976_714_752);
        assert_eq!(offset.shard(), ShardId(1));
        assert_eq!(offset.local(), 4096);
        assert_eq!(
            offset_file_name(PhysicalOffset::new(ShardId(1), 0).0),
            "00000281474976710656"
        );
    }

    #[test]
    #[should_panic(expected = "crossed a shard boundary")]
    fn offset_arithmetic_refuses_to_spill_into_the_next_shard() {
        let _ = PhysicalOffset::new(ShardId(0), LOCAL_MASK).plus(1);
    }
}
