//! Brokers sharing one host: which ports and store directories they would fight over.
//!
//! Each broker takes three ports, not one: the VIP port `listenPort-2`, `listenPort`, and the
//! HA port (`listenPort+1` unless `haListenPort` is set), plus its DLedger port. Guides put a
//! second broker on `listenPort+1` (seed 003: 10911 and 10912) and its HA port collides;
//! they also reuse one `storePathRootDir` (seed 002), which RocketMQ reports only at start as
//! "Lock failed, MQ already started". Checking a deployment's files together catches both
//! before anything starts.

use std::fmt;
use std::path::PathBuf;

use super::{BrokerConfig, PortUse};

/// Something two brokers on one host would both need.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColocationConflict {
    Port {
        port: u16,
        /// Broker label (usually the file name) and what it uses the port for.
        first: (String, PortUse),
        second: (String, PortUse),
    },
    StorePath {
        path: PathBuf,
        first: String,
        second: String,
    },
}

impl fmt::Display for PortUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Listen => "listen port",
            Self::Vip => "VIP port (listenPort-2)",
            Self::Ha => "HA port",
            Self::Dledger => "DLedger port",
        })
    }
}

impl fmt::Display for ColocationConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Port {
                port,
                first,
                second,
            } => write!(
                f,
                "port {port} is the {} of {} and the {} of {}; space listen ports at least 4 \
                 apart (10 in conf/)",
                first.1, first.0, second.1, second.0
            ),
            Self::StorePath {
                path,
                first,
                second,
            } => write!(
                f,
                "{} is a store path of both {first} and {second}; give each broker its own \
                 storePathRootDir",
                path.display()
            ),
        }
    }
}

/// Every conflict among `brokers` (label, config) if they all ran on one host.
pub fn colocation_conflicts(brokers: &[(&str, &BrokerConfig)]) -> Vec<ColocationConflict> {
    let mut conflicts = Vec::new();
    for (index, (label, config)) in brokers.iter().enumerate() {
        for (other_label, other) in &brokers[..index] {
            port_conflicts(other_label, other, label, config, &mut conflicts);
            path_conflicts(other_label, other, label, config, &mut conflicts);
        }
    }
    conflicts
}

fn port_conflicts(
    first_label: &str,
    first: &BrokerConfig,
    second_label: &str,
    second: &BrokerConfig,
    conflicts: &mut Vec<ColocationConflict>,
) {
    for (first_use, port) in first.ports() {
        for (second_use, other_port) in second.ports() {
            if port == other_port {
                conflicts.push(ColocationConflict::Port {
                    port,
                    first: (first_label.to_owned(), first_use),
                    second: (second_label.to_owned(), second_use),
                });
            }
        }
    }
}

fn path_conflicts(
    first_label: &str,
    first: &BrokerConfig,
    second_label: &str,
    second: &BrokerConfig,
    conflicts: &mut Vec<ColocationConflict>,
) {
    let mine = first.store_paths();
    let theirs = second.store_paths();
    let list = |p: &super::StorePaths| {
        [
            p.root.clone(),
            p.commitlog.clone(),
            p.consume_queue.clone(),
            p.index.clone(),
            p.checkpoint.clone(),
            p.abort.clone(),
        ]
    };
    let theirs = list(&theirs);
    for path in list(&mine) {
        if theirs.contains(&path) {
            conflicts.push(ColocationConflict::StorePath {
                path,
                first: first_label.to_owned(),
                second: second_label.to_owned(),
            });
        }
    }
}
