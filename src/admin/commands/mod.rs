//! The admin commands, their flags, and the lookups they share: the cluster table and a topic's
//! route from the name server, and which broker addresses a `-b`/`-c` pair selects.

mod broker_config;
mod cluster_list;
mod connection;
mod consume_message;
mod consumer_progress;
mod group;
mod ha_status;
mod message_query;
mod namesrv;
mod offset_reset;
mod redeliver;
mod send_message;
mod subscription_group;
mod topic;
mod topic_status;

use std::collections::BTreeSet;
use std::time::Duration;

use ringmq_protocol::body::admin::GroupList;
use ringmq_protocol::body::route::{BrokerData, ClusterInfo, TopicRouteData, MASTER_ID};
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::admin::TopicRequestHeader;
use ringmq_protocol::header::namesrv::GetRouteInfoRequestHeader;
use ringmq_protocol::{request_code, response_code};

pub(super) use send_message::any_queue;

use super::client::{self, AdminError};
use super::invocation::{Invocation, OptionSpec};

/// Topic name prefix of a group's retry topic; `consumerProgress` finds groups by it.
const RETRY_PREFIX: &str = "%RETRY%";
/// Topic name prefix of a group's dead-letter topic.
const DLQ_PREFIX: &str = "%DLQ%";

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
    topic::UPDATE,
    topic::DELETE,
    subscription_group::UPDATE,
    subscription_group::DELETE,
    broker_config::UPDATE,
    topic::UPDATE_PERM,
    topic::ROUTE,
    topic_status::COMMAND,
    broker_config::STATUS,
    message_query::BY_ID,
    message_query::BY_KEY,
    message_query::BY_UNIQUE_KEY,
    message_query::BY_OFFSET,
    connection::PRODUCER,
    connection::CONSUMER,
    consumer_progress::COMMAND,
    cluster_list::COMMAND,
    topic::LIST,
    namesrv::WIPE_WRITE_PERM,
    namesrv::ADD_WRITE_PERM,
    offset_reset::RESET_BY_TIME,
    offset_reset::SKIP_ACCUMULATED,
    send_message::CLUSTER_RT,
    namesrv::GET_CONFIG,
    namesrv::UPDATE_CONFIG,
    broker_config::COMMAND,
    send_message::SEND,
    consume_message::COMMAND,
    ha_status::COMMAND,
];

/// `--count K` of the commands that take [`Repeat`].
const REPEAT_COUNT: OptionSpec = long_only(
    "count",
    "ringmq: with -i, stop after this many reports (default: repeat until interrupted)",
);

/// How many reports a command prints and how long it waits between them: `-i N` repeats
/// every N seconds until interrupted (`clusterList`, `haStatus`); ringmq's `--count K`
/// (RocketMQ has none) stops after K reports, for scripts and tests.
#[derive(Debug)]
pub(super) struct Repeat {
    interval: Duration,
    /// `None`: until interrupted.
    reports: Option<u64>,
}

impl Repeat {
    fn from_flags(invocation: &Invocation) -> Result<Self, AdminError> {
        let count = invocation
            .value("count")
            .map(|_| invocation.number::<u64>("count", 1))
            .transpose()?;
        let Some(seconds) = invocation
            .value("interval")
            .map(|_| invocation.number::<u64>("interval", 1))
            .transpose()?
        else {
            if count.is_some() {
                return Err(AdminError::Usage(
                    "--count limits the reports of -i; give -i <seconds> too".to_owned(),
                ));
            }
            return Ok(Self {
                interval: Duration::ZERO,
                reports: Some(1),
            });
        };
        Ok(Self {
            interval: Duration::from_secs(seconds),
            reports: count,
        })
    }

    /// Print `report` as often as asked, pausing between reports.
    fn run(&self, mut report: impl FnMut() -> Result<(), AdminError>) -> Result<(), AdminError> {
        let mut printed = 0_u64;
        while self.reports.is_none_or(|reports| printed < reports) {
            if printed > 0 {
                super::clock::pause(self.interval);
            }
            report()?;
            printed += 1;
        }
        Ok(())
    }
}

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

/// A ringmq-only flag that takes a value and has no RocketMQ letter.
const fn long_only(long: &'static str, description: &'static str) -> OptionSpec {
    OptionSpec {
        short: "",
        long,
        takes_value: true,
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
    cluster_addresses(info, cluster, false)
}

/// Addresses of the brokers of `cluster` (masters, and slaves too with `with_slaves`), sorted
/// by broker name then id, as `CommandUtil.fetchMaster[AndSlave]AddrByClusterName` selects.
fn cluster_addresses(
    info: &ClusterInfo,
    cluster: &str,
    with_slaves: bool,
) -> Result<Vec<String>, AdminError> {
    let names = info
        .cluster_addr_table
        .get(cluster)
        .ok_or_else(|| AdminError::NoBroker(format!("cluster [{cluster}]")))?;
    let addresses: Vec<String> = names
        .iter()
        .filter_map(|name| info.broker_addr_table.get(name))
        .flat_map(|data| &data.broker_addrs)
        .filter(|(id, _)| with_slaves || **id == MASTER_ID)
        .map(|(_, address)| address.clone())
        .collect();
    if addresses.is_empty() {
        return Err(AdminError::NoBroker(format!(
            "cluster [{cluster}]: no master is registered"
        )));
    }
    Ok(addresses)
}

/// The groups consuming `topic`, from its route's first broker (QUERY_TOPIC_CONSUME_BY_WHO
/// 300), as `queryTopicConsumeByWho` asks.
fn topic_consumer_groups(
    route: &TopicRouteData,
    topic: &str,
) -> Result<BTreeSet<String>, AdminError> {
    let Some((_, address)) = route_brokers(route).into_iter().next() else {
        return Err(AdminError::NoBroker(format!(
            "the route of topic [{topic}]"
        )));
    };
    let mut request = RemotingCommand::request(request_code::QUERY_TOPIC_CONSUME_BY_WHO);
    TopicRequestHeader {
        topic: topic.to_owned(),
    }
    .write_to(&mut request);
    let response = client::call("broker", &address, &request)?;
    let groups: GroupList = client::decode(&address, &response)?;
    Ok(groups.group_list)
}

/// The first `width` characters of `text`, as `UtilAll.frontStringAtLeast` cuts table cells.
fn truncated(text: &str, width: usize) -> &str {
    text.char_indices()
        .nth(width)
        .map_or(text, |(end, _)| &text[..end])
}

/// The address `BrokerData.selectBrokerAddr` picks: the master, else the lowest-id slave.
fn broker_address(data: &BrokerData) -> Option<&str> {
    data.broker_addrs
        .get(&MASTER_ID)
        .or_else(|| data.broker_addrs.values().next())
        .map(String::as_str)
}

/// Each broker of a route that has an address, as (broker name, address to ask).
fn route_brokers(route: &TopicRouteData) -> Vec<(String, String)> {
    route
        .broker_datas
        .iter()
        .filter_map(|data| Some((data.broker_name.clone(), broker_address(data)?.to_owned())))
        .collect()
}

/// The address of broker `name` in `route`.
fn named_broker(route: &TopicRouteData, topic: &str, name: &str) -> Result<String, AdminError> {
    route
        .broker_datas
        .iter()
        .find(|data| data.broker_name == name)
        .and_then(broker_address)
        .map(str::to_owned)
        .ok_or_else(|| {
            AdminError::NoBroker(format!(
                "broker name [{name}] in the route of topic [{topic}]"
            ))
        })
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
