//! Goal: the name server behaves like RocketMQ's over real TCP: registration of masters and
//! slaves, exact route and cluster JSON, expiry of silent brokers, removal on connection close,
//! isolation of a client that sends a bad frame, unknown codes, oneway requests, KV config.
//! Method: start the server in-process on 127.0.0.1 port 0 with a temporary log/KV directory,
//! talk to it with blocking sockets and the protocol crate's frame codec, shut it down at the end.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::io::Write;
use std::time::Duration;

use ringmq_protocol::command::{RemotingCommand, FLAG_ONEWAY};
use ringmq_protocol::{request_code, response_code};
use support::{body_text, eventually, route_request, Broker, Client, TestNamesrv};

const A_MASTER: &str = "127.0.0.1:10911";
const A_SLAVE: &str = "127.0.0.1:10921";
const B_MASTER: &str = "127.0.0.1:20911";

fn broker<'a>(name: &'a str, id: u64, addr: &'a str, topics: &'a [&'a str]) -> Broker<'a> {
    Broker {
        cluster: "DefaultCluster",
        name,
        id,
        addr,
        ha_addr: if id == 0 {
            "127.0.0.1:10912"
        } else {
            "127.0.0.1:10922"
        },
        topics,
        heartbeat_timeout_ms: None,
    }
}

#[test]
fn master_slave_and_second_broker_give_exact_route_and_cluster_json() {
    let namesrv = TestNamesrv::start();
    let mut client = namesrv.client();
    let master = client.call(broker("broker-a", 0, A_MASTER, &["T"]).register_request());
    assert_eq!(master.code, response_code::SUCCESS);
    assert_eq!(master.ext("masterAddr"), None);
    let slave = client.call(broker("broker-a", 1, A_SLAVE, &["T"]).register_request());
    assert_eq!(slave.code, response_code::SUCCESS);
    assert_eq!(slave.ext("masterAddr"), Some(A_MASTER));
    assert_eq!(slave.ext("haServerAddr"), Some("127.0.0.1:10912"));
    let second = client.call(broker("broker-b", 0, B_MASTER, &["T", "OnlyB"]).register_request());
    assert_eq!(second.code, response_code::SUCCESS);

    let route = client.call(route_request("T"));
    assert_eq!(route.code, response_code::SUCCESS);
    assert_eq!(route.remark, None);
    let queue =
        r#"{"brokerName":"NAME","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}"#;
    let expected = format!(
        "{{\"brokerDatas\":[{{\"brokerAddrs\":{{\"0\":\"{A_MASTER}\",\"1\":\"{A_SLAVE}\"}},\
         \"brokerName\":\"broker-a\",\"cluster\":\"DefaultCluster\",\"enableActingMaster\":false}},\
         {{\"brokerAddrs\":{{\"0\":\"{B_MASTER}\"}},\"brokerName\":\"broker-b\",\
         \"cluster\":\"DefaultCluster\",\"enableActingMaster\":false}}],\
         \"filterServerTable\":{{}},\"queueDatas\":[{},{}]}}",
        queue.replace("NAME", "broker-a"),
        queue.replace("NAME", "broker-b"),
    );
    assert_eq!(body_text(&route), expected);

    let cluster = client.call(RemotingCommand::request(
        request_code::GET_BROKER_CLUSTER_INFO,
    ));
    assert_eq!(cluster.code, response_code::SUCCESS);
    let expected_cluster = format!(
        "{{\"brokerAddrTable\":{{\"broker-a\":{{\"brokerAddrs\":{{\"0\":\"{A_MASTER}\",\
         \"1\":\"{A_SLAVE}\"}},\"brokerName\":\"broker-a\",\"cluster\":\"DefaultCluster\",\
         \"enableActingMaster\":false}},\"broker-b\":{{\"brokerAddrs\":{{\"0\":\"{B_MASTER}\"}},\
         \"brokerName\":\"broker-b\",\"cluster\":\"DefaultCluster\",\"enableActingMaster\":false}}}},\
         \"clusterAddrTable\":{{\"DefaultCluster\":[\"broker-a\",\"broker-b\"]}}}}"
    );
    assert_eq!(body_text(&cluster), expected_cluster);

    let all = client.call(RemotingCommand::request(
        request_code::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
    ));
    assert_eq!(body_text(&all), r#"{"topicList":["OnlyB","T"]}"#);
    let by_cluster = client.call(
        RemotingCommand::request(request_code::GET_TOPICS_BY_CLUSTER)
            .with_ext("cluster", &"DefaultCluster"),
    );
    assert_eq!(body_text(&by_cluster), r#"{"topicList":["OnlyB","T"]}"#);
    drop(client);
    namesrv.handle.shutdown().expect("clean shutdown");
}

#[test]
fn unknown_topic_gets_topic_not_exist_with_rocketmq_remark() {
    let namesrv = TestNamesrv::start();
    let mut client = namesrv.client();
    let response = client.call(route_request("Nope"));
    assert_eq!(response.code, response_code::TOPIC_NOT_EXIST);
    assert_eq!(
        response.remark.as_deref(),
        Some(
            "No topic route info in name server for the topic: Nope\n\
             See https://rocketmq.apache.org/docs/bestPractice/06FAQ for further details."
        )
    );
    assert!(response.body.is_empty());
}

#[test]
fn silent_broker_expires_after_its_heartbeat_timeout_but_fresh_one_stays() {
    let namesrv = TestNamesrv::start_with(|config| config.scan_not_active_broker_interval_ms = 50);
    let mut silent = namesrv.client();
    let mut short = broker("broker-a", 0, A_MASTER, &["Silent"]);
    short.heartbeat_timeout_ms = Some(300);
    assert_eq!(silent.call(short.register_request()).code, 0);
    let mut steady = namesrv.client();
    assert_eq!(
        steady
            .call(broker("broker-b", 0, B_MASTER, &["Steady"]).register_request())
            .code,
        0
    );
    assert_eq!(
        steady.call(route_request("Silent")).code,
        response_code::SUCCESS
    );

    let expired = eventually(Duration::from_secs(5), || {
        steady.call(route_request("Silent")).code == response_code::TOPIC_NOT_EXIST
    });
    assert!(
        expired,
        "a broker silent past its 300 ms timeout must be removed"
    );
    assert_eq!(
        steady.call(route_request("Steady")).code,
        response_code::SUCCESS
    );
    // RocketMQ closes an expired broker's channel.
    assert!(silent.is_closed_by_server());
    assert!(namesrv.log_text().contains("The broker channel expired"));
}

#[test]
fn broker_routes_disappear_when_its_connection_closes() {
    let namesrv = TestNamesrv::start();
    let mut registering = namesrv.client();
    assert_eq!(
        registering
            .call(broker("broker-a", 0, A_MASTER, &["T"]).register_request())
            .code,
        0
    );
    let mut observer = namesrv.client();
    assert_eq!(
        observer.call(route_request("T")).code,
        response_code::SUCCESS
    );
    drop(registering);
    let removed = eventually(Duration::from_secs(5), || {
        observer.call(route_request("T")).code == response_code::TOPIC_NOT_EXIST
    });
    assert!(
        removed,
        "closing the broker's connection must remove its routes"
    );
    let cluster = observer.call(RemotingCommand::request(
        request_code::GET_BROKER_CLUSTER_INFO,
    ));
    assert_eq!(
        body_text(&cluster),
        r#"{"brokerAddrTable":{},"clusterAddrTable":{}}"#
    );
}

#[test]
fn garbage_frame_closes_only_that_connection() {
    let namesrv = TestNamesrv::start();
    let mut healthy = namesrv.client();
    assert_eq!(
        healthy
            .call(broker("broker-a", 0, A_MASTER, &["T"]).register_request())
            .code,
        0
    );
    let mut bad = namesrv.client();
    // Valid length, serialize type 7, garbage header.
    bad.stream
        .write_all(&[0, 0, 0, 12, 7, 0, 0, 4, b'j', b'u', b'n', b'k', 1, 2, 3, 4])
        .unwrap();
    assert!(bad.is_closed_by_server());
    let mut bad_json = namesrv.client();
    bad_json
        .stream
        .write_all(&[0, 0, 0, 8, 0, 0, 0, 4, b'{', b'x', b'x', b'}'])
        .unwrap();
    assert!(bad_json.is_closed_by_server());
    assert_eq!(
        healthy.call(route_request("T")).code,
        response_code::SUCCESS
    );
    assert!(namesrv.log_text().contains("bad frame"));
}

#[test]
fn oversized_or_negative_length_closes_only_that_connection() {
    let namesrv = TestNamesrv::start();
    let mut healthy = namesrv.client();
    for prefix in [
        0x7FFF_FFFFu32.to_be_bytes(),
        0xFFFF_FFFFu32.to_be_bytes(),
        17_000_000u32.to_be_bytes(),
    ] {
        let mut bad = namesrv.client();
        bad.stream.write_all(&prefix).unwrap();
        assert!(
            bad.is_closed_by_server(),
            "prefix {prefix:?} must close the connection"
        );
        let ok = healthy.call(RemotingCommand::request(
            request_code::GET_BROKER_CLUSTER_INFO,
        ));
        assert_eq!(ok.code, response_code::SUCCESS);
    }
}

#[test]
fn unknown_request_code_gets_not_supported_with_java_remark() {
    let namesrv = TestNamesrv::start();
    let mut client = namesrv.client();
    let response = client.call(RemotingCommand::request(9999));
    assert_eq!(response.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
    assert_eq!(
        response.remark.as_deref(),
        Some(" request type 9999 not supported")
    );
}

#[test]
fn oneway_request_is_processed_without_a_reply() {
    let namesrv = TestNamesrv::start();
    let mut client = namesrv.client();
    let mut oneway = RemotingCommand::request(request_code::PUT_KV_CONFIG)
        .with_ext("namespace", &"ns")
        .with_ext("key", &"k")
        .with_ext("value", &"v");
    oneway.flag = FLAG_ONEWAY;
    oneway.opaque = 1000;
    client.send(&oneway);
    let mut unknown_oneway = RemotingCommand::request(9999);
    unknown_oneway.flag = FLAG_ONEWAY;
    unknown_oneway.opaque = 1001;
    client.send(&unknown_oneway);
    // The next frame on the wire must be the reply to this request, not to the oneways.
    let reply = client.call(
        RemotingCommand::request(request_code::GET_KV_CONFIG)
            .with_ext("namespace", &"ns")
            .with_ext("key", &"k"),
    );
    assert_eq!(reply.code, response_code::SUCCESS);
    assert_eq!(reply.ext("value"), Some("v"));
}

fn kv(code: i32, namespace: &str, key: &str) -> RemotingCommand {
    RemotingCommand::request(code)
        .with_ext("namespace", &namespace)
        .with_ext("key", &key)
}

#[test]
fn kv_config_round_trips_and_survives_restart() {
    let namesrv = TestNamesrv::start();
    let kv_path = namesrv.dir.path().join("namesrv").join("kvConfig.json");
    let mut client = namesrv.client();
    let put = client.call(
        kv(request_code::PUT_KV_CONFIG, "ORDER_TOPIC_CONFIG", "T").with_ext("value", &"broker-a:4"),
    );
    assert_eq!(put.code, response_code::SUCCESS);
    let got = client.call(kv(request_code::GET_KV_CONFIG, "ORDER_TOPIC_CONFIG", "T"));
    assert_eq!(got.ext("value"), Some("broker-a:4"));
    let list = client.call(
        RemotingCommand::request(request_code::GET_KVLIST_BY_NAMESPACE)
            .with_ext("namespace", &"ORDER_TOPIC_CONFIG"),
    );
    assert_eq!(body_text(&list), r#"{"table":{"T":"broker-a:4"}}"#);
    let missing = client.call(kv(request_code::GET_KV_CONFIG, "ORDER_TOPIC_CONFIG", "U"));
    assert_eq!(missing.code, response_code::QUERY_NOT_FOUND);
    assert_eq!(
        missing.remark.as_deref(),
        Some("No config item, Namespace: ORDER_TOPIC_CONFIG Key: U")
    );
    // A broker registering gets the order-topic table back.
    let registered = client.call(broker("broker-a", 0, A_MASTER, &["T"]).register_request());
    assert_eq!(body_text(&registered), r#"{"table":{"T":"broker-a:4"}}"#);
    drop(client);
    let TestNamesrv { handle, dir } = namesrv;
    handle.shutdown().unwrap();
    assert_eq!(
        std::fs::read_to_string(&kv_path).unwrap(),
        r#"{"configTable":{"ORDER_TOPIC_CONFIG":{"T":"broker-a:4"}}}"#
    );

    let restarted = TestNamesrv::start_with(|config| config.kv_config_path.clone_from(&kv_path));
    let mut client = restarted.client();
    let got = client.call(kv(request_code::GET_KV_CONFIG, "ORDER_TOPIC_CONFIG", "T"));
    assert_eq!(got.ext("value"), Some("broker-a:4"));
    let deleted = client.call(kv(
        request_code::DELETE_KV_CONFIG,
        "ORDER_TOPIC_CONFIG",
        "T",
    ));
    assert_eq!(deleted.code, response_code::SUCCESS);
    let gone = client.call(kv(request_code::GET_KV_CONFIG, "ORDER_TOPIC_CONFIG", "T"));
    assert_eq!(gone.code, response_code::QUERY_NOT_FOUND);
    drop(dir);
}

#[test]
fn register_with_wrong_body_crc_is_refused_and_not_applied() {
    let namesrv = TestNamesrv::start();
    let mut client = namesrv.client();
    let mut request = broker("broker-a", 0, A_MASTER, &["T"]).register_request();
    request.ext_fields.insert("bodyCrc32", "12345");
    let response = client.call(request);
    assert_eq!(response.code, response_code::SYSTEM_ERROR);
    assert_eq!(response.remark.as_deref(), Some("crc32 not match"));
    assert_eq!(
        client.call(route_request("T")).code,
        response_code::TOPIC_NOT_EXIST
    );
    let mut unchecked = broker("broker-a", 0, A_MASTER, &["T"]).register_request();
    unchecked.ext_fields.insert("bodyCrc32", "0");
    assert_eq!(client.call(unchecked).code, response_code::SUCCESS);
}

#[test]
fn missing_required_header_is_system_error_naming_the_field() {
    let namesrv = TestNamesrv::start();
    let mut client = namesrv.client();
    let response = client.call(RemotingCommand::request(
        request_code::GET_ROUTEINFO_BY_TOPIC,
    ));
    assert_eq!(response.code, response_code::SYSTEM_ERROR);
    assert!(response.remark.unwrap_or_default().contains("topic"));
}

#[test]
fn write_perm_switches_report_counts_and_change_routes() {
    let namesrv = TestNamesrv::start();
    let mut client = namesrv.client();
    client.call(broker("broker-a", 0, A_MASTER, &["T", "U"]).register_request());
    let wipe = client.call(
        RemotingCommand::request(request_code::WIPE_WRITE_PERM_OF_BROKER)
            .with_ext("brokerName", &"broker-a"),
    );
    assert_eq!(wipe.ext("wipeTopicCount"), Some("2"));
    assert!(body_text(&client.call(route_request("T"))).contains("\"perm\":4"));
    let add = client.call(
        RemotingCommand::request(request_code::ADD_WRITE_PERM_OF_BROKER)
            .with_ext("brokerName", &"broker-a"),
    );
    assert_eq!(add.ext("addTopicCount"), Some("2"));
    assert!(body_text(&client.call(route_request("T"))).contains("\"perm\":6"));
    let delete = client.call(
        RemotingCommand::request(request_code::DELETE_TOPIC_IN_NAMESRV).with_ext("topic", &"U"),
    );
    assert_eq!(delete.code, response_code::SUCCESS);
    assert_eq!(
        client.call(route_request("U")).code,
        response_code::TOPIC_NOT_EXIST
    );
}

#[test]
fn namesrv_config_reads_as_properties_and_updates_except_black_list() {
    let namesrv = TestNamesrv::start();
    let mut client = namesrv.client();
    let config = client.call(RemotingCommand::request(request_code::GET_NAMESRV_CONFIG));
    let text = body_text(&config);
    assert!(text.contains("enableAllTopicList=true\n"), "{text}");
    let update = client.call(
        RemotingCommand::request(request_code::UPDATE_NAMESRV_CONFIG)
            .with_body(&b"enableAllTopicList=false"[..]),
    );
    assert_eq!(update.code, response_code::SUCCESS);
    let all = client.call(RemotingCommand::request(
        request_code::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
    ));
    assert_eq!(all.code, response_code::SYSTEM_ERROR);
    assert_eq!(all.remark.as_deref(), Some("disable"));
    let refused = client.call(
        RemotingCommand::request(request_code::UPDATE_NAMESRV_CONFIG)
            .with_body(&b"kvConfigPath=/tmp/elsewhere"[..]),
    );
    assert_eq!(refused.code, response_code::NO_PERMISSION);
    let bad = client.call(
        RemotingCommand::request(request_code::UPDATE_NAMESRV_CONFIG)
            .with_body(&b"clusterTest=maybe"[..]),
    );
    assert_eq!(bad.code, response_code::INVALID_PARAMETER);
    assert!(bad.remark.unwrap_or_default().contains("clusterTest"));
}

#[test]
fn query_data_version_reports_change_and_refreshes_liveness() {
    let namesrv = TestNamesrv::start();
    let mut client = namesrv.client();
    client.call(broker("broker-a", 0, A_MASTER, &["T"]).register_request());
    let query = |counter: u64| {
        RemotingCommand::request(request_code::QUERY_DATA_VERSION)
            .with_ext("brokerName", &"broker-a")
            .with_ext("brokerAddr", &A_MASTER)
            .with_ext("clusterName", &"DefaultCluster")
            .with_ext("brokerId", &0)
            .with_body(format!(
                "{{\"counter\":{counter},\"stateVersion\":0,\"timestamp\":1700000000000}}"
            ))
    };
    let same = client.call(query(1));
    assert_eq!(same.ext("changed"), Some("false"));
    assert_eq!(
        body_text(&same),
        r#"{"counter":1,"stateVersion":0,"timestamp":1700000000000}"#
    );
    assert_eq!(client.call(query(2)).ext("changed"), Some("true"));
}

#[test]
fn many_clients_are_served_and_pipelined_requests_answer_in_order() {
    let namesrv = TestNamesrv::start();
    let mut clients: Vec<Client> = (0..50).map(|_| namesrv.client()).collect();
    clients[0].call(broker("broker-a", 0, A_MASTER, &["T"]).register_request());
    for client in &mut clients[1..] {
        assert_eq!(client.call(route_request("T")).code, response_code::SUCCESS);
    }
    let client = &mut clients[1];
    for opaque in 100..400 {
        let mut request = route_request("T");
        request.opaque = opaque;
        client.send(&request);
    }
    for opaque in 100..400 {
        assert_eq!(client.receive().unwrap().opaque, opaque);
    }
}

#[test]
fn broker_heartbeat_keeps_a_broker_alive_and_member_group_lists_its_addresses() {
    let namesrv = TestNamesrv::start_with(|config| config.scan_not_active_broker_interval_ms = 50);
    let mut client = namesrv.client();
    let mut master = broker("broker-a", 0, A_MASTER, &["T"]);
    master.heartbeat_timeout_ms = Some(400);
    client.call(master.register_request());
    client.call(broker("broker-a", 1, A_SLAVE, &["T"]).register_request());
    let heartbeat = RemotingCommand::request(request_code::BROKER_HEARTBEAT)
        .with_ext("clusterName", &"DefaultCluster")
        .with_ext("brokerAddr", &A_MASTER)
        .with_ext("brokerName", &"broker-a");
    for _ in 0..8 {
        assert_eq!(client.call(heartbeat.clone()).code, response_code::SUCCESS);
        ringmq_namesrv::clock::pause(Duration::from_millis(100));
    }
    let group = client.call(
        RemotingCommand::request(request_code::GET_BROKER_MEMBER_GROUP)
            .with_ext("clusterName", &"DefaultCluster")
            .with_ext("brokerName", &"broker-a"),
    );
    assert_eq!(
        body_text(&group),
        format!(
            "{{\"brokerMemberGroup\":{{\"brokerAddrs\":{{\"0\":\"{A_MASTER}\",\"1\":\"{A_SLAVE}\"}},\
             \"brokerName\":\"broker-a\",\"cluster\":\"DefaultCluster\"}}}}"
        )
    );
}
