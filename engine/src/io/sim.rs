//! Deterministic in-memory storage for tests: seeded latency, short writes, fsync errors, a
//! fail-stop point after N syncs, and crash images with torn writes.
//!
//! Model. A [`SimDisk`] holds inodes and two namespaces. Each inode has a `written` image
//! (what reads see) and a `durable` image (what survives a crash), plus the list of changes
//! made since its last successful sync. A name becomes durable only when its parent directory
//! is synced (`sync_directory`), so a created, renamed or removed file whose directory was
//! never synced reverts at a crash. Directories themselves are durable once created — a
//! simplification: real filesystems also need the grandparent synced.
//!
//! Crash image ([`SimDisk::crash`]): the durable namespace; for each file, its durable image
//! plus, for every change since its last sync, in order, a seeded coin flip per 512-byte
//! sector of whether that sector reached the disk (a sector is old or new, never mixed) and a
//! coin flip for each length change.
//!
//! fsyncgate: a failed fdatasync *drops* the file's unsynced changes from the durable path —
//! reads still see them, but no later sync or crash will — because that is what Linux does
//! with the dirty pages whose writeback failed. Engines must latch, not retry.
//!
//! Invariants the simulator enforces so engine bugs surface here and not in production:
//! - O_DIRECT files ([`OpenMode::Direct`]) reject misaligned offsets, lengths and buffer
//!   addresses with EINVAL, for data-plane and blocking calls alike;
//! - chains follow the seam's contract (in order, short or failed link cancels the rest);
//! - with [`SimConfig::crash_after_fsyncs`] = n, the machine "dies" at the (n+1)-th sync: that
//!   sync and every later operation fail with EIO. Writes issued between the n-th sync and
//!   that moment did reach the device unsynced, so the crash image may tear them — exactly
//!   the window (for example a rewritten tail block) a crash test must cover.
//!
//! Threading: single-threaded (`Rc<RefCell<..>>`); never hold a borrow across a call.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use super::buffer::{BufferPool, ALIGNMENT};
use super::posix::{parent_directory, temporary_sibling};
use super::{
    chain, BackendKind, ChainLink, Completion, Create, FileHandle, IoBuffer, IoError, Op, OpenMode,
    Storage, SubmitError, SubmitErrorReason, UntornWrites,
};

/// Granularity at which a crash tears a write: the device's atomic unit.
pub const SECTOR_BYTES: usize = 512;
/// Smallest RWF_ATOMIC write of a simulated device that supports them (a filesystem block).
const ATOMIC_WRITE_UNIT_MIN: usize = 4096;
/// Longest chain accepted, as on the real backends' default queue size.
const LINKS_MAX: usize = 128;

/// A tiny seeded generator (SplitMix64): deterministic, no dependency.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound` > 0); the tiny modulo bias does not matter for tests.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "empty range");
        self.next_u64() % bound
    }

    /// True with probability `probability` (clamped to 0..=1).
    pub fn chance(&mut self, probability: f64) -> bool {
        if probability <= 0.0 {
            return false;
        }
        // 21 random bits give a fraction in (0, 1) fine enough for fault probabilities.
        let bits = u32::try_from(self.next_u64() >> 43).expect("21 bits fit in u32");
        let fraction = (f64::from(bits) + 0.5) / f64::from(1u32 << 21);
        fraction < probability
    }
}

