//! Goal: every example under the top-level `conf/` is ready to run on one machine: it loads
//! with zero warnings, and the brokers of one deployment (a directory) can all start on one
//! host without fighting over a port (listen, VIP = listen-2, HA = listen+1, DLedger) or a
//! store directory.
//!
//! Method: load every file under `conf/` with `config::load`, then compute each deployment's
//! port and store-path sets with `colocation_conflicts`. Store roots are also checked across
//! all of `conf/`, so that trying one deployment after another never mixes their data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ringmq_broker::config::{self, colocation_conflicts, BrokerConfig, BrokerRole};

fn conf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf")
}

/// Every example file, grouped by deployment (its directory; `broker.conf` stands alone).
fn deployments() -> BTreeMap<String, Vec<(String, BrokerConfig)>> {
    let mut files = Vec::new();
    let mut pending = vec![conf_dir()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("conf/ exists") {
            let path = entry.expect("readable").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut grouped: BTreeMap<String, Vec<(String, BrokerConfig)>> = BTreeMap::new();
    for path in files {
        let relative = path.strip_prefix(conf_dir()).expect("under conf/");
        let label = relative.display().to_string();
        let loaded = config::load(&path).unwrap_or_else(|e| panic!("{label} must load:\n{e}"));
        assert_eq!(
            loaded.warnings,
            Vec::<String>::new(),
            "{label} must load cleanly"
        );
        let deployment = relative
            .parent()
            .map(|p| p.display().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| label.clone());
        grouped
            .entry(deployment)
            .or_default()
            .push((label, loaded.config));
    }
    grouped
}

#[test]
fn every_conf_example_loads_without_warnings() {
    let all = deployments();
    let names: Vec<&str> = all.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        vec![
            "2m-2s-async",
            "2m-2s-sync",
            "2m-noslave",
            "broker.conf",
            "dledger"
        ]
    );
    let count: usize = all.values().map(Vec::len).sum();
    assert_eq!(count, 1 + 2 + 4 + 4 + 3);
}

#[test]
fn brokers_of_one_deployment_share_a_host_without_port_or_store_collisions() {
    for (deployment, brokers) in deployments() {
        let pairs: Vec<(&str, &BrokerConfig)> = brokers
            .iter()
            .map(|(label, c)| (label.as_str(), c))
            .collect();
        let conflicts = colocation_conflicts(&pairs);
        let described: Vec<String> = conflicts.iter().map(ToString::to_string).collect();
        assert!(described.is_empty(), "{deployment}: {described:#?}");
    }
}

#[test]
fn store_roots_are_distinct_across_all_examples_and_under_tmp() {
    let mut roots: BTreeMap<PathBuf, String> = BTreeMap::new();
    for (label, config) in deployments().into_values().flatten() {
        let root = config.store_paths().root;
        assert!(
            root.starts_with("/tmp/ringmq"),
            "{label}: {}",
            root.display()
        );
        if let Some(previous) = roots.insert(root.clone(), label.clone()) {
            panic!("{label} and {previous} share {}", root.display());
        }
    }
}

#[test]
fn examples_follow_the_port_plan_and_advertise_loopback() {
    let expected: &[(&str, u16)] = &[
        ("broker.conf", 10911),
        ("2m-noslave/broker-a.properties", 10911),
        ("2m-noslave/broker-b.properties", 10921),
        ("2m-2s-async/broker-a.properties", 10911),
        ("2m-2s-async/broker-a-s.properties", 10921),
        ("2m-2s-async/broker-b.properties", 10931),
        ("2m-2s-async/broker-b-s.properties", 10941),
        ("2m-2s-sync/broker-a.properties", 10911),
        ("2m-2s-sync/broker-a-s.properties", 10921),
        ("2m-2s-sync/broker-b.properties", 10931),
        ("2m-2s-sync/broker-b-s.properties", 10941),
        ("dledger/broker-n0.conf", 30911),
        ("dledger/broker-n1.conf", 30921),
        ("dledger/broker-n2.conf", 30931),
    ];
    let all: BTreeMap<String, BrokerConfig> = deployments().into_values().flatten().collect();
    for (label, port) in expected {
        let config = &all[*label];
        assert_eq!(config.listen_port, *port, "{label}");
        assert_eq!(
            config.advertised_addr(),
            Some(format!("127.0.0.1:{port}")),
            "{label}"
        );
        assert_eq!(
            config.namesrv_addrs(),
            vec!["127.0.0.1:9876".to_owned()],
            "{label}"
        );
    }
}

#[test]
fn master_slave_examples_pair_by_broker_name_with_the_right_roles() {
    let all: BTreeMap<String, BrokerConfig> = deployments().into_values().flatten().collect();
    for (deployment, master_role) in [
        ("2m-2s-async", BrokerRole::AsyncMaster),
        ("2m-2s-sync", BrokerRole::SyncMaster),
    ] {
        for name in ["broker-a", "broker-b"] {
            let master = &all[&format!("{deployment}/{name}.properties")];
            let slave = &all[&format!("{deployment}/{name}-s.properties")];
            assert_eq!((master.broker_role, master.broker_id), (master_role, 0));
            assert_eq!((slave.broker_role, slave.broker_id), (BrokerRole::Slave, 1));
            assert_eq!(master.broker_name, slave.broker_name);
        }
    }
}

#[test]
fn dledger_examples_form_one_group_with_distinct_self_ids() {
    let all: BTreeMap<String, BrokerConfig> = deployments().into_values().flatten().collect();
    let nodes: Vec<&BrokerConfig> = (0..3)
        .map(|i| &all[&format!("dledger/broker-n{i}.conf")])
        .collect();
    for (i, node) in nodes.iter().enumerate() {
        assert!(node.dledger_enable);
        assert_eq!(node.dledger_group.as_deref(), Some("RaftNode00"));
        assert_eq!(node.dledger_peers, nodes[0].dledger_peers);
        assert_eq!(node.dledger_self_id, Some(format!("n{i}")));
    }
}
