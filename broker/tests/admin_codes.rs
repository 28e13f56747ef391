//! Goal: the admin codes `mqadmin` relies on answer with RocketMQ's body layouts and numbers
//! that match what was sent and committed: runtime info (every key clusterList/brokerStatus
//! parse, in their formats), topic stats (per-queue min/max/last update), consume stats
//! (broker vs consumer offsets), reset of a group's offsets to a time, the consumer and
//! producer connection lists, UPDATE_BROKER_CONFIG of brokerPermission (others refused), and
//! the HA status of a master without slaves.
//!
//! Method: an in-process broker with two shards, so queue facts are gathered across shards,
//! driven over loopback by a blocking remoting client; JSON bodies are decoded with the
//! protocol crate's types.

// These tests wait on a real broker with real time (sleeps, deadlines).
#![allow(clippy::disallowed_methods)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use ringmq_protocol::body::admin::{
    ConsumeStats, ConsumerConnection, HaRuntimeInfo, ProducerConnection, ResetOffsetBody,
    TopicStatsTable,
};
use ringmq_protocol::body::heartbeat::{
    ConsumerData, HeartbeatData, ProducerData, SubscriptionData,
};
use ringmq_protocol::body::kv_table::KvTable;
use ringmq_protocol::body::JsonBody;
use ringmq_protocol::{request_code as code, response_code};
use support::{eventually, request, Broker, Client};

/// Send `counts[q]` messages to queue q of `topic` and wait until all are pullable.
fn fill(client: &mut Client, topic: &str, counts: &[usize]) {
    for (queue, count) in counts.iter().enumerate() {
        let queue = i32::try_from(queue).expect("small");
        for index in 0..*count {
            client.send_ok(topic, queue, format!("m{index}").as_bytes(), "");
        }
        eventually(Duration::from_secs(5), "dispatch", || {
            (client.pull("Reader", topic, queue, 0).len() == *count).then_some(())
        });
    }
}

fn topic_stats(client: &mut Client, topic: &str) -> BTreeMap<i32, (i64, i64, i64)> {
    let response = client.call(request(code::GET_TOPIC_STATS_INFO, &[("topic", topic)]));
    assert_eq!(
        response.code,
        response_code::SUCCESS,
        "{:?}",
        response.remark
    );
    let table = TopicStatsTable::decode(&response.body).expect("TopicStatsTable");
    table
        .offset_table
        .iter()
        .map(|(queue, offsets)| {
            assert_eq!(queue.broker_name, "broker-a");
            let stat = (
                offsets.min_offset,
                offsets.max_offset,
                offsets.last_update_timestamp,
            );
            (queue.queue_id, stat)
        })
        .collect()
}

fn commit(client: &mut Client, group: &str, topic: &str, queue: i32, offset: i64) {
    let queue = queue.to_string();
    let offset = offset.to_string();
    let response = client.call(request(
        code::UPDATE_CONSUMER_OFFSET,
        &[
            ("consumerGroup", group),
            ("topic", topic),
            ("queueId", &queue),
            ("commitOffset", &offset),
        ],
    ));
    assert_eq!(response.code, response_code::SUCCESS);
}

#[test]
fn runtime_info_has_every_key_clusterlist_parses_in_its_format() {
    let broker = Broker::start("");
    let mut client = broker.client();
    fill(&mut client, "Stats", &[3]);
    let response = client.call(request(code::GET_BROKER_RUNTIME_INFO, &[]));
    assert_eq!(response.code, response_code::SUCCESS);
    let table = KvTable::decode(&response.body).expect("KVTable").table;
    for key in [
        "brokerVersionDesc",
        "brokerVersion",
        "putTps",
        "getTransferredTps",
        "getFoundTps",
        "getMissTps",
        "getTotalTps",
        "sendThreadPoolQueueSize",
        "sendThreadPoolQueueHeadWaitTimeMills",
        "pullThreadPoolQueueSize",
        "pullThreadPoolQueueHeadWaitTimeMills",
        "ackThreadPoolQueueSize",
        "ackThreadPoolQueueHeadWaitTimeMills",
        "pageCacheLockTimeMills",
        "earliestMessageTimeStamp",
        "commitLogDiskRatio",
        "timerReadBehind",
        "timerOffsetBehind",
        "timerCongestNum",
        "timerEnqueueTps",
        "timerDequeueTps",
        "brokerActive",
        "msgPutTotalYesterdayMorning",
        "msgPutTotalTodayMorning",
        "msgPutTotalTodayNow",
        "msgGetTotalYesterdayMorning",
        "msgGetTotalTodayMorning",
        "msgGetTotalTodayNow",
        "dispatchBehindBytes",
        "bootTimestamp",
        "runtime",
        "commitLogMinOffset",
        "commitLogMaxOffset",
        "putMessageDistributeTime",
        "scheduleMessageOffset_1",
    ] {
        assert!(table.contains_key(key), "missing {key}: {table:?}");
    }
    for key in ["putTps", "getTransferredTps"] {
        let parts: Vec<f64> = table[key]
            .split(' ')
            .map(|p| p.parse().expect("double"))
            .collect();
        assert_eq!(parts.len(), 3, "{key} is \"<10s> <60s> <600s>\"");
    }
    assert_eq!(table["msgPutTotalTodayNow"], "3");
    let ratio: f64 = table["commitLogDiskRatio"].parse().expect("double");
    assert!((0.0..=1.0).contains(&ratio));
    let earliest: i64 = table["earliestMessageTimeStamp"].parse().expect("ms");
    let boot: i64 = table["bootTimestamp"].parse().expect("ms");
    assert!(earliest >= boot - 1000, "earliest {earliest} boot {boot}");
    assert!(
        table["runtime"].starts_with("[ 0 days, 0 hours, "),
        "{}",
        table["runtime"]
    );
    assert_eq!(table["brokerVersionDesc"], "V5_3_1");
}

