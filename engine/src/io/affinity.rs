//! Pinning a shard thread to its core.
//!
//! Shard k is pinned to the k-th CPU the process may use: all CPUs, or those `taskset -c`
//! gave it. Brokers sharing a host (a master and its slave, as in the `2m-2s` examples) are
//! each started under `taskset -c` with CPUs of their own; without it they all pin their
//! shard 0 to the host's first CPU.

use std::io;

/// Bits in a `cpu_set_t`.
const CPU_SET_CAPACITY: usize = 8 * std::mem::size_of::<libc::cpu_set_t>();

/// Pin the calling thread to `core` (0-based). Fails if the core does not exist or the
/// process's CPU set excludes it; callers log and continue unpinned.
pub fn pin_current_thread(core: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is a plain bit array; all-zero bytes are the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if core >= CPU_SET_CAPACITY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("core {core} is out of range"),
        ));
    }
    // SAFETY: `core` is within the set's capacity (checked above) and `set` is a valid set.
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: pid 0 means the calling thread; the pointer and size describe `set` exactly.
    let result = unsafe {
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &raw const set)
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The CPUs the calling thread may run on (for a thread that has not pinned itself: the
/// process's affinity mask), ascending.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is a plain bit array; all-zero bytes are the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 means the calling thread; the pointer and size describe `set` exactly,
    // and the kernel writes at most that many bytes.
    let result =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &raw mut set) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..CPU_SET_CAPACITY)
        // SAFETY: every index is below the set's capacity and `set` was filled above.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// The CPU shard `index` is pinned to: the index-th CPU the process may use (round robin when
/// there are more shards than CPUs); `None` when it may use none.
pub fn shard_cpu(index: usize, allowed: &[usize]) -> Option<usize> {
    (!allowed.is_empty()).then(|| allowed[index % allowed.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hazard: shard k was pinned to CPU k whatever the process's mask, so a broker started
    // with `taskset -c 2,3` failed to pin (CPUs 0 and 1 are outside its mask) and brokers on
    // one host could not be given CPUs of their own.
    #[test]
    fn shards_pin_to_the_cpus_the_process_may_use_in_order() {
        assert_eq!(shard_cpu(0, &[2, 3]), Some(2));
        assert_eq!(shard_cpu(1, &[2, 3]), Some(3));
        // More shards than CPUs: round robin over the allowed ones.
        assert_eq!(shard_cpu(2, &[2, 3]), Some(2));
        assert_eq!(shard_cpu(0, &[]), None);
    }

    #[test]
    fn the_calling_threads_cpus_are_listed() {
        let allowed = allowed_cpus().expect("sched_getaffinity");
        assert!(!allowed.is_empty());
        assert!(allowed.windows(2).all(|pair| pair[0] < pair[1]));
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        // The standard library also honours a cgroup CPU quota, which can only lower it.
        assert!(allowed.len() >= cores);
    }
}
