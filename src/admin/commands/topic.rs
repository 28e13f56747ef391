//! Topic commands: `topicList`, `topicRoute`, `updateTopic`, `updateTopicPerm` and
//! `deleteTopic`, with RocketMQ's text output (`TopicListSubCommand`, `TopicRouteSubCommand`,
//! `UpdateTopicSubCommand`, `UpdateTopicPermSubCommand`, `DeleteTopicSubCommand`).
//!
//! `topicList -c` asks each topic's first broker which groups consume it
//! (QUERY_TOPIC_CONSUME_BY_WHO, 300); a topic whose route or groups cannot be read is still
//! listed, with empty cells, and the cause goes to stderr.

use std::collections::BTreeSet;

use ringmq_protocol::body::route::{TopicList, TopicRouteData, MASTER_ID};
use ringmq_protocol::body::JsonBody as _;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::admin::{CreateTopicRequestHeader, TopicRequestHeader};
use ringmq_protocol::header::namesrv::DeleteTopicFromNamesrvRequestHeader;
use ringmq_protocol::header::TopicFilterType;
use ringmq_protocol::request_code;
use serde_json::json;

use super::{
    cluster_info, cluster_masters, selected_brokers, switch, topic_consumer_groups, topic_route,
    truncated, valued, Command, DLQ_PREFIX, RETRY_PREFIX,
};
use crate::admin::client::{self, AdminError};
use crate::admin::invocation::{Format, Invocation};
use crate::admin::json;
use crate::admin::produce::DEFAULT_TOPIC;

/// Queue counts and permission `updateTopic` uses when the flags are absent.
const QUEUE_NUMS_DEFAULT: i32 = 8;
const PERM_DEFAULT: i32 = 6;

pub(super) const LIST: Command = Command {
    name: "topicList",
    description: "Fetch all topic list from name server",
    options: &[switch("c", "clusterModel", "clusterModel")],
    run: list,
};

pub(super) const ROUTE: Command = Command {
    name: "topicRoute",
    description: "Examine topic route info",
    options: &[
        valued("t", "topic", true, "topic name"),
        switch("l", "list", "Use list format to print data"),
    ],
    run: route,
};

pub(super) const UPDATE: Command = Command {
    name: "updateTopic",
    description: "Update or create topic",
    options: &[
        valued("b", "brokerAddr", false, "create topic to which broker"),
        valued("c", "clusterName", false, "create topic to which cluster"),
        valued("t", "topic", true, "topic name"),
        valued(
            "r",
            "readQueueNums",
            false,
            "set read queue nums (default 8)",
        ),
        valued(
            "w",
            "writeQueueNums",
            false,
            "set write queue nums (default 8)",
        ),
        valued(
            "p",
            "perm",
            false,
            "set topic's permission(2|4|6), intro[2:W 4:R; 6:RW]",
        ),
        valued("o", "order", false, "set topic's order(true|false)"),
    ],
    run: update,
};

pub(super) const UPDATE_PERM: Command = Command {
    name: "updateTopicPerm",
    description: "Update topic perm.",
    options: &[
        valued("b", "brokerAddr", false, "create topic to which broker"),
        valued("c", "clusterName", false, "create topic to which cluster"),
        valued("t", "topic", true, "topic name"),
        valued(
            "p",
            "perm",
            true,
            "set topic's permission(2|4|6), intro[2:W; 4:R; 6:RW]",
        ),
    ],
    run: update_perm,
};

pub(super) const DELETE: Command = Command {
    name: "deleteTopic",
    description: "Delete topic from broker and NameServer.",
    options: &[
        valued("t", "topic", true, "topic name"),
        valued("c", "clusterName", true, "delete topic from which cluster"),
    ],
    run: delete,
};