// Hazard: haStatus against a master without slaves must say "master, no slaves" with the
// log's end, not fail or claim an in-sync slave (SYNC_MASTER sends would then be refused
// while the tool says all is well).
#[test]
fn ha_status_of_a_master_without_slaves_shows_its_log_end_and_no_slave() {
    let broker = Broker::start("");
    let mut client = broker.client();
    fill(&mut client, "HaLone", &[2, 1]);
    let response = client.call(request(code::GET_BROKER_HA_STATUS, &[]));
    assert_eq!(
        response.code,
        response_code::SUCCESS,
        "{:?}",
        response.remark
    );
    let info = HaRuntimeInfo::decode(&response.body).expect("HARuntimeInfo");
    assert!(info.master);
    assert!(info.ha_connection_info.is_empty(), "{info:?}");
    assert_eq!(info.in_sync_slave_nums, 0);
    let runtime = client.call(request(code::GET_BROKER_RUNTIME_INFO, &[]));
    let table = KvTable::decode(&runtime.body).expect("KVTable").table;
    assert_eq!(
        info.master_commit_log_max_offset.to_string(),
        table["commitLogMaxOffset"]
    );
    assert!(info.master_commit_log_max_offset > 0);
}

#[test]
fn topic_stats_report_each_queues_bounds_across_shards() {
    let broker = Broker::start("");
    let mut client = broker.client();
    fill(&mut client, "Stats", &[3, 0, 1, 2]);
    let stats = topic_stats(&mut client, "Stats");
    assert_eq!(stats.len(), 4, "{stats:?}");
    assert_eq!((stats[&0].0, stats[&0].1), (0, 3));
    assert_eq!(
        (stats[&1].0, stats[&1].1, stats[&1].2),
        (0, 0, 0),
        "empty queue has no time"
    );
    assert_eq!(stats[&2].1, 1);
    assert_eq!(stats[&3].1, 2);
    assert!(stats[&0].2 > 0 && stats[&3].2 > 0);
    let missing = client.call(request(code::GET_TOPIC_STATS_INFO, &[("topic", "Nope")]));
    assert_eq!(missing.code, response_code::TOPIC_NOT_EXIST);
}

#[test]
fn consume_stats_compare_committed_offsets_with_queue_ends() {
    let broker = Broker::start("");
    let mut client = broker.client();
    fill(&mut client, "Work", &[3, 2, 0, 0]);
    commit(&mut client, "G", "Work", 0, 2);
    let response = client.call(request(
        code::GET_CONSUME_STATS,
        &[("consumerGroup", "G"), ("topic", "Work")],
    ));
    assert_eq!(
        response.code,
        response_code::SUCCESS,
        "{:?}",
        response.remark
    );
    let stats = ConsumeStats::decode(&response.body).expect("ConsumeStats");
    let by_queue: BTreeMap<i32, _> = stats
        .offset_table
        .iter()
        .map(|(queue, wrapper)| (queue.queue_id, *wrapper))
        .collect();
    assert_eq!(by_queue.len(), 4);
    assert_eq!(
        (by_queue[&0].broker_offset, by_queue[&0].consumer_offset),
        (3, 2)
    );
    assert!(
        by_queue[&0].last_timestamp > 0,
        "store time of the last consumed message"
    );
    assert_eq!(
        (by_queue[&1].broker_offset, by_queue[&1].consumer_offset),
        (2, 0)
    );
    assert_eq!(by_queue[&1].last_timestamp, 0);
    // Without a topic: every topic the group committed offsets for.
    let all = client.call(request(code::GET_CONSUME_STATS, &[("consumerGroup", "G")]));
    let all = ConsumeStats::decode(&all.body).expect("ConsumeStats");
    assert_eq!(all.offset_table.len(), 4);
}

