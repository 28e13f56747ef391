//! One engine shard: the commitlog, consume queues and index owned by one core.
//!
//! A `Shard` is `!Send` by construction of its users (it lives and dies on its core's thread)
//! and is driven by [`Shard::tick`], which never blocks: it reaps I/O completions, starts the
//! next group-commit chain, dispatches newly visible records to consume queues and index, and
//! runs the periodic checkpoint. Overload (no staging buffer, too many pending batches) is
//! reported as [`AppendError::Busy`], which the broker turns into SYSTEM_BUSY.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::time::Duration;

use bytes::Bytes;
use ringmq_protocol::java::string_hash;
use ringmq_protocol::properties;
use ringmq_protocol::record::{self, MessageDraft, Record, Scanned};

use crate::checkpoint::{Checkpoint, ShardCheckpoint};
use crate::clock::Clock;
use crate::commitlog::segment_set::SegmentSet;
use crate::commitlog::{Appended, Chunk, Commitlog, CommitlogStats};
use crate::config::EngineConfig;
use crate::consume_queue::{ConsumeQueue, QueueEntry};
use crate::error::{AppendError, Latch, OpenError};
use crate::index::Index;
use crate::io::{token_tag, ChainLink, Completion, FileHandle, Op, Storage};
use crate::recovery::{self, RecoveryReport};
use crate::types::{PhysicalOffset, QueueId, QueueOffset, ShardId, TimestampMs};

mod close;
mod read;
mod replica;

pub use close::CloseError;
pub use read::Boundary;
pub use replica::{ReplicaError, ReplicaSpan, SpanRead};

/// Entries scanned per pull when tags filter some out.
const FILTER_SCAN_ENTRIES_MAX: usize = 4096;
/// Dispatch writes a queue's (or the index's) new entries once this many have gathered;
/// the rest wait for the checkpoint. 512 entries are 10 KiB of queue file.
const WRITE_OUT_ENTRIES_MIN: u64 = 512;

/// Which shard owns a (topic, queueId): stable for a given shard count.
pub fn owner_of(topic: &str, queue_id: QueueId, shard_count: u16) -> ShardId {
    let hash = string_hash(topic).unsigned_abs();
    let slot = (u64::from(hash) + u64::from(queue_id.0)) % u64::from(shard_count.max(1));
    ShardId(u16::try_from(slot).expect("below the shard count"))
}

/// The consume-queue tag hash of a TAGS value (Java hashCode, sign-extended).
pub fn tags_code(tags: Option<&str>) -> i64 {
    tags.map_or(0, |tags| i64::from(string_hash(tags)))
}

/// Result of an append: where the record is and its queue offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendOutcome {
    pub appended: Appended,
    pub queue_offset: QueueOffset,
}

/// Outcome of reading a queue, with RocketMQ's GetMessageStatus meanings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueReadStatus {
    Found,
    /// Entries were scanned but none matched the filter (or their log was deleted).
    NoMatchedMessage,
    /// The queue is empty or unknown.
    NoMessageInQueue,
    OffsetTooSmall,
    /// The requested offset is exactly the next one to be written.
    OffsetOverflowOne,
    OffsetOverflowBadly,
}

/// One message of a queue read: its stored bytes, shared with the tail cache when hot.
#[derive(Clone, Debug)]
pub struct QueueMessage {
    pub queue_offset: QueueOffset,
    pub offset: PhysicalOffset,
    pub bytes: Bytes,
}

/// A queue read.
#[derive(Clone, Debug)]
pub struct QueueRead {
    pub status: QueueReadStatus,
    pub messages: Vec<QueueMessage>,
    pub next_offset: QueueOffset,
    pub min_offset: QueueOffset,
    pub max_offset: QueueOffset,
}

/// Limits of one queue read.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    pub messages_max: usize,
    pub bytes_max: usize,
}

#[derive(Debug)]
struct QueueState {
    queue: ConsumeQueue,
    /// Next queue offset to assign at append (ahead of the queue's max while undispatched).
    next_offset: u64,
}

#[derive(Debug)]
enum CheckpointPhase {
    /// Consume-queue files and the index's entries are being fdatasynced.
    Syncing { waiting: usize, failed: bool },
    /// The index header (with the entry count just made durable) is being fdatasynced.
    IndexHeader,
    /// The checkpoint slot is being fdatasynced.
    WritingSlot,
}

