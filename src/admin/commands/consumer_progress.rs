//! `consumerProgress` (`ConsumerProgressSubCommand`): with `-g`, a group's offsets per queue
//! and its backlog (`#Diff` = broker offset − consumer offset; `#Inflight` = pulled −
//! committed); without `-g`, one line per group (groups are found by their `%RETRY%` topics)
//! with its members' client version, consume type, model, TPS and total backlog.
//!
//! `-s true` adds the `#Client IP` column: the group's online members are asked, through the
//! broker, for their running info (GET_CONSUMER_RUNNING_INFO 307), and each queue in a
//! member's `mqTable` shows the member's client id up to the first `@` (its IP). A queue no
//! member holds shows `N/A`; a member that cannot be asked is reported on stderr.

use std::collections::BTreeMap;

use ringmq_protocol::body::admin::{ConsumeStats, ConsumerConnection, OffsetWrapper};
use ringmq_protocol::body::consumer::MessageQueue;
use ringmq_protocol::body::route::TopicList;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::mq_version::version_desc;
use ringmq_protocol::request_code;
use serde_json::json;

use super::group::{consume_stats, consumer_connection, consumer_running_info};
use super::{truncated, valued, Command, RETRY_PREFIX};
use crate::admin::client::{self, AdminError};
use crate::admin::clock;
use crate::admin::invocation::{Format, Invocation};
use crate::admin::json;

pub(super) const COMMAND: Command = Command {
    name: "consumerProgress",
    description: "Query consumer's progress, speed.",
    options: &[
        valued("g", "groupName", false, "consumer group name"),
        valued("t", "topicName", false, "topic name"),
        valued("s", "showClientIP", false, "Show Client IP per Queue"),
        valued(
            "c",
            "cluster",
            false,
            "Cluster name or lmq parent topic (unused: ringmq has no LMQ)",
        ),
    ],
    run,
};

fn run(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let namesrv = invocation.namesrv()?;
    match invocation.value("groupName").map(str::trim) {
        Some(group) => {
            let topic = invocation.value("topicName").map(str::trim);
            let stats = consume_stats(&namesrv, group, topic)?;
            let clients = invocation
                .boolean("showClientIP", false)
                .then(|| queue_clients(&namesrv, group));
            print_group(group, &stats, clients.as_ref(), format);
        }
        None => print_groups(&namesrv, format)?,
    }
    Ok(())
}

/// Which member holds each queue (`getMessageQueueAllocationResult`): the client id up to its
/// first `@`, from each online member's running info.
fn queue_clients(namesrv: &[String], group: &str) -> BTreeMap<MessageQueue, String> {
    let mut clients = BTreeMap::new();
    let members = match consumer_connection(namesrv, group, None) {
        Ok(members) => members,
        Err(error) => {
            eprintln!("consumerProgress: cannot list the members of {group}: {error}");
            return clients;
        }
    };
    for member in &members.connection_set {
        match consumer_running_info(namesrv, group, &member.client_id) {
            Ok(info) => {
                let ip = member.client_id.split('@').next().unwrap_or_default();
                for queue in info.mq_table.into_keys() {
                    clients.insert(queue, ip.to_owned());
                }
            }
            Err(error) => eprintln!(
                "consumerProgress: cannot ask client {} which queues it holds: {error}",
                member.client_id
            ),
        }
    }
    clients
}

/// Queues in `MessageQueue.compareTo` order: topic, broker name, queue id.
fn sorted_queues(stats: &ConsumeStats) -> Vec<(&MessageQueue, &OffsetWrapper)> {
    let mut queues: Vec<_> = stats.offset_table.iter().collect();
    queues.sort_by(|(a, _), (b, _)| {
        (&a.topic, &a.broker_name, a.queue_id).cmp(&(&b.topic, &b.broker_name, b.queue_id))
    });
    queues
}

fn last_time(offsets: &OffsetWrapper) -> String {
    if offsets.last_timestamp == 0 {
        "N/A".to_owned()
    } else {
        clock::seconds_text(offsets.last_timestamp)
    }
}

/// Backlog (broker − consumer) and in-flight (pulled − committed) totals of a group.
fn totals(stats: &ConsumeStats) -> (i64, i64) {
    stats
        .offset_table
        .values()
        .fold((0, 0), |(diff, inflight), offsets| {
            (
                diff + offsets.broker_offset - offsets.consumer_offset,
                inflight + offsets.pull_offset - offsets.consumer_offset,
            )
        })
}