fn list(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let namesrv = invocation.namesrv()?;
    let request = RemotingCommand::request(request_code::GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    let response = client::call_namesrv(&namesrv, &request)?;
    let topics: TopicList = client::decode(&namesrv.join(";"), &response)?;
    if invocation.flag("clusterModel") {
        return list_with_groups(&namesrv, &topics, format);
    }
    match format {
        Format::Text => {
            for topic in &topics.topic_list {
                println!("{topic}");
            }
        }
        Format::Json => json::print(&json!({ "topicList": topics.topic_list })),
    }
    Ok(())
}

/// `topicList -c`: each topic (but retry and dead-letter topics) with its cluster and the
/// groups consuming it, one row per group.
fn list_with_groups(
    namesrv: &[String],
    topics: &TopicList,
    format: Format,
) -> Result<(), AdminError> {
    let info = cluster_info(namesrv)?;
    let mut rows = Vec::new();
    for topic in &topics.topic_list {
        if topic.starts_with(RETRY_PREFIX) || topic.starts_with(DLQ_PREFIX) {
            continue;
        }
        let found = topic_route(namesrv, topic).and_then(|route| {
            let cluster = route
                .broker_datas
                .first()
                .and_then(|first| {
                    info.cluster_addr_table
                        .iter()
                        .find(|(_, names)| names.contains(&first.broker_name))
                })
                .map(|(cluster, _)| cluster.clone())
                .unwrap_or_default();
            Ok((cluster, topic_consumer_groups(&route, topic)?))
        });
        let (cluster, groups) = found.unwrap_or_else(|error| {
            eprintln!("topicList: topic [{topic}]: {error}");
            (String::new(), BTreeSet::new())
        });
        rows.push((cluster, topic.clone(), groups));
    }
    match format {
        Format::Text => {
            println!(
                "{:<20}  {:<48}  {:<48}",
                "#Cluster Name", "#Topic", "#Consumer Group"
            );
            for (cluster, topic, groups) in &rows {
                let groups: Vec<&str> = if groups.is_empty() {
                    vec![""]
                } else {
                    groups.iter().map(String::as_str).collect()
                };
                for group in groups {
                    println!(
                        "{:<20}  {:<64}  {:<64}",
                        truncated(cluster, 20),
                        truncated(topic, 64),
                        truncated(group, 64)
                    );
                }
            }
        }
        Format::Json => {
            let topics: Vec<serde_json::Value> = rows
                .iter()
                .map(|(cluster, topic, groups)| {
                    json!({ "cluster": cluster, "topic": topic, "consumerGroups": groups })
                })
                .collect();
            json::print(&json!({ "topics": topics }));
        }
    }
    Ok(())
}

fn route(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let topic = invocation.required("topic")?;
    let route = topic_route(&invocation.namesrv()?, topic)?;
    let compact = String::from_utf8_lossy(&route.encode()).into_owned();
    if format == Format::Json {
        println!("{compact}");
        return Ok(());
    }
    if !invocation.flag("list") {
        println!("{}", json::pretty(&compact));
        return Ok(());
    }
    let line = |cells: [&str; 6]| {
        println!(
            "{:<45} {:<32} {:<50} {:<10} {:<11} {:<5}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
        );
    };
    line([
        "#ClusterName",
        "#BrokerName",
        "#BrokerAddrs",
        "#ReadQueue",
        "#WriteQueue",
        "#Perm",
    ]);
    let (mut read_total, mut write_total) = (0, 0);
    for queue in &route.queue_datas {
        let broker = route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == queue.broker_name);
        let cluster = broker.map_or("", |b| b.cluster.as_str());
        let addresses = broker
            .map(|b| address_map_text(&b.broker_addrs))
            .unwrap_or_default();
        read_total += queue.read_queue_nums;
        write_total += queue.write_queue_nums;
        let (read, write) = (
            queue.read_queue_nums.to_string(),
            queue.write_queue_nums.to_string(),
        );
        let perm = queue.perm.to_string();
        line([
            cluster,
            &queue.broker_name,
            &addresses,
            &read,
            &write,
            &perm,
        ]);
    }
    println!("{}", "-".repeat(158));
    let (read, write) = (read_total.to_string(), write_total.to_string());
    line([
        "Total:",
        "",
        &route.broker_datas.len().to_string(),
        &read,
        &write,
        "",
    ]);
    Ok(())
}

