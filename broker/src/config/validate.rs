//! Checks across settings, after every line has parsed on its own.
//!
//! Each check names the values involved and the fix, and points at the line of the key the
//! operator most likely has to change (the one set in the file, if only one of them is).

use std::collections::HashMap;

use super::error::{Problem, ProblemKind};
use super::values::BrokerRole;
use super::BrokerConfig;

/// Canonical key → line of its last setting in the file.
pub(crate) type Lines = HashMap<&'static str, usize>;

/// Every cross-setting problem, in a stable order.
pub(crate) fn check(config: &BrokerConfig, lines: &Lines) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_role(config, lines, &mut problems);
    check_ports(config, lines, &mut problems);
    check_sizes(config, lines, &mut problems);
    check_store_paths(config, lines, &mut problems);
    check_dledger(config, lines, &mut problems);
    problems
}

fn inconsistent(key: &'static str, lines: &Lines, message: String) -> Problem {
    Problem::new(
        ProblemKind::Inconsistent,
        key,
        lines.get(key).copied(),
        message,
    )
}

/// The line of `preferred` if the file sets it, else that of `other`.
fn line_of(
    lines: &Lines,
    preferred: &'static str,
    other: &'static str,
) -> (&'static str, Option<usize>) {
    match (lines.get(preferred), lines.get(other)) {
        (Some(&line), _) => (preferred, Some(line)),
        (None, Some(&line)) => (other, Some(line)),
        (None, None) => (preferred, None),
    }
}

fn check_role(config: &BrokerConfig, lines: &Lines, problems: &mut Vec<Problem>) {
    let (key, line) = line_of(lines, "brokerId", "brokerRole");
    let id = config.broker_id;
    let role = config.broker_role;
    let message = match role {
        BrokerRole::Slave if id == 0 => {
            "brokerId=0 with brokerRole=SLAVE: a slave needs brokerId > 0".to_owned()
        }
        BrokerRole::AsyncMaster | BrokerRole::SyncMaster if id != 0 => format!(
            "brokerId={id} with brokerRole={role}: a master needs brokerId=0 \
             (or set brokerRole=SLAVE)"
        ),
        _ => return,
    };
    problems.push(Problem::new(ProblemKind::Inconsistent, key, line, message));
}

fn check_ports(config: &BrokerConfig, lines: &Lines, problems: &mut Vec<Problem>) {
    let listen = config.listen_port;
    if listen < 3 {
        problems.push(inconsistent(
            "listenPort",
            lines,
            format!(
                "listenPort={listen}: expected a port number 3-65535, because the VIP port \
                 listenPort-2 must be a port too"
            ),
        ));
        return;
    }
    match config.ha_listen_port {
        None if listen == u16::MAX => problems.push(inconsistent(
            "listenPort",
            lines,
            format!(
                "listenPort={listen}: the HA port defaults to listenPort+1, which is not a port; \
                 lower listenPort or set haListenPort"
            ),
        )),
        Some(ha) if ha == listen || ha == config.vip_port() => problems.push(inconsistent(
            "haListenPort",
            lines,
            format!(
                "haListenPort={ha} collides with listenPort={listen} (which also takes the VIP \
                 port \
                 {}); pick another port, or leave haListenPort unset for listenPort+1",
                config.vip_port()
            ),
        )),
        _ => {}
    }
}

/// Largest `maxMessageSize` the store takes: RocketMQ's default, 4 MiB. The engine's record
/// limit (`RECORD_BYTES_MAX`) adds room for the largest properties and the fixed fields.
const MAX_MESSAGE_BYTES_LIMIT: u32 = 4 << 20;
const _: () = assert!(
    MAX_MESSAGE_BYTES_LIMIT as usize + (40 << 10) <= ringmq_engine::constants::RECORD_BYTES_MAX
);

