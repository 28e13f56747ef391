//! Goal: the broker config files that real deployment guides tell people to write (the seed
//! guides in `shared/seeds/`) load in ringmq exactly when they are right, and the faulty ones
//! are refused with a message that points at the line to fix.
//!
//! Method: each properties block of the guides is a verbatim fixture under
//! `fixtures/seeds/` (provenance in `fixtures/seeds/SOURCES.md`). A test rewrites store paths
//! into a temporary directory and every address to 127.0.0.1, line by line so that line
//! numbers do not move, loads the result and compares the outcome with the table below:
//! warnings or errors, each checked by its `file:line: …` prefix. Further tests replay the
//! guides' multi-broker layouts on one host to show which ones collide.

use std::path::Path;

use ringmq_broker::config::{
    self, colocation_conflicts, BrokerConfig, BrokerRole, ColocationConflict, ConfigError,
    LoadedConfig, PortUse, ProblemKind,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seeds");

/// What loading a fixture must give: warnings or errors, by `origin:line: text` prefix.
enum Expect {
    Loads(&'static [&'static str]),
    Rejected(&'static [&'static str]),
}

use Expect::{Loads, Rejected};

const SEEDS: &[(&str, Expect)] = &[
    (
        "seed000/broker-a.properties",
        Rejected(&[
            "seed000/broker-a.properties:51: brokerRole=SYSC_MASTER: expected one of \
                    ASYNC_MASTER, SYNC_MASTER, SLAVE",
        ]),
    ),
    (
        "seed000/broker-a-s.properties",
        Rejected(&[
            "seed000/broker-a-s.properties:6: brokerId=0 with brokerRole=SLAVE: a slave \
                    needs brokerId > 0",
        ]),
    ),
    (
        "seed000/broker-b.properties",
        Rejected(&[
            "seed000/broker-b.properties:51: brokerRole=SYSC_MASTER: expected one of \
                    ASYNC_MASTER, SYNC_MASTER, SLAVE",
        ]),
    ),
    (
        "seed000/broker-b-s.properties",
        Loads(&[
            "seed000/broker-b-s.properties:28: unknown key destroyMapedFileInterval is ignored",
            "seed000/broker-b-s.properties:42: unknown key checkTransactionMessageEnable is \
             ignored",
        ]),
    ),
    ("seed001/broker-a.properties", Loads(&[])),
    ("seed001/broker-a-s.properties", Loads(&[])),
    ("seed001/broker-b.properties", Loads(&[])),
    ("seed001/broker-b-s.properties", Loads(&[])),
    ("seed001/dledger-n0.properties", Loads(&[])),
    ("seed001/dledger-n1.properties", Loads(&[])),
    ("seed001/dledger-n2.properties", Loads(&[])),
    ("seed002/broker-a.properties", Loads(&[])),
    ("seed002/broker-b-s.properties", Loads(&[])),
    ("seed002/broker-b.properties", Loads(&[])),
    ("seed002/broker-a-s.properties", Loads(&[])),
    ("seed003/apache-2m-2s-sync-broker-a.properties", Loads(&[])),
    ("seed003/broker-a.properties", Loads(&[])),
    ("seed003/broker-b-s.properties", Loads(&[])),
    ("seed003/broker-b.properties", Loads(&[])),
    ("seed003/broker-a-s.properties", Loads(&[])),
    ("seed004/broker-node1.conf", Loads(&[])),
    ("seed004/broker-node2.conf", Loads(&[])),
    ("seed004/broker-node3.conf", Loads(&[])),
];

const PATH_KEYS: &[&str] = &[
    "storePathRootDir",
    "storePathCommitLog",
    "storePathConsumeQueue",
    "storePathIndex",
    "storeCheckpoint",
    "abortFile",
];

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).expect("fixture exists")
}

/// `host:port` → `127.0.0.1:port`, keeping the `id-` prefix of a DLedger peer.
fn localize_address(entry: &str, is_peer: bool) -> String {
    let (prefix, address) = match entry.split_once('-') {
        Some((id, rest)) if is_peer => (format!("{id}-"), rest),
        _ => (String::new(), entry),
    };
    let port = address.rsplit_once(':').map_or("", |(_, port)| port);
    format!("{prefix}127.0.0.1:{port}")
}