/// Faults and limits of one [`SimStorage`].
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seeds latency, short writes and probabilistic fsync errors.
    pub seed: u64,
    /// A chain completes after a number of polls drawn from `latency_polls_min..=max`; a
    /// `poll` with a timeout skips ahead to the next ready chain (simulated waiting).
    pub latency_polls_min: u64,
    pub latency_polls_max: u64,
    /// Probability that a write link transfers only a prefix (whole sectors; whole
    /// [`ALIGNMENT`] blocks on O_DIRECT files), ending its chain.
    pub short_write_probability: f64,
    /// Probability that an fdatasync (link or `sync_blocking`) fails with EIO.
    pub fsync_error_probability: f64,
    /// Fail exactly the k-th fdatasync (1-based) issued through this storage with EIO.
    pub fail_fsync_number: Option<u64>,
    /// Fail every data-plane write that reaches this file offset or beyond with EIO (a bad
    /// region of the device).
    pub fail_writes_from_offset: Option<u64>,
    /// Fail every data-plane read that reaches this file offset or beyond with EIO (an
    /// unreadable region).
    pub fail_reads_from_offset: Option<u64>,
    /// The machine dies at the next sync once the disk has this many successful syncs (see
    /// [`SimDisk::fsync_count`]): that sync and every later operation fail with EIO, while
    /// writes issued before it stay unsynced on the device. Take [`SimDisk::crash`] afterwards.
    pub crash_after_fsyncs: Option<u64>,
    pub in_flight_max: usize,
    pub chunk_bytes: usize,
    pub chunk_count: usize,
    /// Reported by `disk_usage` as the device size.
    pub disk_bytes_total: u64,
    /// The device's logical block: a crash lands or loses each such piece of a plain write
    /// independently, and `untorn_writes` reports it (4096 models a 4Kn device).
    pub sector_bytes: usize,
    /// Largest RWF_ATOMIC write the device takes (0: none; `untorn_writes` then reports no
    /// atomic support and an atomic write fails with EOPNOTSUPP). The smallest is 4096.
    pub atomic_write_unit_max: usize,
    /// Atomic writes are advertised but refused at run time with EOPNOTSUPP (a kernel or
    /// filesystem whose statx promises more than its write path does).
    pub refuse_atomic_writes: bool,
    /// Model a device without power-loss protection: a data-plane write of more than one
    /// sector that a crash interrupts may leave any of its sectors damaged (bytes that are
    /// neither old nor new), including sectors it rewrote with identical bytes. RWF_ATOMIC
    /// writes and writes of a single sector are never damaged.
    pub damage_torn_writes: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            latency_polls_min: 0,
            latency_polls_max: 0,
            short_write_probability: 0.0,
            fsync_error_probability: 0.0,
            fail_fsync_number: None,
            fail_writes_from_offset: None,
            fail_reads_from_offset: None,
            crash_after_fsyncs: None,
            in_flight_max: 256,
            chunk_bytes: 64 * 1024,
            chunk_count: 64,
            disk_bytes_total: 1 << 40,
            sector_bytes: SECTOR_BYTES,
            atomic_write_unit_max: 0,
            refuse_atomic_writes: false,
            damage_torn_writes: false,
        }
    }
}

/// A change to a file not yet made durable by a sync. A crash lands each `unit`-byte piece
/// of a write (aligned to `unit`) or not, independently: the device's sector for plain
/// writes, the whole write for an untorn (RWF_ATOMIC) one.
#[derive(Clone, Debug)]
enum Change {
    Write {
        offset: usize,
        data: Vec<u8>,
        unit: usize,
        /// A unit of this write that a crash interrupts may come back damaged (neither old
        /// nor new bytes): see [`SimConfig::damage_torn_writes`].
        fragile: bool,
    },
    SetLength(usize),
}

fn apply_write(image: &mut Vec<u8>, offset: usize, data: &[u8]) {
    let end = offset + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[offset..end].copy_from_slice(data);
}

fn apply_change(image: &mut Vec<u8>, change: &Change) {
    match change {
        Change::Write { offset, data, .. } => apply_write(image, *offset, data),
        Change::SetLength(length) => image.resize(*length, 0),
    }
}

#[derive(Clone, Debug, Default)]
struct Inode {
    written: Vec<u8>,
    durable: Vec<u8>,
    unsynced: Vec<Change>,
}

impl Inode {
    fn record(&mut self, change: Change) {
        apply_change(&mut self.written, &change);
        self.unsynced.push(change);
    }

    fn sync(&mut self) {
        for change in self.unsynced.drain(..) {
            apply_change(&mut self.durable, &change);
        }
    }

