//! Sizing the io_uring buffer pool from `RLIMIT_MEMLOCK`, and deciding whether to register it.
//!
//! What the kernel charges (io_uring/rsrc.c, `io_account_mem`): registering a buffer pins its
//! pages and adds them to the *user's* `locked_vm`, which must stay under the registering
//! process's soft `RLIMIT_MEMLOCK`. Every shard registers its own pool, so the shards of one
//! process share one limit: each gets `limit / shards`, less [`RING_MEMLOCK_ALLOWANCE_BYTES`]
//! for its ring. The rings' own pages (SQEs, CQEs) are charged on 5.11 and again since 6.14,
//! where they became io_uring "regions" (commits 8078486e1d53, 81a4058e0cd0; 5.12 to 6.13
//! charged them to memcg instead). Measured here on 6.18: with the limit split exactly in two,
//! the second of two 2 MiB pools failed to register. A process with CAP_IPC_LOCK in the
//! initial user namespace (root outside a user namespace) is charged nothing: its rings have
//! no user to charge.
//!
//! A transparent huge page is charged whole even where the pool covers only part of it, so
//! the backend keeps a pool it registers under a finite limit on base pages (MADV_NOHUGEPAGE
//! before the registration touches it; `uring.rs`). Charged but out of our sight: buffers
//! other processes of the same user registered (two brokers under one user share the limit)
//! and rings closed a moment ago (the kernel releases their charge asynchronously). Either
//! makes a registration that the plan allowed fail; the pool then runs unregistered at its
//! requested size with one log line, as for any failure.
//!
//! The policy ([`plan_pool`]): a pool whose size was set explicitly keeps it, registered if it
//! fits the shard's share. A pool sized from the limit ([`PoolSizing::FromMemlock`]) takes its
//! requested size when that fits, else the share rounded down to whole chunks, provided that
//! is at least the request's minimum (for the commitlog [`BUFFER_POOL_BYTES_MIN`]); below that
//! it keeps the requested size unregistered. A pool that is not registered always has the
//! requested size.

use std::fmt;

use super::buffer::ALIGNMENT;
use super::posix;
use crate::constants::BUFFER_POOL_BYTES_MIN;

/// Largest region io_uring registers as one fixed buffer (`io_uring_register(2)`).
pub const REGISTERED_REGION_BYTES_MAX: usize = 1 << 30;
/// RLIMIT_MEMLOCK kept for each ring's own pages. The default ring (128 SQEs of 64 bytes, 512
/// CQEs of 16 bytes, the SQ index array and the ring header, each part page-rounded) takes
/// about 20 KiB; 64 KiB leaves room for a larger `submission_entries` (checked in uring.rs).
pub const RING_MEMLOCK_ALLOWANCE_BYTES: usize = 64 << 10;

/// Whether the pool size is a request to honour or an upper bound to fit under the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PoolSizing {
    /// The operator set the size: use exactly it, registered only if it fits the share.
    Explicit,
    /// The size is the default: shrink it to the shard's share of `RLIMIT_MEMLOCK` so that it
    /// can be registered (see the module docs).
    #[default]
    FromMemlock,
}

/// The buffer pool one shard asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolRequest {
    /// The size (explicit) or the most to use (sized from the limit).
    pub bytes: usize,
    pub sizing: PoolSizing,
    /// Rings of this process registering a pool like this one (the shard count); they share
    /// the limit. 0 is taken as 1.
    pub shards: usize,
    /// Sized from the limit, a pool smaller than this is not worth registering: the requested
    /// size stays, unregistered. Ignored for an explicit size.
    pub minimum_bytes: usize,
}

impl PoolRequest {
    /// Exactly `bytes` for a single ring: what callers that know nothing of shards ask for.
    pub fn explicit(bytes: usize) -> Self {
        Self {
            bytes,
            sizing: PoolSizing::Explicit,
            shards: 1,
            minimum_bytes: 0,
        }
    }

