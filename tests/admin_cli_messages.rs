//! Goal: the message and consumer-group commands of `ringmq admin` (mqadmin) work end to end:
//! sendMessage → queryMsgById / queryMsgByUniqueKey / queryMsgByKey / queryMsgByOffset →
//! consumeMessage round trips; consumerProgress shows the backlog a committed offset leaves;
//! resetOffsetByTime and skipAccumulatedMessage move committed offsets; consumerConnection,
//! producerConnection and topicList -c see an online client; updateSubGroup / deleteSubGroup
//! create and remove a group; errors name what was missing; the broker relays a tool's
//! GET_CONSUMER_RUNNING_INFO / CONSUME_MESSAGE_DIRECTLY to the consumer client and back, which
//! consumerProgress -s shows as each queue's client IP.
//! Method: a real name server and broker on loopback; messages are sent with the admin tool
//! itself; an online consumer and producer are a raw remoting connection that sent one
//! HEART_BEAT and stays open (and answers relayed requests by hand); offsets are committed
//! with raw UPDATE_CONSUMER_OFFSET.

#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end tests wait on real processes with wall-clock sleeps"
)]
#![allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]

mod support;

use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::{frame, record, request_code};
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

/// `updateTopic` with `queues` read and write queues on DefaultCluster, then wait until the
/// name server routes it.
fn create_topic(cluster: &Cluster, topic: &str, queues: &str) {
    cluster.admin_ok(&[
        "updateTopic",
        "-c",
        "DefaultCluster",
        "-t",
        topic,
        "-r",
        queues,
        "-w",
        queues,
    ]);
    cluster.admin_until(&["topicRoute", "-t", topic], |_| true);
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
    create_topic(&cluster, "MsgTopic", "2");

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
    create_topic(&cluster, "LagTopic", "2");
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

/// Read frames from `client` until a request with `code` arrives (skipping pushes such as
/// NOTIFY_CONSUMER_IDS_CHANGED); `None` if the connection closed first.
fn next_request(client: &mut Client, code: i32) -> Option<RemotingCommand> {
    loop {
        let frame = client.read_frame()?;
        if !frame.is_response() && frame.code == code {
            return Some(frame);
        }
    }
}

/// Answer `relayed` on `client` with SUCCESS and `body`.
fn answer(client: &mut Client, relayed: &RemotingCommand, body: &[u8]) {
    let mut reply = RemotingCommand::response_to(relayed, 0, None);
    reply.body = body.to_vec().into();
    let mut bytes = Vec::new();
    frame::encode(&reply, &mut bytes);
    client.send_raw(&bytes);
}

/// GET_CONSUMER_RUNNING_INFO for `client_id` of RelayGroup, sent by a tool on its own
/// connection from another thread.
fn running_info_call(broker: &str, client_id: &str) -> std::thread::JoinHandle<RemotingCommand> {
    let broker = broker.to_owned();
    let client_id = client_id.to_owned();
    std::thread::spawn(move || {
        let mut tool = Client::connect(&broker);
        tool.call(request(
            request_code::GET_CONSUMER_RUNNING_INFO,
            &[
                ("consumerGroup", "RelayGroup"),
                ("clientId", &client_id),
                ("jstackEnable", "false"),
            ],
        ))
    })
}

// Hazard: a broker that does not pass GET_CONSUMER_RUNNING_INFO (307) and
// CONSUME_MESSAGE_DIRECTLY (309) to the client's own connection, or passes the answer back
// under the wrong opaque, leaves consumerProgress -s and queryMsgById -g -d without answers;
// a client that goes away mid-request must not leave the tool hanging. The client here is a
// raw connection that answers by hand, so each byte the broker relays can be checked.
#[test]
fn broker_relays_tool_requests_to_the_consumer_client_and_its_answers_back() {
    let cluster = Cluster::start();
    create_topic(&cluster, "RelayTopic", "2");
    let sent = send(&cluster, "RelayTopic", "0", "relay-body", "k");
    commit_offset(&cluster, "RelayGroup", "RelayTopic", 0, 0);
    commit_offset(&cluster, "RelayGroup", "RelayTopic", 1, 0);
    let mut consumer = online_client(&cluster, "RelayGroup", "RelayProducer", "RelayTopic");

    // 307 answered by the client: the tool gets the client's body under its own opaque.
    let tool = running_info_call(&cluster.broker, "127.0.0.1@admin-test");
    let relayed = next_request(&mut consumer, request_code::GET_CONSUMER_RUNNING_INFO).unwrap();
    assert_eq!(relayed.ext("consumerGroup"), Some("RelayGroup"));
    assert_eq!(relayed.ext("clientId"), Some("127.0.0.1@admin-test"));
    let info = br#"{"mqTable":{{"brokerName":"broker-a","queueId":0,"topic":"RelayTopic"}:{"commitOffset":0}},"properties":{"PROP_CONSUME_TYPE":"CONSUME_PASSIVELY"}}"#;
    answer(&mut consumer, &relayed, info);
    let reply = tool.join().unwrap();
    assert_eq!(reply.code, 0, "{:?}", reply.remark);
    assert_eq!(reply.opaque, 1, "the tool's opaque, not the broker's");
    assert_eq!(&reply.body[..], &info[..]);

    // consumerProgress -s true: queue 0 is held by the client (its id up to '@'), queue 1
    // by nobody. Java's fastjson object keys in mqTable are read.
    let admin = {
        let namesrv = cluster.namesrv.clone();
        std::thread::spawn(move || {
            admin(&[
                "consumerProgress",
                "-g",
                "RelayGroup",
                "-s",
                "true",
                "-n",
                &namesrv,
            ])
        })
    };
    let relayed = next_request(&mut consumer, request_code::GET_CONSUMER_RUNNING_INFO).unwrap();
    answer(&mut consumer, &relayed, info);
    let progress = admin.join().unwrap();
    let text = stdout(&progress);
    assert!(progress.status.success(), "{text}{}", stderr(&progress));
    let header = text.lines().next().unwrap();
    // RocketMQ's `%-20s  %-20s %-20s` for these three columns.
    let columns = format!("{:<20}  {:<20} #Diff", "#Consumer Offset", "#Client IP");
    assert!(header.contains(&columns), "{header}");
    let ip_of = |queue: &str| {
        text.lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|cells| cells.len() > 5 && cells[0] == "RelayTopic" && cells[2] == queue)
            .map(|cells| cells[5].to_owned())
    };
    assert_eq!(ip_of("0").as_deref(), Some("127.0.0.1"), "{text}");
    assert_eq!(ip_of("1").as_deref(), Some("N/A"), "{text}");

    // 309: the client gets the stored record as the body and the broker's additions.
    let offset_id = sent["offsetMsgId"].as_str().unwrap().to_owned();
    let broker = cluster.broker.clone();
    let tool = std::thread::spawn(move || {
        Client::connect(&broker).call(request(
            request_code::CONSUME_MESSAGE_DIRECTLY,
            &[
                ("consumerGroup", "RelayGroup"),
                ("clientId", "127.0.0.1@admin-test"),
                ("msgId", &offset_id),
                ("topic", "RelayTopic"),
            ],
        ))
    });
    let relayed = next_request(&mut consumer, request_code::CONSUME_MESSAGE_DIRECTLY).unwrap();
    assert_eq!(relayed.ext("brokerName"), Some("broker-a"));
    assert_eq!(relayed.ext("topicSysFlag"), Some("0"));
    assert_eq!(relayed.ext("groupSysFlag"), Some("0"));
    let stored = record::decode(&relayed.body).expect("the body is the stored record");
    assert_eq!(stored.body, b"relay-body");
    answer(
        &mut consumer,
        &relayed,
        br#"{"consumeResult":"CR_SUCCESS","spentTimeMills":1}"#,
    );
    let reply = tool.join().unwrap();
    assert_eq!(reply.code, 0, "{:?}", reply.remark);

    // Not online: RocketMQ's SYSTEM_ERROR and remark, without reaching any client.
    let reply = running_info_call(&cluster.broker, "nobody@1")
        .join()
        .unwrap();
    assert_eq!(reply.code, 1);
    assert_eq!(
        reply.remark.as_deref(),
        Some("The Consumer <RelayGroup> <nobody@1> not online")
    );

    // The client closes before answering: the tool is answered at once, not left waiting.
    let tool = running_info_call(&cluster.broker, "127.0.0.1@admin-test");
    next_request(&mut consumer, request_code::GET_CONSUMER_RUNNING_INFO).unwrap();
    drop(consumer);
    let reply = tool.join().unwrap();
    assert_eq!(reply.code, 1);
    let remark = reply.remark.unwrap_or_default();
    assert!(
        remark.starts_with(
            "invoke consumer <RelayGroup> <127.0.0.1@admin-test> Exception: \
             org.apache.rocketmq.remoting.exception.RemotingSendRequestException: send request \
             to </127.0.0.1:"
        ) && remark.ends_with("> failed"),
        "{remark}"
    );
}

