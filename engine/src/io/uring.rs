//! The production backend: one io_uring per shard and a small reactor around it.
//!
//! Which core owns it: the shard thread that built it. The ring is set up with SINGLE_ISSUER
//! (when the kernel accepts it), so only that thread may enter it; the type is `!Send` to make
//! moving it a compile error. Overload: [`Storage::submit`] returns `Busy` when the in-flight
//! cap (kept below the completion-queue capacity, so CQEs never overflow) or the submission
//! queue's room would be exceeded — it never queues without bound.
//!
//! Invariants:
//! - the reactor owns every in-flight operation's [`IoBuffer`] in its slab, keyed by the SQE's
//!   `user_data`, until the CQE arrives; dropping the storage waits for outstanding CQEs (or
//!   leaks the buffers) so the kernel never DMAs into freed memory;
//! - a chain's SQEs are pushed only after checking the submission queue has room for all of
//!   them, because io_uring does not keep links across submission boundaries;
//! - completions of a chain are handed out in chain order, whatever order the CQEs arrive in;
//! - a failed or short link makes the kernel cancel the later links (-ECANCELED); the short
//!   link itself is reported as `Ok(bytes)` with fewer bytes than asked, and the caller
//!   resubmits the remainder.
//!
//! Durability contract: a chain's `Fdatasync` is IORING_FSYNC_DATASYNC on the same file, linked
//! after the writes, so its success means every earlier link of the chain is durable.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use io_uring::{opcode, squeue, types, EnterFlags, IoUring, Probe};

use super::buffer::{BufferPool, ALIGNMENT};
pub use super::memlock::REGISTERED_REGION_BYTES_MAX;
use super::memlock::{self, Memlock, PoolPlan, PoolRequest};
use super::posix::{self, FileTable};
use super::{
    chain, BackendKind, ChainLink, Completion, FileHandle, IoBuffer, IoError, Op, Storage,
    SubmitError, SubmitErrorReason,
};

/// Default submission-queue size; a chain longer than this can never be submitted whole.
pub const SUBMISSION_ENTRIES_DEFAULT: u32 = 128;
/// The completion queue is this many times the submission queue (2–4x is the usual advice).
pub const COMPLETION_ENTRIES_PER_SUBMISSION_ENTRY: u32 = 4;
// The default ring's pages (64-byte SQEs, 16-byte CQEs, the 4-byte SQ index array and a page
// for headers and rounding) fit the memlock allowance kept for each ring, with room to spare.
const _: () = assert!(
    (SUBMISSION_ENTRIES_DEFAULT as usize) * (64 + 4)
        + (SUBMISSION_ENTRIES_DEFAULT * COMPLETION_ENTRIES_PER_SUBMISSION_ENTRY) as usize * 16
        + 2 * ALIGNMENT
        <= memlock::RING_MEMLOCK_ALLOWANCE_BYTES / 2
);
/// Largest read or write one SQE can carry (`len` is a u32; keep it page-aligned).
const LINK_BYTES_MAX: usize = (1 << 31) - ALIGNMENT;
/// How long `drop` waits, in total, for in-flight operations before leaking their buffers.
const DROP_WAIT_ROUNDS: u32 = 100;
const DROP_WAIT_ROUND: Duration = Duration::from_millis(100);

/// Sizes of one ring and its buffer pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UringConfig {
    /// The buffer pool: its size, or how to size it from RLIMIT_MEMLOCK ([`memlock`]).
    pub pool: PoolRequest,
    pub chunk_bytes: usize,
    pub submission_entries: u32,
    /// Operations in flight at most; must stay below the completion-queue capacity.
    pub in_flight_max: usize,
    /// Ask for SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN. Off by default: with deferred
    /// task work a completion is posted (and the eventfd signalled) only when the thread enters
    /// the ring, so a shard sleeping in epoll learned of its fdatasync only at its next timer
    /// tick. Measured on the 2-vCPU VM with `ringmq bench produce -w 64 -s 1024` against a
    /// SYNC_FLUSH `ringmq dev`: 4.8k msg/s, p50 11.7 ms with these flags; 14.5k msg/s, p50
    /// 3.2 ms without. Turn it on only for threads that wait inside the ring.
    pub defer_taskrun: bool,
}

