//! Free loopback ports for tests that start brokers, shared by the broker crate's tests and
//! the workspace's end-to-end tests (`tests/support` includes this file).

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// A port nobody listens on now, whose neighbours −2 (VIP) and +1 (HA) are free too.
///
/// Ports come from below the kernel's ephemeral range when it leaves room there. A port from
/// inside it (port 0) could become an outgoing connection's local port before the broker
/// binds it: a slave started after seconds of load once failed with "port … (VIP channel)
/// is already in use". A counter keeps the tests of one process apart.
pub fn free_port_block() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(0);
    let blocks = ephemeral_low.saturating_sub(LOW) / 4;
    for _ in 0..blocks.max(200) {
        let port = if blocks >= 500 {
            let index =
                std::process::id().wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % blocks;
            u16::try_from(LOW + 2 + 4 * index).expect("below the ephemeral range")
        } else {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        if !(1030..=65_000).contains(&port) {
            continue;
        }
        let all_free = [port - 2, port - 1, port, port + 1]
            .iter()
            .all(|p| TcpListener::bind(("0.0.0.0", *p)).is_ok());
        if all_free {
            return port;
        }
    }
    panic!("no free port block found");
}
