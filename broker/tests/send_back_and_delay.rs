//! Goal: a consumer's CONSUMER_SEND_MSG_BACK puts the failed message into `%RETRY%group` after
//! its delay level, with RocketMQ's properties (RETRY_TOPIC, ORIGIN_MESSAGE_ID,
//! RECONSUME_TIME, reconsumeTimes+1), and into `%DLQ%group` once maxReconsumeTimes is reached;
//! a producer's DELAY message is held in SCHEDULE_TOPIC_XXXX and delivered to its real queue
//! in order, not before its level's delay; delivery progress survives a restart.
//!
//! Method: an in-process broker with two shards and short levels (`messageDelayLevel=1s 2s`),
//! driven over loopback by a blocking remoting client; offsets come from send responses, and
//! records are read back with pulls.

// These tests wait on a real broker with real time (sleeps, deadlines).
#![allow(clippy::disallowed_methods)]

mod support;

use std::time::{Duration, Instant};

use ringmq_protocol::properties::{self, DELAY, ORIGIN_MESSAGE_ID, REAL_QID, REAL_TOPIC};
use ringmq_protocol::record;
use ringmq_protocol::{request_code, response_code};
use support::{eventually, request, Broker, Client, Stored};

const LEVELS: &str = "messageDelayLevel=1s 2s\n";

/// The physical offset of the message `msg_id` once a consumer can see it: a send-back names a
/// message the consumer pulled, never one still being written.
fn consumed_offset(client: &mut Client, topic: &str, queue_id: i32, msg_id: &str) -> i64 {
    let offset = record::decode_offset_msg_id(msg_id)
        .expect("offset msg id")
        .1;
    eventually(Duration::from_secs(5), "the message to be pullable", || {
        client
            .pull("Reader", topic, queue_id, 0)
            .iter()
            .any(|message| message.physical_offset == offset)
            .then_some(offset)
    })
}

fn send_back(
    client: &mut Client,
    offset: i64,
    group: &str,
    level: i32,
    max: Option<i32>,
) -> (i32, String) {
    let offset = offset.to_string();
    let level = level.to_string();
    let mut ext = vec![
        ("offset", offset.as_str()),
        ("group", group),
        ("delayLevel", level.as_str()),
    ];
    let max = max.map(|max| max.to_string());
    if let Some(max) = max.as_deref() {
        ext.push(("maxReconsumeTimes", max));
    }
    let response = client.call(request(request_code::CONSUMER_SEND_MSG_BACK, &ext));
    (response.code, response.remark.unwrap_or_default())
}

fn pull_all(client: &mut Client, group: &str, topic: &str) -> Vec<Stored> {
    client.pull(group, topic, 0, 0)
}

#[test]
fn a_sent_back_message_reaches_the_retry_topic_only_after_its_delay() {
    let broker = Broker::start(LEVELS);
    let mut client = broker.client();
    let (msg_id, _) = client.send_ok(
        "Orders",
        1,
        b"order-1",
        "TAGS\u{1}A\u{2}UNIQ_KEY\u{1}U1\u{2}",
    );
    let started = Instant::now();
    let offset = consumed_offset(&mut client, "Orders", 1, &msg_id);

    let answer = send_back(&mut client, offset, "G", 1, None);
    assert_eq!(answer.0, response_code::SUCCESS, "{}", answer.1);
    let retried = eventually(Duration::from_secs(10), "the retry message", || {
        let found = pull_all(&mut client, "G", "%RETRY%G");
        (!found.is_empty()).then_some(found)
    });
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "delivered before level 1 (1 s)"
    );
    assert_eq!(retried.len(), 1);
    let message = &retried[0];
    assert_eq!(message.body, b"order-1");
    assert_eq!(message.reconsume_times, 1);
    assert_eq!(message.property(properties::RETRY_TOPIC), Some("Orders"));
    assert_eq!(message.property(ORIGIN_MESSAGE_ID), Some("U1"));
    assert_eq!(message.property(properties::RECONSUME_TIME), Some("1"));
    assert_eq!(message.property(properties::TAGS), Some("A"));
    assert_eq!(
        message.property(DELAY),
        None,
        "DELAY is dropped on delivery"
    );
}

#[test]
fn a_message_at_max_reconsume_times_goes_to_the_dead_letter_queue_at_once() {
    let broker = Broker::start(LEVELS);
    let mut client = broker.client();
    let (msg_id, _) = client.send_ok("Orders", 0, b"poison", "");
    let offset = consumed_offset(&mut client, "Orders", 0, &msg_id);
    // First failure: to the retry topic (level 2 = 2 s).
    assert_eq!(
        send_back(&mut client, offset, "G", 0, Some(1)).0,
        response_code::SUCCESS
    );
    let retried = eventually(Duration::from_secs(10), "the retry message", || {
        let found = pull_all(&mut client, "G", "%RETRY%G");
        (!found.is_empty()).then_some(found)
    });
    // Second failure of the retried copy: reconsumeTimes 1 >= max 1.
    let (code, _) = send_back(&mut client, retried[0].physical_offset, "G", 0, Some(1));
    assert_eq!(code, response_code::SUCCESS);
    let dead = eventually(Duration::from_secs(3), "the DLQ message", || {
        let found = pull_all(&mut client, "G", "%DLQ%G");
        (!found.is_empty()).then_some(found)
    });
    assert_eq!(dead[0].body, b"poison");
    assert_eq!(dead[0].reconsume_times, 2);
    assert_eq!(dead[0].property(properties::RETRY_TOPIC), Some("Orders"));
    assert_eq!(dead[0].property(DELAY), None);
}

