//! Facts about the host that change how the broker performs, read once at start.

/// `/sys` files that say whether idle CPUs of a KVM guest poll before they halt.
const CPUIDLE_DRIVER: &str = "/sys/devices/system/cpu/cpuidle/current_driver";
const GUEST_HALT_POLL_NS: &str = "/sys/module/haltpoll/parameters/guest_halt_poll_ns";

/// A notice for the log when this machine is a KVM guest whose idle vCPUs halt at once.
pub(crate) fn idle_wake_notice() -> Option<String> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    halt_poll_notice(
        read(CPUIDLE_DRIVER).as_deref(),
        read(GUEST_HALT_POLL_NS).as_deref(),
    )
}

/// The notice for a guest whose cpuidle driver is `haltpoll` with polling set to 0 ns: then
/// every wake-up of an idle vCPU (a client's request, a disk completion, a reply to a client
/// on another vCPU) is a VM exit and entry, tens of microseconds each.
fn halt_poll_notice(driver: Option<&str>, halt_poll_ns: Option<&str>) -> Option<String> {
    if driver?.trim() != "haltpoll" {
        return None;
    }
    let nanoseconds: u64 = halt_poll_ns?.trim().parse().ok()?;
    (nanoseconds == 0).then(|| {
        format!(
            "this KVM guest halts idle vCPUs at once ({GUEST_HALT_POLL_NS} is 0), so every \
             wake-up of an idle vCPU costs a VM exit; low-load latency can be twice as high. \
             `echo 200000 > {GUEST_HALT_POLL_NS}` (as root) makes idle vCPUs poll for 200 µs \
             first (docs/operations/tuning.md)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::halt_poll_notice;

    #[test]
    fn only_a_haltpoll_guest_with_polling_off_gets_the_notice() {
        // Hazard: a notice on machines where it does not apply (bare metal, a guest that
        // already polls) teaches operators to ignore the log.
        let notice = halt_poll_notice(Some("haltpoll\n"), Some("0\n"));
        assert!(notice.is_some_and(|text| text.contains("guest_halt_poll_ns")));
        assert_eq!(halt_poll_notice(Some("haltpoll\n"), Some("200000\n")), None);
        assert_eq!(halt_poll_notice(Some("intel_idle\n"), Some("0\n")), None);
        assert_eq!(halt_poll_notice(None, Some("0")), None);
        assert_eq!(halt_poll_notice(Some("haltpoll"), None), None);
        assert_eq!(halt_poll_notice(Some("haltpoll"), Some("garbage")), None);
    }
}
