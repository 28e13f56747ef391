//! One consume queue per (topic, queueId): fixed 20-byte entries pointing into the commitlog.
//!
//! ```text
//! entry n at byte n*20 of the queue:  commitLogOffset i64 | size i32 | tagsCode i64
//! file k holds entries [k*E, (k+1)*E) and is named by its first byte, 20-digit padded,
//! where E = mappedFileSizeConsumeQueue / 20 (default 300,000 entries, 6,000,000 bytes)
//! ```
//! Entries are built by dispatch from the commitlog, so a queue is never ahead of the log.
//! Files are written through the page cache and fdatasynced at checkpoints; after a crash the
//! queue is cut back to the checkpointed dispatch offset and re-dispatched from the log.
//! Recent entries are also kept in memory so tailing consumers read without a syscall.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};

use crate::constants::CONSUME_QUEUE_ENTRY_BYTES;
use crate::io::{Create, FileHandle, OpenMode, Storage};
use crate::types::{offset_file_name, PhysicalOffset, QueueOffset};

const ENTRY_BYTES: usize = 20;
/// Entries kept in memory per queue for tailing readers.
const MEMORY_ENTRIES_MAX: usize = 4096;

/// One consume-queue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueEntry {
    pub offset: PhysicalOffset,
    pub size: u32,
    pub tags_code: i64,
}

impl QueueEntry {
    fn encode(&self, target: &mut [u8]) {
        target[..8].copy_from_slice(&self.offset.as_i64().to_be_bytes());
        let size = i32::try_from(self.size).unwrap_or(i32::MAX);
        target[8..12].copy_from_slice(&size.to_be_bytes());
        target[12..20].copy_from_slice(&self.tags_code.to_be_bytes());
    }

    /// `None` for a blank or invalid entry (RocketMQ: offset >= 0 and size > 0).
    fn decode(source: &[u8]) -> Option<Self> {
        let offset = i64::from_be_bytes(source[..8].try_into().ok()?);
        let size = i32::from_be_bytes(source[8..12].try_into().ok()?);
        let tags_code = i64::from_be_bytes(source[12..20].try_into().ok()?);
        if offset < 0 || size <= 0 || size == i32::MAX {
            return None;
        }
        Some(Self {
            offset: PhysicalOffset(u64::try_from(offset).ok()?),
            size: u32::try_from(size).ok()?,
            tags_code,
        })
    }
}

/// One queue's files and in-memory tail.
#[derive(Debug)]
pub struct ConsumeQueue {
    directory: PathBuf,
    entries_per_file: u64,
    files: BTreeMap<u64, FileHandle>,
    min: u64,
    max: u64,
    /// Entries `[max - memory.len(), max)`.
    memory: VecDeque<QueueEntry>,
    /// Entries not yet written to their file start at this index.
    unwritten_from: u64,
    /// Files written since their last fdatasync.
    dirty_files: Vec<FileHandle>,
}

impl ConsumeQueue {
    /// Open (or start) the queue stored in `directory`.
    pub(crate) fn open(
        storage: &mut dyn Storage,
        directory: &Path,
        file_bytes: u64,
    ) -> io::Result<Self> {
        let entries_per_file = file_bytes / CONSUME_QUEUE_ENTRY_BYTES;
        let mut queue = Self {
            directory: directory.to_path_buf(),
            entries_per_file,
            files: BTreeMap::new(),
            min: 0,
            max: 0,
            memory: VecDeque::new(),
            unwritten_from: 0,
            dirty_files: Vec::new(),
        };
        for name in storage.list_directory(directory)? {
            let Some(first_byte) = parse_name(&name) else {
                continue;
            };
            if first_byte % file_bytes != 0 {
                continue;
            }
            let file = storage.open(&directory.join(&name), Create::No, OpenMode::Buffered)?;
            queue
                .files
                .insert(first_byte / CONSUME_QUEUE_ENTRY_BYTES, file);
        }
        queue.load_bounds(storage)?;
        Ok(queue)
    }

