//! Key index: find records by `KEYS` entries and `UNIQ_KEY` within a time range.
//!
//! Files use RocketMQ's index layout, so its tooling can read them:
//! ```text
//! header 40 B : beginTimestamp i64 | endTimestamp i64 | beginPhyOffset i64 | endPhyOffset i64
//!               | hashSlotCount i32 | indexCount i32
//! slots       : maxHashSlotNum × i32  — number of the newest entry in that slot (0 = empty)
//! entries     : maxIndexNum × 20 B    — keyHash i32 | phyOffset i64 | timeDiff i32 (s) | prev i32
//! ```
//! key = `topic#key`, keyHash = |Java hashCode| (0 when it is `i32::MIN`), slot = keyHash mod
//! slots. Entry numbers start at 1. The newest file keeps its slot table in memory; entries go
//! to the file as they are added and the slot table and header at a sync, entries first, so
//! after a crash the header's count never covers an entry that is not on disk. The newest
//! file's slot table is rebuilt from its counted entries when it is opened, and a header a
//! crash zeroed counts as an empty file (see `IndexFile::open`).

use std::io;
use std::path::{Path, PathBuf};

use ringmq_protocol::java::string_hash_of_parts;

use crate::io::{Create, FileHandle, OpenMode, Storage};
use crate::types::{PhysicalOffset, ShardId, TimestampMs};

const HEADER_BYTES: u64 = 40;
const SLOT_BYTES: u64 = 4;
const ENTRY_BYTES: u64 = 20;

/// Slot-table bytes written per dirty page at a sync.
const SLOT_PAGE_BYTES: usize = 4096;

/// Header of an index file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Header {
    begin_timestamp: i64,
    end_timestamp: i64,
    begin_offset: i64,
    end_offset: i64,
    slot_count: i32,
    entry_count: i32,
}

impl Header {
    fn encode(&self) -> [u8; 40] {
        let mut bytes = [0u8; 40];
        bytes[0..8].copy_from_slice(&self.begin_timestamp.to_be_bytes());
        bytes[8..16].copy_from_slice(&self.end_timestamp.to_be_bytes());
        bytes[16..24].copy_from_slice(&self.begin_offset.to_be_bytes());
        bytes[24..32].copy_from_slice(&self.end_offset.to_be_bytes());
        bytes[32..36].copy_from_slice(&self.slot_count.to_be_bytes());
        bytes[36..40].copy_from_slice(&self.entry_count.to_be_bytes());
        bytes
    }

    fn decode(bytes: &[u8; 40]) -> Self {
        let long = |at: usize| i64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let int = |at: usize| i32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        Self {
            begin_timestamp: long(0),
            end_timestamp: long(8),
            begin_offset: long(16),
            end_offset: long(24),
            slot_count: int(32),
            entry_count: int(36),
        }
    }
}

/// `|hashCode("topic#key")|` as RocketMQ computes it.
pub fn key_hash(topic: &str, key: &str) -> u32 {
    let hash = string_hash_of_parts(&[topic, "#", key]);
    hash.checked_abs().map_or(0, i32::unsigned_abs)
}

/// One index file.
#[derive(Debug)]
struct IndexFile {
    path: PathBuf,
    file: FileHandle,
    header: Header,
    slots: u32,
    entries_max: u32,
    /// The in-memory slot table (newest file only) and its dirty pages.
    table: Option<(Vec<u32>, Vec<bool>)>,
    /// Entries not yet made durable by a checkpoint, starting at entry `pending_first`. They
    /// stay in memory until a checkpoint's fdatasync of this file succeeds, so lookups never
    /// depend on pages an fdatasync error may have discarded.
    pending: Vec<u8>,
    pending_first: u32,
    /// Entries before this number have been written to the file.
    written_count: u32,
}

impl IndexFile {
    fn entries_offset(&self) -> u64 {
        HEADER_BYTES + u64::from(self.slots) * SLOT_BYTES
    }

    fn count(&self) -> u32 {
        u32::try_from(self.header.entry_count.max(1)).expect("positive")
    }