impl UringConfig {
    /// A ring with a pool of exactly `pool_bytes`, the only one of its process.
    pub fn new(pool_bytes: usize, chunk_bytes: usize) -> Self {
        Self::for_pool(&PoolRequest::explicit(pool_bytes), chunk_bytes)
    }

    /// A ring with the pool `pool` asks for (see [`memlock`] for the sizing).
    pub fn for_pool(pool: &PoolRequest, chunk_bytes: usize) -> Self {
        Self {
            pool: *pool,
            chunk_bytes,
            submission_entries: SUBMISSION_ENTRIES_DEFAULT,
            in_flight_max: usize::try_from(2 * SUBMISSION_ENTRIES_DEFAULT)
                .expect("a small constant fits in usize"),
            defer_taskrun: false,
        }
    }

    fn completion_entries(&self) -> u32 {
        self.submission_entries
            .saturating_mul(COMPLETION_ENTRIES_PER_SUBMISSION_ENTRY)
    }
}

/// Setup flags the kernel accepted for the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingFlavor {
    /// SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN: completions run only when we enter.
    DeferTaskrun,
    /// No task-run flags (older kernels reject them with EINVAL).
    Plain,
}

/// Why the io_uring backend could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum UringSetupError {
    /// A setup or registration syscall failed.
    Syscall {
        operation: &'static str,
        error: io::Error,
    },
    /// The kernel lacks an opcode or feature this backend needs.
    Unsupported { missing: String },
    /// The aligned buffer pool could not be allocated.
    PoolAllocation { bytes: usize },
    /// The configuration contradicts itself (for example an in-flight cap above the CQ size).
    InvalidConfig { reason: String },
}

impl UringSetupError {
    /// Whether the failure means "io_uring is not available here" (ENOSYS: no kernel support;
    /// EPERM: sysctl, group or seccomp; EINVAL: unknown setup flags or ABI; or a missing
    /// opcode) rather than a resource problem such as ENOMEM, which must not be hidden by
    /// silently switching backends.
    pub fn means_unavailable(&self) -> bool {
        match self {
            Self::Syscall { operation, error } => {
                *operation == "io_uring_setup"
                    && matches!(
                        error.raw_os_error(),
                        Some(libc::ENOSYS | libc::EPERM | libc::EINVAL)
                    )
            }
            Self::Unsupported { .. } => true,
            Self::PoolAllocation { .. } | Self::InvalidConfig { .. } => false,
        }
    }

    /// Short errno name for logs, e.g. "EPERM".
    pub fn errno_name(&self) -> Option<&'static str> {
        let Self::Syscall { error, .. } = self else {
            return None;
        };
        Some(match error.raw_os_error()? {
            libc::ENOSYS => "ENOSYS",
            libc::EPERM => "EPERM",
            libc::EINVAL => "EINVAL",
            libc::ENOMEM => "ENOMEM",
            libc::EMFILE => "EMFILE",
            _ => return None,
        })
    }
}

impl fmt::Display for UringSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syscall { operation, error } => match self.errno_name() {
                Some(name) => write!(f, "{operation} failed with {name} ({error})"),
                None => write!(f, "{operation} failed: {error}"),
            },
            Self::Unsupported { missing } => write!(f, "kernel lacks {missing}"),
            Self::PoolAllocation { bytes } => {
                write!(f, "allocating a {bytes}-byte aligned buffer pool failed")
            }
            Self::InvalidConfig { reason } => write!(f, "invalid io_uring config: {reason}"),
        }
    }
}

impl std::error::Error for UringSetupError {}

/// An operation the kernel owns: its buffer stays here until its CQE arrives.
#[derive(Debug)]
struct PendingOp {
    chain: u64,
    index: usize,
    token: u64,
    file: FileHandle,
    buffer: Option<IoBuffer>,
}