/// A broker id to address map as Java's `HashMap.toString` prints it: `{0=host:port, 1=...}`.
fn address_map_text(addresses: &std::collections::BTreeMap<i64, String>) -> String {
    let entries: Vec<String> = addresses
        .iter()
        .map(|(id, address)| format!("{id}={address}"))
        .collect();
    format!("{{{}}}", entries.join(", "))
}

/// RocketMQ's `PermName.perm2String`: R, W and X (inherit) positions.
fn perm_text(perm: i32) -> String {
    let mut text = String::with_capacity(3);
    text.push(if perm & 4 != 0 { 'R' } else { '-' });
    text.push(if perm & 2 != 0 { 'W' } else { '-' });
    text.push(if perm & 1 != 0 { 'X' } else { '-' });
    text
}

fn update(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let header = CreateTopicRequestHeader {
        topic: invocation.required("topic")?.to_owned(),
        default_topic: DEFAULT_TOPIC.to_owned(),
        read_queue_nums: invocation.number("readQueueNums", QUEUE_NUMS_DEFAULT)?,
        write_queue_nums: invocation.number("writeQueueNums", QUEUE_NUMS_DEFAULT)?,
        perm: invocation.number("perm", PERM_DEFAULT)?,
        topic_filter_type: TopicFilterType::SingleTag,
        topic_sys_flag: Some(0),
        order: invocation.flag("order"),
        attributes: None,
        force: None,
    };
    let brokers = selected_brokers(invocation)?;
    let mut request = RemotingCommand::request(request_code::UPDATE_AND_CREATE_TOPIC);
    header.write_to(&mut request);
    for broker in &brokers {
        client::call("broker", broker, &request)?;
        if format == Format::Text {
            println!("create topic to {broker} success.");
        }
    }
    match format {
        Format::Text => println!("{}", topic_config_text(&header)),
        Format::Json => json::print(&json!({
            "topicName": header.topic,
            "readQueueNums": header.read_queue_nums,
            "writeQueueNums": header.write_queue_nums,
            "perm": header.perm,
            "order": header.order,
            "brokers": brokers,
        })),
    }
    Ok(())
}

/// Java's `TopicConfig.toString` of the config a create request carries.
fn topic_config_text(header: &CreateTopicRequestHeader) -> String {
    format!(
        "TopicConfig [topicName={}, readQueueNums={}, writeQueueNums={}, perm={}, \
         topicFilterType=SINGLE_TAG, topicSysFlag={}, order={}, attributes={{}}]",
        header.topic,
        header.read_queue_nums,
        header.write_queue_nums,
        perm_text(header.perm),
        header.topic_sys_flag.unwrap_or(0),
        header.order
    )
}

/// The masters updateTopicPerm changes, each with its current permission; `None` when `-b`
/// names a master that already has `perm`.
fn perm_targets(
    invocation: &Invocation,
    namesrv: &[String],
    route: &TopicRouteData,
    perm: i32,
) -> Result<Option<Vec<(String, i32)>>, AdminError> {
    let topic = invocation.required("topic")?;
    if let Some(address) = invocation.value("brokerAddr") {
        let old_perm = route
            .broker_datas
            .iter()
            .find(|data| data.broker_addrs.get(&MASTER_ID).map(String::as_str) == Some(address))
            .and_then(|data| {
                route
                    .queue_datas
                    .iter()
                    .find(|queue| queue.broker_name == data.broker_name)
            })
            .map(|queue| queue.perm)
            .ok_or_else(|| {
                AdminError::NoBroker(format!(
                    "{address} as a master in the route of topic [{topic}] \
                     (updateTopicPerm error broker not exit or broker is not master!.)"
                ))
            })?;
        return Ok((old_perm != perm).then(|| vec![(address.to_owned(), old_perm)]));
    }
    let Some(cluster) = invocation.value("clusterName") else {
        return Err(AdminError::Usage(
            "give -b brokerAddr or -c clusterName".to_owned(),
        ));
    };
    let old_perm = route.queue_datas.first().map_or(0, |queue| queue.perm);
    let masters = cluster_masters(&cluster_info(namesrv)?, cluster)?;
    Ok(Some(
        masters
            .into_iter()
            .map(|master| (master, old_perm))
            .collect(),
    ))
}