#[test]
fn a_negative_delay_level_sends_straight_to_the_dead_letter_queue() {
    let broker = Broker::start(LEVELS);
    let mut client = broker.client();
    let (msg_id, _) = client.send_ok("Orders", 0, b"reject", "");
    let offset = consumed_offset(&mut client, "Orders", 0, &msg_id);
    assert_eq!(
        send_back(&mut client, offset, "G2", -1, None).0,
        response_code::SUCCESS
    );
    let dead = eventually(Duration::from_secs(3), "the DLQ message", || {
        let found = pull_all(&mut client, "G2", "%DLQ%G2");
        (!found.is_empty()).then_some(found)
    });
    assert_eq!(dead[0].body, b"reject");
}

#[test]
fn send_back_of_an_unknown_offset_fails_with_rocketmqs_remark() {
    let broker = Broker::start(LEVELS);
    let mut client = broker.client();
    client.send_ok("Orders", 0, b"x", "");
    let response = client.call(request(
        request_code::CONSUMER_SEND_MSG_BACK,
        &[("offset", "123456"), ("group", "G"), ("delayLevel", "0")],
    ));
    assert_eq!(response.code, response_code::SYSTEM_ERROR);
    assert_eq!(
        response.remark.as_deref(),
        Some("look message by offset failed")
    );
}

#[test]
fn send_back_without_the_group_fails_when_groups_are_not_auto_created() {
    let broker = Broker::start(&format!("{LEVELS}autoCreateSubscriptionGroup=false\n"));
    let mut client = broker.client();
    let (msg_id, _) = client.send_ok("Orders", 0, b"x", "");
    let offset = consumed_offset(&mut client, "Orders", 0, &msg_id);

    let (code, _) = send_back(&mut client, offset, "Nobody", 0, None);
    assert_eq!(code, response_code::SUBSCRIPTION_GROUP_NOT_EXIST);
}

#[test]
fn delayed_messages_arrive_in_order_not_before_their_level() {
    let broker = Broker::start(LEVELS);
    let mut client = broker.client();
    let started = Instant::now();
    for index in 0..5 {
        let body = format!("late-{index}");
        let response = client.send(
            "Late",
            2,
            body.as_bytes(),
            "DELAY\u{1}2\u{2}TAGS\u{1}T\u{2}",
        );
        assert_eq!(
            response.code,
            response_code::SUCCESS,
            "{:?}",
            response.remark
        );
        assert_eq!(response.ext("queueId"), Some("2"), "reports the real queue");
    }
    assert!(
        client.pull("G", "Late", 2, 0).is_empty(),
        "nothing is visible before 2 s"
    );
    let delivered = eventually(Duration::from_secs(10), "five delayed messages", || {
        let found = client.pull("G", "Late", 2, 0);
        (found.len() == 5).then_some(found)
    });
    assert!(started.elapsed() >= Duration::from_millis(1900));
    for (index, message) in delivered.iter().enumerate() {
        assert_eq!(message.body, format!("late-{index}").into_bytes());
        assert_eq!(message.property(DELAY), None);
        assert_eq!(message.property(REAL_TOPIC), Some("Late"));
        assert_eq!(message.property(REAL_QID), Some("2"));
        assert_eq!(message.property(properties::TAGS), Some("T"));
    }
}

#[test]
fn clients_cannot_send_to_the_schedule_topic_or_forge_internal_fields() {
    let broker = Broker::start(LEVELS);
    let mut client = broker.client();
    let direct = client.send("SCHEDULE_TOPIC_XXXX", 0, b"x", "");
    assert_eq!(direct.code, response_code::NO_PERMISSION);
    let mut forged = request(
        request_code::SEND_MESSAGE,
        &[
            ("producerGroup", "P"),
            ("topic", "SCHEDULE_TOPIC_XXXX"),
            ("defaultTopic", "TBW102"),
            ("defaultTopicQueueNums", "4"),
            ("queueId", "0"),
            ("sysFlag", "0"),
            ("bornTimestamp", "1"),
            ("flag", "0"),
            ("_ringmqInternal", "true"),
        ],
    );
    forged.body = b"x".to_vec().into();
    assert_eq!(client.call(forged).code, response_code::NO_PERMISSION);
}

#[test]
fn delivery_progress_survives_a_restart_without_redelivering() {
    let broker = Broker::start(LEVELS);
    let mut client = broker.client();
    client.send_ok("Once", 0, b"one", "DELAY\u{1}1\u{2}");
    eventually(Duration::from_secs(10), "the delayed message", || {
        (client.pull("G", "Once", 0, 0).len() == 1).then_some(())
    });
    drop(client);
    let directory = broker.stop();
    let delay_offsets =
        std::fs::read_to_string(directory.path().join("store/config/delayOffset.json"))
            .expect("delayOffset.json written at shutdown");
    assert!(delay_offsets.contains(r#""1":1"#), "{delay_offsets}");
    let broker = Broker::start_in(directory, LEVELS);
    let mut client = broker.client();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        client.pull("G", "Once", 0, 0).len(),
        1,
        "delivered exactly once"
    );
}