/// Fixed-capacity slab of in-flight operations; the slot index is the SQE's `user_data`.
#[derive(Debug)]
struct Slab {
    slots: Vec<Option<PendingOp>>,
    free: Vec<usize>,
}

impl Slab {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            slots: (0..capacity).map(|_| None).collect(),
            free: (0..capacity).rev().collect(),
        }
    }

    fn insert(&mut self, op: PendingOp) -> u64 {
        let slot = self
            .free
            .pop()
            .expect("the in-flight cap equals the slab capacity and was checked");
        assert!(
            self.slots[slot].is_none(),
            "slab slot reused while in flight"
        );
        self.slots[slot] = Some(op);
        u64::try_from(slot).expect("slot indices fit in u64")
    }

    fn remove(&mut self, key: u64) -> Option<PendingOp> {
        let slot = usize::try_from(key).ok()?;
        let op = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        Some(op)
    }

    fn is_empty(&self) -> bool {
        self.free.len() == self.slots.len()
    }

    /// Forget every in-flight buffer so its memory is never freed while the kernel may use it.
    fn leak(&mut self) {
        for slot in &mut self.slots {
            if let Some(op) = slot.take() {
                std::mem::forget(op.buffer);
            }
        }
    }
}

/// Completions of one chain held back until every earlier link's completion is out.
#[derive(Debug)]
struct ChainProgress {
    slots: Vec<Option<Completion>>,
    delivered: usize,
}

/// The io_uring backend for one shard.
pub struct UringStorage {
    // Declared first so it is dropped first: closing the ring releases the registered region.
    ring: IoUring,
    eventfd: OwnedFd,
    files: FileTable,
    pool: BufferPool,
    slab: Slab,
    chains: HashMap<u64, ChainProgress>,
    next_chain: u64,
    ready: VecDeque<Completion>,
    reaped: Vec<(u64, i32)>,
    in_flight: usize,
    in_flight_max: usize,
    flavor: RingFlavor,
    /// What the pool is and whether it is registered, for the log (see [`memlock`]).
    pool_note: String,
    failure: Option<String>,
    _single_thread: PhantomData<*const ()>,
}

impl fmt::Debug for UringStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UringStorage")
            .field("flavor", &self.flavor)
            .field("in_flight", &self.in_flight)
            .field("in_flight_max", &self.in_flight_max)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

/// Build the ring, preferring the deferred-task-run flags and falling back to plain setup
/// when the kernel rejects them with EINVAL.
fn build_ring(config: &UringConfig) -> Result<(IoUring, RingFlavor), UringSetupError> {
    if !config.defer_taskrun {
        return IoUring::builder()
            .setup_cqsize(config.completion_entries())
            .build(config.submission_entries)
            .map(|ring| (ring, RingFlavor::Plain))
            .map_err(|error| UringSetupError::Syscall {
                operation: "io_uring_setup",
                error,
            });
    }
    let deferred = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_coop_taskrun()
        .setup_cqsize(config.completion_entries())
        .build(config.submission_entries);
    let error = match deferred {
        Ok(ring) => return Ok((ring, RingFlavor::DeferTaskrun)),
        Err(error) => error,
    };
    if error.raw_os_error() != Some(libc::EINVAL) {
        return Err(UringSetupError::Syscall {
            operation: "io_uring_setup",
            error,
        });
    }
    IoUring::builder()
        .setup_cqsize(config.completion_entries())
        .build(config.submission_entries)
        .map(|ring| (ring, RingFlavor::Plain))
        .map_err(|error| UringSetupError::Syscall {
            operation: "io_uring_setup",
            error,
        })
}