    fn is_full(&self) -> bool {
        self.count() >= self.entries_max
    }

    fn create(
        storage: &mut dyn Storage,
        path: &Path,
        slots: u32,
        entries_max: u32,
    ) -> io::Result<Self> {
        let file = storage.open(path, Create::Yes, OpenMode::Buffered)?;
        let size =
            HEADER_BYTES + u64::from(slots) * SLOT_BYTES + u64::from(entries_max) * ENTRY_BYTES;
        storage.truncate(file, size)?;
        let header = Header {
            slot_count: 0,
            entry_count: 1,
            ..Header::default()
        };
        storage.write_blocking(file, 0, &header.encode())?;
        let table = Some((
            vec![0u32; usize::try_from(slots).expect("fits")],
            vec![false; pages(slots)],
        ));
        Ok(Self {
            path: path.to_path_buf(),
            file,
            header,
            slots,
            entries_max,
            table,
            pending: Vec::new(),
            pending_first: 1,
            written_count: 1,
        })
    }

    fn open(
        storage: &mut dyn Storage,
        path: &Path,
        slots: u32,
        entries_max: u32,
        newest: bool,
    ) -> io::Result<Self> {
        let file = storage.open(path, Create::No, OpenMode::Buffered)?;
        let mut raw = [0u8; 40];
        storage.read_blocking(file, 0, &mut raw)?;
        let mut header = Header::decode(&raw);
        // A file created just before a power loss can come back empty or with a zeroed header
        // (its size and header are synced only by the next checkpoint or roll). Entry 0 is
        // never used, so the count is at least 1; taking 0 as it stood made the next entry
        // reuse number 1 without being counted, and every later slot chain pointed one entry
        // off. A count past the file's capacity is garbage and is cut to it.
        header.entry_count = header
            .entry_count
            .clamp(1, i32::try_from(entries_max).unwrap_or(i32::MAX));
        let count = u32::try_from(header.entry_count).unwrap_or(1);
        let mut index = Self {
            path: path.to_path_buf(),
            file,
            header,
            slots,
            entries_max,
            table: None,
            pending: Vec::new(),
            pending_first: count,
            written_count: count,
        };
        if newest {
            index.table = Some(index.rebuild_table(storage)?);
        }
        Ok(index)
    }

    /// The slot table of the entries on disk: each slot points at the newest entry whose hash
    /// falls in it. Rebuilding (instead of trusting slot pages) keeps lookups right after a
    /// crash that persisted slot pages and entries from different moments.
    fn rebuild_table(&self, storage: &mut dyn Storage) -> io::Result<(Vec<u32>, Vec<bool>)> {
        const ENTRIES_PER_READ: u32 = 64 * 1024;
        let mut table = vec![0u32; usize::try_from(self.slots).expect("fits")];
        let count = self.count();
        let mut number = 1;
        while number < count {
            let batch = (count - number).min(ENTRIES_PER_READ);
            let mut bytes = vec![0u8; usize::try_from(batch * 20).expect("fits")];
            let at = self.entries_offset() + u64::from(number) * ENTRY_BYTES;
            let read = storage.read_blocking(self.file, at, &mut bytes)?;
            for (position, raw) in bytes[..read - read % 20].chunks_exact(20).enumerate() {
                let hash = u32::from_be_bytes(raw[0..4].try_into().expect("4"));
                let slot = usize::try_from(hash % self.slots).expect("fits");
                table[slot] = number + u32::try_from(position).expect("fits");
            }
            number += batch;
        }
        Ok((table, vec![true; pages(self.slots)]))
    }