// Hazard: `queryMsgById -s true` must send the stored message again with its properties and
// unique key (so it is still found by that key) and print RocketMQ's SendResult; `-g -d` must
// refuse a client that is not a push consumer, as RocketMQ does, instead of pushing to it.
#[test]
fn query_msg_by_id_resends_a_message_and_refuses_to_push_to_a_pull_consumer() {
    let cluster = Cluster::start();
    create_topic(&cluster, "ResendTopic", "1");
    let sent = send(&cluster, "ResendTopic", "0", "again", "resend-key");
    let unique_key = sent["msgId"].as_str().unwrap();
    let text = cluster.admin_until(
        &[
            "queryMsgById",
            "-t",
            "ResendTopic",
            "-i",
            unique_key,
            "-s",
            "true",
            "-u",
            "unitA",
        ],
        |_| true,
    );
    let expected_start = format!(
        "prepare resend msg. originalMsgId={unique_key}SendResult [sendStatus=SEND_OK, \
         msgId={unique_key}, offsetMsgId="
    );
    assert!(text.starts_with(&expected_start), "{text}");
    assert!(
        text.ends_with(
            ", messageQueue=MessageQueue [topic=ResendTopic, brokerName=broker-a, queueId=0], \
             queueOffset=1, recallHandle=null]"
        ),
        "{text}"
    );
    let both = cluster.admin_until(
        &[
            "queryMsgByUniqueKey",
            "-t",
            "ResendTopic",
            "-i",
            unique_key,
            "-a",
        ],
        |text| text.matches("Queue Offset:").count() == 2,
    );
    assert_eq!(
        both.matches(&labelled("Keys:", "[resend-key]")).count(),
        2,
        "{both}"
    );
    let quiet = cluster.admin_ok(&[
        "queryMsgById",
        "-t",
        "ResendTopic",
        "-i",
        unique_key,
        "-s",
        "false",
    ]);
    assert_eq!(quiet, "", "RocketMQ does nothing for -s false");

    // A pull consumer (its running info says CONSUME_ACTIVELY) gets nothing pushed.
    let mut consumer = online_client(&cluster, "PullGroup", "PullProducer", "ResendTopic");
    let admin = {
        let namesrv = cluster.namesrv.clone();
        let id = unique_key.to_owned();
        std::thread::spawn(move || {
            admin(&[
                "queryMsgById",
                "-t",
                "ResendTopic",
                "-i",
                &id,
                "-g",
                "PullGroup",
                "-d",
                "127.0.0.1@admin-test",
                "-n",
                &namesrv,
            ])
        })
    };
    let relayed = next_request(&mut consumer, request_code::GET_CONSUMER_RUNNING_INFO).unwrap();
    answer(
        &mut consumer,
        &relayed,
        br#"{"properties":{"PROP_CONSUME_TYPE":"CONSUME_ACTIVELY"},"mqTable":{}}"#,
    );
    let refused = admin.join().unwrap();
    assert!(refused.status.success(), "{}", stderr(&refused));
    assert_eq!(
        stdout(&refused),
        "this 127.0.0.1@admin-test client is not push consumer ,not support direct push \n"
    );
}

