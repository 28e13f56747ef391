//! Goal: the message and consumer-group commands of `ringmq admin` (mqadmin) work end to end:
//! sendMessage → queryMsgById / queryMsgByUniqueKey / queryMsgByKey / queryMsgByOffset →
//! consumeMessage round trips; consumerProgress shows the backlog a committed offset leaves;
//! resetOffsetByTime and skipAccumulatedMessage move committed offsets; consumerConnection,
//! producerConnection and topicList -c see an online client; updateSubGroup / deleteSubGroup
//! create and remove a group; errors name what was missing.
//! Method: a real name server and broker on loopback; messages are sent with the admin tool
//! itself; an online consumer and producer are a raw remoting connection that sent one
//! HEART_BEAT and stays open; offsets are committed with raw UPDATE_CONSUMER_OFFSET.

#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end tests wait on real processes with wall-clock sleeps"
)]
#![allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]

mod support;

use ringmq_protocol::request_code;
use support::*;

/// A client connection registered as consumer `group` (subscribed to `topic`, push,
/// clustering) and producer `producer`; online while it lives.
fn online_client(cluster: &Cluster, group: &str, producer: &str, topic: &str) -> Client {
    let mut client = Client::connect(&cluster.broker);
    let body = format!(
        r#"{{"clientID":"127.0.0.1@admin-test","consumerDataSet":[{{"groupName":"{group}",
        "consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING",
        "consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","subscriptionDataSet":[{{"topic":"{topic}",
        "subString":"*","tagsSet":[],"codeSet":[],"subVersion":0,"expressionType":"TAG",
        "classFilterMode":false}}],"unitMode":false}}],
        "producerDataSet":[{{"groupName":"{producer}"}}]}}"#
    );
    let mut heartbeat = request(request_code::HEART_BEAT, &[]);
    heartbeat.body = body.into_bytes().into();
    let response = client.call(heartbeat);
    assert_eq!(response.code, 0, "heartbeat: {:?}", response.remark);
    client
}

fn commit_offset(cluster: &Cluster, group: &str, topic: &str, queue: i32, offset: i64) {
    let mut client = Client::connect(&cluster.broker);
    let (queue, offset) = (queue.to_string(), offset.to_string());
    let response = client.call(request(
        request_code::UPDATE_CONSUMER_OFFSET,
        &[
            ("consumerGroup", group),
            ("topic", topic),
            ("queueId", &queue),
            ("commitOffset", &offset),
        ],
    ));
    assert_eq!(response.code, 0, "commit: {:?}", response.remark);
}

/// Send `body` to queue `queue` of `topic` on broker-a; the sendMessage JSON.
fn send(cluster: &Cluster, topic: &str, queue: &str, body: &str, key: &str) -> serde_json::Value {
    let text = cluster.admin_ok(&[
        "sendMessage",
        "-t",
        topic,
        "-p",
        body,
        "-k",
        key,
        "-c",
        "TagA",
        "-b",
        "broker-a",
        "-i",
        queue,
        "--format",
        "json",
    ]);
    serde_json::from_str(&text).expect("sendMessage json")
}

/// One line of mqadmin's message detail: `%-20s %s`, newline included.
fn labelled(label: &str, value: &str) -> String {
    format!("{label:<20} {value}\n")
}

/// The (broker offset, consumer offset, diff) columns of queue `queue` in consumerProgress.
fn progress_row(progress: &str, queue: &str) -> (i64, i64, i64) {
    let row = progress
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.len() >= 6 && cells[2] == queue)
        .unwrap_or_else(|| panic!("no row for queue {queue}:\n{progress}"));
    let number = |index: usize| row[index].parse::<i64>().expect("number");
    (number(3), number(4), number(5))
}

