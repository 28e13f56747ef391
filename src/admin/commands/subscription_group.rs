//! `updateSubGroup` and `deleteSubGroup` (`UpdateSubGroupSubCommand`,
//! `DeleteSubscriptionGroupCommand`): create, change or remove a consumer group's config on one
//! broker (`-b`) or every master of a cluster (`-c`).
//!
//! As in RocketMQ, `updateSubGroup` starts from the tool's defaults (broadcast and
//! consume-from-min off), not from the group's current config, and prints the config it sent
//! in Guava's `toString` layout without a final line break. `deleteSubGroup -c` also deletes
//! the group's retry and dead-letter topics from the cluster.

use std::collections::BTreeMap;

use ringmq_protocol::body::consumer::SubscriptionGroupConfig;
use ringmq_protocol::body::JsonBody as _;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::header::admin::DeleteSubscriptionGroupRequestHeader;
use ringmq_protocol::request_code;
use serde_json::{json, Value};

use super::topic::delete_from_cluster;
use super::{
    cluster_info, cluster_masters, long_only, selected_brokers, valued, Command, DLQ_PREFIX,
    RETRY_PREFIX,
};
use crate::admin::client::{self, AdminError};
use crate::admin::invocation::{Format, Invocation};
use crate::admin::json;

/// `CustomizedRetryPolicy`'s default delays (ms): 1s 5s 10s 30s 1m..10m 20m 30m 1h 2h.
const CUSTOMIZED_NEXT_DEFAULT: [i64; 18] = [
    1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000,
    480_000, 540_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000,
];
/// `ExponentialRetryPolicy`'s defaults (ms, ms, factor).
const EXPONENTIAL_DEFAULT: (i64, i64, i64) = (5_000, 7_200_000, 2);

pub(super) const UPDATE: Command = Command {
    name: "updateSubGroup",
    description: "Update or create subscription group.",
    options: &[
        valued(
            "b",
            "brokerAddr",
            false,
            "create subscription group to which broker",
        ),
        valued(
            "c",
            "clusterName",
            false,
            "create subscription group to which cluster",
        ),
        valued("g", "groupName", true, "consumer group name"),
        valued("s", "consumeEnable", false, "consume enable"),
        valued("m", "consumeFromMinEnable", false, "from min offset"),
        valued("d", "consumeBroadcastEnable", false, "broadcast"),
        valued(
            "o",
            "consumeMessageOrderly",
            false,
            "consume message orderly",
        ),
        valued("q", "retryQueueNums", false, "retry queue nums"),
        valued("r", "retryMaxTimes", false, "retry max times"),
        valued(
            "p",
            "groupRetryPolicy",
            false,
            "the json string of retry policy ( exp: {\"type\":\"EXPONENTIAL\",\
             \"exponentialRetryPolicy\":{\"initial\":5000,\"max\":7200000,\"multiplier\":2}} \
             {\"type\":\"CUSTOMIZED\",\"customizedRetryPolicy\":{\"next\":[1000,5000,10000]}} )",
        ),
        valued("i", "brokerId", false, "consumer from which broker id"),
        valued(
            "w",
            "whichBrokerWhenConsumeSlowly",
            false,
            "which broker id when consume slowly",
        ),
        valued(
            "a",
            "notifyConsumerIdsChanged",
            false,
            "notify consumerId changed",
        ),
        long_only("attributes", "attribute(+a=b,+c=d,-e)"),
    ],
    run: update,
};

pub(super) const DELETE: Command = Command {
    name: "deleteSubGroup",
    description: "Delete subscription group from broker.",
    options: &[
        valued(
            "b",
            "brokerAddr",
            false,
            "delete subscription group from which broker",
        ),
        valued(
            "c",
            "clusterName",
            false,
            "delete subscription group from which cluster",
        ),
        valued("g", "groupName", true, "subscription group name"),
        valued("r", "removeOffset", false, "remove offset"),
    ],
    run: delete,
};

/// `AttributeParser.parseToMap`: `+key=value` adds or changes, `-key` deletes.
fn attributes(text: &str) -> Result<BTreeMap<String, String>, AdminError> {
    let mut map = BTreeMap::new();
    for entry in text.split(',').filter(|entry| !entry.is_empty()) {
        let (key, value) = match entry.split_once('=') {
            Some((key, value)) if key.contains('+') => (key, value),
            None if entry.contains('-') => (entry, ""),
            _ => {
                return Err(AdminError::Usage(format!(
                    "--attributes: '{entry}' is neither +key=value nor -key"
                )))
            }
        };
        if map.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(AdminError::Usage(format!(
                "--attributes: key duplication: {key}"
            )));
        }
    }
    Ok(map)
}