#[test]
fn reset_offset_by_time_rewinds_the_group_to_the_first_message_after_it() {
    let broker = Broker::start("");
    let mut client = broker.client();
    fill(&mut client, "Replay", &[2]);
    std::thread::sleep(Duration::from_millis(50));
    let middle = client.pull("Reader", "Replay", 0, 0)[1].store_timestamp + 20;
    std::thread::sleep(Duration::from_millis(50));
    for index in 0..2 {
        client.send_ok("Replay", 0, format!("late{index}").as_bytes(), "");
    }
    eventually(Duration::from_secs(5), "dispatch", || {
        (client.pull("Reader", "Replay", 0, 0).len() == 4).then_some(())
    });
    commit(&mut client, "G", "Replay", 0, 4);
    let timestamp = middle.to_string();
    let response = client.call(request(
        code::INVOKE_BROKER_TO_RESET_OFFSET,
        &[
            ("group", "G"),
            ("topic", "Replay"),
            ("timestamp", &timestamp),
            ("isForce", "true"),
        ],
    ));
    assert_eq!(
        response.code,
        response_code::SUCCESS,
        "{:?}",
        response.remark
    );
    let body = ResetOffsetBody::decode(&response.body).expect("ResetOffsetBody");
    let offsets: BTreeMap<i32, i64> = body
        .offset_table
        .iter()
        .map(|(queue, offset)| (queue.queue_id, *offset))
        .collect();
    assert_eq!(offsets[&0], 2, "first message stored after the time");
    assert_eq!(
        offsets.len(),
        4,
        "every readable queue of the topic: {offsets:?}"
    );
    let query = client.call(request(
        code::QUERY_CONSUMER_OFFSET,
        &[
            ("consumerGroup", "G"),
            ("topic", "Replay"),
            ("queueId", "0"),
        ],
    ));
    assert_eq!(query.ext("offset"), Some("2"));
}

fn heartbeat(client: &mut Client) {
    let data = HeartbeatData {
        client_id: "10.0.0.9@4242".to_owned(),
        consumer_data_set: vec![ConsumerData {
            group_name: "CG".to_owned(),
            subscription_data_set: vec![SubscriptionData {
                topic: "Work".to_owned(),
                sub_string: "*".to_owned(),
                ..SubscriptionData::default()
            }],
            ..ConsumerData::default()
        }],
        producer_data_set: vec![ProducerData {
            group_name: "PG".to_owned(),
        }],
        ..HeartbeatData::default()
    };
    let mut beat = request(code::HEART_BEAT, &[]);
    beat.body = data.encode().into();
    assert_eq!(client.call(beat).code, response_code::SUCCESS);
}

#[test]
fn connection_lists_name_the_clients_that_sent_heartbeats() {
    let broker = Broker::start("");
    let mut client = broker.client();
    heartbeat(&mut client);
    let consumers = client.call(request(
        code::GET_CONSUMER_CONNECTION_LIST,
        &[("consumerGroup", "CG")],
    ));
    assert_eq!(consumers.code, response_code::SUCCESS);
    let consumers = ConsumerConnection::decode(&consumers.body).expect("ConsumerConnection");
    assert_eq!(consumers.connection_set.len(), 1);
    assert_eq!(consumers.connection_set[0].client_id, "10.0.0.9@4242");
    assert_eq!(consumers.connection_set[0].language, "JAVA");
    assert!(consumers.subscription_table.contains_key("Work"));
    let producers = client.call(request(
        code::GET_PRODUCER_CONNECTION_LIST,
        &[("producerGroup", "PG")],
    ));
    let producers = ProducerConnection::decode(&producers.body).expect("ProducerConnection");
    assert_eq!(producers.connection_set[0].client_id, "10.0.0.9@4242");
    let offline = client.call(request(
        code::GET_CONSUMER_CONNECTION_LIST,
        &[("consumerGroup", "Gone")],
    ));
    assert_eq!(offline.code, response_code::CONSUMER_NOT_ONLINE);
}

#[test]
fn update_broker_config_changes_permission_and_refuses_other_keys() {
    let broker = Broker::start("");
    let mut client = broker.client();
    client.send_ok("Perm", 0, b"before", "");
    let mut read_only = request(code::UPDATE_BROKER_CONFIG, &[]);
    read_only.body = b"brokerPermission=4\n".to_vec().into();
    assert_eq!(client.call(read_only).code, response_code::SUCCESS);
    let refused = eventually(Duration::from_secs(2), "write permission wiped", || {
        let response = client.send("Perm", 0, b"during", "");
        (response.code == response_code::NO_PERMISSION).then_some(response)
    });
    assert_eq!(refused.code, response_code::NO_PERMISSION);
    let mut writable = request(code::UPDATE_BROKER_CONFIG, &[]);
    writable.body = b"brokerPermission=6\n".to_vec().into();
    assert_eq!(client.call(writable).code, response_code::SUCCESS);
    eventually(Duration::from_secs(2), "write permission back", || {
        (client.send("Perm", 0, b"after", "").code == response_code::SUCCESS).then_some(())
    });
    let mut other = request(code::UPDATE_BROKER_CONFIG, &[]);
    other.body = b"flushDiskType=SYNC_FLUSH\n".to_vec().into();
    let response = client.call(other);
    assert_eq!(response.code, response_code::INVALID_PARAMETER);
    assert!(response
        .remark
        .unwrap_or_default()
        .contains("flushDiskType"));
}
