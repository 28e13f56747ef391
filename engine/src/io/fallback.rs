//! The portable backend, for machines where io_uring cannot be set up (containers whose
//! seccomp profile blocks it, `kernel.io_uring_disabled`, old kernels): a helper thread runs
//! each chain with pwrite/pread/fdatasync, and completions come back over a channel plus an
//! eventfd for the shard's event loop.
//!
//! Which core owns it: the shard thread that built it; the helper thread only touches the
//! descriptors and buffers handed to it inside a job. Overload: `submit` returns `Busy` at the
//! in-flight cap, so the job channel is bounded by that cap.
//!
//! Invariants:
//! - chains run one at a time, in submission order, each link only after the previous one
//!   succeeded in full; after a failed or short link the rest complete as `Canceled`
//!   (the io_uring rule, see `chain::ends_chain`);
//! - a job owns its buffers until its completion is sent back, and the descriptors it uses
//!   stay open because `close` refuses files with operations in flight and `drop` joins the
//!   helper before the file table is dropped.
//!
//! Durability contract: identical to io_uring's: an `Fdatasync` link is fdatasync(2) on the
//! same file, after every earlier link of its chain.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::buffer::BufferPool;
use super::posix::{self, FileTable};
use super::{
    chain, BackendKind, ChainLink, Completion, FileHandle, IoError, Op, Storage, SubmitError,
    SubmitErrorReason,
};

/// Default cap on operations in flight (the same as the io_uring backend's default).
pub const IN_FLIGHT_MAX_DEFAULT: usize = 256;
/// Longest chain accepted; longer ones are rejected like on io_uring's default queue size.
const LINKS_MAX: usize = 128;
/// Largest single read or write, as for io_uring (a pwrite may transfer at most ~2 GiB).
const LINK_BYTES_MAX: usize = (1 << 31) - super::buffer::ALIGNMENT;

/// Sizes of the fallback backend's pool and queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FallbackConfig {
    pub pool_bytes: usize,
    pub chunk_bytes: usize,
    pub in_flight_max: usize,
}

impl FallbackConfig {
    pub fn new(pool_bytes: usize, chunk_bytes: usize) -> Self {
        Self {
            pool_bytes,
            chunk_bytes,
            in_flight_max: IN_FLIGHT_MAX_DEFAULT,
        }
    }
}

/// One link with the descriptor the helper uses for it.
struct JobLink {
    fd: RawFd,
    file: FileHandle,
    link: ChainLink,
}

/// A finished link: the file (to end its in-flight count) and the completion.
struct Finished {
    file: FileHandle,
    completion: Completion,
}

/// The fallback backend for one shard.
pub struct FallbackStorage {
    jobs: Option<mpsc::Sender<Vec<JobLink>>>,
    finished: mpsc::Receiver<Finished>,
    worker: Option<JoinHandle<()>>,
    eventfd: OwnedFd,
    files: FileTable,
    pool: BufferPool,
    /// Completions of chains rejected at validation; they never reach the helper.
    rejected: VecDeque<Completion>,
    in_flight: usize,
    in_flight_max: usize,
    _single_thread: PhantomData<*const ()>,
}

impl fmt::Debug for FallbackStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackStorage")
            .field("in_flight", &self.in_flight)
            .field("in_flight_max", &self.in_flight_max)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

/// Run one read, write or fdatasync with the raw syscall, retrying only EINTR.
fn execute(fd: RawFd, op: &mut Op) -> Result<usize, IoError> {
    loop {
        let result = match op {
            Op::Write {
                offset,
                buffer,
                range,
                atomic,
                ..
            } => {
                let source = &buffer[range.clone()];
                let offset = libc::off_t::try_from(*offset)
                    .map_err(|_| IoError::from_errno(libc::EINVAL))?;
                if *atomic {
                    let vector = libc::iovec {
                        iov_base: source.as_ptr().cast_mut().cast(),
                        iov_len: source.len(),
                    };
                    // SAFETY: one iovec over a live slice of a buffer this job owns; pwritev2
                    // only reads from it (the cast to *mut is what the C type asks for).
                    unsafe { libc::pwritev2(fd, &raw const vector, 1, offset, libc::RWF_ATOMIC) }
                } else {
                    // SAFETY: `source` is a live slice of a buffer this job owns; pwrite reads
                    // at most `source.len()` bytes from it.
                    unsafe { libc::pwrite(fd, source.as_ptr().cast(), source.len(), offset) }
                }
            }
            Op::Read {
                offset,
                buffer,
                range,
                ..
            } => {
                let target = &mut buffer[range.clone()];
                let offset = libc::off_t::try_from(*offset)
                    .map_err(|_| IoError::from_errno(libc::EINVAL))?;
                // SAFETY: `target` is a live, exclusively borrowed slice of a buffer this job
                // owns; pread writes at most `target.len()` bytes into it.
                unsafe { libc::pread(fd, target.as_mut_ptr().cast(), target.len(), offset) }
            }
            Op::Fdatasync { .. } => {
                // SAFETY: fdatasync takes no pointers; `fd` stays open while the job runs.
                let result = unsafe { libc::fdatasync(fd) };
                isize::try_from(result).expect("an i32 fits in isize")
            }
        };
        if let Ok(bytes) = usize::try_from(result) {
            return Ok(bytes);
        }
        let errno = io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        if errno != libc::EINTR {
            return Err(IoError::from_errno(errno));
        }
    }
}