fn group_config(invocation: &Invocation) -> Result<SubscriptionGroupConfig, AdminError> {
    let defaults = SubscriptionGroupConfig::default();
    let policy = match invocation.value("groupRetryPolicy") {
        Some(text) => serde_json::from_str::<Value>(text.trim()).map_err(|error| {
            AdminError::Usage(format!("-p groupRetryPolicy is not JSON: {error}"))
        })?,
        None => json!({ "type": "CUSTOMIZED" }),
    };
    Ok(SubscriptionGroupConfig {
        group_name: invocation.required("groupName")?.trim().to_owned(),
        consume_enable: invocation.boolean("consumeEnable", defaults.consume_enable),
        consume_from_min_enable: invocation.boolean("consumeFromMinEnable", false),
        consume_broadcast_enable: invocation.boolean("consumeBroadcastEnable", false),
        consume_message_orderly: invocation
            .boolean("consumeMessageOrderly", defaults.consume_message_orderly),
        retry_queue_nums: invocation.number("retryQueueNums", defaults.retry_queue_nums)?,
        retry_max_times: invocation.number("retryMaxTimes", defaults.retry_max_times)?,
        group_retry_policy: Some(policy),
        broker_id: invocation.number("brokerId", defaults.broker_id)?,
        which_broker_when_consume_slowly: invocation.number(
            "whichBrokerWhenConsumeSlowly",
            defaults.which_broker_when_consume_slowly,
        )?,
        notify_consumer_ids_changed_enable: invocation.boolean(
            "notifyConsumerIdsChanged",
            defaults.notify_consumer_ids_changed_enable,
        ),
        attributes: attributes(invocation.value("attributes").unwrap_or_default().trim())?,
        ..defaults
    })
}

/// Guava `toString` of a `GroupRetryPolicy` given as JSON.
fn retry_policy_text(policy: Option<&Value>) -> String {
    let policy = policy.unwrap_or(&Value::Null);
    let number = |value: &Value, key: &str, default: i64| value[key].as_i64().unwrap_or(default);
    let exponential = match &policy["exponentialRetryPolicy"] {
        value @ Value::Object(_) => format!(
            "ExponentialRetryPolicy{{initial={}, max={}, multiplier={}}}",
            number(value, "initial", EXPONENTIAL_DEFAULT.0),
            number(value, "max", EXPONENTIAL_DEFAULT.1),
            number(value, "multiplier", EXPONENTIAL_DEFAULT.2)
        ),
        _ => "null".to_owned(),
    };
    let customized = match &policy["customizedRetryPolicy"] {
        Value::Object(object) => {
            let next: Vec<String> = match object.get("next").and_then(Value::as_array) {
                Some(next) => next.iter().map(ToString::to_string).collect(),
                None => CUSTOMIZED_NEXT_DEFAULT
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            };
            format!("CustomizedRetryPolicy{{next=[{}]}}", next.join(", "))
        }
        _ => "null".to_owned(),
    };
    format!(
        "GroupRetryPolicy{{type={}, exponentialRetryPolicy={exponential}, \
         customizedRetryPolicy={customized}}}",
        policy["type"].as_str().unwrap_or("CUSTOMIZED")
    )
}

/// Guava `toString` of a `SubscriptionGroupConfig`, as updateSubGroup prints it.
fn config_text(config: &SubscriptionGroupConfig) -> String {
    let attributes: Vec<String> = config
        .attributes
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    format!(
        "SubscriptionGroupConfig{{groupName={}, consumeEnable={}, consumeFromMinEnable={}, \
         consumeBroadcastEnable={}, consumeMessageOrderly={}, retryQueueNums={}, \
         retryMaxTimes={}, groupRetryPolicy={}, brokerId={}, whichBrokerWhenConsumeSlowly={}, \
         notifyConsumerIdsChangedEnable={}, groupSysFlag={}, consumeTimeoutMinute={}, \
         subscriptionDataSet=null, attributes={{{}}}}}",
        config.group_name,
        config.consume_enable,
        config.consume_from_min_enable,
        config.consume_broadcast_enable,
        config.consume_message_orderly,
        config.retry_queue_nums,
        config.retry_max_times,
        retry_policy_text(config.group_retry_policy.as_ref()),
        config.broker_id,
        config.which_broker_when_consume_slowly,
        config.notify_consumer_ids_changed_enable,
        config.group_sys_flag,
        config.consume_timeout_minute,
        attributes.join(", ")
    )
}

