//! The admin commands, their flags, and the lookups they share: the cluster table and a topic's
//! route from the name server, and which broker addresses a `-b`/`-c` pair selects.

mod broker_config;
mod cluster_list;
mod topic;
mod topic_status;

use ringmq_protocol::body::route::{ClusterInfo, TopicRouteData, MASTER_ID};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::namesrv::GetRouteInfoRequestHeader;
use ringmq_protocol::{request_code, response_code};

use super::client::{self, AdminError};
use super::invocation::{Invocation, OptionSpec};

/// One admin command.
#[derive(Debug)]
pub(crate) struct Command {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    pub(crate) options: &'static [OptionSpec],
    pub(crate) run: fn(&Invocation) -> Result<(), AdminError>,
}

/// Every command, in the order `mqadmin` lists them.
pub(crate) const COMMANDS: &[Command] = &[
    cluster_list::COMMAND,
    topic::LIST,
    topic::ROUTE,
    topic::UPDATE,
    topic::DELETE,
    topic_status::COMMAND,
    broker_config::COMMAND,
];

/// A flag that takes a value.
const fn valued(
    short: &'static str,
    long: &'static str,
    required: bool,
    description: &'static str,
) -> OptionSpec {
    OptionSpec {
        short,
        long,
        takes_value: true,
        required,
        description,
    }
}

/// A flag without a value.
const fn switch(short: &'static str, long: &'static str, description: &'static str) -> OptionSpec {
    OptionSpec {
        short,
        long,
        takes_value: false,
        required: false,
        description,
    }
}

/// The name server's cluster table (GET_BROKER_CLUSTER_INFO 106).
fn cluster_info(namesrv: &[String]) -> Result<ClusterInfo, AdminError> {
    let request = RemotingCommand::request(request_code::GET_BROKER_CLUSTER_INFO);
    let response = client::call_namesrv(namesrv, &request)?;
    client::decode(&namesrv.join(";"), &response)
}

/// A topic's route (GET_ROUTEINFO_BY_TOPIC 105); a missing topic is [`AdminError::TopicNotExist`].
fn topic_route(namesrv: &[String], topic: &str) -> Result<TopicRouteData, AdminError> {
    let mut request = RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC);
    GetRouteInfoRequestHeader {
        topic: topic.to_owned(),
        accept_standard_json_only: Some(true),
    }
    .write_to(&mut request);
    match client::call_namesrv(namesrv, &request) {
        Ok(response) => client::decode(&namesrv.join(";"), &response),
        Err(AdminError::Refused { code, .. }) if code == response_code::TOPIC_NOT_EXIST => {
            Err(AdminError::TopicNotExist(topic.to_owned()))
        }
        Err(error) => Err(error),
    }
}

/// Master addresses of every broker group in `cluster`, sorted by broker name.
fn cluster_masters(info: &ClusterInfo, cluster: &str) -> Result<Vec<String>, AdminError> {
    let names = info
        .cluster_addr_table
        .get(cluster)
        .ok_or_else(|| AdminError::NoBroker(format!("cluster [{cluster}]")))?;
    let masters: Vec<String> = names
        .iter()
        .filter_map(|name| info.broker_addr_table.get(name))
        .filter_map(|data| data.broker_addrs.get(&MASTER_ID).cloned())
        .collect();
    if masters.is_empty() {
        return Err(AdminError::NoBroker(format!(
            "cluster [{cluster}]: no master is registered"
        )));
    }
    Ok(masters)
}

/// The brokers a `-b brokerAddr` or `-c clusterName` flag pair selects (masters for `-c`).
fn selected_brokers(invocation: &Invocation) -> Result<Vec<String>, AdminError> {
    if let Some(address) = invocation.value("brokerAddr") {
        return Ok(vec![address.to_owned()]);
    }
    let Some(cluster) = invocation.value("clusterName") else {
        return Err(AdminError::Usage(
            "give -b brokerAddr or -c clusterName".to_owned(),
        ));
    };
    let info = cluster_info(&invocation.namesrv()?)?;
    cluster_masters(&info, cluster)
}