fn check_sizes(config: &BrokerConfig, lines: &Lines, problems: &mut Vec<Problem>) {
    let segment = config.commitlog_segment_bytes;
    let message_max = u64::from(config.max_message_bytes);
    if config.max_message_bytes > MAX_MESSAGE_BYTES_LIMIT {
        problems.push(Problem::new(
            ProblemKind::BadValue,
            "maxMessageSize",
            lines.get("maxMessageSize").copied(),
            format!(
                "maxMessageSize={message_max} is larger than ringmq stores: at most \
                 {MAX_MESSAGE_BYTES_LIMIT} bytes (4 MiB, RocketMQ's default)"
            ),
        ));
    }
    if message_max >= segment {
        let (key, line) = line_of(lines, "maxMessageSize", "mappedFileSizeCommitLog");
        problems.push(Problem::new(
            ProblemKind::Inconsistent,
            key,
            line,
            format!(
                "maxMessageSize={message_max} does not fit in a commitlog segment of \
                 mappedFileSizeCommitLog={segment} bytes; lower maxMessageSize or raise the \
                 segment size"
            ),
        ));
    }
}

/// Two store locations on the same path would make the broker read one file type as
/// another (seed 002 shows the cousin of this hazard: two brokers sharing one root).
fn check_store_paths(config: &BrokerConfig, lines: &Lines, problems: &mut Vec<Problem>) {
    let paths = config.store_paths();
    let named = [
        ("storePathCommitLog", &paths.commitlog),
        ("storePathConsumeQueue", &paths.consume_queue),
        ("storePathIndex", &paths.index),
        ("storeCheckpoint", &paths.checkpoint),
        ("abortFile", &paths.abort),
    ];
    for (index, (key, path)) in named.iter().enumerate() {
        if *path == &paths.root {
            problems.push(inconsistent(
                key,
                lines,
                format!(
                    "{key}={}: must not be storePathRootDir itself",
                    path.display()
                ),
            ));
        }
        for (other_key, other_path) in &named[..index] {
            if path == other_path {
                problems.push(inconsistent(
                    key,
                    lines,
                    format!(
                        "{key}={}: same path as {other_key}; give each its own",
                        path.display()
                    ),
                ));
            }
        }
    }
}

fn check_dledger(config: &BrokerConfig, lines: &Lines, problems: &mut Vec<Problem>) {
    if !config.dledger_enable {
        return;
    }
    let enable = "enableDLegerCommitLog";
    if config.dledger_group.is_none() {
        problems.push(inconsistent(
            enable,
            lines,
            "enableDLegerCommitLog=true needs dLegerGroup (usually the brokerName)".to_owned(),
        ));
    }
    if config.dledger_peers.is_empty() {
        problems.push(inconsistent(
            enable,
            lines,
            "enableDLegerCommitLog=true needs dLegerPeers, e.g. \
             n0-127.0.0.1:40911;n1-127.0.0.1:40912;n2-127.0.0.1:40913"
                .to_owned(),
        ));
        return;
    }
    let Some(self_id) = config.dledger_self_id.as_deref() else {
        problems.push(inconsistent(
            enable,
            lines,
            "enableDLegerCommitLog=true needs dLegerSelfId, one of the ids in dLegerPeers"
                .to_owned(),
        ));
        return;
    };
    let Some(own) = config.dledger_peers.iter().find(|peer| peer.id == self_id) else {
        let ids: Vec<&str> = config.dledger_peers.iter().map(|p| p.id.as_str()).collect();
        problems.push(inconsistent(
            "dLegerSelfId",
            lines,
            format!(
                "dLegerSelfId={self_id}: expected one of the ids in dLegerPeers ({})",
                ids.join(", ")
            ),
        ));
        return;
    };
    let taken = [
        ("listenPort", config.listen_port),
        ("the VIP port", config.vip_port()),
        ("the HA port", config.ha_port()),
    ];
    if let Some((what, _)) = taken.iter().find(|(_, port)| *port == own.port) {
        problems.push(inconsistent(
            "dLegerPeers",
            lines,
            format!(
                "dLegerPeers: this node's entry {own} uses port {}, which is also {what}",
                own.port
            ),
        ));
    }
}