    /// A commitlog pool of at most `bytes` for each of `shards` rings, sized from the limit
    /// down to [`BUFFER_POOL_BYTES_MIN`].
    pub fn from_memlock(bytes: usize, shards: usize) -> Self {
        Self {
            bytes,
            sizing: PoolSizing::FromMemlock,
            shards,
            minimum_bytes: BUFFER_POOL_BYTES_MIN,
        }
    }
}

/// What `RLIMIT_MEMLOCK` allows this process to register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memlock {
    /// RLIM_INFINITY (or the limit could not be read; a failing registration is logged).
    Unlimited,
    /// CAP_IPC_LOCK in the initial user namespace: the kernel charges nothing.
    Exempt,
    /// The soft limit in bytes.
    Limited(u64),
}

impl Memlock {
    /// The limit of the calling thread's process.
    pub fn probe() -> Self {
        if ipc_lock_exempt() {
            return Self::Exempt;
        }
        match posix::memlock_limit_bytes() {
            Ok(Some(limit)) => Self::Limited(limit),
            Ok(None) | Err(_) => Self::Unlimited,
        }
    }
}

/// Why the pool has the size and registration it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolOutcome {
    /// The requested size, registered: it fits (or nothing is charged).
    Fits,
    /// Shrunk to the shard's share of the limit, registered.
    Sized,
    /// Not registered: over the 1 GiB io_uring limit for one fixed buffer.
    OverFixedBufferMax,
    /// Not registered: sized from the limit, the share is under the request's minimum.
    ShareBelowMinimum,
    /// Not registered: the explicit size is over the shard's share.
    OverShare,
}

/// The pool a shard gets: its chunks and whether to register them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolPlan {
    pub chunk_bytes: usize,
    pub chunk_count: usize,
    /// Chunks of the requested size: what the pool gets if it ends up unregistered.
    pub requested_chunks: usize,
    pub outcome: PoolOutcome,
    /// What was asked for and under which limit, for [`PoolPlan::describe`].
    pub request: PoolRequest,
    pub memlock: Memlock,
}

impl PoolPlan {
    /// Whether to register the pool with the ring.
    pub fn register(&self) -> bool {
        matches!(self.outcome, PoolOutcome::Fits | PoolOutcome::Sized)
    }

    /// Bytes of the pool's region.
    pub fn bytes(&self) -> usize {
        self.chunk_bytes.saturating_mul(self.chunk_count)
    }

    /// One line for the log saying what was decided and why, e.g. "buffer pool 14 MiB per
    /// shard, sized from RLIMIT_MEMLOCK 28 MiB over 2 shards (96 MiB without the limit),
    /// registered".
    pub fn describe(&self) -> String {
        Description(self).to_string()
    }
}

/// The pool for `request` in chunks of `chunk_bytes` under `memlock` (see the module docs).
pub fn plan_pool(request: &PoolRequest, chunk_bytes: usize, memlock: Memlock) -> PoolPlan {
    // The buffer pool rounds chunks up to the alignment; count in what it will really carve.
    let chunk_bytes = chunk_bytes.max(1).div_ceil(ALIGNMENT) * ALIGNMENT;
    let requested_chunks = (request.bytes / chunk_bytes).max(1);
    let requested_bytes = requested_chunks.saturating_mul(chunk_bytes);
    let plan = |chunk_count, outcome| PoolPlan {
        chunk_bytes,
        chunk_count,
        requested_chunks,
        outcome,
        request: *request,
        memlock,
    };
    let share = match memlock {
        Memlock::Unlimited | Memlock::Exempt => None,
        Memlock::Limited(limit) => Some(share_of(limit, request.shards)),
    };
    let fits = |bytes: usize| share.is_none_or(|share| to_u64(bytes) <= share);
    let (chunk_count, outcome) = if fits(requested_bytes) {
        (requested_chunks, PoolOutcome::Fits)
    } else if request.sizing == PoolSizing::Explicit {
        return plan(requested_chunks, PoolOutcome::OverShare);
    } else {
        let share = share.unwrap_or(u64::MAX);
        let chunks = usize::try_from(share / to_u64(chunk_bytes)).unwrap_or(usize::MAX);
        if chunks == 0 || chunks.saturating_mul(chunk_bytes) < request.minimum_bytes {
            return plan(requested_chunks, PoolOutcome::ShareBelowMinimum);
        }
        (chunks, PoolOutcome::Sized)
    };
    if chunk_count.saturating_mul(chunk_bytes) > REGISTERED_REGION_BYTES_MAX {
        return plan(requested_chunks, PoolOutcome::OverFixedBufferMax);
    }
    plan(chunk_count, outcome)
}