#[test]
fn sent_messages_are_found_by_every_id_and_read_back_by_consume_message() {
    let cluster = Cluster::start();
    cluster.admin_ok(&[
        "updateTopic",
        "-c",
        "DefaultCluster",
        "-t",
        "MsgTopic",
        "-r",
        "2",
        "-w",
        "2",
    ]);
    cluster.admin_until(&["topicRoute", "-t", "MsgTopic"], |_| true);

    let text = cluster.admin_ok(&[
        "sendMessage",
        "-t",
        "MsgTopic",
        "-p",
        "body-0",
        "-k",
        "key-0",
        "-b",
        "broker-a",
        "-i",
        "0",
    ]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{:<32}  {:<4}  {:<20}    #MsgId",
            "#Broker Name", "#QID", "#Send Result"
        )
    );
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[..3], ["broker-a", "0", "SEND_OK"], "{text}");
    assert_eq!(cells[3].len(), 32, "a client unique key: {text}");
    let first = send(&cluster, "MsgTopic", "0", "body-1", "key-1");
    let second = send(&cluster, "MsgTopic", "0", "body-2", "key-2");
    assert_eq!(first["queueOffset"], 1);
    assert_eq!(second["queueOffset"], 2);

    // By offsetMsgId: VIEW_MESSAGE_BY_ID on the store host, body printed with -f.
    let offset_id = first["offsetMsgId"].as_str().unwrap();
    let unique_key = first["msgId"].as_str().unwrap();
    let detail = cluster.admin_ok(&[
        "queryMsgById",
        "-t",
        "MsgTopic",
        "-i",
        offset_id,
        "-f",
        "UTF-8",
    ]);
    assert!(
        detail.starts_with(&labelled("OffsetID:", offset_id)),
        "{detail}"
    );
    assert!(detail.contains(&labelled("Keys:", "[key-1]")), "{detail}");
    assert!(detail.contains(&labelled("Tags:", "[TagA]")), "{detail}");
    assert!(detail.contains(&labelled("Queue Offset:", "1")), "{detail}");
    assert!(
        detail.contains(&labelled("Message Body:", "body-1")),
        "{detail}"
    );
    assert!(detail.ends_with("WARN: No Consumer"), "{detail}");
    let body_path = detail
        .lines()
        .find_map(|line| line.strip_prefix("Message Body Path:   "))
        .expect("body path");
    assert_eq!(std::fs::read(body_path).expect("body file"), b"body-1");

    // By client unique key: QUERY_MESSAGE on the unique-key index.
    let by_id = cluster.admin_until(
        &["queryMsgById", "-t", "MsgTopic", "-i", unique_key],
        |_| true,
    );
    assert!(by_id.contains(&labelled("OffsetID:", offset_id)), "{by_id}");
    let unique = cluster.admin_ok(&["queryMsgByUniqueKey", "-t", "MsgTopic", "-i", unique_key]);
    assert!(
        unique.starts_with(&labelled("Topic:", "MsgTopic")),
        "{unique}"
    );
    assert!(unique.contains(&labelled("Keys:", "[key-1]")), "{unique}");

    let by_key = cluster.admin_until(&["queryMsgByKey", "-t", "MsgTopic", "-k", "key-2"], |_| {
        true
    });
    let lines: Vec<&str> = by_key.lines().collect();
    assert_eq!(
        lines[0],
        format!("{:<50} {:>4} {:>40}", "#Message ID", "#QID", "#Offset")
    );
    assert_eq!(lines.len(), 2, "only the message with key-2:\n{by_key}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [second["msgId"].as_str().unwrap(), "0", "2"]
    );

    let by_offset = cluster.admin_ok(&[
        "queryMsgByOffset",
        "-t",
        "MsgTopic",
        "-b",
        "broker-a",
        "-i",
        "0",
        "-o",
        "2",
    ]);
    assert!(
        by_offset.contains(&labelled("Keys:", "[key-2]")),
        "{by_offset}"
    );
    let past_end = cluster.admin(&[
        "queryMsgByOffset",
        "-t",
        "MsgTopic",
        "-b",
        "broker-a",
        "-i",
        "0",
        "-o",
        "9",
    ]);
    assert!(!past_end.status.success());
    assert!(
        stderr(&past_end).contains("no message at offset 9"),
        "{}",
        stderr(&past_end)
    );

    let consumed = cluster.admin_ok(&[
        "consumeMessage",
        "-t",
        "MsgTopic",
        "-b",
        "broker-a",
        "-i",
        "0",
    ]);
    let bodies: Vec<&str> = consumed
        .lines()
        .filter_map(|line| line.split(" BODY: ").nth(1))
        .collect();
    assert_eq!(bodies, ["body-0", "body-1", "body-2"], "{consumed}");
    assert!(consumed.contains(&format!(
        "MSGID: {unique_key} MessageExt [brokerName=broker-a, queueId=0"
    )));
    assert!(
        consumed.trim_end().ends_with(
            "MessageQueue [topic=MsgTopic, brokerName=broker-a, queueId=0] print msg finished. \
         status=NO_NEW_MSG, offset=3"
        ),
        "{consumed}"
    );
    let limited = cluster.admin_ok(&[
        "consumeMessage",
        "-t",
        "MsgTopic",
        "-c",
        "2",
        "--format",
        "json",
    ]);
    let parsed: serde_json::Value = serde_json::from_str(&limited).unwrap();
    assert_eq!(
        parsed["messages"].as_array().map(Vec::len),
        Some(2),
        "-c 2: {limited}"
    );

    // A topic nobody created is sent along TBW102's route and created by the broker.
    cluster.admin_ok(&["sendMessage", "-t", "BornOnSend", "-p", "first"]);
    cluster.admin_until(&["topicRoute", "-t", "BornOnSend"], |_| true);
}

