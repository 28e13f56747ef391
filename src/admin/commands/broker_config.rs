//! A broker's configuration and runtime state: `getBrokerConfig` (GET_BROKER_CONFIG 26, a
//! properties text body, `GetBrokerConfigCommand`), `updateBrokerConfig` (UPDATE_BROKER_CONFIG
//! 25, `UpdateBrokerConfigSubCommand`) and `brokerStatus` (GET_BROKER_RUNTIME_INFO 28,
//! `BrokerStatusSubCommand`), each on one broker (`-b`) or a cluster (`-c`).
//!
//! A ringmq broker changes only some keys at run time (`brokerPermission`); it refuses the
//! others with a remark naming them, which the error shows.

use std::collections::BTreeMap;

use ringmq_protocol::body::kv_table::KvTable;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::request_code;
use serde_json::{json, Value};

use super::{cluster_addresses, cluster_info, selected_brokers, valued, Command};
use crate::admin::client::{self, AdminError};
use crate::admin::invocation::{Format, Invocation};
use crate::admin::json;

pub(super) const COMMAND: Command = Command {
    name: "getBrokerConfig",
    description: "Get broker config by cluster or special broker!",
    options: &[
        valued("b", "brokerAddr", false, "get which broker"),
        valued("c", "clusterName", false, "get which cluster"),
    ],
    run,
};

pub(super) const UPDATE: Command = Command {
    name: "updateBrokerConfig",
    description: "Update broker's config.",
    options: &[
        valued("b", "brokerAddr", false, "update which broker"),
        valued("c", "clusterName", false, "update which cluster"),
        valued(
            "a",
            "updateAllBroker",
            false,
            "update all brokers include slave",
        ),
        valued("k", "key", true, "config key"),
        valued("v", "value", true, "config value"),
    ],
    run: update,
};

pub(super) const STATUS: Command = Command {
    name: "brokerStatus",
    description: "Fetch broker runtime status data.",
    options: &[
        valued("b", "brokerAddr", false, "Broker address"),
        valued("c", "clusterName", false, "which cluster"),
    ],
    run: status,
};

fn run(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let brokers = selected_brokers(invocation)?;
    let request = RemotingCommand::request(request_code::GET_BROKER_CONFIG);
    let mut documents = serde_json::Map::new();
    for broker in &brokers {
        let response = client::call("broker", broker, &request)?;
        let text = String::from_utf8_lossy(&response.body).into_owned();
        match format {
            Format::Text => print_config_text(broker, &text),
            Format::Json => {
                documents.insert(broker.clone(), config_json(&text));
            }
        }
    }
    if format == Format::Json {
        json::print(&Value::Object(documents));
    }
    Ok(())
}

/// A server's properties as mqadmin prints them: a `====<address>====` line, then one
/// `key=  value` line per property, then a blank line.
pub(super) fn print_config_text(address: &str, text: &str) {
    println!("============{address}============");
    for (key, value) in config_pairs(text) {
        println!("{key:<50}=  {value}");
    }
    println!();
}

/// A properties text as a JSON object.
pub(super) fn config_json(text: &str) -> Value {
    Value::Object(
        config_pairs(text)
            .map(|(key, value)| (key.to_owned(), Value::from(value)))
            .collect(),
    )
}

/// The brokers `-b` or `-c` select; with `-c` and `with_slaves`, slaves too.
fn brokers_of(invocation: &Invocation, with_slaves: bool) -> Result<Vec<String>, AdminError> {
    match invocation.value("clusterName") {
        Some(cluster) if invocation.value("brokerAddr").is_none() => {
            let info = cluster_info(&invocation.namesrv()?)?;
            cluster_addresses(&info, cluster.trim(), with_slaves)
        }
        _ => selected_brokers(invocation),
    }
}

/// Run `action` on every broker; with `-c`, a broker that fails is reported and the others
/// still run, and the command then fails naming how many did.
fn on_each(
    invocation: &Invocation,
    brokers: &[String],
    mut action: impl FnMut(&str) -> Result<(), AdminError>,
) -> Result<(), AdminError> {
    let mut failed = 0;
    for broker in brokers {
        match action(broker) {
            Ok(()) => {}
            Err(error) if invocation.value("brokerAddr").is_some() => return Err(error),
            Err(error) => {
                eprintln!("{error}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(AdminError::Partial {
            failed,
            total: brokers.len(),
            what: "servers",
        });
    }
    Ok(())
}

fn update(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let key = invocation.required("key")?.trim();
    let value = invocation.required("value")?.trim();
    let brokers = brokers_of(invocation, invocation.value("updateAllBroker").is_some())?;
    let mut request = RemotingCommand::request(request_code::UPDATE_BROKER_CONFIG);
    request.body = format!("{key}={value}\n").into_bytes().into();
    let mut updated = Vec::new();
    let outcome = on_each(invocation, &brokers, |broker| {
        client::call("broker", broker, &request)?;
        if format == Format::Text {
            println!("update broker config success, {broker}");
        }
        updated.push(broker.to_owned());
        Ok(())
    });
    if format == Format::Json {
        json::print(&json!({ "key": key, "value": value, "updated": updated }));
    }
    outcome
}

fn status(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let with_address = invocation.value("brokerAddr").is_none();
    let brokers = brokers_of(invocation, true)?;
    let request = RemotingCommand::request(request_code::GET_BROKER_RUNTIME_INFO);
    let mut documents: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let outcome = on_each(invocation, &brokers, |broker| {
        let response = client::call("broker", broker, &request)?;
        let table: KvTable = client::decode(broker, &response)?;
        if format == Format::Json {
            documents.insert(broker.to_owned(), table.table);
            return Ok(());
        }
        for (key, value) in &table.table {
            if with_address {
                println!("{broker:<24} {key:<32}: {value}");
            } else {
                println!("{key:<32}: {value}");
            }
        }
        Ok(())
    });
    if format == Format::Json {
        json::print(&json!(documents));
    }
    outcome
}

/// `key=value` lines of a Java properties text; blank lines and `#`/`!` comments are skipped.
fn config_pairs(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('!'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim(), value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_pairs_skip_comments_and_blank_lines() {
        let pairs: Vec<_> =
            config_pairs("# c\nbrokerName=broker-a\n\nlistenPort = 10911\n").collect();
        assert_eq!(pairs, [("brokerName", "broker-a"), ("listenPort", "10911")]);
    }
}