/// `clients`: with `-s true`, the member holding each queue.
fn print_group(
    group: &str,
    stats: &ConsumeStats,
    clients: Option<&BTreeMap<MessageQueue, String>>,
    format: Format,
) {
    if format == Format::Json {
        print_group_json(group, stats, clients);
        return;
    }
    let ip_header = if clients.is_some() {
        format!("{:<20} ", "#Client IP")
    } else {
        String::new()
    };
    println!(
        "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {ip_header}{:<20} {:<20}#LastTime",
        "#Topic",
        "#Broker Name",
        "#QID",
        "#Broker Offset",
        "#Consumer Offset",
        "#Diff",
        "#Inflight"
    );
    for (queue, offsets) in sorted_queues(stats) {
        let ip = clients.map_or_else(String::new, |clients| {
            let ip = clients.get(queue).map_or("N/A", String::as_str);
            format!("{ip:<20} ")
        });
        println!(
            "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {ip}{:<20} {:<20} {}",
            truncated(&queue.topic, 64),
            truncated(&queue.broker_name, 32),
            queue.queue_id,
            offsets.broker_offset,
            offsets.consumer_offset,
            offsets.broker_offset - offsets.consumer_offset,
            offsets.pull_offset - offsets.consumer_offset,
            last_time(offsets)
        );
    }
    let (diff_total, inflight_total) = totals(stats);
    println!();
    println!("Consume TPS: {:.2}", stats.consume_tps);
    println!("Consume Diff Total: {diff_total}");
    println!("Consume Inflight Total: {inflight_total}");
}

fn print_group_json(
    group: &str,
    stats: &ConsumeStats,
    clients: Option<&BTreeMap<MessageQueue, String>>,
) {
    let rows: Vec<serde_json::Value> = sorted_queues(stats)
        .iter()
        .map(|(queue, offsets)| {
            let mut row = json!({
                "topic": queue.topic,
                "brokerName": queue.broker_name,
                "queueId": queue.queue_id,
                "brokerOffset": offsets.broker_offset,
                "consumerOffset": offsets.consumer_offset,
                "diff": offsets.broker_offset - offsets.consumer_offset,
                "inflight": offsets.pull_offset - offsets.consumer_offset,
                "lastTimestamp": offsets.last_timestamp,
            });
            if let Some(clients) = clients {
                row["clientIp"] = clients.get(*queue).map(String::as_str).into();
            }
            row
        })
        .collect();
    let (diff_total, inflight_total) = totals(stats);
    json::print(&json!({
        "group": group,
        "queues": rows,
        "consumeTps": stats.consume_tps,
        "diffTotal": diff_total,
        "inflightTotal": inflight_total,
    }));
}

/// One line of the group listing (`GroupConsumeInfo`).
#[derive(Debug)]
struct GroupLine {
    group: String,
    count: usize,
    version: String,
    consume_type: &'static str,
    message_model: String,
    consume_tps: i64,
    diff_total: i64,
}

fn group_line(
    group: &str,
    stats: Option<&ConsumeStats>,
    members: Option<&ConsumerConnection>,
) -> GroupLine {
    let count = members.map_or(0, |members| members.connection_set.len());
    let online = members.filter(|_| count > 0);
    let push = online.is_some_and(|m| m.consume_type.as_deref() == Some("CONSUME_PASSIVELY"));
    #[expect(
        clippy::cast_possible_truncation,
        reason = "Java prints (int) consumeTps"
    )]
    let consume_tps = stats.map_or(0, |stats| stats.consume_tps as i64);
    GroupLine {
        group: group.to_owned(),
        count,
        version: online
            .and_then(|m| m.connection_set.iter().map(|c| c.version).min())
            .map_or_else(|| "OFFLINE".to_owned(), version_desc),
        consume_type: match online.and_then(|m| m.consume_type.as_deref()) {
            Some("CONSUME_ACTIVELY") => "PULL",
            Some(_) => "PUSH",
            None => "",
        },
        message_model: if push {
            online
                .and_then(|m| m.message_model.clone())
                .unwrap_or_default()
        } else {
            String::new()
        },
        consume_tps,
        diff_total: stats.map_or(0, |stats| totals(stats).0),
    }
}

/// Every group that has a retry topic, with its members and backlog; a group whose stats or
/// members cannot be read still gets a line.
fn print_groups(namesrv: &[String], format: Format) -> Result<(), AdminError> {
    let request = RemotingCommand::request(request_code::GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    let response = client::call_namesrv(namesrv, &request)?;
    let topics: TopicList = client::decode(&namesrv.join(";"), &response)?;
    let lines: Vec<GroupLine> = topics
        .topic_list
        .iter()
        .filter_map(|topic| topic.strip_prefix(RETRY_PREFIX))
        .map(|group| {
            let stats = consume_stats(namesrv, group, None).ok();
            let members = consumer_connection(namesrv, group, None).ok();
            group_line(group, stats.as_ref(), members.as_ref())
        })
        .collect();
    if format == Format::Json {
        let groups: Vec<serde_json::Value> = lines
            .iter()
            .map(|line| {
                json!({
                    "group": line.group,
                    "count": line.count,
                    "version": line.version,
                    "consumeType": line.consume_type,
                    "messageModel": line.message_model,
                    "consumeTps": line.consume_tps,
                    "diffTotal": line.diff_total,
                })
            })
            .collect();
        json::print(&json!({ "groups": groups }));
        return Ok(());
    }
    println!(
        "{:<64}  {:<6}  {:<24} {:<5}  {:<14}  {:<7}  #Diff Total",
        "#Group", "#Count", "#Version", "#Type", "#Model", "#TPS"
    );
    for line in &lines {
        println!(
            "{:<64}  {:<6}  {:<24} {:<5}  {:<14}  {:<7}  {}",
            truncated(&line.group, 64),
            line.count,
            line.version,
            line.consume_type,
            line.message_model,
            line.consume_tps,
            line.diff_total
        );
    }
    Ok(())
}
