//! The ordered set of one shard's commitlog segment files.
//!
//! Every segment is exactly `segment_bytes` long on disk (preallocated with fallocate, so
//! appends never change the file size and fdatasync has no size metadata to write) and is
//! named by its 20-digit start physical offset, which carries the shard in its high bits.
//! Invariant: segments are contiguous — `segments[i+1].base == segments[i].base + size`,
//! except that the oldest ones may have been deleted by retention.
//! Each segment has an O_DIRECT handle for appends and a buffered handle for cold reads of
//! bytes that are already written and never rewritten (see `commitlog::read`).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::io::{Create, FileHandle, OpenMode, Storage, UntornWrites};
use crate::types::{offset_file_name, PhysicalOffset, ShardId};

/// One segment file.
#[derive(Debug)]
pub(crate) struct Segment {
    /// Local offset of the first byte.
    pub(crate) base: u64,
    pub(crate) path: PathBuf,
    pub(crate) direct: FileHandle,
    pub(crate) buffered: FileHandle,
    /// What a power loss can do to a 4 KiB write of `direct` (probed at open).
    pub(crate) untorn: UntornWrites,
}

/// All segments of one shard, oldest first, plus the preallocated next one.
#[derive(Debug)]
pub(crate) struct SegmentSet {
    directory: PathBuf,
    shard: ShardId,
    segment_bytes: u64,
    segments: BTreeMap<u64, Segment>,
    spare: Option<Segment>,
}