// Hazard: consumerProgress's #Inflight (pulled − committed) read 0 for a group that pulls
// without committing — `ringmq bench consume`, or any client between two commits — because
// the broker reported the committed offset as the group's pull offset.
#[test]
fn consumer_progress_in_flight_counts_what_a_group_pulled_but_did_not_commit() {
    let cluster = Cluster::start();
    create_topic(&cluster, "InflightTopic", "1");
    for body in ["a", "b", "c"] {
        send(&cluster, "InflightTopic", "0", body, "k");
    }
    commit_offset(&cluster, "InflightGroup", "InflightTopic", 0, 0);
    // As bench consume pulls: suspend and subscription flags, no commit flag.
    let pulled = Client::connect(&cluster.broker).call(request(
        request_code::PULL_MESSAGE,
        &[
            ("consumerGroup", "InflightGroup"),
            ("topic", "InflightTopic"),
            ("queueId", "0"),
            ("queueOffset", "0"),
            ("maxMsgNums", "2"),
            ("sysFlag", "6"),
            ("commitOffset", "0"),
            ("suspendTimeoutMillis", "0"),
            ("subscription", "*"),
            ("subVersion", "0"),
        ],
    ));
    assert_eq!(pulled.code, 0, "{:?}", pulled.remark);
    assert_eq!(pulled.ext("nextBeginOffset"), Some("2"));
    let progress = cluster.admin_ok(&[
        "consumerProgress",
        "-g",
        "InflightGroup",
        "-t",
        "InflightTopic",
    ]);
    let row: Vec<&str> = progress
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&"InflightTopic"))
        .unwrap_or_else(|| panic!("no row:\n{progress}"));
    assert_eq!(
        row[2..7],
        ["0", "3", "0", "3", "2"],
        "qid, broker, consumer, diff, inflight:\n{progress}"
    );
    assert!(progress.contains("Consume Inflight Total: 2"), "{progress}");
}