    fn add(&mut self, hash: u32, offset: PhysicalOffset, timestamp: TimestampMs) {
        let (table, dirty) = self
            .table
            .as_mut()
            .expect("entries are added to the newest file");
        let slot = usize::try_from(hash % self.slots).expect("fits");
        let number = u32::try_from(self.header.entry_count.max(1)).expect("positive");
        if number == 1 {
            self.header.begin_timestamp = timestamp.as_i64();
            self.header.begin_offset = offset.as_i64();
        }
        let seconds = (timestamp.as_i64() - self.header.begin_timestamp).max(0) / 1000;
        let previous = table[slot];
        table[slot] = number;
        dirty[slot * 4 / SLOT_PAGE_BYTES] = true;
        self.pending
            .extend_from_slice(&i32::try_from(hash).unwrap_or(0).to_be_bytes());
        self.pending
            .extend_from_slice(&offset.as_i64().to_be_bytes());
        self.pending
            .extend_from_slice(&i32::try_from(seconds).unwrap_or(i32::MAX).to_be_bytes());
        self.pending
            .extend_from_slice(&i32::try_from(previous).unwrap_or(0).to_be_bytes());
        self.header.entry_count += 1;
        self.header.end_timestamp = timestamp.as_i64();
        self.header.end_offset = offset.as_i64();
        if self.header.slot_count < i32::MAX && previous == 0 {
            self.header.slot_count += 1;
        }
    }

    fn write_entries(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        let count = self.count();
        if self.written_count >= count {
            return Ok(());
        }
        let from = usize::try_from((self.written_count - self.pending_first) * 20).expect("fits");
        let at = self.entries_offset() + u64::from(self.written_count) * ENTRY_BYTES;
        storage.write_blocking(self.file, at, &self.pending[from..])?;
        self.written_count = count;
        Ok(())
    }

    /// A checkpoint made entries below `count` durable: drop them from memory.
    fn synced(&mut self, count: u32) {
        if count <= self.pending_first {
            return;
        }
        let drop_bytes = usize::try_from((count - self.pending_first) * 20)
            .expect("fits")
            .min(self.pending.len());
        self.pending.drain(..drop_bytes);
        self.pending_first = count;
    }

    /// Phase one of a checkpoint: entries into the page cache (the caller fdatasyncs them).
    fn stage_entries(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        self.write_entries(storage)
    }

    /// Phase two, after the entries are durable: the header with the entry count phase one
    /// covered, so the count on disk never exceeds the entries on disk. Slot pages are not
    /// written here: the newest file's slot table is rebuilt from its entries when opened.
    fn stage_header(&mut self, storage: &mut dyn Storage, count: u32) -> io::Result<()> {
        let mut header = self.header;
        header.entry_count = i32::try_from(count)
            .unwrap_or(i32::MAX)
            .min(self.header.entry_count);
        storage.write_blocking(self.file, 0, &header.encode())
    }

    fn write_slots(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        if let Some((table, dirty)) = self.table.as_mut() {
            for (page, flag) in dirty.iter_mut().enumerate().filter(|(_, flag)| **flag) {
                let first = page * SLOT_PAGE_BYTES / 4;
                let last = (first + SLOT_PAGE_BYTES / 4).min(table.len());
                let bytes: Vec<u8> = table[first..last]
                    .iter()
                    .flat_map(|slot| slot.to_be_bytes())
                    .collect();
                let at = HEADER_BYTES + u64::try_from(first).expect("fits") * SLOT_BYTES;
                storage.write_blocking(self.file, at, &bytes)?;
                *flag = false;
            }
        }
        Ok(())
    }

    /// Entries, then dirty slot pages, fdatasync, then the header, fdatasync.
    fn sync(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        self.write_entries(storage)?;
        self.write_slots(storage)?;
        storage.sync_blocking(self.file)?;
        storage.write_blocking(self.file, 0, &self.header.encode())?;
        storage.sync_blocking(self.file)?;
        self.synced(self.count());
        Ok(())
    }

    fn slot_head(&mut self, storage: &mut dyn Storage, slot: u32) -> io::Result<u32> {
        if let Some((table, _)) = &self.table {
            return Ok(table[usize::try_from(slot).expect("fits")]);
        }
        let mut raw = [0u8; 4];
        storage.read_blocking(
            self.file,
            HEADER_BYTES + u64::from(slot) * SLOT_BYTES,
            &mut raw,
        )?;
        Ok(u32::from_be_bytes(raw))
    }