/// What one shard's pool may take of `limit`: its part, less its ring's allowance.
fn share_of(limit: u64, shards: usize) -> u64 {
    (limit / to_u64(shards.max(1))).saturating_sub(to_u64(RING_MEMLOCK_ALLOWANCE_BYTES))
}

fn to_u64(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// "8 MiB", "64 KiB" or "1000 bytes", for operator messages.
pub(crate) fn describe_bytes(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes % (1 << 10) == 0 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// `LimitMEMLOCK=` value for systemd (K/M/G are powers of 1024 there).
fn systemd_bytes(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{}M", bytes >> 20)
    } else {
        format!("{}K", bytes.div_ceil(1 << 10))
    }
}

/// [`PoolPlan::describe`].
struct Description<'a>(&'a PoolPlan);

impl Description<'_> {
    /// "RLIMIT_MEMLOCK 28 MiB" or "RLIMIT_MEMLOCK 28 MiB over 2 shards".
    fn limit(&self, limit: u64) -> String {
        let shards = self.0.request.shards.max(1);
        if shards == 1 {
            format!("RLIMIT_MEMLOCK {}", describe_bytes(limit))
        } else {
            format!(
                "RLIMIT_MEMLOCK {} over {shards} shards",
                describe_bytes(limit)
            )
        }
    }

    /// The limit that leaves every shard `per_shard` bytes and its ring allowance, rounded up
    /// to whole MiB so the advice is a round number.
    fn total(&self, per_shard: usize) -> u64 {
        let per_shard = to_u64(per_shard.saturating_add(RING_MEMLOCK_ALLOWANCE_BYTES));
        let total = per_shard.saturating_mul(to_u64(self.0.request.shards.max(1)));
        total.div_ceil(1 << 20).saturating_mul(1 << 20)
    }

    /// "registering needs RLIMIT_MEMLOCK of 26 MiB (192 MiB for the full size): set
    /// LimitMEMLOCK=26M in the systemd unit or run ulimit -l 26624 first".
    fn needs(&self, per_shard: usize, full: Option<usize>) -> String {
        let needed = self.total(per_shard);
        let full = full.map_or_else(String::new, |full| {
            format!(" ({} for the full size)", describe_bytes(self.total(full)))
        });
        format!(
            "registering needs RLIMIT_MEMLOCK of {}{full}: set LimitMEMLOCK={} in the systemd \
             unit or run ulimit -l {} first",
            describe_bytes(needed),
            systemd_bytes(needed),
            needed.div_ceil(1 << 10)
        )
    }
}