fn update(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let config = group_config(invocation)?;
    let brokers = selected_brokers(invocation)?;
    let mut request = RemotingCommand::request(request_code::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP);
    request.body = config.encode().into();
    for broker in &brokers {
        client::call("broker", broker, &request)?;
        if format == Format::Text {
            println!("create subscription group to {broker} success.");
        }
    }
    match format {
        Format::Text => print!("{}", config_text(&config)),
        Format::Json => {
            let sent: Value = serde_json::from_slice(&config.encode()).unwrap_or(Value::Null);
            json::print(&json!({ "brokers": brokers, "config": sent }));
        }
    }
    Ok(())
}

fn delete(invocation: &Invocation) -> Result<(), AdminError> {
    let format = invocation.format()?;
    let group = invocation.required("groupName")?.trim();
    let mut request = RemotingCommand::request(request_code::DELETE_SUBSCRIPTIONGROUP);
    DeleteSubscriptionGroupRequestHeader {
        group_name: group.to_owned(),
        clean_offset: Some(invocation.boolean("removeOffset", false)),
    }
    .write_to(&mut request);
    let (brokers, cluster) = match (
        invocation.value("brokerAddr"),
        invocation.value("clusterName"),
    ) {
        (Some(_), _) => (selected_brokers(invocation)?, None),
        (None, Some(cluster)) => {
            let namesrv = invocation.namesrv()?;
            (
                cluster_masters(&cluster_info(&namesrv)?, cluster)?,
                Some(cluster),
            )
        }
        (None, None) => {
            return Err(AdminError::Usage(
                "give -b brokerAddr or -c clusterName".to_owned(),
            ))
        }
    };
    for broker in &brokers {
        client::call("broker", broker, &request)?;
        if format == Format::Json {
            continue;
        }
        match cluster {
            Some(cluster) => println!(
                "delete subscription group [{group}] from broker [{broker}] in cluster \
                 [{cluster}] success."
            ),
            None => println!("delete subscription group [{group}] from broker [{broker}] success."),
        }
    }
    if let Some(cluster) = cluster {
        let namesrv = invocation.namesrv()?;
        for prefix in [RETRY_PREFIX, DLQ_PREFIX] {
            let topic = format!("{prefix}{group}");
            if let Err(error) = delete_from_cluster(&namesrv, &brokers, &topic, cluster) {
                eprintln!("deleteSubGroup: deleting topic [{topic}]: {error}");
            }
        }
    }
    if format == Format::Json {
        json::print(&json!({ "group": group, "brokers": brokers, "deleted": true }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_keep_their_sign_and_reject_malformed_entries() {
        let map = attributes("+a=b,-e").unwrap();
        assert_eq!(map.get("+a").map(String::as_str), Some("b"));
        assert_eq!(map.get("-e").map(String::as_str), Some(""));
        assert!(attributes("a=b").is_err());
        assert!(attributes("+a=b,+a=c").is_err());
    }

    #[test]
    fn config_prints_in_guava_layout_with_the_default_retry_policy() {
        let config = SubscriptionGroupConfig {
            group_name: "G".to_owned(),
            consume_broadcast_enable: false,
            consume_from_min_enable: false,
            group_retry_policy: Some(json!({ "type": "CUSTOMIZED" })),
            ..SubscriptionGroupConfig::default()
        };
        assert_eq!(
            config_text(&config),
            "SubscriptionGroupConfig{groupName=G, consumeEnable=true, consumeFromMinEnable=false, \
             consumeBroadcastEnable=false, consumeMessageOrderly=false, retryQueueNums=1, \
             retryMaxTimes=16, groupRetryPolicy=GroupRetryPolicy{type=CUSTOMIZED, \
             exponentialRetryPolicy=null, customizedRetryPolicy=null}, brokerId=0, \
             whichBrokerWhenConsumeSlowly=1, notifyConsumerIdsChangedEnable=true, \
             groupSysFlag=0, consumeTimeoutMinute=15, subscriptionDataSet=null, attributes={}}"
        );
    }

    #[test]
    fn retry_policy_fills_java_defaults_for_missing_fields() {
        let policy = json!({"type": "EXPONENTIAL", "exponentialRetryPolicy": {"initial": 1000}});
        assert_eq!(
            retry_policy_text(Some(&policy)),
            "GroupRetryPolicy{type=EXPONENTIAL, exponentialRetryPolicy=ExponentialRetryPolicy\
             {initial=1000, max=7200000, multiplier=2}, customizedRetryPolicy=null}"
        );
    }
}
