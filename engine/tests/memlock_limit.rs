//! Goal: the buffer pool sized from RLIMIT_MEMLOCK really registers under a lowered limit,
//! and the shards of one process really share that limit. The unit tests of
//! `io::memlock::plan_pool` check the arithmetic; only the kernel can say whether a pool of
//! exactly one shard's share is accepted and whether a second ring's buffers count against
//! the same limit.
//!
//! Method: these tests run as root, which has CAP_IPC_LOCK, and io_uring charges nothing to
//! such a process. So the test re-runs this binary's `child_*` test in a child process with
//! `prlimit --memlock` lowering the limit and `setpriv --reuid` switching to an unused uid,
//! which drops every capability (and gives the child its own per-user `locked_vm`, so other
//! processes do not eat into its budget). Without root, `prlimit` or `setpriv` the test says
//! it is skipped and passes.

use std::process::Command;

use ringmq_engine::io::memlock::{Memlock, PoolRequest};
use ringmq_engine::io::uring::{UringConfig, UringStorage};

const CHILD_ENV: &str = "RINGMQ_MEMLOCK_CHILD";
const MIB: usize = 1 << 20;
/// The child's RLIMIT_MEMLOCK. Only lowering needs no privilege, and this VM's hard limit is
/// 8 MiB, under two shards of the 13 MiB commitlog minimum; so the sized case below asks for
/// a 1 MiB minimum (the policy is the same, `plan_pool`'s unit tests cover the real one).
const LIMIT_BYTES: usize = 4 * MIB;
/// What the broker asks for by default: 64 MiB tail cache + 32 MiB buffer pool.
const DEFAULT_POOL_BYTES: usize = 96 * MIB;

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|line| line.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn tool_exists(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok()
}

#[test]
fn under_a_lowered_memlock_limit_each_shard_registers_its_share_of_it() {
    if effective_uid() != Some(0) || !tool_exists("prlimit") || !tool_exists("setpriv") {
        println!("skipped: needs root, prlimit and setpriv to run a child without CAP_IPC_LOCK");
        return;
    }
    // An uid no account uses, different per run so concurrent runs do not share a budget.
    let uid = 59_000 + std::process::id() % 1000;
    let binary = std::env::current_exe().expect("the test binary's path");
    let output = Command::new("prlimit")
        .arg(format!("--memlock={LIMIT_BYTES}:{LIMIT_BYTES}"))
        .arg("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .arg(&binary)
        .args([
            "--exact",
            "child_sizes_and_registers_under_the_limit",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("child stdout:\n{stdout}\nchild stderr:\n{stderr}");
    assert!(
        output.status.success(),
        "the child failed: {}",
        output.status
    );
    assert!(stdout.contains("1 passed"), "the child test ran");
    assert!(stdout.contains("child checked"), "the child did not skip");
}

/// Chunks smaller than the broker's 1 MiB, so rounding down to whole chunks leaves little
/// of the share unused and the "limit used up" check below is tight.
const CHUNK_BYTES: usize = 256 << 10;

fn open(request: &PoolRequest) -> UringStorage {
    UringStorage::new(&UringConfig::for_pool(request, CHUNK_BYTES)).expect("io_uring sets up")
}

/// Runs only in the child started above (`--ignored` alone finds no `RINGMQ_MEMLOCK_CHILD`).
#[test]
#[ignore = "run in a child process by the test above"]
fn child_sizes_and_registers_under_the_limit() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let limit = u64::try_from(LIMIT_BYTES).expect("fits");
    assert_eq!(
        Memlock::probe(),
        Memlock::Limited(limit),
        "no CAP_IPC_LOCK here"
    );

    // Nothing registered yet, and these two register nothing (io_uring releases a closed
    // ring's charge asynchronously, so the charged cases come last).
    let three_shards = open(&PoolRequest::from_memlock(DEFAULT_POOL_BYTES, 3));
    assert!(!three_shards.buffers_registered());
    assert_eq!(
        three_shards.pool_bytes(),
        DEFAULT_POOL_BYTES,
        "keeps the full size"
    );
    let note = three_shards.pool_note();
    println!("3 shards: {note}");
    assert!(
        note.contains("leaves 1301 KiB per shard's pool, under the 13 MiB minimum"),
        "{note}"
    );
    assert!(note.contains("LimitMEMLOCK=40M"), "{note}");
    let explicit = open(&PoolRequest {
        shards: 2,
        ..PoolRequest::explicit(3 * MIB)
    });
    assert!(
        !explicit.buffers_registered(),
        "3 MiB is over a 2 MiB share"
    );
    assert_eq!(explicit.pool_bytes(), 3 * MIB, "an explicit size is kept");
    println!("explicit: {}", explicit.pool_note());
    drop((three_shards, explicit));

    // Two shards: each gets half the limit less its ring's allowance (2 MiB - 64 KiB, rounded
    // down to 7 chunks of 256 KiB), and the kernel accepts both.
    let sized = PoolRequest {
        minimum_bytes: MIB,
        ..PoolRequest::from_memlock(DEFAULT_POOL_BYTES, 2)
    };
    let first = open(&sized);
    let second = open(&sized);
    for shard in [&first, &second] {
        let note = shard.pool_note();
        println!("2 shards: {note}");
        assert!(shard.buffers_registered(), "{note}");
        assert_eq!(shard.pool_bytes(), 7 * CHUNK_BYTES);
        assert!(
            note.starts_with(
                "buffer pool 1792 KiB per shard, sized from RLIMIT_MEMLOCK 4 MiB over 2 shards"
            ),
            "{note}"
        );
    }

    // The limit is used up: a third ring's pool of the same share, which alone would fit, is
    // refused by the kernel (3.5 MiB of pools and the rings' pages are charged already). This
    // is why the share divides the limit by the shard count. The refused pool falls back to
    // the requested size, unregistered, rather than staying small for nothing.
    let third = open(&sized);
    let note = third.pool_note();
    println!("one ring too many: {note}");
    assert!(!third.buffers_registered(), "{note}");
    assert_eq!(third.pool_bytes(), DEFAULT_POOL_BYTES, "{note}");
    assert!(
        note.starts_with(
            "buffer pool 96 MiB not registered: io_uring_register(BUFFERS) of 1792 KiB failed"
        ),
        "{note}"
    );
    println!("child checked");
}