impl fmt::Display for Description<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.0;
        let size = describe_bytes(to_u64(plan.bytes()));
        let per_shard = if plan.request.shards > 1 {
            " per shard"
        } else {
            ""
        };
        let unregistered = "reads and writes use unregistered buffers";
        match (plan.outcome, plan.memlock) {
            (PoolOutcome::Fits, Memlock::Unlimited) => {
                write!(
                    f,
                    "buffer pool {size}{per_shard}, registered (RLIMIT_MEMLOCK unlimited)"
                )
            }
            (PoolOutcome::Fits, Memlock::Exempt) => write!(
                f,
                "buffer pool {size}{per_shard}, registered (CAP_IPC_LOCK: not charged to \
                 RLIMIT_MEMLOCK)"
            ),
            (PoolOutcome::Fits, Memlock::Limited(limit)) => write!(
                f,
                "buffer pool {size}{per_shard}, registered ({})",
                self.limit(limit)
            ),
            (PoolOutcome::Sized, Memlock::Limited(limit)) => write!(
                f,
                "buffer pool {size}{per_shard}, sized from {} ({} without the limit), \
                 registered",
                self.limit(limit),
                describe_bytes(to_u64(plan.request.bytes))
            ),
            (PoolOutcome::ShareBelowMinimum, Memlock::Limited(limit)) => write!(
                f,
                "buffer pool {size}{per_shard} not registered: {} leaves {} per shard's pool, \
                 under the {} minimum; {}; {unregistered}",
                self.limit(limit),
                describe_bytes(share_of(limit, plan.request.shards) >> 10 << 10),
                describe_bytes(to_u64(plan.request.minimum_bytes)),
                self.needs(plan.request.minimum_bytes, Some(plan.bytes())),
            ),
            (PoolOutcome::OverShare, Memlock::Limited(limit)) => write!(
                f,
                "buffer pool {size}{per_shard} (size set explicitly) not registered: {} \
                 leaves {} per shard's pool; {}; {unregistered}",
                self.limit(limit),
                describe_bytes(share_of(limit, plan.request.shards) >> 10 << 10),
                self.needs(plan.bytes(), None),
            ),
            (PoolOutcome::OverFixedBufferMax, _) => write!(
                f,
                "buffer pool {size}{per_shard} not registered: it exceeds the 1 GiB io_uring \
                 fixed-buffer limit; {unregistered}"
            ),
            // Sizing, a share and its minimum only exist under a finite limit.
            (
                PoolOutcome::Sized | PoolOutcome::ShareBelowMinimum | PoolOutcome::OverShare,
                Memlock::Unlimited | Memlock::Exempt,
            ) => write!(f, "buffer pool {size}{per_shard}, {:?}", plan.outcome),
        }
    }
}

/// CAP_IPC_LOCK: the capability bit io_uring checks before charging a user.
const CAP_IPC_LOCK_BIT: u32 = 14;

/// Whether the calling thread holds CAP_IPC_LOCK in the initial user namespace, where
/// io_uring does not charge registered buffers (`ns_capable_noaudit(&init_user_ns, ...)`).
/// Anything unreadable counts as "no".
fn ipc_lock_exempt() -> bool {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    let uid_map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    has_ipc_lock(&status) && is_initial_user_namespace(&uid_map)
}

/// Whether the `CapEff:` line of a `/proc/<pid>/status` text has CAP_IPC_LOCK.
fn has_ipc_lock(status: &str) -> bool {
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << CAP_IPC_LOCK_BIT) != 0)
}