#[derive(Debug)]
struct CheckpointInFlight {
    phase: CheckpointPhase,
    target: ShardCheckpoint,
    /// The index file and entry count this checkpoint makes durable.
    index_staged: Option<(FileHandle, u32)>,
}

/// Counters of a shard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub commitlog: CommitlogStats,
    pub records_dispatched: u64,
    pub checkpoints: u64,
}

/// One core's engine (see the module docs).
pub struct Shard {
    id: ShardId,
    config: EngineConfig,
    storage: Box<dyn Storage>,
    clock: Box<dyn Clock>,
    commitlog: Commitlog,
    /// Queue states by topic, looked up on every append and pull (foldhash, not SipHash).
    topics: HashMap<String, BTreeMap<u32, QueueState>, foldhash::fast::RandomState>,
    index: Index,
    checkpoint: Checkpoint,
    /// Local offsets up to which queues and index have been dispatched in memory.
    dispatched: u64,
    checkpointed: ShardCheckpoint,
    checkpoint_in_flight: Option<CheckpointInFlight>,
    checkpoint_failed: Option<String>,
    next_checkpoint_token: u64,
    last_checkpoint: Duration,
    last_dispatch_timestamp: i64,
    pub(crate) last_retention: Duration,
    /// Set by the retention check when the disk is above the refuse-writes ratio.
    pub(crate) disk_full: Option<AppendError>,
    arrivals: Vec<(String, QueueId, QueueOffset)>,
    completions: Vec<Completion>,
    chunks: Vec<Chunk>,
    stats: ShardStats,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("id", &self.id)
            .field("backend", &self.storage.kind())
            .field("appended", &self.commitlog.appended())
            .field("durable", &self.commitlog.durable())
            .finish_non_exhaustive()
    }
}

