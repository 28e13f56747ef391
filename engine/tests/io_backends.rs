//! Goal: every storage backend (io_uring, the pwrite fallback and the simulator) honours the
//! same seam contract — chains run in order, a failed or short link cancels the rest, buffers
//! come back with their completions, O_DIRECT data round-trips, the in-flight cap answers
//! Busy — and the simulator models crashes faithfully enough for crash tests to mean
//! something (unsynced data may be lost, synced data never is, tears happen only at sector
//! granularity, the same seed gives the same image).
//!
//! Method: one conformance function per hazard takes a `Backend`, and `for_each_backend!`
//! instantiates it as a test for all three. Real backends run in a temporary directory under
//! `CARGO_TARGET_TMPDIR` (the target directory is on ext4 here; tmpfs would reject O_DIRECT).
//! Simulator-specific properties follow, each checked over many crash seeds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ringmq_engine::io::fallback::{FallbackConfig, FallbackStorage};
use ringmq_engine::io::memlock::Memlock;
use ringmq_engine::io::sim::{SimConfig, SimDisk, SimStorage, SECTOR_BYTES};
use ringmq_engine::io::uring::{UringConfig, UringStorage};
use ringmq_engine::io::{
    buffer::ALIGNMENT, ChainLink, Completion, Create, FileHandle, IoBuffer, IoErrorKind, Op,
    OpenMode, Storage, SubmitErrorReason,
};

const IN_FLIGHT_MAX: usize = 8;
const POLL_ROUNDS_MAX: usize = 200;

#[derive(Clone, Copy, Debug)]
enum Backend {
    Uring,
    Fallback,
    Sim,
}

/// A backend plus the directory its files live in (kept alive for the test's duration).
struct Harness {
    storage: Box<dyn Storage>,
    root: PathBuf,
    _directory: Option<tempfile::TempDir>,
}

fn temporary_directory() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("io-backends-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create a temporary directory under the target directory")
}

fn harness(backend: Backend) -> Harness {
    let (storage, directory): (Box<dyn Storage>, _) = match backend {
        Backend::Uring => {
            let config = UringConfig {
                in_flight_max: IN_FLIGHT_MAX,
                ..UringConfig::new(1 << 20, 64 << 10)
            };
            let storage = UringStorage::new(&config).expect("io_uring is enabled on this host");
            (Box::new(storage), Some(temporary_directory()))
        }
        Backend::Fallback => {
            let config = FallbackConfig {
                in_flight_max: IN_FLIGHT_MAX,
                ..FallbackConfig::new(1 << 20, 64 << 10)
            };
            let storage = FallbackStorage::new(&config).expect("fallback backend");
            (Box::new(storage), Some(temporary_directory()))
        }
        Backend::Sim => {
            let config = SimConfig {
                in_flight_max: IN_FLIGHT_MAX,
                ..SimConfig::default()
            };
            (Box::new(SimStorage::new(SimDisk::new(), config)), None)
        }
    };
    let root = directory
        .as_ref()
        .map_or_else(|| PathBuf::from("/store"), |d| d.path().to_path_buf());
    let mut harness = Harness {
        storage,
        root,
        _directory: directory,
    };
    let root = harness.root.clone();
    harness
        .storage
        .create_directory_all(&root)
        .expect("create the store directory");
    harness
}

impl Harness {
    fn open_direct(&mut self, name: &str) -> FileHandle {
        let path = self.root.join(name);
        self.storage
            .open(&path, Create::Yes, OpenMode::Direct)
            .expect("open with O_DIRECT")
    }

    /// Poll until `count` completions arrived (bounded, so a lost completion fails the test).
    fn wait(&mut self, count: usize) -> Vec<Completion> {
        let mut completions = Vec::new();
        for _ in 0..POLL_ROUNDS_MAX {
            if completions.len() >= count {
                break;
            }
            self.storage
                .poll(&mut completions, Some(Duration::from_millis(50)))
                .expect("poll");
        }
        assert_eq!(completions.len(), count, "completions arrived");
        completions
    }

    fn run(&mut self, links: Vec<ChainLink>) -> Vec<Completion> {
        let count = links.len();
        self.storage.submit(links).expect("submit");
        self.wait(count)
    }