/// Whether a `/proc/<pid>/uid_map` text is the identity map of the initial user namespace.
fn is_initial_user_namespace(uid_map: &str) -> bool {
    let fields: Vec<&str> = uid_map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;
    const MIB_U64: u64 = 1 << 20;
    const CHUNK: usize = MIB;

    const fn from_memlock(bytes: usize, shards: usize) -> PoolRequest {
        PoolRequest {
            bytes,
            sizing: PoolSizing::FromMemlock,
            shards,
            minimum_bytes: BUFFER_POOL_BYTES_MIN,
        }
    }

    const fn explicit(bytes: usize, shards: usize) -> PoolRequest {
        PoolRequest {
            bytes,
            sizing: PoolSizing::Explicit,
            shards,
            minimum_bytes: 0,
        }
    }

    struct Case {
        hazard: &'static str,
        request: PoolRequest,
        memlock: Memlock,
        bytes: usize,
        outcome: PoolOutcome,
    }

    const MIN_U64: u64 = BUFFER_POOL_BYTES_MIN as u64;
    const RING: u64 = RING_MEMLOCK_ALLOWANCE_BYTES as u64;

    /// One row per hazard the sizing must get right.
    const CASES: &[Case] = {
        use Memlock::{Exempt, Limited, Unlimited};
        use PoolOutcome::{Fits, OverFixedBufferMax, OverShare, ShareBelowMinimum, Sized};
        &[
            Case {
                hazard: "an unlimited limit must not shrink the pool",
                request: from_memlock(96 * MIB, 2),
                memlock: Unlimited,
                bytes: 96 * MIB,
                outcome: Fits,
            },
            Case {
                hazard: "CAP_IPC_LOCK is not charged: root under a low limit keeps the full pool",
                request: from_memlock(96 * MIB, 2),
                memlock: Exempt,
                bytes: 96 * MIB,
                outcome: Fits,
            },
            Case {
                hazard: "a large limit must not grow the pool past the request",
                request: from_memlock(96 * MIB, 2),
                memlock: Limited(1 << 40),
                bytes: 96 * MIB,
                outcome: Fits,
            },
            Case {
                hazard: "a share of exactly the request and its ring fits (<=, not <)",
                request: from_memlock(96 * MIB, 2),
                memlock: Limited(2 * (96 * MIB_U64 + RING)),
                bytes: 96 * MIB,
                outcome: Fits,
            },
            Case {
                hazard: "rings are charged too (6.14+): a limit of just the pools leaves none",
                request: from_memlock(96 * MIB, 2),
                memlock: Limited(2 * 96 * MIB_U64),
                bytes: 95 * MIB,
                outcome: Sized,
            },
            Case {
                hazard: "each shard's pool counts against the same limit: 30 MiB over 2 is 15",
                request: from_memlock(96 * MIB, 2),
                memlock: Limited(30 * MIB_U64),
                bytes: 14 * MIB,
                outcome: Sized,
            },
            Case {
                hazard: "the share is rounded down to whole chunks, never up past the limit",
                request: from_memlock(96 * MIB, 3),
                memlock: Limited(50 * MIB_U64),
                bytes: 16 * MIB,
                outcome: Sized,
            },
            Case {
                hazard: "a share of exactly the minimum is still worth registering",
                request: from_memlock(96 * MIB, 2),
                memlock: Limited(2 * (MIN_U64 + RING)),
                bytes: BUFFER_POOL_BYTES_MIN,
                outcome: Sized,
            },
            Case {
                hazard: "a share just under the minimum would starve the group commit",
                request: from_memlock(96 * MIB, 2),
                memlock: Limited(2 * (MIN_U64 + RING) - 1),
                bytes: 96 * MIB,
                outcome: ShareBelowMinimum,
            },
            Case {
                hazard: "the common 8 MiB limit keeps the full pool, unregistered",
                request: from_memlock(96 * MIB, 1),
                memlock: Limited(8 * MIB_U64),
                bytes: 96 * MIB,
                outcome: ShareBelowMinimum,
            },
            Case {
                hazard: "a tiny limit (64 KiB, older kernels' default) is below one chunk",
                request: from_memlock(96 * MIB, 1),
                memlock: Limited(64 << 10),
                bytes: 96 * MIB,
                outcome: ShareBelowMinimum,
            },
            Case {
                hazard: "ulimit -l 0 must not divide into a zero-chunk pool",
                request: from_memlock(96 * MIB, 4),
                memlock: Limited(0),
                bytes: 96 * MIB,
                outcome: ShareBelowMinimum,
            },
            Case {
                hazard: "the minimum is the request's: a smaller one registers a smaller share",
                request: PoolRequest {
                    minimum_bytes: MIB,
                    ..from_memlock(96 * MIB, 2)
                },
                memlock: Limited(4 * MIB_U64),
                bytes: MIB,
                outcome: Sized,
            },
            Case {
                hazard: "an explicit size that fits the share is registered as is",
                request: explicit(40 * MIB, 2),
                memlock: Limited(2 * (40 * MIB_U64 + RING)),
                bytes: 40 * MIB,
                outcome: Fits,
            },
            Case {
                hazard: "an explicit size is never shrunk, only left unregistered",
                request: explicit(40 * MIB, 2),
                memlock: Limited(2 * (40 * MIB_U64 + RING) - 1),
                bytes: 40 * MIB,
                outcome: OverShare,
            },
            Case {
                hazard: "an explicit size is judged against one shard's share, not the limit",
                request: explicit(40 * MIB, 4),
                memlock: Limited(100 * MIB_U64),
                bytes: 40 * MIB,
                outcome: OverShare,
            },
            Case {
                hazard: "an explicit size under no limit is registered",
                request: explicit(40 * MIB, 4),
                memlock: Unlimited,
                bytes: 40 * MIB,
                outcome: Fits,
            },
            Case {
                hazard: "0 shards (a caller that forgot) is taken as 1, not a division by zero",
                request: from_memlock(96 * MIB, 0),
                memlock: Limited(20 * MIB_U64),
                bytes: 19 * MIB,
                outcome: Sized,
            },
            Case {
                hazard: "1024 shards under a limit that is large in total but small per shard",
                request: from_memlock(96 * MIB, 1024),
                memlock: Limited(4 << 30),
                bytes: 96 * MIB,
                outcome: ShareBelowMinimum,
            },
            Case {
                hazard: "over 1 GiB cannot be one fixed buffer, even without a limit",
                request: from_memlock(2048 * MIB, 1),
                memlock: Unlimited,
                bytes: 2048 * MIB,
                outcome: OverFixedBufferMax,
            },
            Case {
                hazard: "a share over 1 GiB does not make a 2 GiB pool registrable",
                request: explicit(2048 * MIB, 1),
                memlock: Limited(4 << 30),
                bytes: 2048 * MIB,
                outcome: OverFixedBufferMax,
            },
            Case {
                hazard: "sizing down for the limit can bring an oversized pool under 1 GiB",
                request: from_memlock(2048 * MIB, 2),
                memlock: Limited(64 * MIB_U64),
                bytes: 31 * MIB,
                outcome: Sized,
            },
        ]
    };

    #[test]
    fn the_pool_is_sized_and_registered_as_the_limit_allows() {
        use Memlock::Limited;
        use PoolOutcome::{Fits, Sized};
        for case in CASES {
            let plan = plan_pool(&case.request, CHUNK, case.memlock);
            assert_eq!(
                (plan.bytes(), plan.outcome),
                (case.bytes, case.outcome),
                "{}",
                case.hazard
            );
            assert_eq!(
                plan.register(),
                matches!(case.outcome, Fits | Sized),
                "{}",
                case.hazard
            );
            if let (true, Limited(limit)) = (plan.register(), case.memlock) {
                let per_shard = to_u64(plan.bytes()) + RING;
                let all_shards = per_shard * to_u64(case.request.shards.max(1));
                assert!(all_shards <= limit, "{}: over the limit", case.hazard);
            }
        }
    }

    #[test]
    fn chunks_are_counted_as_the_pool_carves_them() {
        // The pool rounds a chunk up to 4 KiB; planning with the unrounded size would put
        // the region over the share.
        let plan = plan_pool(
            &from_memlock(96 * MIB, 1),
            CHUNK - 100,
            Memlock::Limited(20 * MIB_U64),
        );
        assert_eq!((plan.chunk_bytes, plan.chunk_count), (CHUNK, 19));
        // An explicit size smaller than one chunk still gets one (as before the sizing).
        let plan = plan_pool(&explicit(4096, 1), 64 << 10, Memlock::Unlimited);
        assert_eq!(plan.bytes(), 64 << 10);
    }

    #[test]
    fn each_outcome_says_what_happened_and_how_to_register() {
        let line = |request: PoolRequest, memlock| plan_pool(&request, CHUNK, memlock).describe();
        assert_eq!(
            line(from_memlock(96 * MIB, 2), Memlock::Limited(30 * MIB_U64)),
            "buffer pool 14 MiB per shard, sized from RLIMIT_MEMLOCK 30 MiB over 2 shards \
             (96 MiB without the limit), registered"
        );
        assert_eq!(
            line(from_memlock(96 * MIB, 2), Memlock::Limited(8 * MIB_U64)),
            "buffer pool 96 MiB per shard not registered: RLIMIT_MEMLOCK 8 MiB over 2 shards \
             leaves 4032 KiB per shard's pool, under the 13 MiB minimum; registering needs \
             RLIMIT_MEMLOCK of 27 MiB (193 MiB for the full size): set LimitMEMLOCK=27M in \
             the systemd unit or run ulimit -l 27648 first; reads and writes use \
             unregistered buffers"
        );
        assert_eq!(
            line(explicit(96 * MIB, 1), Memlock::Limited(8 * MIB_U64)),
            "buffer pool 96 MiB (size set explicitly) not registered: RLIMIT_MEMLOCK 8 MiB \
             leaves 8128 KiB per shard's pool; registering needs RLIMIT_MEMLOCK of 97 MiB: \
             set LimitMEMLOCK=97M in the systemd unit or run ulimit -l 99328 first; reads \
             and writes use unregistered buffers"
        );
        assert_eq!(
            line(from_memlock(96 * MIB, 2), Memlock::Exempt),
            "buffer pool 96 MiB per shard, registered (CAP_IPC_LOCK: not charged to \
             RLIMIT_MEMLOCK)"
        );
        assert_eq!(
            line(from_memlock(96 * MIB, 1), Memlock::Unlimited),
            "buffer pool 96 MiB, registered (RLIMIT_MEMLOCK unlimited)"
        );
        assert_eq!(
            line(explicit(64 * MIB, 2), Memlock::Limited(1 << 30)),
            "buffer pool 64 MiB per shard, registered (RLIMIT_MEMLOCK 1024 MiB over 2 shards)"
        );
        assert!(
            line(from_memlock(96 * MIB, 7), Memlock::Limited(64 * MIB_U64))
                .contains("RLIMIT_MEMLOCK 64 MiB over 7 shards leaves 9298 KiB per shard's pool"),
            "an uneven share is written in whole KiB"
        );
        assert!(line(from_memlock(2048 * MIB, 1), Memlock::Unlimited)
            .contains("not registered: it exceeds the 1 GiB io_uring fixed-buffer limit"));
    }

    #[test]
    fn cap_ipc_lock_is_read_from_the_effective_set_of_the_initial_namespace() {
        let status =
            |eff: &str| format!("Name:\tringmq\nCapPrm:\t000001ffffffffff\nCapEff:\t{eff}\n");
        assert!(has_ipc_lock(&status("000001fffeffffff")), "root's set");
        assert!(has_ipc_lock(&status("0000000000004000")), "bit 14 alone");
        assert!(
            !has_ipc_lock(&status("0000000000000000")),
            "an ordinary user"
        );
        assert!(
            !has_ipc_lock(&status("000001fffeffbfff")),
            "everything but IPC_LOCK"
        );
        assert!(!has_ipc_lock("Name:\tringmq\n"), "no CapEff line");
        assert!(is_initial_user_namespace(
            "         0          0 4294967295\n"
        ));
        // Root in a user namespace (rootless containers) is charged despite the capability.
        assert!(!is_initial_user_namespace(
            "         0       1000          1\n"
        ));
        assert!(!is_initial_user_namespace(""));
    }

    #[test]
    fn sizes_are_written_for_people_and_for_systemd() {
        assert_eq!(describe_bytes(8 << 20), "8 MiB");
        assert_eq!(describe_bytes(64 << 10), "64 KiB");
        assert_eq!(describe_bytes(1000), "1000 bytes");
        assert_eq!(systemd_bytes(26 << 20), "26M");
        assert_eq!(systemd_bytes((26 << 20) + 1), "26625K");
    }
}