    /// (hash, offset, timeDiff seconds, previous) of entry `number`.
    fn entry(
        &mut self,
        storage: &mut dyn Storage,
        number: u32,
    ) -> io::Result<(u32, i64, i64, u32)> {
        let mut raw = [0u8; 20];
        if number >= self.pending_first && number < self.count() {
            let at = usize::try_from((number - self.pending_first) * 20).expect("fits");
            raw.copy_from_slice(&self.pending[at..at + 20]);
        } else {
            storage.read_blocking(
                self.file,
                self.entries_offset() + u64::from(number) * ENTRY_BYTES,
                &mut raw,
            )?;
        }
        let hash = u32::from_be_bytes(raw[0..4].try_into().expect("4"));
        let offset = i64::from_be_bytes(raw[4..12].try_into().expect("8"));
        let seconds = i64::from(i32::from_be_bytes(raw[12..16].try_into().expect("4")));
        let previous = u32::from_be_bytes(raw[16..20].try_into().expect("4"));
        Ok((hash, offset, seconds, previous))
    }

    fn lookup(
        &mut self,
        storage: &mut dyn Storage,
        hash: u32,
        range: (i64, i64),
        max: usize,
        accept: &dyn Fn(PhysicalOffset) -> bool,
        found: &mut Vec<PhysicalOffset>,
    ) -> io::Result<()> {
        let count = self.count();
        let mut number = self.slot_head(storage, hash % self.slots)?;
        let mut steps = 0u32;
        while number > 0 && number < count && found.len() < max && steps < count {
            let (entry_hash, offset, seconds, previous) = self.entry(storage, number)?;
            let timestamp = self.header.begin_timestamp + seconds * 1000;
            if timestamp < range.0 {
                break;
            }
            if entry_hash == hash && timestamp <= range.1 {
                // Recovery may index a record twice; only distinct, acceptable offsets count.
                if let Some(offset) = u64::try_from(offset).ok().map(PhysicalOffset) {
                    if accept(offset) && !found.contains(&offset) {
                        found.push(offset);
                    }
                }
            }
            if previous >= number {
                break;
            }
            number = previous;
            steps += 1;
        }
        Ok(())
    }
}

fn pages(slots: u32) -> usize {
    usize::try_from(u64::from(slots) * SLOT_BYTES)
        .expect("fits")
        .div_ceil(SLOT_PAGE_BYTES)
}

/// A lookup by key: `topic#key` stored within `[begin, end]`, at most `max` records.
#[derive(Clone, Copy, Debug)]
pub struct KeyQuery<'a> {
    pub topic: &'a str,
    pub key: &'a str,
    pub begin: TimestampMs,
    pub end: TimestampMs,
    pub max: usize,
}

/// The index files of one shard, oldest first.
#[derive(Debug)]
pub struct Index {
    directory: PathBuf,
    shard: ShardId,
    slots: u32,
    entries_max: u32,
    files: Vec<IndexFile>,
}

impl Index {
    pub(crate) fn open(
        storage: &mut dyn Storage,
        directory: &Path,
        shard: ShardId,
        slots: u32,
        entries_max: u32,
    ) -> io::Result<Self> {
        storage.create_directory_all(directory)?;
        let mut names: Vec<String> = storage
            .list_directory(directory)?
            .into_iter()
            .filter(|name| owner_of(name) == Some(shard))
            .collect();
        names.sort();
        let mut files = Vec::with_capacity(names.len());
        let newest = names.len().saturating_sub(1);
        for (position, name) in names.iter().enumerate() {
            files.push(IndexFile::open(
                storage,
                &directory.join(name),
                slots,
                entries_max,
                position == newest,
            )?);
        }
        Ok(Self {
            directory: directory.to_path_buf(),
            shard,
            slots,
            entries_max,
            files,
        })
    }

