//! `getBrokerConfig -b addr | -c cluster`: each broker's running configuration
//! (GET_BROKER_CONFIG 26, a properties text body), printed as `GetBrokerConfigCommand` does.

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::request_code;

use super::{selected_brokers, valued, Command};
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

fn run(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let brokers = selected_brokers(invocation)?;
    let request = RemotingCommand::request(request_code::GET_BROKER_CONFIG);
    let mut documents = Vec::new();
    for broker in &brokers {
        let response = client::call("broker", broker, &request)?;
        let text = String::from_utf8_lossy(&response.body).into_owned();
        match format {
            Format::Text => {
                println!("============{broker}============");
                for (key, value) in config_pairs(&text) {
                    println!("{key:<50}=  {value}");
                }
                println!();
            }
            Format::Json => {
                let entries: Vec<String> = config_pairs(&text)
                    .map(|(key, value)| format!("{}:{}", json::string(key), json::string(value)))
                    .collect();
                documents.push(format!(
                    "{}:{{{}}}",
                    json::string(broker),
                    entries.join(",")
                ));
            }
        }
    }
    if format == Format::Json {
        println!("{{{}}}", documents.join(","));
    }
    Ok(())
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