/// Fail unless the kernel has every opcode and feature the backend uses.
fn check_support(ring: &IoUring) -> Result<(), UringSetupError> {
    let mut probe = Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|error| UringSetupError::Unsupported {
            missing: format!("IORING_REGISTER_PROBE ({error})"),
        })?;
    let required = [
        (opcode::Write::CODE, "IORING_OP_WRITE"),
        (opcode::Read::CODE, "IORING_OP_READ"),
        (opcode::WriteFixed::CODE, "IORING_OP_WRITE_FIXED"),
        (opcode::ReadFixed::CODE, "IORING_OP_READ_FIXED"),
        (opcode::Fsync::CODE, "IORING_OP_FSYNC"),
    ];
    let missing: Vec<&str> = required
        .iter()
        .filter(|(code, _)| !probe.is_supported(*code))
        .map(|(_, name)| *name)
        .collect();
    if !ring.params().is_feature_ext_arg() {
        return Err(UringSetupError::Unsupported {
            missing: "IORING_FEAT_EXT_ARG (kernel 5.11+)".to_owned(),
        });
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(UringSetupError::Unsupported {
            missing: missing.join(", "),
        })
    }
}

/// Allocate the pool `plan` describes and register it if the plan says so. Returns the pool
/// and the log line saying what it is. When the kernel refuses a registration the plan
/// allowed (other processes of the user hold part of the limit, see [`memlock`]), the pool
/// falls back to the requested size, unregistered, as for any unregistered pool.
fn set_up_pool(ring: &IoUring, plan: &PoolPlan) -> Result<(BufferPool, String), UringSetupError> {
    let allocate = |chunks: usize| {
        BufferPool::new(plan.chunk_bytes, chunks).ok_or(UringSetupError::PoolAllocation {
            bytes: plan.chunk_bytes.saturating_mul(chunks),
        })
    };
    let mut pool = allocate(plan.chunk_count)?;
    if !plan.register() {
        return Ok((pool, plan.describe()));
    }
    let Err(error) = register_pool(ring, &mut pool, plan) else {
        return Ok((pool, plan.describe()));
    };
    let tried = pool.region_bytes();
    if plan.requested_chunks != plan.chunk_count {
        drop(pool);
        pool = allocate(plan.requested_chunks)?;
    }
    let limit = match plan.memlock {
        Memlock::Limited(limit) => memlock::describe_bytes(limit),
        Memlock::Unlimited => "unlimited".to_owned(),
        Memlock::Exempt => "not charged (CAP_IPC_LOCK)".to_owned(),
    };
    let note = format!(
        "buffer pool {} not registered: io_uring_register(BUFFERS) of {} failed: {error}; \
         RLIMIT_MEMLOCK is {limit} for {} shard(s), and the kernel charges every process of \
         the user against it: raise LimitMEMLOCK= in the systemd unit or ulimit -l; reads and \
         writes use unregistered buffers",
        memlock::describe_bytes(u64::try_from(pool.region_bytes()).unwrap_or(u64::MAX)),
        memlock::describe_bytes(u64::try_from(tried).unwrap_or(u64::MAX)),
        plan.request.shards.max(1)
    );
    Ok((pool, note))
}

/// Register the pool's region as fixed buffer 0.
fn register_pool(ring: &IoUring, pool: &mut BufferPool, plan: &PoolPlan) -> io::Result<()> {
    let (base, length) = pool.region_pointer();
    if matches!(plan.memlock, Memlock::Limited(_)) {
        // A transparent huge page is charged whole to RLIMIT_MEMLOCK even where the region
        // covers part of it, which would put a pool sized to its share over the limit. A
        // large zeroed allocation is normally fresh, untouched memory, and registration is
        // what faults it in, so keeping the region on base pages now makes the charge its
        // size. Best effort: pages already faulted in as huge pages stay so, and a failure
        // (e.g. pages larger than ALIGNMENT) leaves registration to succeed or log as it will.
        let _ = posix::keep_off_huge_pages(base, length);
    }
    let iovec = libc::iovec {
        iov_base: base.cast(),
        iov_len: length,
    };
    // SAFETY: the iovec covers exactly the pool's region, which stays allocated while the
    // ring lives: the pool is a field of the same UringStorage, dropped after the ring.
    unsafe { ring.submitter().register_buffers(&[iovec]) }?;
    pool.set_registered(true);
    Ok(())
}