    /// Durable image plus a seeded subset of the unsynced sectors and length changes.
    fn crash_image(&self, random: &mut SplitMix64) -> Vec<u8> {
        let mut image = self.durable.clone();
        for change in &self.unsynced {
            match change {
                Change::SetLength(length) => {
                    if random.chance(0.5) {
                        image.resize(*length, 0);
                    }
                }
                Change::Write {
                    offset,
                    data,
                    unit,
                    fragile,
                } => {
                    let end = offset + data.len();
                    let mut start = *offset;
                    let unit = (*unit).max(1);
                    while start < end {
                        let sector_end = ((start / unit + 1) * unit).min(end);
                        let piece = &data[start - offset..sector_end - offset];
                        if *fragile && random.chance(0.25) {
                            let damaged: Vec<u8> = piece.iter().map(|byte| !byte).collect();
                            apply_write(&mut image, start, &damaged);
                        } else if random.chance(0.5) {
                            apply_write(&mut image, start, piece);
                        }
                        start = sector_end;
                    }
                }
            }
        }
        image
    }
}

#[derive(Debug, Default)]
struct DiskState {
    inodes: BTreeMap<u64, Inode>,
    names: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    directories: BTreeSet<PathBuf>,
    next_inode: u64,
    fsync_count: u64,
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("sim: {} does not exist", path.display()),
    )
}

impl DiskState {
    fn inode_of(&self, path: &Path) -> io::Result<u64> {
        self.names.get(path).copied().ok_or_else(|| not_found(path))
    }

    fn create(&mut self, path: &Path) -> io::Result<u64> {
        let parent = parent_directory(path);
        if parent != Path::new(".") && !self.directories.contains(parent) {
            return Err(not_found(parent));
        }
        let inode = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(inode, Inode::default());
        self.names.insert(path.to_path_buf(), inode);
        Ok(inode)
    }

    fn inode(&mut self, inode: u64) -> &mut Inode {
        self.inodes
            .get_mut(&inode)
            .expect("open handles keep their inode alive")
    }

    /// Make every entry of `directory` durable as it is now (including removals).
    fn sync_directory(&mut self, directory: &Path) {
        let mut paths: BTreeSet<PathBuf> = BTreeSet::new();
        for path in self.names.keys().chain(self.durable_names.keys()) {
            if path.parent() == Some(directory) {
                paths.insert(path.clone());
            }
        }
        for path in paths {
            match self.names.get(&path) {
                Some(inode) => self.durable_names.insert(path, *inode),
                None => self.durable_names.remove(&path),
            };
        }
        self.fsync_count += 1;
    }
}

/// A simulated disk, shared by handle between a [`SimStorage`] and the test.
#[derive(Clone, Default)]
pub struct SimDisk {
    state: Rc<RefCell<DiskState>>,
}

impl fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("SimDisk")
            .field("files", &state.names.len())
            .field("fsync_count", &state.fsync_count)
            .finish_non_exhaustive()
    }
}

impl SimDisk {
    pub fn new() -> Self {
        Self::default()
    }

    /// Successful syncs (fdatasync links, `sync_blocking`, directory syncs) since this disk
    /// was created; a crash image starts again at 0.
    pub fn fsync_count(&self) -> u64 {
        self.state.borrow().fsync_count
    }

    /// What reads of `path` see now.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let state = self.state.borrow();
        let inode = state.names.get(path)?;
        state.inodes.get(inode).map(|inode| inode.written.clone())
    }

    /// What `path` would hold after a crash with no unsynced sector landing.
    pub fn durable_contents(&self, path: &Path) -> Option<Vec<u8>> {
        let state = self.state.borrow();
        let inode = state.durable_names.get(path)?;
        state.inodes.get(inode).map(|inode| inode.durable.clone())
    }

    /// Paths of all files visible now.
    pub fn file_paths(&self) -> Vec<PathBuf> {
        self.state.borrow().names.keys().cloned().collect()
    }

    /// The disk as a power loss now would leave it (see the module docs); `seed` picks which
    /// unsynced sectors landed. Same disk state and seed give the same image.
    #[must_use]
    pub fn crash(&self, seed: u64) -> SimDisk {
        let state = self.state.borrow();
        let mut random = SplitMix64::new(seed);
        let mut images: HashMap<u64, u64> = HashMap::new();
        let mut crashed = DiskState {
            directories: state.directories.clone(),
            ..DiskState::default()
        };
        for (path, inode) in &state.durable_names {
            let Some(source) = state.inodes.get(inode) else {
                continue;
            };
            let target = *images.entry(*inode).or_insert_with(|| {
                let image = source.crash_image(&mut random);
                let target = crashed.next_inode;
                crashed.next_inode += 1;
                crashed.inodes.insert(
                    target,
                    Inode {
                        written: image.clone(),
                        durable: image,
                        unsynced: Vec::new(),
                    },
                );
                target
            });
            crashed.names.insert(path.clone(), target);
            crashed.durable_names.insert(path.clone(), target);
        }
        SimDisk {
            state: Rc::new(RefCell::new(crashed)),
        }
    }
}