    /// Find the valid entries: from the first file's first valid entry to the last valid one.
    fn load_bounds(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        let Some((&last_first, &last_file)) = self.files.iter().next_back() else {
            return Ok(());
        };
        let size = storage.file_size(last_file)?;
        let mut count = (size / CONSUME_QUEUE_ENTRY_BYTES).min(self.entries_per_file);
        // Trailing blank or torn entries (a crash mid-write) are not part of the queue.
        while count > 0 && self.entry_at(storage, last_first + count - 1)?.is_none() {
            count -= 1;
        }
        self.max = last_first + count;
        let (&first_first, _) = self.files.iter().next().expect("not empty");
        self.min = first_first;
        while self.min < self.max && self.entry_at(storage, self.min)?.is_none() {
            self.min += 1;
        }
        self.unwritten_from = self.max;
        Ok(())
    }

    pub fn min_offset(&self) -> QueueOffset {
        QueueOffset(self.min)
    }

    /// Next queue offset to be written (number of entries ever written).
    pub fn max_offset(&self) -> QueueOffset {
        QueueOffset(self.max)
    }

    /// Add the entry for queue offset `queue_offset`, which must be the next one.
    pub(crate) fn push(&mut self, queue_offset: u64, entry: QueueEntry) {
        if self.max == 0 && self.files.is_empty() && queue_offset > 0 {
            // The queue restarts after its files were removed: continue at the same offsets.
            self.min = queue_offset;
            self.max = queue_offset;
            self.unwritten_from = queue_offset;
        }
        assert_eq!(
            queue_offset, self.max,
            "consume queue entries are added in order"
        );
        self.memory.push_back(entry);
        self.max += 1;
        while self.memory.len() > MEMORY_ENTRIES_MAX
            && self.max - u64::try_from(self.memory.len()).unwrap_or(0) < self.unwritten_from
        {
            self.memory.pop_front();
        }
    }

    fn memory_first(&self) -> u64 {
        self.max - u64::try_from(self.memory.len()).expect("bounded")
    }

    /// Entry at queue offset `index`, from memory or its file.
    pub(crate) fn entry_at(
        &mut self,
        storage: &mut dyn Storage,
        index: u64,
    ) -> io::Result<Option<QueueEntry>> {
        if index >= self.memory_first() && index < self.max {
            let position = usize::try_from(index - self.memory_first()).expect("bounded");
            return Ok(self.memory.get(position).copied());
        }
        let first = index - index % self.entries_per_file;
        let Some(&file) = self.files.get(&first) else {
            return Ok(None);
        };
        let mut bytes = [0u8; ENTRY_BYTES];
        let read = storage.read_blocking(
            file,
            (index - first) * CONSUME_QUEUE_ENTRY_BYTES,
            &mut bytes,
        )?;
        if read < ENTRY_BYTES {
            return Ok(None);
        }
        Ok(QueueEntry::decode(&bytes))
    }

    /// Up to `count` consecutive entries starting at `from` (fewer at the end of the queue).
    pub(crate) fn entries(
        &mut self,
        storage: &mut dyn Storage,
        from: u64,
        count: usize,
    ) -> io::Result<Vec<(u64, QueueEntry)>> {
        let end = self
            .max
            .min(from.saturating_add(u64::try_from(count).unwrap_or(u64::MAX)));
        let mut found = Vec::with_capacity(usize::try_from(end.saturating_sub(from)).unwrap_or(0));
        let mut index = from.max(self.min);
        while index < end {
            if index >= self.memory_first() {
                let position = usize::try_from(index - self.memory_first()).expect("bounded");
                found.extend(
                    self.memory
                        .range(position..)
                        .take(usize::try_from(end - index).unwrap_or(0))
                        .enumerate()
                        .map(|(i, entry)| (index + u64::try_from(i).unwrap_or(0), *entry)),
                );
                break;
            }
            let file_first = index - index % self.entries_per_file;
            let run_end = end
                .min(file_first + self.entries_per_file)
                .min(self.memory_first());
            self.read_run(storage, file_first, index, run_end, &mut found)?;
            index = run_end;
        }
        Ok(found)
    }

