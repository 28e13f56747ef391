//! Name-server commands, sent to every address of `-n`: `getNamesrvConfig` and
//! `updateNamesrvConfig` (GET/UPDATE_NAMESRV_CONFIG 319/318), and `wipeWritePerm` /
//! `addWritePerm` (WIPE_WRITE_PERM_OF_BROKER 205, ADD_WRITE_PERM_OF_BROKER 327), which drain
//! a broker of producers before maintenance and bring them back.
//!
//! As in RocketMQ, a name server that fails the write-permission change gets a `Failed` line
//! and the others are still changed; ringmq also prints the cause and exits non-zero.

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::namesrv::BrokerNameRequestHeader;
use ringmq_protocol::request_code;
use serde_json::{json, Value};

use super::broker_config::{config_json, print_config_text};
use super::{valued, Command};
use crate::admin::client::{self, AdminError};
use crate::admin::invocation::{Format, Invocation};
use crate::admin::json;

pub(super) const GET_CONFIG: Command = Command {
    name: "getNamesrvConfig",
    description: "Get configs of name server.",
    options: &[],
    run: get_config,
};

pub(super) const UPDATE_CONFIG: Command = Command {
    name: "updateNamesrvConfig",
    description: "Update configs of name server.",
    options: &[
        valued("k", "key", true, "config key"),
        valued("v", "value", true, "config value"),
    ],
    run: update_config,
};

pub(super) const WIPE_WRITE_PERM: Command = Command {
    name: "wipeWritePerm",
    description: "Wipe write perm of broker in all name server you defined in the -n param.",
    options: &[valued("b", "brokerName", true, "broker name")],
    run: wipe_write_perm,
};

pub(super) const ADD_WRITE_PERM: Command = Command {
    name: "addWritePerm",
    description: "Add write perm of broker in all name server you defined in the -n param.",
    options: &[valued("b", "brokerName", true, "broker name")],
    run: add_write_perm,
};

fn get_config(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let request = RemotingCommand::request(request_code::GET_NAMESRV_CONFIG);
    let mut documents = serde_json::Map::new();
    for address in invocation.namesrv()? {
        let response = client::call("name server", &address, &request)?;
        let text = String::from_utf8_lossy(&response.body).into_owned();
        match format {
            Format::Text => print_config_text(&address, &text),
            Format::Json => {
                documents.insert(address, config_json(&text));
            }
        }
    }
    if format == Format::Json {
        json::print(&Value::Object(documents));
    }
    Ok(())
}

fn update_config(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let key = invocation.required("key")?.trim();
    let value = invocation.required("value")?.trim();
    let namesrv = invocation.namesrv()?;
    let mut request = RemotingCommand::request(request_code::UPDATE_NAMESRV_CONFIG);
    request.body = format!("{key}={value}\n").into_bytes().into();
    client::call_every_namesrv(&namesrv, &request)?;
    match format {
        Format::Text => {
            // RocketMQ prints the -n list as Java's List.toString, nothing for NAMESRV_ADDR.
            let servers = if invocation.namesrv_from_env() {
                String::new()
            } else {
                format!("[{}]", namesrv.join(", "))
            };
            println!("update name server config success!{servers}\n{key} : {value}");
        }
        Format::Json => json::print(&json!({ "nameServers": namesrv, "key": key, "value": value })),
    }
    Ok(())
}

/// Which write-permission change.
#[derive(Clone, Copy, Debug)]
struct PermChange {
    code: i32,
    /// Response ext field with the number of topics changed.
    count_field: &'static str,
    /// `wipe` or `add`, as the output lines say.
    verb: &'static str,
}

fn wipe_write_perm(invocation: &Invocation) -> Result<(), AdminError> {
    change_write_perm(
        invocation,
        PermChange {
            code: request_code::WIPE_WRITE_PERM_OF_BROKER,
            count_field: "wipeTopicCount",
            verb: "wipe",
        },
    )
}

fn add_write_perm(invocation: &Invocation) -> Result<(), AdminError> {
    change_write_perm(
        invocation,
        PermChange {
            code: request_code::ADD_WRITE_PERM_OF_BROKER,
            count_field: "addTopicCount",
            verb: "add",
        },
    )
}

fn change_write_perm(invocation: &Invocation, change: PermChange) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let broker = invocation.required("brokerName")?.trim();
    let namesrv = invocation.namesrv()?;
    let mut request = RemotingCommand::request(change.code);
    BrokerNameRequestHeader {
        broker_name: broker.to_owned(),
    }
    .write_to(&mut request);
    let verb = change.verb;
    let mut results = Vec::new();
    let mut failed = 0;
    for address in &namesrv {
        match client::call("name server", address, &request) {
            Ok(response) => {
                let count = response.ext(change.count_field).unwrap_or("0").to_owned();
                if format == Format::Text {
                    println!(
                        "{verb} write perm of broker[{broker}] in name server[{address}] OK, \
                         {count}"
                    );
                }
                results.push(json!({ "nameServer": address, "ok": true, "topicCount": count }));
            }
            Err(error) => {
                if format == Format::Text {
                    println!(
                        "{verb} write perm of broker[{broker}] in name server[{address}] Failed"
                    );
                }
                eprintln!("{error}");
                results.push(json!({ "nameServer": address, "ok": false,
                                     "error": error.to_string() }));
                failed += 1;
            }
        }
    }
    if format == Format::Json {
        json::print(&json!({ "brokerName": broker, "nameServers": results }));
    }
    if failed > 0 {
        return Err(AdminError::Partial {
            failed,
            total: namesrv.len(),
            what: "servers",
        });
    }
    Ok(())
}