/// An open simulated file.
#[derive(Clone, Copy, Debug)]
struct SimHandle {
    inode: u64,
    mode: OpenMode,
    in_flight: usize,
}

/// A submitted chain waiting for its simulated latency.
#[derive(Debug)]
struct QueuedChain {
    ready_at: u64,
    sequence: u64,
    links: Vec<ChainLink>,
}

/// The simulated backend; see the module docs.
pub struct SimStorage {
    disk: SimDisk,
    config: SimConfig,
    random: SplitMix64,
    handles: BTreeMap<u32, SimHandle>,
    next_handle: u32,
    pool: BufferPool,
    queue: Vec<QueuedChain>,
    ready: VecDeque<Completion>,
    polls: u64,
    sequence: u64,
    in_flight: usize,
    fdatasyncs_issued: u64,
    dead: bool,
}

impl fmt::Debug for SimStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimStorage")
            .field("disk", &self.disk)
            .field("in_flight", &self.in_flight)
            .field("polls", &self.polls)
            .finish_non_exhaustive()
    }
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(libc::EIO)
}

fn einval(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("sim: O_DIRECT requires {ALIGNMENT}-byte alignment: {what}"),
    )
}

/// EINVAL unless offset, length and address are all aligned (O_DIRECT rules).
fn check_direct(offset: u64, length: usize, address: usize) -> Result<(), &'static str> {
    let alignment = u64::try_from(ALIGNMENT).expect("4096 fits in u64");
    if offset % alignment != 0 {
        Err("misaligned file offset")
    } else if length % ALIGNMENT != 0 {
        Err("misaligned length")
    } else if address % ALIGNMENT != 0 {
        Err("misaligned buffer address")
    } else {
        Ok(())
    }
}

/// EINVAL for a blocking call on an O_DIRECT file with a misaligned offset, length or address.
fn check_blocking_direct(handle: SimHandle, offset: u64, bytes: &[u8]) -> io::Result<()> {
    if handle.mode == OpenMode::Direct {
        check_direct(offset, bytes.len(), bytes.as_ptr().addr()).map_err(einval)?;
    }
    Ok(())
}

fn to_index(offset: u64) -> Result<usize, IoError> {
    usize::try_from(offset).map_err(|_| IoError::from_errno(libc::EFBIG))
}

impl SimStorage {
    pub fn new(disk: SimDisk, config: SimConfig) -> Self {
        let pool = BufferPool::new(config.chunk_bytes, config.chunk_count)
            .expect("the simulator's buffer pool is small enough to allocate");
        Self {
            disk,
            random: SplitMix64::new(config.seed),
            config,
            handles: BTreeMap::new(),
            next_handle: 0,
            pool,
            queue: Vec::new(),
            ready: VecDeque::new(),
            polls: 0,
            sequence: 0,
            in_flight: 0,
            fdatasyncs_issued: 0,
            dead: false,
        }
    }

    /// The disk this storage writes to (a shared handle).
    pub fn disk(&self) -> SimDisk {
        self.disk.clone()
    }

    /// Shorthand for `self.disk().crash(seed)`.
    #[must_use]
    pub fn crash(&self, seed: u64) -> SimDisk {
        self.disk.crash(seed)
    }

    /// Whether the configured fail-stop point was reached: every operation now fails.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// False (and dead from now on) when a sync would pass the `crash_after_fsyncs` limit.
    fn sync_allowed(&mut self) -> bool {
        let limit_reached = self
            .config
            .crash_after_fsyncs
            .is_some_and(|limit| self.disk.fsync_count() >= limit);
        self.dead |= limit_reached;
        !self.dead
    }

    fn alive(&self) -> io::Result<()> {
        if self.is_dead() {
            Err(eio())
        } else {
            Ok(())
        }
    }