    fn read_run(
        &mut self,
        storage: &mut dyn Storage,
        file_first: u64,
        from: u64,
        to: u64,
        found: &mut Vec<(u64, QueueEntry)>,
    ) -> io::Result<()> {
        let Some(&file) = self.files.get(&file_first) else {
            return Ok(());
        };
        let count = usize::try_from(to - from).expect("a run is within one file");
        let mut bytes = vec![0u8; count * ENTRY_BYTES];
        let read = storage.read_blocking(
            file,
            (from - file_first) * CONSUME_QUEUE_ENTRY_BYTES,
            &mut bytes,
        )?;
        for (i, raw) in bytes[..read - read % ENTRY_BYTES]
            .chunks_exact(ENTRY_BYTES)
            .enumerate()
        {
            if let Some(entry) = QueueEntry::decode(raw) {
                found.push((from + u64::try_from(i).expect("bounded"), entry));
            }
        }
        Ok(())
    }

    /// Entries dispatched but not yet written to their files (they are served from memory).
    pub(crate) fn unwritten(&self) -> u64 {
        self.max - self.unwritten_from
    }

    /// Write entries added since the last call to their files (page cache, no fsync).
    pub(crate) fn write_out(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        while self.unwritten_from < self.max {
            let index = self.unwritten_from;
            let first = index - index % self.entries_per_file;
            let run_end = self.max.min(first + self.entries_per_file);
            let file = self.file_for(storage, first)?;
            let start =
                usize::try_from(index - self.memory_first()).expect("unwritten stays in memory");
            let count = usize::try_from(run_end - index).expect("bounded");
            let mut bytes = vec![0u8; count * ENTRY_BYTES];
            for (entry, target) in self
                .memory
                .range(start..start + count)
                .zip(bytes.chunks_exact_mut(ENTRY_BYTES))
            {
                entry.encode(target);
            }
            storage.write_blocking(file, (index - first) * CONSUME_QUEUE_ENTRY_BYTES, &bytes)?;
            self.unwritten_from = run_end;
            if !self.dirty_files.contains(&file) {
                self.dirty_files.push(file);
            }
        }
        Ok(())
    }

    fn file_for(&mut self, storage: &mut dyn Storage, first: u64) -> io::Result<FileHandle> {
        if let Some(&file) = self.files.get(&first) {
            return Ok(file);
        }
        let created = !storage.exists(&self.directory);
        storage.create_directory_all(&self.directory)?;
        let file = storage.open(&self.path_of(first), Create::Yes, OpenMode::Buffered)?;
        storage.sync_directory(&self.directory)?;
        if created {
            // consumequeue/<topic>/<queueId>: the new entries of both parents must survive too.
            for parent in self.directory.ancestors().skip(1).take(2) {
                storage.sync_directory(parent)?;
            }
        }
        self.files.insert(first, file);
        Ok(file)
    }

    /// Make written entries durable (clean shutdown).
    pub(crate) fn sync(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        self.write_out(storage)?;
        for file in std::mem::take(&mut self.dirty_files) {
            storage.sync_blocking(file)?;
        }
        Ok(())
    }

    /// Remove entries at and after queue offset `keep_below` (recovery).
    pub(crate) fn truncate(
        &mut self,
        storage: &mut dyn Storage,
        keep_below: u64,
    ) -> io::Result<()> {
        if keep_below >= self.max {
            return Ok(());
        }
        let keep_file = keep_below - keep_below % self.entries_per_file;
        let doomed: Vec<u64> = self
            .files
            .range(keep_file + 1..)
            .map(|(first, _)| *first)
            .collect();
        let removed = !doomed.is_empty();
        for first in doomed {
            if let Some(file) = self.files.remove(&first) {
                self.dirty_files.retain(|dirty| *dirty != file);
                storage.close(file)?;
                storage.remove_file(&self.path_of(first))?;
            }
        }
        if removed {
            // An unlink is durable only with its directory: without this a later power loss
            // brings the removed files back, and their stale entries (of records that were
            // lost and whose offsets were reused) become part of the queue again.
            storage.sync_directory(&self.directory)?;
        }
        if let Some(&file) = self.files.get(&keep_file) {
            storage.truncate(file, (keep_below - keep_file) * CONSUME_QUEUE_ENTRY_BYTES)?;
            storage.sync_blocking(file)?;
        }
        self.max = keep_below;
        self.min = self.min.min(self.max);
        self.memory.clear();
        self.unwritten_from = self.max;
        Ok(())
    }