/// The SQE for one link, addressing `fd`; `fixed` is the registered index of the buffer if
/// it lives in this ring's registered region.
fn build_entry(op: &mut Op, fd: RawFd, fixed: Option<u16>) -> squeue::Entry {
    let target = types::Fd(fd);
    match op {
        Op::Write {
            offset,
            buffer,
            range,
            atomic,
            ..
        } => {
            let length = u32::try_from(range.len()).expect("validated against LINK_BYTES_MAX");
            let pointer = buffer[range.clone()].as_ptr();
            // RWF_ATOMIC (6.11+): the kernel writes the range untorn or fails the SQE with
            // EINVAL/EOPNOTSUPP, which the commitlog takes as "stop asking".
            let flags = if *atomic { libc::RWF_ATOMIC } else { 0 };
            match fixed {
                Some(index) => opcode::WriteFixed::new(target, pointer, length, index)
                    .offset(*offset)
                    .rw_flags(flags)
                    .build(),
                None => opcode::Write::new(target, pointer, length)
                    .offset(*offset)
                    .rw_flags(flags)
                    .build(),
            }
        }
        Op::Read {
            offset,
            buffer,
            range,
            ..
        } => {
            let length = u32::try_from(range.len()).expect("validated against LINK_BYTES_MAX");
            let pointer = buffer[range.clone()].as_mut_ptr();
            match fixed {
                Some(index) => opcode::ReadFixed::new(target, pointer, length, index)
                    .offset(*offset)
                    .build(),
                None => opcode::Read::new(target, pointer, length)
                    .offset(*offset)
                    .build(),
            }
        }
        Op::Fdatasync { .. } => opcode::Fsync::new(target)
            .flags(types::FsyncFlags::DATASYNC)
            .build(),
    }
}

impl UringStorage {
    /// Set up a ring, its eventfd and its buffer pool on the calling (shard) thread.
    pub fn new(config: &UringConfig) -> Result<Self, UringSetupError> {
        let completion_entries = usize::try_from(config.completion_entries()).unwrap_or(0);
        if config.in_flight_max == 0 || config.in_flight_max >= completion_entries {
            return Err(UringSetupError::InvalidConfig {
                reason: format!(
                    "in_flight_max {} must be in 1..{completion_entries} (the CQ size)",
                    config.in_flight_max
                ),
            });
        }
        let (ring, flavor) = build_ring(config)?;
        check_support(&ring)?;
        let eventfd = posix::eventfd().map_err(|error| UringSetupError::Syscall {
            operation: "eventfd",
            error,
        })?;
        ring.submitter()
            .register_eventfd(eventfd.as_raw_fd())
            .map_err(|error| UringSetupError::Syscall {
                operation: "io_uring_register(EVENTFD)",
                error,
            })?;
        let plan = memlock::plan_pool(&config.pool, config.chunk_bytes, Memlock::probe());
        let (pool, pool_note) = set_up_pool(&ring, &plan)?;
        Ok(Self {
            ring,
            eventfd,
            files: FileTable::default(),
            pool,
            slab: Slab::with_capacity(config.in_flight_max),
            chains: HashMap::new(),
            next_chain: 0,
            ready: VecDeque::new(),
            reaped: Vec::with_capacity(completion_entries),
            in_flight: 0,
            in_flight_max: config.in_flight_max,
            flavor,
            pool_note,
            failure: None,
            _single_thread: PhantomData,
        })
    }

    pub fn flavor(&self) -> RingFlavor {
        self.flavor
    }

    /// Whether the buffer pool is registered as io_uring fixed buffers.
    pub fn buffers_registered(&self) -> bool {
        self.pool.is_registered()
    }

    /// Why the pool is not registered, when it is not (the same text as [`Self::pool_note`]).
    pub fn registration_note(&self) -> Option<&str> {
        (!self.pool.is_registered()).then_some(self.pool_note.as_str())
    }

    /// One line saying the pool's size, how it was chosen and whether it is registered.
    pub fn pool_note(&self) -> &str {
        &self.pool_note
    }