// Hazard: `sendMessage -m true` must leave a trace record where tracing tools look for it —
// RMQ_SYS_TRACE_TOPIC, which a broker with traceTopicEnable=true creates at start — in
// RocketMQ's TraceDataEncoder layout, keyed by the message id.
#[test]
fn send_message_with_trace_writes_a_pub_record_to_the_trace_topic() {
    let cluster = Cluster::start_with("traceTopicEnable=true\n");
    cluster.admin_until(&["topicRoute", "-t", "RMQ_SYS_TRACE_TOPIC"], |_| true);
    let text = cluster.admin_ok(&[
        "sendMessage",
        "-t",
        "TracedTopic",
        "-p",
        "hello",
        "-k",
        "k1",
        "-c",
        "TagT",
        "-m",
        "true",
        "-F",
        "json",
    ]);
    let sent: serde_json::Value = serde_json::from_str(&text).expect("json");
    let pulled = Client::connect(&cluster.broker).call(request(
        request_code::PULL_MESSAGE,
        &[
            ("consumerGroup", "TraceReader"),
            ("topic", "RMQ_SYS_TRACE_TOPIC"),
            ("queueId", "0"),
            ("queueOffset", "0"),
            ("maxMsgNums", "8"),
            ("sysFlag", "4"),
            ("commitOffset", "0"),
            ("suspendTimeoutMillis", "0"),
            ("subscription", "*"),
            ("subVersion", "0"),
        ],
    ));
    assert_eq!(pulled.code, 0, "{:?}", pulled.remark);
    let records = record::decode_all(&pulled.body).expect("records");
    assert_eq!(records.len(), 1, "one trace record");
    let trace = &records[0];
    let body = String::from_utf8_lossy(trace.body).into_owned();
    let fields: Vec<&str> = body.trim_end_matches('\u{2}').split('\u{1}').collect();
    let msg_id = sent["msgId"].as_str().unwrap();
    assert_eq!(fields.len(), 14, "{body:?}");
    assert_eq!(fields[0], "Pub");
    assert_eq!(fields[2], "DefaultRegion");
    assert_eq!(
        fields[4..8],
        ["TracedTopic", msg_id, "TagT", "k1"],
        "{body:?}"
    );
    assert_eq!(fields[8], cluster.broker);
    assert_eq!(fields[9], "5");
    assert_eq!(
        fields[11..],
        ["0", sent["offsetMsgId"].as_str().unwrap(), "true"]
    );
    let keys = ringmq_protocol::properties::find(trace.properties, "KEYS");
    assert_eq!(keys, Some(format!("{msg_id} k1").as_str()));
}