    /// Remove every entry pointing at or after `offset` (recovery re-dispatches them).
    pub(crate) fn truncate_from_physical(
        &mut self,
        storage: &mut dyn Storage,
        offset: PhysicalOffset,
    ) -> io::Result<()> {
        // Entries of one queue point into one shard's log in increasing order.
        let (mut low, mut high) = (self.min, self.max);
        while low < high {
            let middle = low + (high - low) / 2;
            match self.entry_at(storage, middle)? {
                Some(entry) if entry.offset < offset => low = middle + 1,
                _ => high = middle,
            }
        }
        if low <= self.min {
            // No entry survives: restart at the first file's start rather than at a minimum
            // that torn leading entries may have pushed up, so queue offsets stay dense.
            let restart = self.files.keys().next().copied().unwrap_or(0).min(low);
            self.truncate(storage, restart)?;
            self.min = restart;
            return Ok(());
        }
        self.truncate(storage, low)
    }

    /// Files written since the last call, for an asynchronous fdatasync at a checkpoint.
    pub(crate) fn take_dirty_files(&mut self, into: &mut Vec<FileHandle>) {
        into.append(&mut self.dirty_files);
    }

    fn path_of(&self, first: u64) -> PathBuf {
        self.directory
            .join(offset_file_name(first * CONSUME_QUEUE_ENTRY_BYTES))
    }

    /// Drop files all of whose entries point below `commitlog_min` (retention).
    pub(crate) fn remove_files_below(
        &mut self,
        storage: &mut dyn Storage,
        commitlog_min: PhysicalOffset,
    ) -> io::Result<usize> {
        let mut removed = 0;
        while self.files.len() > 1 {
            let (&first, &file) = self.files.iter().next().expect("len > 1");
            let last_index = first + self.entries_per_file - 1;
            let Some(last) = self.entry_at(storage, last_index)? else {
                break;
            };
            if last.offset.0 + u64::from(last.size) > commitlog_min.0 {
                break;
            }
            self.files.remove(&first);
            self.dirty_files.retain(|dirty| *dirty != file);
            storage.close(file)?;
            storage.remove_file(&self.path_of(first))?;
            removed += 1;
        }
        if removed > 0 {
            storage.sync_directory(&self.directory)?;
        }
        let Some((&first, _)) = self.files.iter().next() else {
            return Ok(removed);
        };
        self.min = self.min.max(first);
        while self.min < self.max {
            match self.entry_at(storage, self.min)? {
                Some(entry) if entry.offset.0 >= commitlog_min.0 => break,
                _ => self.min += 1,
            }
        }
        Ok(removed)
    }

    /// Close every file.
    pub(crate) fn close(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        self.sync(storage)?;
        for (_, file) in std::mem::take(&mut self.files) {
            storage.close(file)?;
        }
        Ok(())
    }
}

fn parse_name(name: &str) -> Option<u64> {
    if name.len() != 20 || !name.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_blank_entries_are_invalid() {
        let entry = QueueEntry {
            offset: PhysicalOffset(4096),
            size: 120,
            tags_code: -5,
        };
        let mut bytes = [0u8; 20];
        entry.encode(&mut bytes);
        assert_eq!(QueueEntry::decode(&bytes), Some(entry));
        assert_eq!(QueueEntry::decode(&[0u8; 20]), None);
        let mut blank = [0u8; 20];
        blank[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(
            QueueEntry::decode(&blank),
            None,
            "pre-blank filler is not an entry"
        );
    }
}