    /// Bytes of the buffer pool actually allocated (it may be smaller than requested).
    pub fn pool_bytes(&self) -> usize {
        self.pool.region_bytes()
    }

    /// Make room for `count` SQEs: submit what is queued if needed. False if still no room.
    fn make_room(&mut self, count: usize) -> bool {
        let room = |ring: &mut IoUring| {
            let queue = ring.submission();
            queue.capacity() - queue.len()
        };
        if room(&mut self.ring) >= count {
            return true;
        }
        let _ = self.ring.submit();
        room(&mut self.ring) >= count
    }

    /// Push every link of a validated chain as linked SQEs; the caller checked the room.
    fn push_chain(&mut self, links: Vec<ChainLink>) {
        let chain_id = self.next_chain;
        self.next_chain += 1;
        let count = links.len();
        self.chains.insert(
            chain_id,
            ChainProgress {
                slots: (0..count).map(|_| None).collect(),
                delivered: 0,
            },
        );
        let mut queue = self.ring.submission();
        for (index, link) in links.into_iter().enumerate() {
            let ChainLink { mut op, token } = link;
            let file = chain::link_file(&op);
            let fd = self
                .files
                .begin_operation(file)
                .expect("the chain was validated against the open files");
            let fixed = match &op {
                Op::Write { buffer, .. } | Op::Read { buffer, .. }
                    if self.pool.is_registered() && self.pool.contains(buffer) =>
                {
                    buffer.registered_index()
                }
                _ => None,
            };
            let mut entry = build_entry(&mut op, fd, fixed);
            let key = self.slab.insert(PendingOp {
                chain: chain_id,
                index,
                token,
                file,
                buffer: chain::into_buffer(op),
            });
            entry = entry.user_data(key);
            if index + 1 < count {
                entry = entry.flags(squeue::Flags::IO_LINK);
            }
            // SAFETY: the SQE points into a buffer now owned by the slab, which keeps it
            // (and its memory) until this SQE's CQE is reaped; the fd stays open because
            // `close` refuses files with operations in flight.
            let pushed = unsafe { queue.push(&entry) };
            pushed.expect("make_room checked the queue has room for the whole chain");
        }
    }