    fn handle(&self, file: FileHandle) -> io::Result<SimHandle> {
        self.handles.get(&file.0).copied().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("sim: unknown file handle {}", file.0),
            )
        })
    }

    /// fdatasync with fault injection: EIO drops the unsynced changes (see module docs).
    fn fdatasync(&mut self, inode: u64) -> Result<(), IoError> {
        if !self.sync_allowed() {
            // The machine died: unsynced changes stay on the device for the crash to tear.
            return Err(IoError::from_errno(libc::EIO));
        }
        self.fdatasyncs_issued += 1;
        let injected = self.config.fail_fsync_number == Some(self.fdatasyncs_issued)
            || self.random.chance(self.config.fsync_error_probability);
        let mut state = self.disk.state.borrow_mut();
        let file = state.inode(inode);
        if injected {
            file.unsynced.clear();
            return Err(IoError::from_errno(libc::EIO));
        }
        file.sync();
        state.fsync_count += 1;
        Ok(())
    }

    /// The kernel's checks of an RWF_ATOMIC write: an O_DIRECT file that supports them, a
    /// power-of-two length inside the unit range, and an offset aligned to the length.
    fn check_atomic(&self, mode: OpenMode, offset: u64, length: usize) -> Result<(), IoError> {
        let max = self.config.atomic_write_unit_max;
        if mode != OpenMode::Direct || max == 0 || self.config.refuse_atomic_writes {
            return Err(IoError::from_errno(libc::EOPNOTSUPP));
        }
        let min = ATOMIC_WRITE_UNIT_MIN.min(max);
        let aligned = u64::try_from(length).is_ok_and(|length| offset % length == 0);
        if !length.is_power_of_two() || length < min || length > max || !aligned {
            return Err(IoError::from_errno(libc::EINVAL));
        }
        Ok(())
    }

    /// Bytes a write link actually transfers: all, or a seeded shorter prefix.
    fn short_write_length(&mut self, length: usize, mode: OpenMode) -> usize {
        let unit = match mode {
            OpenMode::Direct => ALIGNMENT,
            OpenMode::Buffered => SECTOR_BYTES,
        };
        let units = length / unit;
        if units < 2 || !self.random.chance(self.config.short_write_probability) {
            return length;
        }
        let units = u64::try_from(units).expect("usize fits in u64");
        let kept = usize::try_from(1 + self.random.below(units - 1)).expect("below units");
        kept * unit
    }

    /// Run one write link: check it, then record the change as not yet durable.
    fn execute_write(
        &mut self,
        handle: SimHandle,
        offset: u64,
        source: &[u8],
        atomic: bool,
    ) -> Result<usize, IoError> {
        if handle.mode == OpenMode::Direct {
            check_direct(offset, source.len(), source.as_ptr().addr())
                .map_err(|_| IoError::from_errno(libc::EINVAL))?;
        }
        let reach = offset + u64::try_from(source.len()).unwrap_or(u64::MAX);
        if self
            .config
            .fail_writes_from_offset
            .is_some_and(|bad| reach > bad)
        {
            return Err(IoError::from_errno(libc::EIO));
        }
        // An untorn write is all or nothing; it is never short.
        let length = if atomic {
            source.len()
        } else {
            self.short_write_length(source.len(), handle.mode)
        };
        let unit = if atomic {
            self.check_atomic(handle.mode, offset, length)?;
            length
        } else {
            self.config.sector_bytes
        };
        let change = Change::Write {
            offset: to_index(offset)?,
            data: source[..length].to_vec(),
            unit,
            fragile: self.config.damage_torn_writes && !atomic && length > unit,
        };
        self.disk
            .state
            .borrow_mut()
            .inode(handle.inode)
            .record(change);
        Ok(length)
    }

    /// Run one link against the disk now.
    fn execute(&mut self, op: &mut Op) -> Result<usize, IoError> {
        if self.is_dead() {
            return Err(IoError::from_errno(libc::EIO));
        }
        let handle = self
            .handle(chain::link_file(op))
            .map_err(|_| IoError::from_errno(libc::EBADF))?;
        match op {
            Op::Write {
                offset,
                buffer,
                range,
                atomic,
                ..
            } => self.execute_write(handle, *offset, &buffer[range.clone()], *atomic),
            Op::Read {
                offset,
                buffer,
                range,
                ..
            } => {
                let target = &mut buffer[range.clone()];
                if handle.mode == OpenMode::Direct {
                    check_direct(*offset, target.len(), target.as_ptr().addr())
                        .map_err(|_| IoError::from_errno(libc::EINVAL))?;
                }
                let reach = *offset + u64::try_from(target.len()).unwrap_or(u64::MAX);
                if self
                    .config
                    .fail_reads_from_offset
                    .is_some_and(|bad| reach > bad)
                {
                    return Err(IoError::from_errno(libc::EIO));
                }
                let offset = to_index(*offset)?;
                let mut state = self.disk.state.borrow_mut();
                let written = &state.inode(handle.inode).written;
                let available = written.len().saturating_sub(offset).min(target.len());
                if available > 0 {
                    target[..available].copy_from_slice(&written[offset..offset + available]);
                }
                Ok(available)
            }
            Op::Fdatasync { .. } => self.fdatasync(handle.inode).map(|()| 0),
        }
    }

    /// Run a whole chain: each link only if the previous one succeeded in full.
    fn run_chain(&mut self, links: Vec<ChainLink>) {
        let mut ended = false;
        for mut link in links {
            let file = chain::link_file(&link.op);
            if let Some(handle) = self.handles.get_mut(&file.0) {
                handle.in_flight -= 1;
            }
            if ended {
                self.ready.push_back(chain::canceled(link));
                continue;
            }
            let result = self.execute(&mut link.op);
            ended = chain::ends_chain(chain::requested_bytes(&link.op), &result);
            self.ready.push_back(Completion {
                token: link.token,
                result,
                buffer: chain::into_buffer(link.op),
            });
        }
    }

    fn sync_io(&mut self, inode: u64) -> io::Result<()> {
        self.fdatasync(inode)
            .map_err(|error| io::Error::from_raw_os_error(error.errno))
    }
}

