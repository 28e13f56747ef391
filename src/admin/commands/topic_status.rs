//! `topicStatus -t T`: min and max offset and last store time of every queue of a topic, from
//! GET_TOPIC_STATS_INFO on each master in its route (`TopicStatusSubCommand`).
//!
//! `#Last Updated` is printed in UTC (RocketMQ uses the JVM's zone); empty when the queue has
//! never stored a message.

use std::collections::BTreeMap;

use ringmq_protocol::body::admin::{TopicOffset, TopicStatsTable};
use ringmq_protocol::body::consumer::MessageQueue;
use ringmq_protocol::body::route::MASTER_ID;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::admin::TopicRequestHeader;
use ringmq_protocol::request_code;
use serde_json::json;

use super::{topic_route, valued, Command};
use crate::admin::client::{self, AdminError};
use crate::admin::clock;
use crate::admin::invocation::{Format, Invocation};
use crate::admin::json;

pub(super) const COMMAND: Command = Command {
    name: "topicStatus",
    description: "Examine topic Status info",
    options: &[valued("t", "topic", true, "topic name")],
    run,
};

fn run(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let topic = invocation.required("topic")?;
    let route = topic_route(&invocation.namesrv()?, topic)?;
    let mut request = RemotingCommand::request(request_code::GET_TOPIC_STATS_INFO);
    TopicRequestHeader {
        topic: topic.to_owned(),
    }
    .write_to(&mut request);
    let mut offsets: BTreeMap<MessageQueue, TopicOffset> = BTreeMap::new();
    for broker in &route.broker_datas {
        let Some(master) = broker.broker_addrs.get(&MASTER_ID) else {
            continue;
        };
        let response = client::call("broker", master, &request)?;
        let table: TopicStatsTable = client::decode(master, &response)?;
        offsets.extend(table.offset_table);
    }
    match format {
        Format::Text => print_text(&offsets),
        Format::Json => print_json(&offsets),
    }
    Ok(())
}

fn print_text(offsets: &BTreeMap<MessageQueue, TopicOffset>) {
    println!(
        "{:<32}  {:<4}  {:<20}  {:<20}    #Last Updated",
        "#Broker Name", "#QID", "#Min Offset", "#Max Offset"
    );
    for (queue, offset) in offsets {
        let updated = if offset.last_update_timestamp > 0 {
            clock::millis_text(offset.last_update_timestamp)
        } else {
            String::new()
        };
        println!(
            "{:<32}  {:<4}  {:<20}  {:<20}    {}",
            queue.broker_name, queue.queue_id, offset.min_offset, offset.max_offset, updated
        );
    }
}

fn print_json(offsets: &BTreeMap<MessageQueue, TopicOffset>) {
    let rows: Vec<serde_json::Value> = offsets
        .iter()
        .map(|(queue, offset)| {
            json!({
                "brokerName": queue.broker_name,
                "queueId": queue.queue_id,
                "minOffset": offset.min_offset,
                "maxOffset": offset.max_offset,
                "lastUpdateTimestamp": offset.last_update_timestamp,
            })
        })
        .collect();
    json::print(&json!({ "queues": rows }));
}
