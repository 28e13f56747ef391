//! Topic commands: `topicList`, `topicRoute`, `updateTopic` and `deleteTopic`, with RocketMQ's
//! text output (`TopicListSubCommand`, `TopicRouteSubCommand`, `UpdateTopicSubCommand`,
//! `DeleteTopicSubCommand`).

use ringmq_protocol::body::route::TopicList;
use ringmq_protocol::body::JsonBody as _;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::admin::{CreateTopicRequestHeader, TopicRequestHeader};
use ringmq_protocol::header::namesrv::DeleteTopicFromNamesrvRequestHeader;
use ringmq_protocol::header::TopicFilterType;
use ringmq_protocol::request_code;

use super::{
    cluster_info, cluster_masters, selected_brokers, switch, topic_route, valued, Command,
};
use crate::admin::client::{self, AdminError};
use crate::admin::invocation::{Format, Invocation};
use crate::admin::json;

/// The topic new topics are modelled on, as in RocketMQ's
/// `TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC`.
const DEFAULT_TOPIC: &str = "TBW102";
/// Queue counts and permission `updateTopic` uses when the flags are absent.
const QUEUE_NUMS_DEFAULT: i32 = 8;
const PERM_DEFAULT: i32 = 6;

pub(super) const LIST: Command = Command {
    name: "topicList",
    description: "Fetch all topic list from name server",
    options: &[],
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
    match format {
        Format::Text => {
            for topic in &topics.topic_list {
                println!("{topic}");
            }
        }
        Format::Json => {
            let names: Vec<String> = topics.topic_list.iter().map(|t| json::string(t)).collect();
            println!("{{\"topicList\":[{}]}}", names.join(","));
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
        read_queue_nums: invocation.integer("readQueueNums", QUEUE_NUMS_DEFAULT)?,
        write_queue_nums: invocation.integer("writeQueueNums", QUEUE_NUMS_DEFAULT)?,
        perm: invocation.integer("perm", PERM_DEFAULT)?,
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
    let header = &header;
    match format {
        Format::Text => {
            let (topic, read, write) = (
                &header.topic,
                header.read_queue_nums,
                header.write_queue_nums,
            );
            let (perm, order) = (perm_text(header.perm), header.order);
            println!(
                "TopicConfig [topicName={topic}, readQueueNums={read}, writeQueueNums={write}, \
                 perm={perm}, topicFilterType=SINGLE_TAG, topicSysFlag=0, order={order}, \
                 attributes={{}}]"
            );
        }
        Format::Json => {
            let quoted: Vec<String> = brokers.iter().map(|b| json::string(b)).collect();
            println!(
                "{{\"topicName\":{},\"readQueueNums\":{},\"writeQueueNums\":{},\"perm\":{},\"order\":{},\"brokers\":[{}]}}",
                json::string(&header.topic), header.read_queue_nums, header.write_queue_nums, header.perm, header.order, quoted.join(",")
            );
        }
    }
    Ok(())
}

fn delete(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let topic = invocation.required("topic")?;
    let cluster = invocation.required("clusterName")?;
    let namesrv = invocation.namesrv()?;
    let masters = cluster_masters(&cluster_info(&namesrv)?, cluster)?;
    let mut request = RemotingCommand::request(request_code::DELETE_TOPIC_IN_BROKER);
    TopicRequestHeader {
        topic: topic.to_owned(),
    }
    .write_to(&mut request);
    for master in &masters {
        client::call("broker", master, &request)?;
    }
    let mut request = RemotingCommand::request(request_code::DELETE_TOPIC_IN_NAMESRV);
    DeleteTopicFromNamesrvRequestHeader {
        topic: topic.to_owned(),
        cluster_name: Some(cluster.to_owned()),
    }
    .write_to(&mut request);
    client::call_every_namesrv(&namesrv, &request)?;
    match format {
        Format::Text => {
            println!("delete topic [{topic}] from cluster [{cluster}] success.");
            println!("delete topic [{topic}] from NameServer success.");
        }
        Format::Json => println!(
            "{{\"topic\":{},\"cluster\":{},\"deleted\":true}}",
            json::string(topic),
            json::string(cluster)
        ),
    }
    Ok(())
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
