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

use super::{topic_route, valued, Command};
use crate::admin::client::{self, AdminError};
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
            utc_text(offset.last_update_timestamp)
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
    let rows: Vec<String> = offsets
        .iter()
        .map(|(queue, offset)| {
            format!(
                "{{\"brokerName\":{},\"queueId\":{},\"minOffset\":{},\"maxOffset\":{},\"lastUpdateTimestamp\":{}}}",
                json::string(&queue.broker_name),
                queue.queue_id,
                offset.min_offset,
                offset.max_offset,
                offset.last_update_timestamp
            )
        })
        .collect();
    println!("{{\"queues\":[{}]}}", rows.join(","));
}

/// `yyyy-MM-dd HH:mm:ss,SSS` in UTC for epoch milliseconds.
fn utc_text(epoch_ms: i64) -> String {
    let days = epoch_ms.div_euclid(86_400_000);
    let day_ms = epoch_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

/// Howard Hinnant's days-since-1970 to proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_updated_uses_rocketmq_layout_with_milliseconds() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00,000");
        assert_eq!(utc_text(1_709_251_199_123), "2024-02-29 23:59:59,123");
    }
}