impl Shard {
    /// Open and recover shard `id` of the store described by `config`.
    pub fn open(
        id: ShardId,
        config: EngineConfig,
        mut storage: Box<dyn Storage>,
        clock: Box<dyn Clock>,
        log: &mut dyn FnMut(&str),
    ) -> Result<(Self, RecoveryReport), OpenError> {
        config.validate().map_err(OpenError::Config)?;
        let io = |operation: &'static str, path: &std::path::Path| {
            let path = path.to_path_buf();
            move |error| OpenError::Io {
                operation,
                path,
                error,
            }
        };
        let paths = config.paths.clone();
        let commitlog = Commitlog::open(storage.as_mut(), &config, id)
            .map_err(io("open commitlog segments in", &paths.commitlog))?;
        let index = Index::open(
            storage.as_mut(),
            &paths.index,
            id,
            config.index_hash_slots,
            config.index_entries_max,
        )
        .map_err(io("open index files in", &paths.index))?;
        let (checkpoint, slot) = Checkpoint::open(storage.as_mut(), &paths.checkpoint, id)
            .map_err(io("open checkpoint", &paths.checkpoint))?;
        if let Some(slot) = slot.filter(|slot| slot.shard_count != config.shard_count) {
            return Err(OpenError::ShardCountChanged {
                stored: slot.shard_count,
                configured: config.shard_count,
            });
        }
        let start = slot.map_or(0, |slot| slot.queues_dispatched.min(slot.index_dispatched));
        let mut shard = Self {
            id,
            config,
            storage,
            clock,
            commitlog,
            topics: HashMap::default(),
            index,
            checkpoint,
            dispatched: start,
            checkpointed: slot.unwrap_or_default(),
            checkpoint_in_flight: None,
            checkpoint_failed: None,
            next_checkpoint_token: 0,
            last_checkpoint: Duration::ZERO,
            last_dispatch_timestamp: 0,
            last_retention: Duration::ZERO,
            disk_full: None,
            arrivals: Vec::new(),
            completions: Vec::new(),
            chunks: Vec::new(),
            stats: ShardStats::default(),
        };
        shard
            .open_queues()
            .map_err(io("open consume queues in", &paths.consume_queue))?;
        let report = recovery::recover(&mut shard, start, log)?;
        log(&format!(
            "shard {}: commitlog tail-block protection against torn writes: {}",
            id.0,
            shard.commitlog.tail_protection()
        ));
        shard.dispatched = report.valid_end;
        shard.arrivals.clear();
        for queues in shard.topics.values_mut() {
            for state in queues.values_mut() {
                state.next_offset = state.queue.max_offset().0;
            }
        }
        Ok((shard, report))
    }

    fn open_queues(&mut self) -> io::Result<()> {
        let root = self.config.paths.consume_queue.clone();
        for topic in self.storage.list_directory(&root)? {
            for name in self.storage.list_directory(&root.join(&topic))? {
                let Ok(queue_id) = name.parse::<u32>() else {
                    continue;
                };
                if owner_of(&topic, QueueId(queue_id), self.config.shard_count) != self.id {
                    continue;
                }
                let directory = root.join(&topic).join(&name);
                let queue = ConsumeQueue::open(
                    self.storage.as_mut(),
                    &directory,
                    self.config.consume_queue_file_bytes,
                )?;
                let next_offset = queue.max_offset().0;
                self.topics
                    .entry(topic.clone())
                    .or_default()
                    .insert(queue_id, QueueState { queue, next_offset });
            }
        }
        Ok(())
    }

    pub fn id(&self) -> ShardId {
        self.id
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub(crate) fn storage(&mut self) -> &mut dyn Storage {
        self.storage.as_mut()
    }

    pub(crate) fn commitlog_segments(&self) -> &SegmentSet {
        self.commitlog.segments()
    }

    pub(crate) fn commitlog_segments_mut_remove_from(&mut self, base: u64) -> io::Result<()> {
        self.commitlog.settle_read_ahead(self.storage.as_mut());
        self.commitlog
            .segments_mut()
            .remove_from(self.storage.as_mut(), base)
    }

    pub(crate) fn resume_commitlog(&mut self, end: u64, partial: &[u8]) -> Result<(), AppendError> {
        self.commitlog
            .resume_at(self.storage.as_mut(), end, partial)
    }

    pub(crate) fn truncate_queues_from(&mut self, start: u64) -> io::Result<()> {
        let offset = PhysicalOffset::new(self.id, start);
        for queues in self.topics.values_mut() {
            for state in queues.values_mut() {
                state
                    .queue
                    .truncate_from_physical(self.storage.as_mut(), offset)?;
            }
        }
        Ok(())
    }

    /// Re-dispatch a record found by recovery. Queues were cut back to the scan start, so
    /// every record from there goes to its queue; index entries may repeat and lookups
    /// remove duplicates.
    pub(crate) fn redispatch(&mut self, found: &Record<'_>) -> io::Result<()> {
        self.dispatch_record(found, true, true)
    }

    /// The backend that runs (for logs).
    pub fn backend(&self) -> crate::io::BackendKind {
        self.storage.kind()
    }

    /// The descriptor an event loop waits on for I/O completions.
    pub fn notify_fd(&self) -> Option<std::os::fd::RawFd> {
        self.storage.notify_fd()
    }

    pub fn visible(&self) -> PhysicalOffset {
        self.commitlog.visible()
    }

    pub fn durable(&self) -> PhysicalOffset {
        self.commitlog.durable()
    }

    pub fn written(&self) -> PhysicalOffset {
        self.commitlog.written()
    }

    pub fn appended(&self) -> PhysicalOffset {
        self.commitlog.appended()
    }

    pub fn min_offset(&self) -> PhysicalOffset {
        self.commitlog.min_offset()
    }

    pub fn latch(&self) -> Option<&Latch> {
        self.commitlog.latch()
    }

    /// How the commitlog's partial tail block is protected against a torn rewrite.
    pub fn tail_protection(&self) -> String {
        self.commitlog.tail_protection()
    }

    /// A line for the operator's log that the engine produced while running (each event
    /// once), such as the kernel refusing RWF_ATOMIC writes; oldest first, call until `None`.
    pub fn take_notice(&mut self) -> Option<String> {
        self.commitlog.take_notice()
    }

    pub fn stats(&self) -> ShardStats {
        ShardStats {
            commitlog: self.commitlog.stats(),
            ..self.stats
        }
    }

    pub fn now(&self) -> TimestampMs {
        self.clock.wall()
    }

    pub fn monotonic(&self) -> Duration {
        self.clock.monotonic()
    }

    /// Append one message to its queue. The record is stored once
    /// `self.visible() >= outcome.appended.end` (see the commitlog's durability contract).
    pub fn append(&mut self, draft: &MessageDraft<'_>) -> Result<AppendOutcome, AppendError> {
        if let Some(full) = &self.disk_full {
            return Err(full.clone());
        }
        let queue_id = u32::try_from(draft.queue_id).map_err(|_| {
            AppendError::Malformed(format!("queueId {} is negative", draft.queue_id))
        })?;
        let next_offset = self
            .queue_state(draft.topic, queue_id)
            .map_or(0, |state| state.next_offset);
        let timestamp = self.clock.wall();
        let appended =
            self.commitlog
                .append(self.storage.as_mut(), draft, next_offset, timestamp)?;
        if dispatches_to_queue(draft.sys_flag) {
            self.queue_state_or_create(draft.topic, queue_id)
                .map_err(|error| AppendError::Malformed(error.to_string()))?
                .next_offset = next_offset + 1;
        }
        Ok(AppendOutcome {
            appended,
            queue_offset: QueueOffset(next_offset),
        })
    }

    fn queue_state(&self, topic: &str, queue_id: u32) -> Option<&QueueState> {
        self.topics
            .get(topic)
            .and_then(|queues| queues.get(&queue_id))
    }

    fn queue_state_or_create(&mut self, topic: &str, queue_id: u32) -> io::Result<&mut QueueState> {
        if self.queue_state(topic, queue_id).is_none() {
            let directory = self
                .config
                .paths
                .consume_queue
                .join(topic)
                .join(queue_id.to_string());
            let queue = ConsumeQueue::open(
                self.storage.as_mut(),
                &directory,
                self.config.consume_queue_file_bytes,
            )?;
            let next_offset = queue.max_offset().0;
            self.topics
                .entry(topic.to_owned())
                .or_default()
                .insert(queue_id, QueueState { queue, next_offset });
        }
        Ok(self
            .topics
            .get_mut(topic)
            .and_then(|queues| queues.get_mut(&queue_id))
            .expect("inserted above"))
    }

    /// Drive I/O and background work without blocking.
    pub fn tick(&mut self) -> io::Result<()> {
        self.storage.poll(&mut self.completions, None)?;
        self.route_completions();
        let now = self.clock.monotonic();
        self.commitlog.pump(self.storage.as_mut(), now);
        let result = self.maintain(now);
        if let Err(error) = &result {
            // Fail-stop: a failed write or sync of queue, index or segment files may have lost
            // data the kernel already acknowledged, so the shard stops taking writes.
            let errno = error.raw_os_error().unwrap_or(libc::EIO);
            let root = self.config.paths.root.clone();
            self.commitlog.latch_external(
                "write or fdatasync of consume-queue, index or segment files",
                root,
                crate::io::IoError::from_errno(errno),
            );
        }
        result
    }

    fn maintain(&mut self, now: Duration) -> io::Result<()> {
        self.dispatch_visible()?;
        self.maybe_checkpoint(now)?;
        if self.checkpoint_in_flight.is_none() {
            // Retention closes files; never while a checkpoint fdatasync may still use them.
            self.maybe_retain(now)?;
        }
        self.maybe_preallocate()
    }

    /// Create the next segment once the active one is half full, off the append path.
    fn maybe_preallocate(&mut self) -> io::Result<()> {
        let segment_bytes = self.config.segment_bytes;
        if self.commitlog.appended().local() % segment_bytes >= segment_bytes / 2 {
            self.commitlog.preallocate(self.storage.as_mut())?;
        }
        Ok(())
    }

    pub(crate) fn commitlog_remove_oldest(&mut self) -> io::Result<bool> {
        self.commitlog.settle_read_ahead(self.storage.as_mut());
        let removed = self
            .commitlog
            .segments_mut()
            .remove_oldest(self.storage.as_mut())?;
        Ok(removed.is_some())
    }

    /// Remove queue and index files that only point below the log's first offset.
    pub(crate) fn remove_files_below_log_start(&mut self) -> io::Result<(usize, usize)> {
        let start = self.commitlog.min_offset();
        let mut queue_files = 0;
        for queues in self.topics.values_mut() {
            for state in queues.values_mut() {
                queue_files += state
                    .queue
                    .remove_files_below(self.storage.as_mut(), start)?;
            }
        }
        let index_files = self
            .index
            .remove_files_below(self.storage.as_mut(), start)?;
        Ok((queue_files, index_files))
    }

    /// Block up to `timeout` for I/O completions, then tick.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        if self.storage.in_flight() > 0 {
            self.storage.poll(&mut self.completions, Some(timeout))?;
            self.route_completions();
        }
        self.tick()
    }

    fn route_completions(&mut self) {
        self.commitlog.take_foreign(&mut self.completions);
        for completion in std::mem::take(&mut self.completions) {
            if completion.token & token_tag::CHECKPOINT != 0 {
                self.checkpoint_completed(&completion);
            } else {
                self.commitlog.complete(completion);
            }
        }
    }

    fn dispatch_visible(&mut self) -> io::Result<()> {
        let mut chunks = std::mem::take(&mut self.chunks);
        self.commitlog.take_visible_chunks(&mut chunks);
        for chunk in chunks.drain(..) {
            let mut position = chunk.data_start;
            while position < chunk.end {
                let at = usize::try_from(position - chunk.block_start).expect("inside the chunk");
                match record::scan(&chunk.bytes[at..], false) {
                    Ok(Scanned::Record(found)) => {
                        self.dispatch_record(&found, true, true)?;
                        position += u64::try_from(found.total_size).expect("fits");
                    }
                    Ok(Scanned::Blank { .. }) | Err(_) => break,
                }
            }
            self.dispatched = chunk.logical_end;
        }
        self.chunks = chunks;
        // Queue and index entries are served from memory until written, and the checkpoint
        // writes all of them before its fdatasync; writing here only in runs of
        // WRITE_OUT_ENTRIES_MIN keeps a write system call per queue off every tick.
        for queues in self.topics.values_mut() {
            for state in queues.values_mut() {
                if state.queue.unwritten() >= WRITE_OUT_ENTRIES_MIN {
                    state.queue.write_out(self.storage.as_mut())?;
                }
            }
        }
        if u64::from(self.index.unwritten()) >= WRITE_OUT_ENTRIES_MIN {
            self.index.write_out(self.storage.as_mut())?;
        }
        Ok(())
    }

    fn dispatch_record(
        &mut self,
        found: &Record<'_>,
        to_queue: bool,
        to_index: bool,
    ) -> io::Result<()> {
        let offset = PhysicalOffset(u64::try_from(found.physical_offset).unwrap_or(0));
        let timestamp = TimestampMs(u64::try_from(found.store_timestamp).unwrap_or(0));
        let [tags, unique, keys] = properties::find_all(
            found.properties,
            [properties::TAGS, properties::UNIQ_KEY, properties::KEYS],
        );
        if to_queue && dispatches_to_queue(found.sys_flag) {
            let queue_id = u32::try_from(found.queue_id).unwrap_or(0);
            let queue_offset = u64::try_from(found.queue_offset).unwrap_or(0);
            let entry = QueueEntry {
                offset,
                size: u32::try_from(found.total_size).unwrap_or(u32::MAX),
                tags_code: tags_code(tags),
            };
            self.queue_state_or_create(found.topic, queue_id)?;
            let state = self
                .topics
                .get_mut(found.topic)
                .and_then(|queues| queues.get_mut(&queue_id))
                .expect("created above");
            // A crash can tear a queue's leading entries (blank) while later ones landed, so
            // the reopened queue starts past records recovery is re-dispatching. Every entry
            // from here on points at this record or a later one, which the scan re-dispatches
            // in order, so cutting the queue back to this offset loses nothing.
            if queue_offset < state.queue.min_offset().0 {
                state.queue.truncate(self.storage.as_mut(), queue_offset)?;
            }
            if queue_offset >= state.queue.max_offset().0 {
                state.queue.push(queue_offset, entry);
                state.next_offset = state.next_offset.max(queue_offset + 1);
                self.arrivals.push((
                    found.topic.to_owned(),
                    QueueId(queue_id),
                    QueueOffset(queue_offset + 1),
                ));
            }
        }
        if to_index
            && found.sys_flag & record::SYSFLAG_TRANSACTION_MASK
                != record::SYSFLAG_TRANSACTION_ROLLBACK
        {
            let storage = self.storage.as_mut();
            if let Some(unique) = unique {
                self.index
                    .add(storage, found.topic, unique, offset, timestamp)?;
            }
            if let Some(keys) = keys {
                for key in keys.split(' ').filter(|key| !key.is_empty()) {
                    self.index
                        .add(storage, found.topic, key, offset, timestamp)?;
                }
            }
        }
        self.last_dispatch_timestamp = found.store_timestamp;
        self.stats.records_dispatched += 1;
        Ok(())
    }

    /// Queues that received messages since the last call, with their new max offset.
    pub fn take_arrivals(&mut self, into: &mut Vec<(String, QueueId, QueueOffset)>) {
        into.append(&mut self.arrivals);
    }
}