/// Point the file at `tmp` and 127.0.0.1 without moving any line. Store paths keep their
/// shape under `tmp` (`/usr/local/x` → `tmp/usr/local/x`, `./../data/m` → `tmp/data/m`),
/// so that two files sharing a store still share it after the rewrite.
fn localize(text: &str, tmp: &Path) -> String {
    let rewrite_line = |line: &str| -> String {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            return line.to_owned();
        }
        let Some((key, value)) = line.split_once('=') else {
            return line.to_owned();
        };
        let (key, value) = (key.trim(), value.trim());
        if PATH_KEYS.contains(&key) {
            let mut relative = value;
            while let Some(rest) = relative
                .strip_prefix("./")
                .or_else(|| relative.strip_prefix("../"))
                .or_else(|| relative.strip_prefix('/'))
            {
                relative = rest;
            }
            return format!("{key}={}", tmp.join(relative).display());
        }
        match key {
            "brokerIP1" | "brokerIP2" => format!("{key}=127.0.0.1"),
            "namesrvAddr" | "haMasterAddress" | "dLegerPeers" => {
                let entries: Vec<String> = value
                    .split(';')
                    .map(|entry| localize_address(entry, key == "dLegerPeers"))
                    .collect();
                format!("{key}={}", entries.join(";"))
            }
            _ => line.to_owned(),
        }
    };
    let lines: Vec<String> = text.lines().map(rewrite_line).collect();
    lines.join("\n") + "\n"
}

fn load_localized(name: &str, tmp: &Path) -> Result<LoadedConfig, ConfigError> {
    // `~` defaults (files without storePathRootDir) land in `tmp` too.
    config::from_str_with_home(&localize(&fixture(name), tmp), name, Some(tmp))
}

fn loaded(name: &str, tmp: &Path) -> BrokerConfig {
    match load_localized(name, tmp) {
        Ok(loaded) => loaded.config,
        Err(error) => panic!("{name} must load:\n{error}"),
    }
}

fn assert_prefixes(name: &str, actual: &[String], expected: &[&str]) {
    assert_eq!(actual.len(), expected.len(), "{name}: {actual:#?}");
    for (line, prefix) in actual.iter().zip(expected) {
        assert!(
            line.starts_with(prefix),
            "{name}: {line:?} should start with {prefix:?}"
        );
    }
}

#[test]
fn every_seed_file_loads_or_is_rejected_as_documented() {
    let tmp = tempfile::tempdir().expect("temp dir");
    for (name, expect) in SEEDS {
        let outcome = load_localized(name, tmp.path());
        match (expect, outcome) {
            (Loads(warnings), Ok(loaded)) => {
                assert_prefixes(name, &loaded.warnings, warnings);
                let paths = loaded.config.store_paths();
                for path in [
                    &paths.root,
                    &paths.commitlog,
                    &paths.consume_queue,
                    &paths.index,
                ] {
                    assert!(
                        path.starts_with(tmp.path()),
                        "{name}: {} escaped",
                        path.display()
                    );
                }
                for address in loaded.config.namesrv_addrs() {
                    assert!(address.starts_with("127.0.0.1:"), "{name}: {address}");
                }
            }
            (Rejected(errors), Err(error)) => {
                let lines: Vec<String> = error.to_string().lines().map(str::to_owned).collect();
                assert_prefixes(name, &lines, errors);
            }
            (Loads(_), Err(error)) => panic!("{name} must load, got:\n{error}"),
            (Rejected(_), Ok(loaded)) => panic!("{name} must be rejected, loaded {loaded:?}"),
        }
    }
}

#[test]
fn sysc_master_typo_is_refused_where_rocketmq_silently_runs_async_master() {
    let error = config::from_str(
        &fixture("seed000/broker-a.properties"),
        "broker-a.properties",
    )
    .expect_err("SYSC_MASTER is not a role");
    assert_eq!(
        error.to_string(),
        "broker-a.properties:51: brokerRole=SYSC_MASTER: expected one of ASYNC_MASTER, \
         SYNC_MASTER, SLAVE"
    );
    let problem = &error.problems()[0];
    assert_eq!(problem.kind, ProblemKind::BadValue);
    assert_eq!(problem.key.as_deref(), Some("brokerRole"));
    assert_eq!(problem.line, Some(51));
}

#[test]
fn sysc_master_seed_with_the_typo_fixed_loads_as_sync_master() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let fixed = localize(&fixture("seed000/broker-a.properties"), tmp.path())
        .replace("brokerRole=SYSC_MASTER", "brokerRole=SYNC_MASTER");
    let loaded = config::from_str(&fixed, "broker-a.properties").expect("only the typo was wrong");
    assert_eq!(loaded.config.broker_role, BrokerRole::SyncMaster);
    // The guide's old spellings still take effect: 65536-byte messages, 300000-byte CQ files.
    assert_eq!(loaded.config.max_message_bytes, 65_536);
    assert_eq!(loaded.config.consume_queue_file_bytes, 300_000);
    assert_eq!(loaded.config.commitlog_segment_bytes, 1 << 30);
    assert_eq!(loaded.config.disk_max_used_space_percent, 88);
    assert_eq!(loaded.warnings.len(), 2, "{:#?}", loaded.warnings);
}