    /// Index `key` of a record stored at `offset` at `timestamp`.
    pub(crate) fn add(
        &mut self,
        storage: &mut dyn Storage,
        topic: &str,
        key: &str,
        offset: PhysicalOffset,
        timestamp: TimestampMs,
    ) -> io::Result<()> {
        if self.files.last().is_none_or(IndexFile::is_full) {
            self.roll(storage, timestamp)?;
        }
        let file = self.files.last_mut().expect("rolled above");
        file.add(key_hash(topic, key), offset, timestamp);
        Ok(())
    }

    fn roll(&mut self, storage: &mut dyn Storage, timestamp: TimestampMs) -> io::Result<()> {
        if let Some(last) = self.files.last_mut() {
            last.sync(storage)?;
            last.table = None;
        }
        // Names must sort in creation order (the newest file is the last one): records
        // re-dispatched after a crash carry older timestamps than files already created.
        let stamp = file_name(timestamp, ShardId(0));
        let newest = self
            .files
            .last()
            .and_then(|file| file.path.file_name())
            .map(|name| {
                let name = name.to_string_lossy();
                name.split_once("-shard")
                    .map_or(name.to_string(), |(stamp, _)| stamp.to_owned())
            });
        let stamp = match newest.and_then(|newest| newest.parse::<u64>().ok()) {
            Some(newest)
                if stamp
                    .parse::<u64>()
                    .is_ok_and(|candidate| candidate <= newest) =>
            {
                format!("{:017}", newest + 1)
            }
            _ => stamp,
        };
        let name = if self.shard.0 == 0 {
            stamp
        } else {
            format!("{stamp}-shard{}", self.shard.0)
        };
        let path = self.directory.join(name);
        self.files.push(IndexFile::create(
            storage,
            &path,
            self.slots,
            self.entries_max,
        )?);
        storage.sync_directory(&self.directory)
    }

    /// Entries added to the newest file but not yet written (lookups read them from memory).
    pub(crate) fn unwritten(&self) -> u32 {
        self.files
            .last()
            .map_or(0, |file| file.count().saturating_sub(file.written_count))
    }

    /// Write new entries to the file (page cache).
    pub(crate) fn write_out(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        match self.files.last_mut() {
            Some(file) => file.write_entries(storage),
            None => Ok(()),
        }
    }

    /// Checkpoint phase one: write new entries and return the file to fdatasync and the
    /// entry count that sync will cover.
    pub(crate) fn stage_entries(
        &mut self,
        storage: &mut dyn Storage,
    ) -> io::Result<Option<(crate::io::FileHandle, u32)>> {
        match self.files.last_mut() {
            Some(file) => {
                file.stage_entries(storage)?;
                Ok(Some((file.file, file.count())))
            }
            None => Ok(None),
        }
    }

    /// Checkpoint phase two, once phase one's fdatasync succeeded: the header of `file` with
    /// the `count` phase one covered (if `file` is still the newest); returns the file to
    /// fdatasync.
    pub(crate) fn stage_header(
        &mut self,
        storage: &mut dyn Storage,
        file: crate::io::FileHandle,
        count: u32,
    ) -> io::Result<Option<crate::io::FileHandle>> {
        match self.files.last_mut().filter(|newest| newest.file == file) {
            Some(newest) => {
                newest.stage_header(storage, count)?;
                Ok(Some(newest.file))
            }
            None => Ok(None),
        }
    }

    /// The checkpoint's fdatasync of `file` succeeded: entries below `count` are durable.
    pub(crate) fn synced(&mut self, file: crate::io::FileHandle, count: u32) {
        if let Some(newest) = self.files.last_mut().filter(|newest| newest.file == file) {
            newest.synced(count);
        }
    }

    /// Make everything added so far durable.
    pub(crate) fn sync(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        match self.files.last_mut() {
            Some(file) => file.sync(storage),
            None => Ok(()),
        }
    }