/// Prepared and rolled-back transactional messages are not consumable.
pub(crate) fn dispatches_to_queue(sys_flag: i32) -> bool {
    let kind = sys_flag & record::SYSFLAG_TRANSACTION_MASK;
    kind != record::SYSFLAG_TRANSACTION_PREPARED && kind != record::SYSFLAG_TRANSACTION_ROLLBACK
}

impl Shard {
    fn checkpoint_token(&mut self) -> u64 {
        self.next_checkpoint_token += 1;
        token_tag::CHECKPOINT | self.next_checkpoint_token
    }

    /// Start a checkpoint when its interval has passed: fdatasync the queue and index files
    /// written since the last one, then record the dispatch offset they cover.
    fn maybe_checkpoint(&mut self, now: Duration) -> io::Result<()> {
        if self.checkpoint_in_flight.is_some()
            || self.checkpoint_failed.is_some()
            || now.saturating_sub(self.last_checkpoint) < self.config.checkpoint_interval
            || self.dispatched == self.checkpointed.queues_dispatched
                && self.checkpointed.shard_count != 0
        {
            return Ok(());
        }
        self.last_checkpoint = now;
        let mut files: Vec<FileHandle> = Vec::new();
        for queues in self.topics.values_mut() {
            for state in queues.values_mut() {
                state.queue.write_out(self.storage.as_mut())?;
                state.queue.take_dirty_files(&mut files);
            }
        }
        let index_staged = self.index.stage_entries(self.storage.as_mut())?;
        if let Some((file, _)) = index_staged {
            files.push(file);
        }
        let target = self.checkpoint_target();
        let waiting = files.len();
        for file in files {
            let token = self.checkpoint_token();
            let link = ChainLink {
                op: Op::Fdatasync { file },
                token,
            };
            if self.storage.submit(vec![link]).is_err() {
                self.checkpoint_failed =
                    Some("the I/O backend refused a checkpoint fdatasync".to_owned());
                return Ok(());
            }
        }
        self.checkpoint_in_flight = Some(CheckpointInFlight {
            phase: CheckpointPhase::Syncing {
                waiting,
                failed: false,
            },
            target,
            index_staged,
        });
        if waiting == 0 {
            self.write_checkpoint_slot();
        }
        Ok(())
    }