/// The helper thread: run chains in order until the job channel closes.
fn run_worker(jobs: &mpsc::Receiver<Vec<JobLink>>, finished: &mpsc::Sender<Finished>, wake: RawFd) {
    for job in jobs {
        let mut ended = false;
        for JobLink { fd, file, mut link } in job {
            let completion = if ended {
                chain::canceled(link)
            } else {
                let result = execute(fd, &mut link.op);
                ended = chain::ends_chain(chain::requested_bytes(&link.op), &result);
                Completion {
                    token: link.token,
                    result,
                    buffer: chain::into_buffer(link.op),
                }
            };
            if finished.send(Finished { file, completion }).is_err() {
                return;
            }
            posix::eventfd_signal(wake);
        }
    }
}

impl FallbackStorage {
    pub fn new(config: &FallbackConfig) -> io::Result<Self> {
        let eventfd = posix::eventfd()?;
        let chunk_count = (config.pool_bytes / config.chunk_bytes.max(1)).max(1);
        let pool = BufferPool::new(config.chunk_bytes, chunk_count).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "allocating a {}-byte aligned buffer pool failed",
                    config.pool_bytes
                ),
            )
        })?;
        let (jobs, job_receiver) = mpsc::channel::<Vec<JobLink>>();
        let (finished_sender, finished) = mpsc::channel();
        let wake = eventfd.as_raw_fd();
        let worker = std::thread::Builder::new()
            .name("ringmq-io-fallback".to_owned())
            .spawn(move || run_worker(&job_receiver, &finished_sender, wake))?;
        Ok(Self {
            jobs: Some(jobs),
            finished,
            worker: Some(worker),
            eventfd,
            files: FileTable::default(),
            pool,
            rejected: VecDeque::new(),
            in_flight: 0,
            in_flight_max: config.in_flight_max,
            _single_thread: PhantomData,
        })
    }

    fn deliver(&mut self, finished: Finished, completions: &mut Vec<Completion>) {
        self.files.end_operation(finished.file);
        completions.push(finished.completion);
        assert!(self.in_flight > 0, "delivered more than submitted");
        self.in_flight -= 1;
    }
}

impl Drop for FallbackStorage {
    fn drop(&mut self) {
        // Close the job channel and wait for the helper, so it never touches a descriptor
        // after the file table closes it or a buffer after the pool's region is gone.
        drop(self.jobs.take());
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Storage for FallbackStorage {
    fn kind(&self) -> BackendKind {
        BackendKind::Fallback
    }

    posix::posix_control_plane!();

    fn submit(&mut self, links: Vec<ChainLink>) -> Result<(), SubmitError> {
        if links.is_empty() {
            return Ok(());
        }
        if self.in_flight + links.len() > self.in_flight_max {
            return Err(SubmitError {
                reason: SubmitErrorReason::Busy,
                links,
            });
        }
        let Some(jobs) = &self.jobs else {
            return Err(SubmitError {
                reason: SubmitErrorReason::Closed,
                links,
            });
        };
        let files = &self.files;
        let invalid = chain::first_invalid(
            &links,
            |file| files.is_open(file),
            LINKS_MAX,
            LINK_BYTES_MAX,
        );
        if let Some((index, errno)) = invalid {
            self.in_flight += links.len();
            self.rejected.extend(chain::reject(links, index, errno));
            posix::eventfd_signal(self.eventfd.as_raw_fd());
            return Ok(());
        }
        let mut job = Vec::with_capacity(links.len());
        for link in links {
            let file = chain::link_file(&link.op);
            let fd = self
                .files
                .begin_operation(file)
                .expect("the chain was validated against the open files");
            job.push(JobLink { fd, file, link });
        }
        let count = job.len();
        if let Err(mpsc::SendError(job)) = jobs.send(job) {
            // The helper is gone (it only exits when the channel closes or it panicked).
            let links = job
                .into_iter()
                .map(|job_link| {
                    self.files.end_operation(job_link.file);
                    job_link.link
                })
                .collect();
            return Err(SubmitError {
                reason: SubmitErrorReason::Closed,
                links,
            });
        }
        self.in_flight += count;
        Ok(())
    }

    fn poll(
        &mut self,
        completions: &mut Vec<Completion>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        // Reset the eventfd first, so a completion sent after this point signals it again.
        posix::eventfd_drain(self.eventfd.as_raw_fd());
        let rejected = self.rejected.len();
        completions.extend(self.rejected.drain(..));
        self.in_flight -= rejected;
        let mut delivered = rejected;
        while let Ok(finished) = self.finished.try_recv() {
            self.deliver(finished, completions);
            delivered += 1;
        }
        let waiting = self.in_flight > 0;
        if let (0, true, Some(timeout)) = (delivered, waiting, timeout) {
            match self.finished.recv_timeout(timeout) {
                Ok(finished) => {
                    self.deliver(finished, completions);
                    while let Ok(finished) = self.finished.try_recv() {
                        self.deliver(finished, completions);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the fallback I/O helper thread died"));
                }
            }
        }
        Ok(())
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn notify_fd(&self) -> Option<RawFd> {
        Some(self.eventfd.as_raw_fd())
    }
}