impl SegmentSet {
    /// Open every segment of `shard` found in `directory` (creating the directory).
    pub(crate) fn open(
        storage: &mut dyn Storage,
        directory: &Path,
        shard: ShardId,
        segment_bytes: u64,
    ) -> io::Result<Self> {
        storage.create_directory_all(directory)?;
        let mut set = Self {
            directory: directory.to_path_buf(),
            shard,
            segment_bytes,
            segments: BTreeMap::new(),
            spare: None,
        };
        for name in storage.list_directory(directory)? {
            let Some(offset) = parse_segment_name(&name) else {
                continue;
            };
            if offset.shard() != shard {
                continue;
            }
            if offset.local() % segment_bytes != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "segment {} does not start at a multiple of mappedFileSizeCommitLog={}; \
                         the store was written with another segment size",
                        directory.join(&name).display(),
                        segment_bytes
                    ),
                ));
            }
            let segment = set.open_segment(storage, offset.local(), Create::No)?;
            set.segments.insert(segment.base, segment);
        }
        Ok(set)
    }

    fn path_of(&self, base: u64) -> PathBuf {
        self.directory
            .join(offset_file_name(PhysicalOffset::new(self.shard, base).0))
    }

    fn open_segment(
        &self,
        storage: &mut dyn Storage,
        base: u64,
        create: Create,
    ) -> io::Result<Segment> {
        let path = self.path_of(base);
        let direct = storage.open(&path, create, OpenMode::Direct)?;
        if create == Create::Yes {
            storage.allocate(direct, self.segment_bytes)?;
            storage.sync_blocking(direct)?;
            storage.sync_directory(&self.directory)?;
        }
        let buffered = storage.open(&path, Create::No, OpenMode::Buffered)?;
        Ok(Segment {
            base,
            path,
            direct,
            buffered,
            untorn: storage.untorn_writes(direct),
        })
    }

    pub(crate) fn segment_bytes(&self) -> u64 {
        self.segment_bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    pub(crate) fn first(&self) -> Option<&Segment> {
        self.segments.values().next()
    }

    pub(crate) fn last(&self) -> Option<&Segment> {
        self.segments.values().next_back()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Segment> {
        self.segments.values()
    }

    pub(crate) fn len(&self) -> usize {
        self.segments.len()
    }

    /// The segment holding local offset `local`.
    pub(crate) fn find(&self, local: u64) -> Option<&Segment> {
        let base = local - local % self.segment_bytes;
        self.segments.get(&base)
    }

    /// The O_DIRECT handle of the file holding `local` when it is the newest segment or the
    /// preallocated spare (the only files still to be written).
    pub(crate) fn writable_file(&self, local: u64) -> Option<FileHandle> {
        let base = local - local % self.segment_bytes;
        self.last()
            .filter(|last| last.base == base)
            .or_else(|| self.spare.as_ref().filter(|spare| spare.base == base))
            .map(|segment| segment.direct)
    }

    /// Make the segment starting at `base` the newest one (using the spare when it fits).
    pub(crate) fn roll_to(&mut self, storage: &mut dyn Storage, base: u64) -> io::Result<()> {
        assert_eq!(
            base % self.segment_bytes,
            0,
            "segments start at multiples of their size"
        );
        if let Some(last) = self.last() {
            assert_eq!(
                last.base + self.segment_bytes,
                base,
                "segments must stay contiguous"
            );
        }
        let segment = match self.spare.take() {
            Some(spare) if spare.base == base => spare,
            Some(stale) => {
                Self::close_segment(storage, &stale)?;
                self.open_or_create(storage, base)?
            }
            None => self.open_or_create(storage, base)?,
        };
        self.segments.insert(base, segment);
        Ok(())
    }

    fn open_or_create(&self, storage: &mut dyn Storage, base: u64) -> io::Result<Segment> {
        let create = if storage.exists(&self.path_of(base)) {
            Create::No
        } else {
            Create::Yes
        };
        self.open_segment(storage, base, create)
    }

    /// Create the segment after the newest one ahead of need, so a roll does not wait for it.
    pub(crate) fn preallocate_next(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        let Some(last) = self.last() else {
            return Ok(());
        };
        let base = last.base + self.segment_bytes;
        if self.spare.as_ref().is_some_and(|spare| spare.base == base) {
            return Ok(());
        }
        let segment = self.open_or_create(storage, base)?;
        self.spare = Some(segment);
        Ok(())
    }

    /// Delete every segment at or after `base` (recovery found no valid data there).
    pub(crate) fn remove_from(&mut self, storage: &mut dyn Storage, base: u64) -> io::Result<()> {
        let doomed: Vec<u64> = self.segments.range(base..).map(|(base, _)| *base).collect();
        for segment_base in doomed {
            if let Some(segment) = self.segments.remove(&segment_base) {
                Self::close_segment(storage, &segment)?;
                storage.remove_file(&segment.path)?;
            }
        }
        if let Some(spare) = self.spare.take() {
            Self::close_segment(storage, &spare)?;
            storage.remove_file(&spare.path)?;
        }
        storage.sync_directory(&self.directory)
    }

    /// Delete the oldest segment; returns its base and path.
    pub(crate) fn remove_oldest(&mut self, storage: &mut dyn Storage) -> io::Result<Option<u64>> {
        let Some((&base, _)) = self.segments.iter().next() else {
            return Ok(None);
        };
        if self.segments.len() == 1 {
            return Ok(None);
        }
        let segment = self.segments.remove(&base).expect("the key was just read");
        Self::close_segment(storage, &segment)?;
        storage.remove_file(&segment.path)?;
        storage.sync_directory(&self.directory)?;
        Ok(Some(base))
    }

    fn close_segment(storage: &mut dyn Storage, segment: &Segment) -> io::Result<()> {
        storage.close(segment.direct)?;
        storage.close(segment.buffered)
    }

    /// Close every handle (clean shutdown).
    pub(crate) fn close(&mut self, storage: &mut dyn Storage) -> io::Result<()> {
        for segment in self.segments.values() {
            Self::close_segment(storage, segment)?;
        }
        if let Some(spare) = self.spare.take() {
            Self::close_segment(storage, &spare)?;
        }
        self.segments.clear();
        Ok(())
    }
}

/// A 20-digit decimal name, or `None` for anything else in the directory.
pub(crate) fn parse_segment_name(name: &str) -> Option<PhysicalOffset> {
    if name.len() != 20 || !name.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    name.parse().ok().map(PhysicalOffset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_twenty_digit_names_are_segments() {
        assert_eq!(
            parse_segment_name("00000000000000000000"),
            Some(PhysicalOffset(0))
        );
        assert_eq!(
            parse_segment_name("00000000001073741824"),
            Some(PhysicalOffset(1 << 30))
        );
        assert_eq!(parse_segment_name("0000000000000000000"), None);
        assert_eq!(parse_segment_name("abort"), None);
        assert_eq!(parse_segment_name("0000000000000000000x"), None);
    }
}