/// `updateTopicPerm`: re-create the topic with its routed queue counts and a new permission,
/// on one master (`-b`) or every master of a cluster (`-c`).
fn update_perm(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let topic = invocation.required("topic")?;
    let perm: i32 = invocation.number("perm", PERM_DEFAULT)?;
    let namesrv = invocation.namesrv()?;
    let route = topic_route(&namesrv, topic)?;
    let Some(first_queue) = route.queue_datas.first() else {
        return Err(AdminError::TopicNotExist(topic.to_owned()));
    };
    let header = CreateTopicRequestHeader {
        topic: topic.to_owned(),
        default_topic: DEFAULT_TOPIC.to_owned(),
        read_queue_nums: first_queue.read_queue_nums,
        write_queue_nums: first_queue.write_queue_nums,
        perm,
        topic_filter_type: TopicFilterType::SingleTag,
        topic_sys_flag: Some(first_queue.topic_sys_flag),
        order: false,
        attributes: None,
        force: None,
    };
    let mut request = RemotingCommand::request(request_code::UPDATE_AND_CREATE_TOPIC);
    header.write_to(&mut request);
    let Some(targets) = perm_targets(invocation, &namesrv, &route, perm)? else {
        match format {
            Format::Text => println!("new perm equals to the old one!"),
            Format::Json => json::print(&json!({ "topic": topic, "changed": false })),
        }
        return Ok(());
    };
    let mut updated = Vec::new();
    for (address, old_perm) in &targets {
        client::call("broker", address, &request)?;
        if format == Format::Text {
            println!("update topic perm from {old_perm} to {perm} in {address} success.");
        }
        updated.push(json!({ "address": address, "oldPerm": old_perm }));
    }
    match format {
        Format::Text if invocation.value("brokerAddr").is_some() => {
            println!("{}.", topic_config_text(&header));
        }
        Format::Text => {}
        Format::Json => json::print(&json!({
            "topic": topic,
            "perm": perm,
            "changed": true,
            "brokers": updated,
        })),
    }
    Ok(())
}

fn delete(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let topic = invocation.required("topic")?;
    let cluster = invocation.required("clusterName")?;
    let namesrv = invocation.namesrv()?;
    let masters = cluster_masters(&cluster_info(&namesrv)?, cluster)?;
    delete_from_cluster(&namesrv, &masters, topic, cluster)?;
    match format {
        Format::Text => {
            println!("delete topic [{topic}] from cluster [{cluster}] success.");
            println!("delete topic [{topic}] from NameServer success.");
        }
        Format::Json => json::print(&json!({
            "topic": topic,
            "cluster": cluster,
            "deleted": true,
        })),
    }
    Ok(())
}

/// Delete `topic` from every master of `cluster`, then from every name server
/// (`deleteTopic`).
pub(super) fn delete_from_cluster(
    namesrv: &[String],
    masters: &[String],
    topic: &str,
    cluster: &str,
) -> Result<(), AdminError> {
    let mut request = RemotingCommand::request(request_code::DELETE_TOPIC_IN_BROKER);
    TopicRequestHeader {
        topic: topic.to_owned(),
    }
    .write_to(&mut request);
    for master in masters {
        client::call("broker", master, &request)?;
    }
    let mut request = RemotingCommand::request(request_code::DELETE_TOPIC_IN_NAMESRV);
    DeleteTopicFromNamesrvRequestHeader {
        topic: topic.to_owned(),
        cluster_name: Some(cluster.to_owned()),
    }
    .write_to(&mut request);
    client::call_every_namesrv(namesrv, &request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perm_prints_read_write_inherit_positions() {
        assert_eq!(perm_text(6), "RW-");
        assert_eq!(perm_text(4), "R--");
        assert_eq!(perm_text(2), "-W-");
        assert_eq!(perm_text(7), "RWX");
    }
}