    /// Physical offsets of records indexed under `topic#key` stored within `[begin, end]` ms,
    /// newest first, at most `max`. Hash collisions are possible: callers re-check the key.
    pub fn lookup(
        &mut self,
        storage: &mut dyn Storage,
        query: &KeyQuery<'_>,
        accept: &dyn Fn(PhysicalOffset) -> bool,
    ) -> io::Result<Vec<PhysicalOffset>> {
        let hash = key_hash(query.topic, query.key);
        let range = (query.begin.as_i64(), query.end.as_i64());
        let max = query.max;
        let mut found = Vec::new();
        for file in self.files.iter_mut().rev() {
            if found.len() >= max {
                break;
            }
            if file.header.end_timestamp < range.0
                || file.header.begin_timestamp > range.1 && file.header.begin_timestamp != 0
            {
                continue;
            }
            file.lookup(storage, hash, range, max, accept, &mut found)?;
        }
        Ok(found)
    }

    /// Phys offset of the last indexed record and the newest file's end timestamp.
    pub fn last_update(&self) -> (TimestampMs, PhysicalOffset) {
        self.files
            .last()
            .map_or((TimestampMs(0), PhysicalOffset(0)), |file| {
                (
                    TimestampMs(u64::try_from(file.header.end_timestamp).unwrap_or(0)),
                    PhysicalOffset(u64::try_from(file.header.end_offset).unwrap_or(0)),
                )
            })
    }

    /// Remove whole files whose newest entry points below `commitlog_min` (retention).
    pub(crate) fn remove_files_below(
        &mut self,
        storage: &mut dyn Storage,
        commitlog_min: PhysicalOffset,
    ) -> io::Result<usize> {
        let mut removed = 0;
        while self.files.len() > 1 && self.files[0].header.end_offset < commitlog_min.as_i64() {
            let file = self.files.remove(0);
            storage.close(file.file)?;
            storage.remove_file(&file.path)?;
            removed += 1;
        }
        if removed > 0 {
            // Without it a power loss can bring the unlinked files back.
            storage.sync_directory(&self.directory)?;
        }
        Ok(removed)
    }

    /// Forget entries past the newest file's last synced header (recovery re-adds them).
    pub(crate) fn close(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        self.sync(storage)?;
        for file in self.files.drain(..) {
            storage.close(file.file)?;
        }
        Ok(())
    }
}

/// `yyyyMMddHHmmssSSS` in UTC, with `-shard<N>` for shards other than 0.
fn file_name(timestamp: TimestampMs, shard: ShardId) -> String {
    let millis = timestamp.0 % 1000;
    let seconds_total = timestamp.0 / 1000;
    let (days, seconds) = (seconds_total / 86_400, seconds_total % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    let base = format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}{millis:03}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    );
    if shard.0 == 0 {
        base
    } else {
        format!("{base}-shard{}", shard.0)
    }
}

/// Which shard owns an index file name.
fn owner_of(name: &str) -> Option<ShardId> {
    let (stamp, shard) = match name.split_once("-shard") {
        Some((stamp, shard)) => (stamp, shard.parse().ok()?),
        None => (name, 0),
    };
    let digits = stamp.trim_end_matches('0');
    (stamp.len() >= 17 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(ShardId(shard))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).expect("1..=31");
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).expect("1..=12");
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_rocketmq_and_carry_the_shard() {
        assert_eq!(file_name(TimestampMs(0), ShardId(0)), "19700101000000000");
        assert_eq!(
            file_name(TimestampMs(1_700_000_000_123), ShardId(0)),
            "20231114221320123"
        );
        assert_eq!(
            file_name(TimestampMs(1_700_000_000_123), ShardId(2)),
            "20231114221320123-shard2"
        );
        assert_eq!(owner_of("20231114221320123"), Some(ShardId(0)));
        assert_eq!(owner_of("20231114221320123-shard2"), Some(ShardId(2)));
        assert_eq!(owner_of("checkpoint"), None);
    }

    #[test]
    fn key_hash_is_the_absolute_java_hash() {
        assert_eq!(
            key_hash("T", "k"),
            ringmq_protocol::java::string_hash("T#k").unsigned_abs()
        );
    }
}