    fn checkpoint_target(&self) -> ShardCheckpoint {
        let timestamp = self.last_dispatch_timestamp;
        ShardCheckpoint {
            shard_count: self.config.shard_count,
            commitlog_durable: self.commitlog.durable().local(),
            // Never vouch for dispatch past the durable log: after a power loss the log may
            // end there, and recovery must scan from a point the log still has.
            queues_dispatched: self.dispatched.min(self.commitlog.durable().local()),
            index_dispatched: self.dispatched.min(self.commitlog.durable().local()),
            physic_timestamp: timestamp,
            logics_timestamp: timestamp,
            index_timestamp: timestamp,
        }
    }

    fn checkpoint_completed(&mut self, completion: &Completion) {
        let Some(in_flight) = self.checkpoint_in_flight.as_mut() else {
            return;
        };
        match &mut in_flight.phase {
            CheckpointPhase::Syncing { waiting, failed } => {
                *waiting -= 1;
                *failed |= completion.result.is_err();
                if *waiting == 0 {
                    if *failed {
                        self.checkpoint_in_flight = None;
                        self.fail_checkpoint(completion);
                    } else {
                        self.write_index_header();
                    }
                }
            }
            CheckpointPhase::IndexHeader => {
                if completion.result.is_err() {
                    self.checkpoint_in_flight = None;
                    self.fail_checkpoint(completion);
                    return;
                }
                if let Some((file, count)) = in_flight.index_staged {
                    self.index.synced(file, count);
                }
                self.write_checkpoint_slot();
            }
            CheckpointPhase::WritingSlot => {
                let in_flight = self.checkpoint_in_flight.take().expect("matched above");
                if completion.result.is_ok() {
                    self.checkpointed = in_flight.target;
                    self.stats.checkpoints += 1;
                } else {
                    self.fail_checkpoint(completion);
                }
            }
        }
    }