#[test]
fn consumer_progress_shows_the_backlog_and_resets_move_committed_offsets() {
    let cluster = Cluster::start();
    cluster.admin_ok(&[
        "updateTopic",
        "-c",
        "DefaultCluster",
        "-t",
        "LagTopic",
        "-r",
        "2",
        "-w",
        "2",
    ]);
    cluster.admin_until(&["topicRoute", "-t", "LagTopic"], |_| true);
    for body in ["a", "b", "c"] {
        send(&cluster, "LagTopic", "0", body, "k");
    }
    let on_queue_one = send(&cluster, "LagTopic", "1", "d", "k");
    let _client = online_client(&cluster, "LagGroup", "LagProducer", "LagTopic");
    commit_offset(&cluster, "LagGroup", "LagTopic", 0, 1);

    // The group's route is its %RETRY% topic, created by the heartbeat.
    let progress = cluster.admin_until(&["consumerProgress", "-g", "LagGroup"], |text| {
        text.contains("LagTopic")
    });
    assert!(progress.starts_with(&format!(
        "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20} {:<20}#LastTime\n",
        "#Topic",
        "#Broker Name",
        "#QID",
        "#Broker Offset",
        "#Consumer Offset",
        "#Diff",
        "#Inflight"
    )));
    assert_eq!(progress_row(&progress, "0"), (3, 1, 2));
    assert_eq!(progress_row(&progress, "1"), (1, 0, 1));
    assert!(progress.contains("\nConsume Diff Total: 3\n"), "{progress}");

    let groups = cluster.admin_ok(&["consumerProgress"]);
    let row: Vec<&str> = groups
        .lines()
        .find(|line| line.starts_with("LagGroup "))
        .expect("group row")
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        ["LagGroup", "1", "V5_3_1", "PUSH", "CLUSTERING", "0", "3"]
    );

    let connection = cluster.admin_ok(&["consumerConnection", "-g", "LagGroup"]);
    let header = format!(
        "{:<36} {:<22} {:<10} #Version\n",
        "#ClientId", "#ClientAddr", "#Language"
    );
    assert!(
        connection.starts_with(&format!("{header}127.0.0.1@admin-test ")),
        "{connection}"
    );
    assert!(
        connection.contains(&format!("\n{:<20} *\n", "LagTopic")),
        "{connection}"
    );
    assert!(connection.contains("\nConsumeType: CONSUME_PASSIVELY\nMessageModel: CLUSTERING\n"));
    let producers =
        cluster.admin_ok(&["producerConnection", "-g", "LagProducer", "-t", "LagTopic"]);
    assert!(
        producers.starts_with("0001  127.0.0.1@admin-test "),
        "{producers}"
    );
    assert!(
        producers.trim_end().ends_with("JAVA     V5_3_1"),
        "{producers}"
    );
    let by_cluster = cluster.admin_ok(&["topicList", "-c"]);
    assert!(
        by_cluster
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>()
                == ["DefaultCluster", "LagTopic", "LagGroup"]),
        "{by_cluster}"
    );

    // Back to the oldest message (time 0): every queue from its first offset.
    let reset = cluster.admin_ok(&[
        "resetOffsetByTime",
        "-g",
        "LagGroup",
        "-t",
        "LagTopic",
        "-s",
        "0",
    ]);
    assert!(reset.starts_with("start reset consumer offset by specified, group[LagGroup], topic[LagTopic], force[true], timestamp(string)[0], timestamp(long)[0]\n"), "{reset}");
    let progress = cluster.admin_ok(&["consumerProgress", "-g", "LagGroup", "-t", "LagTopic"]);
    assert_eq!(progress_row(&progress, "0"), (3, 0, 3));
    assert!(progress.contains("\nConsume Diff Total: 4\n"), "{progress}");

    // Skipping the backlog must go to the end of each queue, not back to the start.
    let skipped = cluster.admin_ok(&["skipAccumulatedMessage", "-g", "LagGroup", "-t", "LagTopic"]);
    assert_eq!(
        skipped
            .lines()
            .nth(1)
            .map(|row| row.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["broker-a", "0", "3"]),
        "{skipped}"
    );
    let progress = cluster.admin_ok(&["consumerProgress", "-g", "LagGroup", "-t", "LagTopic"]);
    assert!(progress.contains("\nConsume Diff Total: 0\n"), "{progress}");

    // Having consumed it, the group shows up in the message's consume track.
    let offset_id = on_queue_one["offsetMsgId"].as_str().unwrap();
    let detail = cluster.admin_ok(&["queryMsgById", "-t", "LagTopic", "-i", offset_id]);
    assert!(
        detail.ends_with(
            "MessageTrack [consumerGroup=LagGroup, trackType=CONSUMED, exceptionDesc=null]\n"
        ),
        "{detail}"
    );

    // One queue to an explicit offset.
    let one = cluster.admin_ok(&[
        "resetOffsetByTime",
        "-g",
        "LagGroup",
        "-t",
        "LagTopic",
        "-s",
        "now",
        "-b",
        &cluster.broker,
        "-q",
        "0",
        "-o",
        "1",
    ]);
    assert!(one.ends_with("reset consumer offset to 1\n"), "{one}");
    let progress = cluster.admin_ok(&["consumerProgress", "-g", "LagGroup", "-t", "LagTopic"]);
    assert_eq!(progress_row(&progress, "0"), (3, 1, 2));
}