#[test]
fn seed001_dledger_keys_appended_to_a_2m2s_file_warn_that_role_and_id_are_ignored() {
    // The guide says to add the DLedger block to each 2m-2s file; Raft then overrides the
    // file's brokerRole and brokerId, which an operator should be told.
    let tmp = tempfile::tempdir().expect("temp dir");
    let combined =
        fixture("seed001/broker-a-s.properties") + &fixture("seed001/dledger-n1.properties");
    let loaded = config::from_str(&localize(&combined, tmp.path()), "broker-a-s.properties")
        .expect("a 2m-2s slave file with DLedger keys loads");
    assert!(loaded.config.dledger_enable);
    assert_eq!(loaded.config.dledger_port(), Some(40911));
    assert_prefixes(
        "combined",
        &loaded.warnings,
        &[
            "broker-a-s.properties:7: brokerId is ignored with enableDLegerCommitLog=true",
            "broker-a-s.properties:44: brokerRole is ignored with enableDLegerCommitLog=true",
        ],
    );
}

#[test]
fn seed002_master_and_slave_on_one_host_share_a_store_root() {
    // The guide runs master1 and slave2 on 192.168.25.135 with the same storePathRootDir;
    // RocketMQ fails at start with "Lock failed, MQ already started".
    let tmp = tempfile::tempdir().expect("temp dir");
    let master1 = loaded("seed002/broker-a.properties", tmp.path());
    let slave2 = loaded("seed002/broker-b-s.properties", tmp.path());
    let conflicts = colocation_conflicts(&[("master1", &master1), ("slave2", &slave2)]);
    assert!(!conflicts.is_empty());
    assert!(
        conflicts
            .iter()
            .all(|c| matches!(c, ColocationConflict::StorePath { .. })),
        "ports 10911 and 11011 do not collide: {conflicts:#?}"
    );
    assert!(conflicts[0]
        .to_string()
        .contains("give each broker its own storePathRootDir"));
}

#[test]
fn seed003_four_brokers_on_one_host_collide_on_ha_ports() {
    // listenPort 10911, 10912, 10931, 10932: each master's HA port (listen+1) is the next
    // broker's listen port.
    let tmp = tempfile::tempdir().expect("temp dir");
    let names = [
        "seed003/broker-a.properties",
        "seed003/broker-b.properties",
        "seed003/broker-a-s.properties",
        "seed003/broker-b-s.properties",
    ];
    let configs: Vec<BrokerConfig> = names.iter().map(|n| loaded(n, tmp.path())).collect();
    let brokers: Vec<(&str, &BrokerConfig)> = names.iter().copied().zip(configs.iter()).collect();
    let conflicts = colocation_conflicts(&brokers);
    let ports: Vec<(u16, PortUse, PortUse)> = conflicts
        .iter()
        .map(|c| match c {
            ColocationConflict::Port {
                port,
                first,
                second,
            } => (*port, first.1, second.1),
            other => panic!("only ports collide: {other}"),
        })
        .collect();
    assert_eq!(
        ports,
        vec![
            (10912, PortUse::Ha, PortUse::Listen),
            (10932, PortUse::Ha, PortUse::Listen)
        ]
    );
}

#[test]
fn seed004_dledger_nodes_fit_on_one_host_once_addresses_are_local() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let names = [
        "seed004/broker-node1.conf",
        "seed004/broker-node2.conf",
        "seed004/broker-node3.conf",
    ];
    let configs: Vec<BrokerConfig> = names.iter().map(|n| loaded(n, tmp.path())).collect();
    assert_eq!(
        configs[0].broker_cluster_name, "RaftCluster",
        "`key = value` with blanks"
    );
    let dledger_ports: Vec<Option<u16>> = configs.iter().map(BrokerConfig::dledger_port).collect();
    assert_eq!(dledger_ports, vec![Some(40911), Some(40912), Some(40913)]);
    let brokers: Vec<(&str, &BrokerConfig)> = names.iter().copied().zip(configs.iter()).collect();
    assert_eq!(colocation_conflicts(&brokers), vec![]);
}

#[test]
fn apache_shipped_2m2s_sync_file_loads_with_rocketmq_defaults() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = loaded("seed003/apache-2m-2s-sync-broker-a.properties", tmp.path());
    assert_eq!(config.broker_cluster_name, "DefaultCluster");
    assert_eq!(config.broker_role, BrokerRole::SyncMaster);
    assert_eq!(config.file_reserved_hours, 48);
    assert_eq!(config.listen_port, 10911);
    assert_eq!(config.ha_port(), 10912);
    assert_eq!(config.vip_port(), 10909);
}