    fn filled_buffer(&mut self, byte: u8) -> IoBuffer {
        let mut buffer = self.storage.buffer().expect("a pool buffer");
        buffer.fill(byte);
        buffer
    }
}

fn write(file: FileHandle, offset: u64, buffer: IoBuffer, length: usize, token: u64) -> ChainLink {
    ChainLink {
        op: Op::Write {
            file,
            offset,
            buffer,
            range: 0..length,
            atomic: false,
        },
        token,
    }
}

fn read(file: FileHandle, offset: u64, buffer: IoBuffer, length: usize, token: u64) -> ChainLink {
    ChainLink {
        op: Op::Read {
            file,
            offset,
            buffer,
            range: 0..length,
        },
        token,
    }
}

fn fdatasync(file: FileHandle, token: u64) -> ChainLink {
    ChainLink {
        op: Op::Fdatasync { file },
        token,
    }
}

fn outcomes(completions: &[Completion]) -> Vec<(u64, Result<usize, IoErrorKind>)> {
    completions
        .iter()
        .map(|c| (c.token, c.result.map_err(|error| error.kind)))
        .collect()
}

macro_rules! for_each_backend {
    ($($case:ident),* $(,)?) => {
        mod uring {
            $( #[test] fn $case() { super::$case(super::Backend::Uring); } )*
        }
        mod fallback {
            $( #[test] fn $case() { super::$case(super::Backend::Fallback); } )*
        }
        mod sim {
            $( #[test] fn $case() { super::$case(super::Backend::Sim); } )*
        }
    };
}

for_each_backend!(
    write_then_fdatasync_chain_completes_in_order_and_reads_back,
    a_failing_link_cancels_every_later_link,
    a_short_read_at_end_of_file_cancels_the_rest_of_the_chain,
    an_unknown_file_fails_its_link_and_nothing_in_the_chain_runs,
    a_buffer_from_outside_the_pool_round_trips,
    submit_answers_busy_at_the_in_flight_cap_and_returns_the_links,
    close_refuses_a_file_with_operations_in_flight,
    control_plane_files_are_replaced_atomically_and_listed_sorted,
    allocate_and_truncate_set_the_file_size,
    each_chain_completes_in_its_own_order_while_several_are_in_flight,
);

fn write_then_fdatasync_chain_completes_in_order_and_reads_back(backend: Backend) {
    let mut harness = harness(backend);
    let file = harness.open_direct("segment");
    let first = harness.filled_buffer(0x11);
    let second = harness.filled_buffer(0x22);
    let completions = harness.run(vec![
        write(file, 0, first, 8192, 1),
        write(file, 8192, second, 4096, 2),
        fdatasync(file, 3),
    ]);
    assert_eq!(
        outcomes(&completions),
        vec![(1, Ok(8192)), (2, Ok(4096)), (3, Ok(0))]
    );
    assert!(completions[0].buffer.is_some() && completions[1].buffer.is_some());
    assert!(completions[2].buffer.is_none());

    let target = harness.storage.buffer().expect("buffer");
    let completions = harness.run(vec![read(file, 0, target, 12288, 4)]);
    assert_eq!(outcomes(&completions), vec![(4, Ok(12288))]);
    let data = completions[0].buffer.as_ref().expect("read buffer back");
    assert!(data[..8192].iter().all(|byte| *byte == 0x11));
    assert!(data[8192..12288].iter().all(|byte| *byte == 0x22));

    let mut aligned = IoBuffer::unpooled(4096);
    let count = harness
        .storage
        .read_blocking(file, 8192, &mut aligned[..4096])
        .expect("blocking O_DIRECT read");
    assert_eq!(count, 4096);
    assert!(aligned.iter().all(|byte| *byte == 0x22));
}

fn a_failing_link_cancels_every_later_link(backend: Backend) {
    let mut harness = harness(backend);
    let file = harness.open_direct("segment");
    let buffer = harness.filled_buffer(0x33);
    let later = harness.filled_buffer(0x44);
    // Offset 100 breaks O_DIRECT alignment: the kernel (and the simulator) say EINVAL.
    let completions = harness.run(vec![
        write(file, 100, buffer, 4096, 1),
        write(file, 4096, later, 4096, 2),
        fdatasync(file, 3),
    ]);
    assert_eq!(
        outcomes(&completions),
        vec![
            (1, Err(IoErrorKind::Other)),
            (2, Err(IoErrorKind::Canceled)),
            (3, Err(IoErrorKind::Canceled)),
        ]
    );
    assert_eq!(
        completions[0].result.expect_err("misaligned").errno,
        libc::EINVAL
    );
    assert!(
        completions[1].buffer.is_some(),
        "canceled links return buffers"
    );
    assert_eq!(harness.storage.file_size(file).expect("size"), 0);
}

fn a_short_read_at_end_of_file_cancels_the_rest_of_the_chain(backend: Backend) {
    let mut harness = harness(backend);
    let file = harness.open_direct("segment");
    let buffer = harness.filled_buffer(0x55);
    harness.run(vec![write(file, 0, buffer, 4096, 1)]);
    let target = harness.storage.buffer().expect("buffer");
    let completions = harness.run(vec![read(file, 0, target, 8192, 2), fdatasync(file, 3)]);
    assert_eq!(
        outcomes(&completions),
        vec![(2, Ok(4096)), (3, Err(IoErrorKind::Canceled))]
    );
}

fn an_unknown_file_fails_its_link_and_nothing_in_the_chain_runs(backend: Backend) {
    let mut harness = harness(backend);
    let file = harness.open_direct("segment");
    let buffer = harness.filled_buffer(0x66);
    let completions = harness.run(vec![
        write(file, 0, buffer, 4096, 1),
        fdatasync(FileHandle(9_999), 2),
    ]);
    assert_eq!(
        outcomes(&completions),
        vec![
            (1, Err(IoErrorKind::Canceled)),
            (2, Err(IoErrorKind::Other))
        ]
    );
    assert_eq!(
        completions[1].result.expect_err("bad fd").errno,
        libc::EBADF
    );
    assert_eq!(harness.storage.file_size(file).expect("size"), 0);
    assert_eq!(harness.storage.in_flight(), 0);
}

fn a_buffer_from_outside_the_pool_round_trips(backend: Backend) {
    let mut harness = harness(backend);
    let file = harness.open_direct("segment");
    let mut outside = IoBuffer::unpooled(4096);
    outside.fill(0x77);
    let completions = harness.run(vec![write(file, 0, outside, 4096, 1), fdatasync(file, 2)]);
    assert_eq!(outcomes(&completions), vec![(1, Ok(4096)), (2, Ok(0))]);
    let completions = harness.run(vec![read(file, 0, IoBuffer::unpooled(4096), 4096, 3)]);
    let data = completions[0].buffer.as_ref().expect("buffer back");
    assert!(data.iter().all(|byte| *byte == 0x77));
}

fn submit_answers_busy_at_the_in_flight_cap_and_returns_the_links(backend: Backend) {
    let mut harness = harness(backend);
    let file = harness.open_direct("segment");
    let first: Vec<ChainLink> = (0..6).map(|token| fdatasync(file, token)).collect();
    harness.storage.submit(first).expect("under the cap");
    let second: Vec<ChainLink> = (6..9).map(|token| fdatasync(file, token)).collect();
    let error = harness
        .storage
        .submit(second)
        .expect_err("6 + 3 links exceed the cap of 8");
    assert_eq!(error.reason, SubmitErrorReason::Busy);
    assert_eq!(error.links.len(), 3, "the links come back untouched");
    assert_eq!(harness.storage.in_flight(), 6);
    let completions = harness.wait(6);
    assert!(completions.iter().all(|c| c.result == Ok(0)));
    assert_eq!(harness.storage.in_flight(), 0);
    harness.storage.submit(error.links).expect("room again");
    harness.wait(3);
}

fn close_refuses_a_file_with_operations_in_flight(backend: Backend) {
    let mut harness = harness(backend);
    let file = harness.open_direct("segment");
    harness
        .storage
        .submit(vec![fdatasync(file, 1)])
        .expect("submit");
    assert!(
        harness.storage.close(file).is_err(),
        "closing would let the descriptor number be reused under the in-flight op"
    );
    harness.wait(1);
    harness.storage.close(file).expect("close once drained");
}

fn control_plane_files_are_replaced_atomically_and_listed_sorted(backend: Backend) {
    let mut harness = harness(backend);
    let storage = &mut harness.storage;
    let root = harness.root.clone();
    let config = root.join("topics.json");
    storage
        .write_whole_atomic(&config, b"{\"v\":1}")
        .expect("first write");
    storage
        .write_whole_atomic(&config, b"{\"v\":2}")
        .expect("replace");
    assert_eq!(storage.read_whole(&config).expect("read"), b"{\"v\":2}");
    storage
        .open(&root.join("b"), Create::Yes, OpenMode::Buffered)
        .expect("create b");
    storage
        .open(&root.join("a"), Create::Yes, OpenMode::Buffered)
        .expect("create a");
    storage
        .rename(&root.join("b"), &root.join("c"))
        .expect("rename");
    storage.remove_file(&root.join("a")).expect("remove");
    storage.sync_directory(&root).expect("directory fsync");
    assert_eq!(
        storage.list_directory(&root).expect("list"),
        vec!["c".to_owned(), "topics.json".to_owned()],
        "no temporary file is left behind"
    );
    assert!(storage.exists(&root.join("c")) && !storage.exists(&root.join("b")));
    assert!(storage
        .list_directory(&root.join("missing"))
        .expect("missing directory lists as empty")
        .is_empty());
    let (used, total) = storage.disk_usage(&root).expect("statvfs");
    assert!(used <= total && total > 0);
}

fn allocate_and_truncate_set_the_file_size(backend: Backend) {
    let mut harness = harness(backend);
    let file = harness.open_direct("segment");
    harness.storage.allocate(file, 1 << 20).expect("fallocate");
    assert_eq!(harness.storage.file_size(file).expect("size"), 1 << 20);
    harness.storage.truncate(file, 8192).expect("ftruncate");
    assert_eq!(harness.storage.file_size(file).expect("size"), 8192);
    harness.storage.sync_blocking(file).expect("fdatasync");
}

fn each_chain_completes_in_its_own_order_while_several_are_in_flight(backend: Backend) {
    let mut harness = harness(backend);
    let files: Vec<FileHandle> = (0..4)
        .map(|index| harness.open_direct(&format!("segment-{index}")))
        .collect();
    for (index, file) in (0u64..).zip(&files) {
        let buffer = harness.filled_buffer(0xE0);
        let links = vec![
            write(*file, 0, buffer, 16384, 10 * index),
            fdatasync(*file, 10 * index + 1),
        ];
        harness.storage.submit(links).expect("under the cap");
    }
    assert_eq!(harness.storage.in_flight(), 8);
    let completions = harness.wait(8);
    for index in 0..4u64 {
        let position = |token| {
            completions
                .iter()
                .position(|c| c.token == token)
                .expect("every link completes once")
        };
        assert!(
            position(10 * index) < position(10 * index + 1),
            "chain {index}: the fdatasync completion overtook its write"
        );
    }
    assert!(completions.iter().all(|c| c.result.is_ok()));
}

// ---- io_uring specifics -------------------------------------------------------------------

fn memlock_limit_bytes() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out-pointer for the duration of the call.
    let result = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &raw mut limit) };
    assert_eq!(result, 0);
    (limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

fn round_trip_on(storage: UringStorage) {
    let directory = temporary_directory();
    let mut harness = Harness {
        storage: Box::new(storage),
        root: directory.path().to_path_buf(),
        _directory: Some(directory),
    };
    let file = harness.open_direct("segment");
    let buffer = harness.filled_buffer(0x5A);
    let completions = harness.run(vec![write(file, 0, buffer, 65536, 1), fdatasync(file, 2)]);
    assert_eq!(outcomes(&completions), vec![(1, Ok(65536)), (2, Ok(0))]);
    let target = harness.storage.buffer().expect("buffer");
    let completions = harness.run(vec![read(file, 0, target, 65536, 3)]);
    let data = completions[0].buffer.as_ref().expect("buffer");
    assert!(data[..65536].iter().all(|byte| *byte == 0x5A));
}

#[test]
fn uring_registered_pool_within_memlock_uses_fixed_buffers_and_round_trips() {
    let storage = UringStorage::new(&UringConfig::new(4 << 20, 64 << 10)).expect("uring");
    if memlock_limit_bytes().is_none_or(|limit| limit >= 4 << 20) {
        assert!(
            storage.buffers_registered(),
            "{:?}",
            storage.registration_note()
        );
    }
    round_trip_on(storage);
}

#[test]
fn uring_pool_over_memlock_degrades_to_unregistered_and_says_so() {
    let Some(limit) = memlock_limit_bytes() else {
        return; // unlimited memlock: nothing to degrade from on this host
    };
    let pool_bytes = usize::try_from(limit).expect("limit fits") * 2 + (1 << 20);
    let storage = UringStorage::new(&UringConfig::new(pool_bytes, 1 << 20)).expect("uring");
    if Memlock::probe() == Memlock::Exempt {
        // CAP_IPC_LOCK (root): the kernel charges nothing, so the pool registers whatever
        // the limit; tests/memlock_limit.rs drops the capability to see the degraded path.
        assert!(storage.buffers_registered(), "{}", storage.pool_note());
        round_trip_on(storage);
        return;
    }
    assert!(!storage.buffers_registered());
    let note = storage.registration_note().expect("a log line");
    assert!(note.contains("not registered"), "{note}");
    assert!(note.contains("RLIMIT_MEMLOCK"), "{note}");
    assert!(note.contains("LimitMEMLOCK="), "{note}");
    round_trip_on(storage);
}

#[test]
fn uring_notify_fd_becomes_readable_when_a_completion_waits() {
    let mut harness = harness(Backend::Uring);
    let file = harness.open_direct("segment");
    harness
        .storage
        .submit(vec![fdatasync(file, 1)])
        .expect("submit");
    let mut descriptor = libc::pollfd {
        fd: harness.storage.notify_fd().expect("uring has an eventfd"),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let ready = unsafe { libc::poll(&raw mut descriptor, 1, 5_000) };
    assert_eq!(ready, 1, "the eventfd fired for the fdatasync completion");
    let mut completions = Vec::new();
    harness.storage.poll(&mut completions, None).expect("poll");
    assert_eq!(outcomes(&completions), vec![(1, Ok(0))]);
}

#[test]
fn fallback_notify_fd_becomes_readable_when_a_completion_waits() {
    let mut harness = harness(Backend::Fallback);
    let file = harness.open_direct("segment");
    harness
        .storage
        .submit(vec![fdatasync(file, 1)])
        .expect("submit");
    let mut descriptor = libc::pollfd {
        fd: harness
            .storage
            .notify_fd()
            .expect("fallback has an eventfd"),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let ready = unsafe { libc::poll(&raw mut descriptor, 1, 5_000) };
    assert_eq!(ready, 1);
    let completions = harness.wait(1);
    assert_eq!(outcomes(&completions), vec![(1, Ok(0))]);
}

// ---- simulator specifics ------------------------------------------------------------------

const CRASH_SEEDS: u64 = 64;

/// A simulator over `disk` with a store directory `/store` and an O_DIRECT file in it.
fn sim_with_file(disk: &SimDisk, config: SimConfig) -> (SimStorage, FileHandle, PathBuf) {
    let mut storage = SimStorage::new(disk.clone(), config);
    let root = Path::new("/store");
    storage.create_directory_all(root).expect("mkdir");
    let path = root.join("segment");
    let file = storage
        .open(&path, Create::Yes, OpenMode::Direct)
        .expect("open");
    (storage, file, path)
}

fn sim_run(storage: &mut SimStorage, links: Vec<ChainLink>) -> Vec<Completion> {
    let count = links.len();
    storage.submit(links).expect("submit");
    let mut completions = Vec::new();
    while completions.len() < count {
        storage
            .poll(&mut completions, Some(Duration::from_millis(1)))
            .expect("poll");
    }
    completions
}

fn sim_buffer(storage: &mut SimStorage, byte: u8) -> IoBuffer {
    let mut buffer = storage.buffer().expect("buffer");
    buffer.fill(byte);
    buffer
}

#[test]
fn sim_crash_keeps_every_fdatasynced_write_of_a_directory_synced_file() {
    let disk = SimDisk::new();
    let (mut storage, file, path) = sim_with_file(&disk, SimConfig::default());
    storage
        .sync_directory(Path::new("/store"))
        .expect("dir sync");
    let buffer = sim_buffer(&mut storage, 0xC1);
    sim_run(
        &mut storage,
        vec![write(file, 0, buffer, 16384, 1), fdatasync(file, 2)],
    );
    for seed in 0..CRASH_SEEDS {
        let image = disk.crash(seed).contents(&path).expect("file survives");
        assert_eq!(image, vec![0xC1; 16384], "seed {seed}");
    }
}

#[test]
fn sim_crash_may_lose_writes_that_were_never_fdatasynced() {
    let disk = SimDisk::new();
    let (mut storage, file, path) = sim_with_file(&disk, SimConfig::default());
    storage
        .sync_directory(Path::new("/store"))
        .expect("dir sync");
    let buffer = sim_buffer(&mut storage, 0xC2);
    sim_run(&mut storage, vec![write(file, 0, buffer, 16384, 1)]);
    assert_eq!(disk.contents(&path).expect("visible"), vec![0xC2; 16384]);
    assert_eq!(
        disk.durable_contents(&path).expect("entry"),
        Vec::<u8>::new()
    );
    let lost_somewhere = (0..CRASH_SEEDS).any(|seed| {
        let image = disk.crash(seed).contents(&path).expect("file survives");
        image != vec![0xC2; 16384]
    });
    assert!(
        lost_somewhere,
        "some crash must lose part of an unsynced write"
    );
}

#[test]
fn sim_a_file_created_without_a_directory_fsync_vanishes_at_crash() {
    let disk = SimDisk::new();
    let (mut storage, file, path) = sim_with_file(&disk, SimConfig::default());
    let buffer = sim_buffer(&mut storage, 0xC3);
    sim_run(
        &mut storage,
        vec![write(file, 0, buffer, 4096, 1), fdatasync(file, 2)],
    );
    assert!(
        disk.crash(1).contents(&path).is_none(),
        "the name was never durable"
    );
    storage
        .sync_directory(Path::new("/store"))
        .expect("dir sync");
    assert_eq!(disk.crash(1).contents(&path), Some(vec![0xC3; 4096]));
}

#[test]
fn sim_a_crash_tears_unsynced_overwrites_only_at_sector_granularity() {
    let disk = SimDisk::new();
    let (mut storage, file, path) = sim_with_file(&disk, SimConfig::default());
    storage
        .sync_directory(Path::new("/store"))
        .expect("dir sync");
    let old = sim_buffer(&mut storage, 0xAA);
    sim_run(
        &mut storage,
        vec![write(file, 0, old, 16384, 1), fdatasync(file, 2)],
    );
    let new = sim_buffer(&mut storage, 0xBB);
    sim_run(&mut storage, vec![write(file, 0, new, 16384, 3)]);
    let (mut saw_old, mut saw_new) = (false, false);
    for seed in 0..CRASH_SEEDS {
        let image = disk.crash(seed).contents(&path).expect("file survives");
        assert_eq!(image.len(), 16384);
        for sector in image.chunks(SECTOR_BYTES) {
            assert!(
                sector.iter().all(|byte| *byte == sector[0]),
                "seed {seed}: a sector mixes old and new bytes"
            );
            saw_old |= sector[0] == 0xAA;
            saw_new |= sector[0] == 0xBB;
        }
    }
    assert!(saw_old && saw_new, "tears produce both old and new sectors");
}

#[test]
fn sim_the_same_crash_seed_gives_the_same_image_and_other_seeds_differ() {
    let disk = SimDisk::new();
    let (mut storage, file, path) = sim_with_file(&disk, SimConfig::default());
    storage
        .sync_directory(Path::new("/store"))
        .expect("dir sync");
    let buffer = sim_buffer(&mut storage, 0xC4);
    sim_run(&mut storage, vec![write(file, 0, buffer, 65536, 1)]);
    let image = |seed| disk.crash(seed).contents(&path).expect("file");
    assert_eq!(image(7), image(7));
    assert!((8..8 + CRASH_SEEDS).any(|seed| image(seed) != image(7)));
}

#[test]
fn sim_an_injected_fdatasync_eio_fails_the_link_and_drops_the_data_from_disk() {
    let disk = SimDisk::new();
    let config = SimConfig {
        fail_fsync_number: Some(1),
        ..SimConfig::default()
    };
    let (mut storage, file, path) = sim_with_file(&disk, config);
    storage
        .sync_directory(Path::new("/store"))
        .expect("dir sync");
    let buffer = sim_buffer(&mut storage, 0xC5);
    let completions = sim_run(
        &mut storage,
        vec![write(file, 0, buffer, 8192, 1), fdatasync(file, 2)],
    );
    assert_eq!(
        outcomes(&completions),
        vec![(1, Ok(8192)), (2, Err(IoErrorKind::Device))]
    );
    // fsyncgate: a retried fdatasync "succeeds" but the failed pages never reach the disk.
    sim_run(&mut storage, vec![fdatasync(file, 3)]);
    for seed in 0..CRASH_SEEDS {
        assert_eq!(
            disk.crash(seed).contents(&path),
            Some(Vec::new()),
            "seed {seed}"
        );
    }
}

/// Every 512-byte sector of `bytes` is entirely `value`.
fn sectors_all(bytes: &[u8], value: u8) -> bool {
    bytes
        .chunks(SECTOR_BYTES)
        .all(|sector| sector.iter().all(|byte| *byte == value))
}

#[test]
fn sim_the_machine_dies_at_the_sync_after_the_limit_and_unsynced_writes_may_tear() {
    let disk = SimDisk::new();
    let config = SimConfig {
        crash_after_fsyncs: Some(2),
        ..SimConfig::default()
    };
    let (mut storage, file, path) = sim_with_file(&disk, config);
    storage.sync_directory(Path::new("/store")).expect("sync 1");
    let buffer = sim_buffer(&mut storage, 0xC6);
    let links = vec![write(file, 0, buffer, 4096, 1), fdatasync(file, 2)];
    sim_run(&mut storage, links);
    assert!(!storage.is_dead(), "two syncs are allowed");
    let buffer = sim_buffer(&mut storage, 0xC7);
    let links = vec![write(file, 4096, buffer, 4096, 3), fdatasync(file, 4)];
    let completions = sim_run(&mut storage, links);
    assert_eq!(
        outcomes(&completions),
        vec![(3, Ok(4096)), (4, Err(IoErrorKind::Device))],
        "the write reached the device; the machine died in the third sync"
    );
    assert!(storage.is_dead());
    let error = storage
        .open(Path::new("/store/other"), Create::Yes, OpenMode::Direct)
        .expect_err("dead");
    assert_eq!(error.raw_os_error(), Some(libc::EIO));
    let mut saw_torn_tail = false;
    for seed in 0..CRASH_SEEDS {
        let image = disk
            .crash(seed)
            .contents(&path)
            .expect("directory was synced");
        assert!(image.len() >= 4096 && image.len() <= 8192, "seed {seed}");
        assert!(
            sectors_all(&image[..4096], 0xC6),
            "seed {seed}: synced block lost"
        );
        let tail_sectors_whole = image[4096..]
            .chunks(SECTOR_BYTES)
            .all(|sector| sectors_all(sector, 0xC7) || sectors_all(sector, 0));
        assert!(tail_sectors_whole, "seed {seed}: a torn sector mixes bytes");
        saw_torn_tail |= image.len() > 4096;
    }
    assert!(saw_torn_tail, "some crash keeps part of the unsynced block");
}

/// One append workload: directory sync, then `blocks` chains of write + fdatasync.
fn append_blocks(storage: &mut SimStorage, file: FileHandle, blocks: u8) {
    if storage.sync_directory(Path::new("/store")).is_err() {
        return;
    }
    for block in 0..blocks {
        let buffer = sim_buffer(storage, block + 1);
        let offset = u64::from(block) * 4096;
        let links = vec![write(file, offset, buffer, 4096, 1), fdatasync(file, 2)];
        if sim_run(storage, links).iter().any(|c| c.result.is_err()) {
            return; // the engine would latch here
        }
    }
}

#[test]
fn sim_crash_at_every_fsync_boundary_keeps_the_synced_blocks_and_tears_only_the_next() {
    const BLOCKS: u8 = 5;
    let disk = SimDisk::new();
    let (mut storage, file, _) = sim_with_file(&disk, SimConfig::default());
    append_blocks(&mut storage, file, BLOCKS);
    let boundaries = disk.fsync_count();
    assert_eq!(boundaries, 1 + u64::from(BLOCKS));
    for boundary in 1..=boundaries {
        let disk = SimDisk::new();
        let config = SimConfig {
            crash_after_fsyncs: Some(boundary),
            ..SimConfig::default()
        };
        let (mut storage, file, path) = sim_with_file(&disk, config);
        append_blocks(&mut storage, file, BLOCKS);
        let synced = usize::try_from(boundary - 1).expect("small");
        for seed in 0..CRASH_SEEDS {
            let image = disk
                .crash(seed)
                .contents(&path)
                .expect("directory was synced");
            let context = format!("boundary {boundary} seed {seed}");
            assert!(image.len() >= synced * 4096, "{context}: synced data lost");
            assert!(
                image.len() <= (synced + 1) * 4096,
                "{context}: too much data"
            );
            for (index, block) in image.chunks(4096).enumerate() {
                let expected = u8::try_from(index + 1).expect("small");
                let torn_tail_sector_ok = index == synced
                    && block
                        .chunks(SECTOR_BYTES)
                        .all(|sector| sectors_all(sector, expected) || sectors_all(sector, 0));
                assert!(
                    sectors_all(block, expected) || torn_tail_sector_ok,
                    "{context}: block {index} holds bytes that were never written there"
                );
            }
        }
    }
}

#[test]
fn sim_misaligned_direct_io_is_rejected_with_einval() {
    let disk = SimDisk::new();
    let (mut storage, file, _) = sim_with_file(&disk, SimConfig::default());
    let buffer = sim_buffer(&mut storage, 0xC8);
    let misaligned_address = ChainLink {
        op: Op::Write {
            file,
            offset: 0,
            buffer,
            range: 512..4608,
            atomic: false,
        },
        token: 1,
    };
    let buffer = sim_buffer(&mut storage, 0xC8);
    let misaligned_length = write(file, 0, buffer, 1000, 2);
    for link in [misaligned_address, misaligned_length] {
        let completions = sim_run(&mut storage, vec![link]);
        assert_eq!(
            completions[0].result.expect_err("misaligned").errno,
            libc::EINVAL
        );
    }
    let mut aligned = IoBuffer::unpooled(8192);
    let error = storage
        .read_blocking(file, 0, &mut aligned[1..4097])
        .expect_err("misaligned blocking read");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        storage
            .read_blocking(file, 0, &mut aligned[..ALIGNMENT])
            .expect("aligned"),
        0
    );
}

#[test]
fn sim_a_short_write_reports_the_bytes_written_and_cancels_the_fdatasync() {
    let disk = SimDisk::new();
    let config = SimConfig {
        short_write_probability: 1.0,
        ..SimConfig::default()
    };
    let (mut storage, file, _) = sim_with_file(&disk, config);
    let buffer = sim_buffer(&mut storage, 0xC9);
    let completions = sim_run(
        &mut storage,
        vec![write(file, 0, buffer, 16384, 1), fdatasync(file, 2)],
    );
    let written = completions[0]
        .result
        .expect("a short write is not an error");
    assert!(
        written < 16384 && written > 0 && written % ALIGNMENT == 0,
        "{written}"
    );
    assert_eq!(
        completions[1].result.map_err(|e| e.kind),
        Err(IoErrorKind::Canceled)
    );
    assert_eq!(disk.fsync_count(), 0);
}

#[test]
fn sim_latency_keeps_chains_in_flight_across_polls_so_appends_interleave() {
    let disk = SimDisk::new();
    let config = SimConfig {
        latency_polls_min: 3,
        latency_polls_max: 3,
        ..SimConfig::default()
    };
    let (mut storage, file, _) = sim_with_file(&disk, config);
    storage.submit(vec![fdatasync(file, 1)]).expect("submit");
    let mut completions = Vec::new();
    for _ in 0..3 {
        storage.poll(&mut completions, None).expect("poll");
        assert!(completions.is_empty(), "still in flight");
    }
    assert_eq!(storage.in_flight(), 1);
    storage
        .submit(vec![fdatasync(file, 2)])
        .expect("a second chain while one is in flight");
    storage.poll(&mut completions, None).expect("poll");
    assert_eq!(outcomes(&completions), vec![(1, Ok(0))]);
    storage
        .poll(&mut completions, Some(Duration::from_secs(1)))
        .expect("a timeout skips simulated time ahead");
    assert_eq!(outcomes(&completions), vec![(1, Ok(0)), (2, Ok(0))]);
}