#[test]
fn subscription_group_is_created_then_deleted_with_its_retry_topic() {
    let cluster = Cluster::start();
    let created = cluster.admin_ok(&[
        "updateSubGroup",
        "-c",
        "DefaultCluster",
        "-g",
        "SubGroup",
        "-r",
        "3",
    ]);
    assert!(created.starts_with(&format!("create subscription group to {} success.\nSubscriptionGroupConfig{{groupName=SubGroup, consumeEnable=true, consumeFromMinEnable=false, consumeBroadcastEnable=false", cluster.broker)), "{created}");
    assert!(created.contains(", retryMaxTimes=3, "), "{created}");
    let groups = || {
        let mut client = Client::connect(&cluster.broker);
        let response = client.call(request(request_code::GET_ALL_SUBSCRIPTIONGROUP_CONFIG, &[]));
        let table: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        table["subscriptionGroupTable"].clone()
    };
    assert_eq!(groups()["SubGroup"]["retryMaxTimes"], 3);

    // A member connecting creates the retry topic deleteSubGroup -c must remove too.
    let client = online_client(&cluster, "SubGroup", "SubProducer", "TBW102");
    cluster.admin_until(&["topicList"], |text| {
        text.lines().any(|l| l == "%RETRY%SubGroup")
    });
    drop(client);
    let deleted = cluster.admin_ok(&["deleteSubGroup", "-c", "DefaultCluster", "-g", "SubGroup"]);
    assert_eq!(
        deleted,
        format!("delete subscription group [SubGroup] from broker [{}] in cluster [DefaultCluster] success.\n", cluster.broker)
    );
    assert!(groups().get("SubGroup").is_none(), "{}", groups());
    cluster.admin_until(&["topicList"], |text| {
        !text.lines().any(|l| l == "%RETRY%SubGroup")
    });
}

#[test]
fn errors_name_the_missing_group_topic_or_client() {
    let cluster = Cluster::start();
    let no_group = cluster.admin(&["consumerProgress", "-g", "NoSuchGroup"]);
    assert_eq!(no_group.status.code(), Some(1));
    assert!(
        stderr(&no_group).contains("topic [%RETRY%NoSuchGroup] does not exist"),
        "{}",
        stderr(&no_group)
    );

    let no_topic = cluster.admin(&[
        "resetOffsetByTime",
        "-g",
        "G",
        "-t",
        "NoSuchTopic",
        "-s",
        "now",
    ]);
    assert!(
        stderr(&no_topic).contains("topic [NoSuchTopic] does not exist"),
        "{}",
        stderr(&no_topic)
    );

    cluster.admin_ok(&["updateTopic", "-c", "DefaultCluster", "-t", "Quiet"]);
    cluster.admin_until(&["topicRoute", "-t", "Quiet"], |_| true);
    let no_producer = cluster.admin(&["producerConnection", "-g", "Nobody", "-t", "Quiet"]);
    let error = stderr(&no_producer);
    assert!(
        error.contains(&format!(
            "broker {} refused GET_PRODUCER_CONNECTION_LIST",
            cluster.broker
        )),
        "{error}"
    );
    assert!(
        error.contains("the producer group[Nobody] not exist"),
        "{error}"
    );

    let no_message = cluster.admin(&[
        "queryMsgByUniqueKey",
        "-t",
        "Quiet",
        "-i",
        "0123456789ABCDEF0123456789ABCDEF",
    ]);
    assert!(
        stderr(&no_message).contains("has the unique key [0123456789ABCDEF0123456789ABCDEF]"),
        "{}",
        stderr(&no_message)
    );

    let usage = cluster.admin(&["sendMessage", "-t", "Quiet", "-p", "x", "-i", "0"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(stderr(&usage).contains("Broker name must be set if the queue is chosen!"));
}