    /// Enter the kernel: submit queued SQEs, run deferred completions and, with a timeout,
    /// wait for at least one CQE. Timeouts and interruptions are not errors.
    fn enter(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let result = match timeout {
            Some(timeout) if !timeout.is_zero() => {
                let timespec = types::Timespec::from(timeout);
                let arguments = types::SubmitArgs::new().timespec(&timespec);
                self.ring.submitter().submit_with_args(1, &arguments)
            }
            _ => {
                let queued = u32::try_from(self.ring.submission().len()).unwrap_or(u32::MAX);
                // SAFETY: no extended argument is passed (null pointer, size of a sigset
                // that is ignored without EXT_ARG), and GETEVENTS with min_complete 0 never
                // blocks; it runs deferred task work so CQEs become visible.
                unsafe {
                    self.ring.submitter().enter::<libc::sigset_t>(
                        queued,
                        0,
                        EnterFlags::GETEVENTS.bits(),
                        None,
                    )
                }
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if matches!(
                    error.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Move CQEs into their chains and release every chain prefix that is complete.
    fn reap(&mut self) {
        self.reaped.clear();
        self.reaped.extend(
            self.ring
                .completion()
                .map(|entry| (entry.user_data(), entry.result())),
        );
        for index in 0..self.reaped.len() {
            let (key, result) = self.reaped[index];
            let Some(op) = self.slab.remove(key) else {
                debug_assert!(false, "CQE for unknown user_data {key}");
                continue;
            };
            self.files.end_operation(op.file);
            let result = match usize::try_from(result) {
                Ok(bytes) => Ok(bytes),
                Err(_) => Err(IoError::from_errno(result.saturating_neg())),
            };
            let completion = Completion {
                token: op.token,
                result,
                buffer: op.buffer,
            };
            let progress = self
                .chains
                .get_mut(&op.chain)
                .expect("every slab entry belongs to a live chain");
            progress.slots[op.index] = Some(completion);
            while let Some(slot) = progress.slots.get_mut(progress.delivered) {
                let Some(completion) = slot.take() else { break };
                self.ready.push_back(completion);
                progress.delivered += 1;
            }
            if progress.delivered == progress.slots.len() {
                self.chains.remove(&op.chain);
            }
        }
    }
}

impl Drop for UringStorage {
    fn drop(&mut self) {
        // The kernel may still write into in-flight buffers. Wait for their CQEs rather than
        // free memory under it (the tokio-uring use-after-free); if the kernel does not answer,
        // leak the buffers instead.
        for _ in 0..DROP_WAIT_ROUNDS {
            if self.slab.is_empty() || self.enter(Some(DROP_WAIT_ROUND)).is_err() {
                break;
            }
            self.reap();
        }
        if !self.slab.is_empty() {
            self.slab.leak();
        }
    }
}

impl Storage for UringStorage {
    fn kind(&self) -> BackendKind {
        BackendKind::Uring
    }

    posix::posix_control_plane!();

    fn submit(&mut self, links: Vec<ChainLink>) -> Result<(), SubmitError> {
        if links.is_empty() {
            return Ok(());
        }
        if self.failure.is_some() {
            return Err(SubmitError {
                reason: SubmitErrorReason::Closed,
                links,
            });
        }
        if self.in_flight + links.len() > self.in_flight_max {
            return Err(SubmitError {
                reason: SubmitErrorReason::Busy,
                links,
            });
        }
        let links_max = self.ring.params().sq_entries();
        let links_max = usize::try_from(links_max).unwrap_or(usize::MAX);
        let files = &self.files;
        let invalid = chain::first_invalid(
            &links,
            |file| files.is_open(file),
            links_max,
            LINK_BYTES_MAX,
        );
        if let Some((index, errno)) = invalid {
            self.in_flight += links.len();
            self.ready.extend(chain::reject(links, index, errno));
            posix::eventfd_signal(self.eventfd.as_raw_fd());
            return Ok(());
        }
        if !self.make_room(links.len()) {
            return Err(SubmitError {
                reason: SubmitErrorReason::Busy,
                links,
            });
        }
        self.in_flight += links.len();
        self.push_chain(links);
        // Start the I/O now, so the device works while the shard keeps appending. A transient
        // failure leaves the SQEs queued for the next poll; anything else breaks the ring.
        if let Err(error) = self.ring.submit() {
            if !matches!(
                error.raw_os_error(),
                Some(libc::EBUSY | libc::EAGAIN | libc::EINTR)
            ) {
                self.failure = Some(format!("io_uring_enter (submit) failed: {error}"));
            }
        }
        Ok(())
    }

    fn poll(
        &mut self,
        completions: &mut Vec<Completion>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        if let Some(failure) = &self.failure {
            return Err(io::Error::other(failure.clone()));
        }
        // Reset the eventfd before reaping, so a CQE posted after this point signals it again.
        posix::eventfd_drain(self.eventfd.as_raw_fd());
        self.reap();
        if self.ready.is_empty() && !self.slab.is_empty() {
            self.enter(timeout)?;
            self.reap();
        } else if !self.ring.submission().is_empty() {
            self.enter(None)?;
        }
        let delivered = self.ready.len();
        completions.extend(self.ready.drain(..));
        assert!(delivered <= self.in_flight, "delivered more than submitted");
        self.in_flight -= delivered;
        Ok(())
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn notify_fd(&self) -> Option<RawFd> {
        Some(self.eventfd.as_raw_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enomem_is_not_treated_as_unavailable() {
        let setup = |errno| UringSetupError::Syscall {
            operation: "io_uring_setup",
            error: io::Error::from_raw_os_error(errno),
        };
        assert!(setup(libc::EPERM).means_unavailable());
        assert!(setup(libc::ENOSYS).means_unavailable());
        assert!(setup(libc::EINVAL).means_unavailable());
        assert!(!setup(libc::ENOMEM).means_unavailable());
    }
}