impl Storage for SimStorage {
    fn kind(&self) -> BackendKind {
        BackendKind::Sim
    }

    fn open(&mut self, path: &Path, create: Create, mode: OpenMode) -> io::Result<FileHandle> {
        self.alive()?;
        let existing = self.disk.state.borrow().names.get(path).copied();
        let inode = match (existing, create) {
            (Some(inode), _) => inode,
            (None, Create::Yes) => self.disk.state.borrow_mut().create(path)?,
            (None, Create::No) => return Err(not_found(path)),
        };
        let handle = self.next_handle;
        self.next_handle += 1;
        self.handles.insert(
            handle,
            SimHandle {
                inode,
                mode,
                in_flight: 0,
            },
        );
        Ok(FileHandle(handle))
    }

    fn close(&mut self, file: FileHandle) -> io::Result<()> {
        let handle = self.handle(file)?;
        if handle.in_flight > 0 {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "sim: close with operations in flight",
            ));
        }
        self.handles.remove(&file.0);
        Ok(())
    }

    fn allocate(&mut self, file: FileHandle, length: u64) -> io::Result<()> {
        self.alive()?;
        let handle = self.handle(file)?;
        let length = usize::try_from(length).map_err(|_| eio())?;
        let mut state = self.disk.state.borrow_mut();
        let inode = state.inode(handle.inode);
        if inode.written.len() < length {
            inode.record(Change::SetLength(length));
        }
        Ok(())
    }

    fn untorn_writes(&self, file: FileHandle) -> UntornWrites {
        let block = u32::try_from(self.config.sector_bytes).unwrap_or(u32::MAX);
        match self.handles.get(&file.0) {
            Some(handle) if handle.mode == OpenMode::Direct => {
                let max = u32::try_from(self.config.atomic_write_unit_max).unwrap_or(u32::MAX);
                let min = u32::try_from(ATOMIC_WRITE_UNIT_MIN)
                    .unwrap_or(u32::MAX)
                    .min(max);
                UntornWrites::from_statx((max > 0).then_some((min, max)), Some(block))
            }
            _ => UntornWrites::from_statx(None, None),
        }
    }

    fn file_size(&mut self, file: FileHandle) -> io::Result<u64> {
        self.alive()?;
        let handle = self.handle(file)?;
        let length = self
            .disk
            .state
            .borrow_mut()
            .inode(handle.inode)
            .written
            .len();
        Ok(u64::try_from(length).expect("usize fits in u64"))
    }

    fn truncate(&mut self, file: FileHandle, length: u64) -> io::Result<()> {
        self.alive()?;
        let handle = self.handle(file)?;
        let length = usize::try_from(length).map_err(|_| eio())?;
        let mut state = self.disk.state.borrow_mut();
        state.inode(handle.inode).record(Change::SetLength(length));
        Ok(())
    }

    fn read_blocking(
        &mut self,
        file: FileHandle,
        offset: u64,
        target: &mut [u8],
    ) -> io::Result<usize> {
        self.alive()?;
        let handle = self.handle(file)?;
        check_blocking_direct(handle, offset, target)?;
        let offset = usize::try_from(offset).map_err(|_| eio())?;
        let mut state = self.disk.state.borrow_mut();
        let written = &state.inode(handle.inode).written;
        let available = written.len().saturating_sub(offset).min(target.len());
        if available > 0 {
            target[..available].copy_from_slice(&written[offset..offset + available]);
        }
        Ok(available)
    }

    fn write_blocking(&mut self, file: FileHandle, offset: u64, source: &[u8]) -> io::Result<()> {
        self.alive()?;
        let handle = self.handle(file)?;
        check_blocking_direct(handle, offset, source)?;
        let offset = usize::try_from(offset).map_err(|_| eio())?;
        let change = Change::Write {
            offset,
            data: source.to_vec(),
            unit: self.config.sector_bytes,
            fragile: false,
        };
        self.disk
            .state
            .borrow_mut()
            .inode(handle.inode)
            .record(change);
        Ok(())
    }

    fn sync_blocking(&mut self, file: FileHandle) -> io::Result<()> {
        self.alive()?;
        let handle = self.handle(file)?;
        self.sync_io(handle.inode)
    }

    fn remove_file(&mut self, path: &Path) -> io::Result<()> {
        self.alive()?;
        let mut state = self.disk.state.borrow_mut();
        state
            .names
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| not_found(path))
    }

    fn rename(&mut self, source: &Path, target: &Path) -> io::Result<()> {
        self.alive()?;
        let mut state = self.disk.state.borrow_mut();
        let inode = state.inode_of(source)?;
        let parent = parent_directory(target);
        if parent != Path::new(".") && !state.directories.contains(parent) {
            return Err(not_found(parent));
        }
        state.names.remove(source);
        state.names.insert(target.to_path_buf(), inode);
        Ok(())
    }

    fn create_directory_all(&mut self, path: &Path) -> io::Result<()> {
        self.alive()?;
        let mut state = self.disk.state.borrow_mut();
        for ancestor in path.ancestors() {
            if !ancestor.as_os_str().is_empty() {
                state.directories.insert(ancestor.to_path_buf());
            }
        }
        Ok(())
    }

    fn sync_directory(&mut self, path: &Path) -> io::Result<()> {
        self.alive()?;
        if !self.sync_allowed() {
            return Err(eio());
        }
        let mut state = self.disk.state.borrow_mut();
        if !state.directories.contains(path) {
            return Err(not_found(path));
        }
        state.sync_directory(path);
        Ok(())
    }

    fn list_directory(&mut self, path: &Path) -> io::Result<Vec<String>> {
        self.alive()?;
        let state = self.disk.state.borrow();
        let names: BTreeSet<String> = state
            .names
            .keys()
            .chain(state.directories.iter())
            .filter(|entry| entry.parent() == Some(path))
            .filter_map(|entry| entry.file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .collect();
        Ok(names.into_iter().collect())
    }

    fn exists(&mut self, path: &Path) -> bool {
        let state = self.disk.state.borrow();
        state.names.contains_key(path) || state.directories.contains(path)
    }

    fn read_whole(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        self.alive()?;
        let mut state = self.disk.state.borrow_mut();
        let inode = state.inode_of(path)?;
        Ok(state.inode(inode).written.clone())
    }

    fn write_whole_atomic(&mut self, path: &Path, contents: &[u8]) -> io::Result<()> {
        self.alive()?;
        let temporary = temporary_sibling(path);
        let inode = {
            let mut state = self.disk.state.borrow_mut();
            let inode = state.create(&temporary)?;
            let change = Change::Write {
                offset: 0,
                data: contents.to_vec(),
                unit: SECTOR_BYTES,
                fragile: false,
            };
            state.inode(inode).record(change);
            inode
        };
        self.sync_io(inode)?;
        self.rename(&temporary, path)?;
        self.sync_directory(parent_directory(path))
    }

    fn disk_usage(&mut self, _path: &Path) -> io::Result<(u64, u64)> {
        self.alive()?;
        let state = self.disk.state.borrow();
        let used: usize = state.inodes.values().map(|inode| inode.written.len()).sum();
        let used = u64::try_from(used).expect("usize fits in u64");
        Ok((used, self.config.disk_bytes_total))
    }

    fn buffer(&mut self) -> Option<IoBuffer> {
        self.pool.take()
    }

    fn recycle(&mut self, buffer: IoBuffer) {
        drop(buffer);
    }

    fn submit(&mut self, links: Vec<ChainLink>) -> Result<(), SubmitError> {
        if links.is_empty() {
            return Ok(());
        }
        if self.in_flight + links.len() > self.config.in_flight_max {
            return Err(SubmitError {
                reason: SubmitErrorReason::Busy,
                links,
            });
        }
        self.in_flight += links.len();
        let handles = &self.handles;
        let invalid = chain::first_invalid(
            &links,
            |file| handles.contains_key(&file.0),
            LINKS_MAX,
            usize::MAX,
        );
        if let Some((index, errno)) = invalid {
            self.ready.extend(chain::reject(links, index, errno));
            return Ok(());
        }
        for link in &links {
            if let Some(handle) = self.handles.get_mut(&chain::link_file(&link.op).0) {
                handle.in_flight += 1;
            }
        }
        let spread = self
            .config
            .latency_polls_max
            .saturating_sub(self.config.latency_polls_min);
        let latency = self.config.latency_polls_min + self.random.below(spread + 1);
        self.queue.push(QueuedChain {
            ready_at: self.polls + 1 + latency,
            sequence: self.sequence,
            links,
        });
        self.sequence += 1;
        Ok(())
    }

    fn poll(
        &mut self,
        completions: &mut Vec<Completion>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        self.polls += 1;
        if self.ready.is_empty() && timeout.is_some() {
            // Simulated waiting: jump to the moment the next chain completes.
            if let Some(next) = self.queue.iter().map(|queued| queued.ready_at).min() {
                self.polls = self.polls.max(next);
            }
        }
        let mut due: Vec<QueuedChain> = Vec::new();
        let mut index = 0;
        while index < self.queue.len() {
            if self.queue[index].ready_at <= self.polls {
                due.push(self.queue.swap_remove(index));
            } else {
                index += 1;
            }
        }
        due.sort_by_key(|queued| (queued.ready_at, queued.sequence));
        for queued in due {
            self.run_chain(queued.links);
        }
        let delivered = self.ready.len();
        completions.extend(self.ready.drain(..));
        self.in_flight -= delivered;
        Ok(())
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn notify_fd(&self) -> Option<RawFd> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_deterministic_and_spreads() {
        let mut first = SplitMix64::new(42);
        let mut second = SplitMix64::new(42);
        let draws: Vec<u64> = (0..8).map(|_| first.next_u64()).collect();
        assert_eq!(draws, (0..8).map(|_| second.next_u64()).collect::<Vec<_>>());
        let heads = (0..10_000).filter(|_| first.chance(0.5)).count();
        assert!((4_500..5_500).contains(&heads), "heads {heads}");
        assert!(!first.chance(0.0));
    }

    #[test]
    fn a_torn_write_changes_whole_sectors_only() {
        let inode = Inode {
            written: Vec::new(),
            durable: vec![0xAA; 4096],
            unsynced: vec![Change::Write {
                offset: 0,
                data: vec![0xBB; 4096],
                unit: SECTOR_BYTES,
                fragile: false,
            }],
        };
        for seed in 0..32 {
            let image = inode.crash_image(&mut SplitMix64::new(seed));
            for sector in image.chunks(SECTOR_BYTES) {
                assert!(
                    sector.iter().all(|byte| *byte == sector[0]),
                    "seed {seed}: a sector mixes old and new bytes"
                );
            }
        }
    }
}