    /// A checkpoint fdatasync failed. The kernel may have dropped the file's dirty pages, so
    /// nothing that checkpoint covered can be trusted: stop advancing checkpoints and make the
    /// shard read-only, like a commitlog fsync failure (fsync is never retried). A restart
    /// re-dispatches queues and index from the last good checkpoint.
    fn fail_checkpoint(&mut self, completion: &Completion) {
        let error = completion
            .result
            .err()
            .unwrap_or(crate::io::IoError::from_errno(libc::EIO));
        self.checkpoint_failed = Some(format!(
            "fdatasync of a consume-queue, index or checkpoint file failed ({error}); checkpoints \
             stopped and the shard is read-only until restart"
        ));
        self.commitlog.latch_external(
            "fdatasync (checkpoint)",
            self.config.paths.checkpoint.clone(),
            error,
        );
    }

    /// Second checkpoint phase: the index header covering exactly the entries phase one made
    /// durable, then its own fdatasync; straight to the slot when there is no index file.
    fn write_index_header(&mut self) {
        let Some(in_flight) = self.checkpoint_in_flight.as_mut() else {
            return;
        };
        let Some((file, count)) = in_flight.index_staged else {
            return self.write_checkpoint_slot();
        };
        let staged = self.index.stage_header(self.storage.as_mut(), file, count);
        let Ok(Some(file)) = staged else {
            // The file rolled meanwhile (the roll synced it in full) or the write failed.
            if staged.is_err() {
                self.checkpoint_failed = Some("writing the index header failed".to_owned());
                self.checkpoint_in_flight = None;
                return;
            }
            return self.write_checkpoint_slot();
        };
        let token = self.checkpoint_token();
        if self
            .storage
            .submit(vec![ChainLink {
                op: Op::Fdatasync { file },
                token,
            }])
            .is_err()
        {
            self.checkpoint_failed =
                Some("the I/O backend refused a checkpoint fdatasync".to_owned());
            self.checkpoint_in_flight = None;
            return;
        }
        if let Some(in_flight) = self.checkpoint_in_flight.as_mut() {
            in_flight.phase = CheckpointPhase::IndexHeader;
        }
    }

    fn write_checkpoint_slot(&mut self) {
        let Some(mut in_flight) = self.checkpoint_in_flight.take() else {
            return;
        };
        let token = self.checkpoint_token();
        let written = self
            .checkpoint
            .stage(self.storage.as_mut(), &in_flight.target);
        let submitted = written.ok().and_then(|file| {
            let link = ChainLink {
                op: Op::Fdatasync { file },
                token,
            };
            self.storage.submit(vec![link]).ok()
        });
        if submitted.is_none() {
            self.checkpoint_failed = Some("writing the checkpoint slot failed".to_owned());
            return;
        }
        in_flight.phase = CheckpointPhase::WritingSlot;
        self.checkpoint_in_flight = Some(in_flight);
    }

    /// Why checkpoints stopped advancing, if they did.
    pub fn checkpoint_failure(&self) -> Option<&str> {
        self.checkpoint_failed.as_deref()
    }

    /// What the checkpoint file vouches for now.
    pub fn checkpointed(&self) -> ShardCheckpoint {
        self.checkpointed
    }
}
