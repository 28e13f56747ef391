//! Goal: a name server and a broker started as real processes serve the RocketMQ produce and
//! consume paths end to end: route of TBW102, a send that auto-creates its topic, the new
//! route, a pull that returns the stored record byte-compatible, offsets, and a clean
//! SIGTERM shutdown that removes `abort`.
//! Method: `ringmq namesrv` and `ringmq broker -c` on free loopback ports with a temporary
//! store, driven by a minimal remoting client.

#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end tests wait on real processes with wall-clock sleeps"
)]
#![allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]

mod support;

use ringmq_protocol::body::route::TopicRouteData;
use ringmq_protocol::body::JsonBody;
use ringmq_protocol::record;
use ringmq_protocol::{request_code as code, response_code};
use support::*;

fn send(
    client: &mut Client,
    topic: &str,
    queue: i32,
    body: &[u8],
) -> ringmq_protocol::command::RemotingCommand {
    let mut message = request(
        code::SEND_MESSAGE_V2,
        &[
            ("a", "P"),
            ("b", topic),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", &queue.to_string()),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("i", "TAGS\u{1}TagA\u{2}KEYS\u{1}k1\u{2}"),
        ],
    );
    message.body = body.to_vec().into();
    client.call(message)
}

#[test]
fn a_message_sent_to_a_new_topic_is_routed_pulled_and_survives_a_clean_restart() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (namesrv, namesrv_address) = start_namesrv(directory.path());
    let (properties, port) = broker_properties(directory.path(), &namesrv_address, "");
    let broker = start_broker(&properties);
    let broker_address = format!("127.0.0.1:{port}");

    let mut names = Client::connect(&namesrv_address);
    let mut route = names.call(request(
        code::GET_ROUTEINFO_BY_TOPIC,
        &[("topic", "TBW102")],
    ));
    for _ in 0..50 {
        if route.code == response_code::SUCCESS {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        route = names.call(request(
            code::GET_ROUTEINFO_BY_TOPIC,
            &[("topic", "TBW102")],
        ));
    }
    assert_eq!(
        route.code,
        response_code::SUCCESS,
        "TBW102 registered: {:?}",
        route.remark
    );

    let mut client = Client::connect(&broker_address);
    let sent = send(&mut client, "SmokeTopic", 1, b"hello ringmq");
    assert_eq!(sent.code, response_code::SUCCESS, "{:?}", sent.remark);
    let msg_id = sent.ext("msgId").expect("msgId").to_owned();
    let (host, offset) = record::decode_offset_msg_id(&msg_id).expect("offsetMsgId decodes");
    assert_eq!(host.to_string(), broker_address);
    assert_eq!(sent.ext("queueOffset"), Some("0"));
    assert_eq!(sent.ext("MSG_REGION"), Some("DefaultRegion"));

    std::thread::sleep(std::time::Duration::from_millis(300));
    let route = names.call(request(
        code::GET_ROUTEINFO_BY_TOPIC,
        &[("topic", "SmokeTopic")],
    ));
    assert_eq!(route.code, response_code::SUCCESS, "{:?}", route.remark);
    let data = TopicRouteData::decode(&route.body).expect("route json");
    assert_eq!(data.queue_datas[0].write_queue_nums, 4);

    let pull = client.call(request(
        code::PULL_MESSAGE,
        &[
            ("consumerGroup", "G"),
            ("topic", "SmokeTopic"),
            ("queueId", "1"),
            ("queueOffset", "0"),
            ("maxMsgNums", "32"),
            ("sysFlag", "4"),
            ("commitOffset", "0"),
            ("suspendTimeoutMillis", "0"),
            ("subscription", "*"),
            ("subVersion", "0"),
        ],
    ));
    assert_eq!(pull.code, response_code::SUCCESS, "{:?}", pull.remark);
    assert_eq!(pull.ext("nextBeginOffset"), Some("1"));
    let records = record::decode_all(&pull.body).expect("records");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].body, b"hello ringmq");
    assert_eq!(records[0].physical_offset, offset);

    let view = client.call(request(
        code::VIEW_MESSAGE_BY_ID,
        &[("offset", &offset.to_string())],
    ));
    assert_eq!(view.code, response_code::SUCCESS);
    assert_eq!(
        record::decode(&view.body).expect("record").body,
        b"hello ringmq"
    );

    let empty = client.call(request(
        code::PULL_MESSAGE,
        &[
            ("consumerGroup", "G"),
            ("topic", "SmokeTopic"),
            ("queueId", "1"),
            ("queueOffset", "1"),
            ("maxMsgNums", "32"),
            ("sysFlag", "4"),
            ("commitOffset", "0"),
            ("suspendTimeoutMillis", "0"),
            ("subscription", "*"),
            ("subVersion", "0"),
        ],
    ));
    assert_eq!(empty.code, response_code::PULL_NOT_FOUND);
    assert_eq!(
        empty.ext("maxOffset"),
        Some("1"),
        "mandatory fields even when not found"
    );

    assert!(broker.terminate().success(), "clean shutdown");
    assert!(
        !directory.path().join("store/abort").exists(),
        "abort removed by a clean shutdown"
    );
    let broker = start_broker(&properties);
    let mut client = Client::connect(&broker_address);
    let view = client.call(request(
        code::VIEW_MESSAGE_BY_ID,
        &[("offset", &offset.to_string())],
    ));
    assert_eq!(
        view.code,
        response_code::SUCCESS,
        "the record survived the restart"
    );
    drop(broker);
    drop(namesrv);
}
