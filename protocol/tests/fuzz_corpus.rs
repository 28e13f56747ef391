//! Goal: every decoder returns `Err` on bad input and never panics, and every input the fuzzer
//! (or a person) ever found interesting keeps passing.
//! Method: replay each file of `protocol/fuzz/corpus/<target>/` through the same entry point the
//! cargo-fuzz target uses (`ringmq_protocol::fuzz::TARGETS`). The seed files are written by the
//! ignored test `regenerate_seed_corpus` (run it with `--ignored` after changing the seeds);
//! files added by fuzzing runs are committed beside them.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns may unwrap too"
)]

use std::net::SocketAddr;
use std::panic;
use std::path::{Path, PathBuf};

use ringmq_protocol::batch;
use ringmq_protocol::command::{Language, RemotingCommand, SerializeType};
use ringmq_protocol::frame;
use ringmq_protocol::fuzz::TARGETS;
use ringmq_protocol::record::{self, MessageDraft, StoreStamp};
use ringmq_protocol::serialize::rocketmq;

/// Named seed files of one target.
type Seeds = Vec<(String, Vec<u8>)>;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
        .join(target)
}

#[test]
fn every_corpus_file_decodes_without_panicking() {
    let mut failures = Vec::new();
    for (target, entry_point) in TARGETS {
        let directory = corpus_dir(target);
        let files: Vec<PathBuf> = std::fs::read_dir(&directory)
            .unwrap_or_else(|error| panic!("corpus {} unreadable: {error}", directory.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        assert!(
            !files.is_empty(),
            "corpus {} has no seeds",
            directory.display()
        );
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if panic::catch_unwind(|| entry_point(&data)).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "decoders panicked on: {failures:#?}");
}

#[test]
fn every_fuzz_target_has_a_corpus_directory_and_a_fuzz_binary() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz")
            .join("Cargo.toml"),
    )
    .unwrap();
    for (target, _) in TARGETS {
        assert!(corpus_dir(target).is_dir(), "no corpus for {target}");
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "fuzz/Cargo.toml lacks a [[bin]] for {target}"
        );
    }
}

/// Writes the seed corpus. Not a check: run with `cargo test -p ringmq-protocol --test
/// fuzz_corpus -- --ignored` after editing the seeds, then commit the files.
#[test]
#[ignore = "writes files; run by hand to regenerate the seed corpus"]
fn regenerate_seed_corpus() {
    let seeds: [(&str, Seeds); 10] = [
        ("frame_decode", frame_seeds()),
        ("json_header", json_header_seeds()),
        ("binary_header", binary_header_seeds()),
        ("record_scan", record_seeds()),
        ("batch_body", batch_seeds()),
        ("body_route", text_seeds(ROUTE_SEEDS)),
        ("body_heartbeat", text_seeds(HEARTBEAT_SEEDS)),
        ("body_register", text_seeds(REGISTER_SEEDS)),
        ("body_consumer", text_seeds(CONSUMER_SEEDS)),
        ("body_kv_table", text_seeds(KV_TABLE_SEEDS)),
    ];
    for (target, files) in seeds {
        let directory = corpus_dir(target);
        std::fs::create_dir_all(&directory).unwrap();
        for (name, bytes) in files {
            std::fs::write(directory.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
}

fn frame_of(header: &[u8], serialize_type: u8, body: &[u8]) -> Vec<u8> {
    let length = u32::try_from(4 + header.len() + body.len()).unwrap();
    let word = (u32::from(serialize_type) << 24) | u32::try_from(header.len()).unwrap();
    let mut bytes = length.to_be_bytes().to_vec();
    bytes.extend_from_slice(&word.to_be_bytes());
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(body);
    bytes
}

fn send_v2_request(serialize_type: SerializeType) -> RemotingCommand {
    let mut command = RemotingCommand::request(310).with_body(&b"hello world"[..]);
    for (key, value) in [
        ("a", "ProducerGroup"),
        ("b", "TopicTest"),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "3"),
        ("f", "0"),
        ("g", "1700000000000"),
        ("h", "0"),
        (
            "i",
            "TAGS\u{1}TagA\u{2}WAIT\u{1}true\u{2}UNIQ_KEY\u{1}0A0000010000000000000001\u{2}",
        ),
        ("j", "0"),
        ("k", "false"),
        ("m", "false"),
        ("n", "broker-a"),
    ] {
        command.ext_fields.insert(key, value);
    }
    command.opaque = 42;
    command.serialize_type = serialize_type;
    command
}

fn send_response(serialize_type: SerializeType) -> RemotingCommand {
    let request = send_v2_request(serialize_type);
    RemotingCommand::response_to(&request, 0, None)
        .with_ext("msgId", &"0A00000100002A9F0000000000000000")
        .with_ext("queueId", &3)
        .with_ext("queueOffset", &17)
        .with_ext("MSG_REGION", &"DefaultRegion")
        .with_ext("TRACE_ON", &"true")
}

fn encoded(command: &RemotingCommand) -> Vec<u8> {
    let mut bytes = Vec::new();
    frame::encode(command, &mut bytes);
    bytes
}

fn frame_seeds() -> Seeds {
    let mut seeds: Seeds = Vec::new();
    for (name, header) in client_headers() {
        seeds.push((format!("json-{name}"), frame_of(header.as_bytes(), 0, b"")));
    }
    let route = frame_of(JAVA_ROUTE_HEADER.as_bytes(), 0, b"");
    let mut pull = RemotingCommand::response_to(&RemotingCommand::request(11), 19, None);
    pull.serialize_type = SerializeType::RocketMq;
    pull = pull
        .with_ext("suggestWhichBrokerId", &0)
        .with_ext("nextBeginOffset", &5)
        .with_ext("minOffset", &0)
        .with_ext("maxOffset", &5);
    let mut two = encoded(&send_v2_request(SerializeType::Json));
    two.extend_from_slice(&encoded(&send_response(SerializeType::Json)));
    let mut with_remark = send_response(SerializeType::RocketMq);
    with_remark.remark = Some("topic[x] not exist, apply first please!".to_owned());
    seeds.extend([
        (
            "json-send-v2-request".to_owned(),
            encoded(&send_v2_request(SerializeType::Json)),
        ),
        (
            "binary-send-v2-request".to_owned(),
            encoded(&send_v2_request(SerializeType::RocketMq)),
        ),
        (
            "json-send-response".to_owned(),
            encoded(&send_response(SerializeType::Json)),
        ),
        (
            "binary-send-response-remark".to_owned(),
            encoded(&with_remark),
        ),
        ("binary-pull-not-found".to_owned(), encoded(&pull)),
        ("two-frames".to_owned(), two),
        ("truncated-3".to_owned(), route[..3].to_vec()),
        ("truncated-7".to_owned(), route[..7].to_vec()),
        ("truncated-100".to_owned(), route[..100].to_vec()),
        (
            "length-max".to_owned(),
            vec![0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0],
        ),
        (
            "length-negative".to_owned(),
            vec![0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0],
        ),
        ("length-too-small".to_owned(), vec![0, 0, 0, 3, 0, 0, 0]),
        ("type-2".to_owned(), frame_of(b"{}", 2, b"")),
        (
            "header-overrun".to_owned(),
            vec![0, 0, 0, 8, 0, 0, 0, 9, b'{', b'}', 0, 0],
        ),
        (
            "garbled-json".to_owned(),
            frame_of(b"{\"code\":105,\"extFields\":{", 0, b"x"),
        ),
        (
            "binary-in-json-frame".to_owned(),
            frame_of(&ROUTE_BINARY_HEADER, 0, b""),
        ),
        (
            "json-in-binary-frame".to_owned(),
            frame_of(JAVA_ROUTE_HEADER.as_bytes(), 1, b""),
        ),
    ]);
    let mut garbled = route.clone();
    garbled[40] = 0xff;
    seeds.push(("garbled-byte".to_owned(), garbled));
    seeds.push(("java-route".to_owned(), route));
    seeds
}

const JAVA_ROUTE_HEADER: &str = "{\"code\":105,\"extFields\":{\"topic\":\"T\"},\"flag\":0,\
\"language\":\"JAVA\",\"opaque\":1,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":475}";

const ROUTE_BINARY_HEADER: [u8; 33] = [
    0x00, 0x69, 0x00, 0x01, 0xdb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x05, 0x74, 0x6f, 0x70, 0x69, 0x63, 0x00, 0x00, 0x00, 0x01,
    0x54,
];

/// Headers as real clients write them (reference §1.3, §6).
fn client_headers() -> Vec<(&'static str, String)> {
    vec![
        ("java-route", JAVA_ROUTE_HEADER.to_owned()),
        (
            "ali-ons-pull",
            r#"{"code":11,"language":"JAVA","opaque":7,"flag":0,"version":121,"extFields":{"consumerGroup":"G","topic":"T","queueId":0,"queueOffset":12,"maxMsgNums":32,"sysFlag":6,"commitOffset":0,"suspendTimeoutMillis":15000,"subscription":"*","subVersion":1690000000000,"unitMode":false}}"#.to_owned(),
        ),
        (
            "cpp-send-v2-trailing-newline",
            "{\"code\":310,\"extFields\":{\"AccessKey\":\"\",\"OnsChannel\":\"\",\"Signature\":\"\",\"a\":\"P\",\"b\":\"T\",\"c\":\"TBW102\",\"d\":4,\"e\":1,\"f\":0,\"g\":\"1700000000000\",\"h\":0,\"i\":\"TAGS\\u0001A\\u0002\",\"j\":0,\"k\":false,\"l\":16,\"m\":false},\"flag\":0,\"language\":\"CPP\",\"opaque\":3,\"remark\":\"\",\"version\":333}\n".to_owned(),
        ),
        (
            "go-send-empty-remark",
            r#"{"code":10,"language":"GO","version":317,"opaque":9,"flag":0,"remark":"","extFields":{"producerGroup":"P","topic":"T","defaultTopic":"TBW102","defaultTopicQueueNums":"4","queueId":"0","sysFlag":"0","bornTimestamp":"1700000000000","flag":"0","bname":"broker-a"}}"#.to_owned(),
        ),
        (
            "rust-heartbeat-null-remark",
            r#"{"code":34,"language":"RUST","version":474,"opaque":1,"flag":0,"remark":null,"extFields":{},"serializeTypeCurrentRPC":"JSON"}"#.to_owned(),
        ),
        (
            "pretty-printed",
            "{\n  \"opaque\" : 1 ,\n  \"code\" : 105,\n  \"extFields\" : { \"topic\" : \"T\" }\n}\n".to_owned(),
        ),
        (
            "ext-fields-null",
            r#"{"code":106,"extFields":null,"flag":0,"language":"JAVA","opaque":2,"version":475}"#.to_owned(),
        ),
        (
            "unicode-escapes",
            r#"{"code":105,"extFields":{"topic":"\u00e9\ud83d\ude00\"\\","k\u0001":"v"},"opaque":1}"#.to_owned(),
        ),
        ("lone-surrogate", r#"{"code":105,"extFields":{"topic":"\ud83d"}}"#.to_owned()),
        (
            "odd-values",
            r#"{"code":"105","language":12,"flag":1.0,"extFields":{"n":null,"f":1.5,"big":18446744073709551615,"o":{"x":[1,true]},"a":[]}}"#.to_owned(),
        ),
        ("unknown-language", r#"{"code":105,"language":"COBOL","opaque":1}"#.to_owned()),
        ("code-out-of-range", r#"{"code":99999999999,"opaque":1}"#.to_owned()),
        ("duplicate-keys", r#"{"code":1,"code":2}"#.to_owned()),
        ("not-an-object", "[1,2,3]".to_owned()),
        ("empty", String::new()),
        ("deep-nesting", format!("{{\"extFields\":{{\"a\":{}{}}}}}", "[".repeat(600), "]".repeat(600))),
    ]
}

fn json_header_seeds() -> Seeds {
    let mut seeds: Seeds = client_headers()
        .into_iter()
        .map(|(name, header)| (name.to_owned(), header.into_bytes()))
        .collect();
    seeds.push((
        "truncated".to_owned(),
        JAVA_ROUTE_HEADER.as_bytes()[..60].to_vec(),
    ));
    seeds
}

fn binary_header_seeds() -> Seeds {
    let mut with_remark = send_response(SerializeType::RocketMq);
    with_remark.remark = Some("r\u{e9}mark".to_owned());
    let mut remark_bytes = Vec::new();
    rocketmq::encode(&with_remark, &mut remark_bytes);
    let mut send = Vec::new();
    rocketmq::encode(&send_v2_request(SerializeType::RocketMq), &mut send);
    let mut negative_remark = ROUTE_BINARY_HEADER.to_vec();
    negative_remark[13..17].copy_from_slice(&(-1i32).to_be_bytes());
    let mut negative_key = ROUTE_BINARY_HEADER.to_vec();
    negative_key[21..23].copy_from_slice(&(-5i16).to_be_bytes());
    let mut huge_ext = ROUTE_BINARY_HEADER.to_vec();
    huge_ext[17..21].copy_from_slice(&i32::MAX.to_be_bytes());
    let mut trailing = ROUTE_BINARY_HEADER.to_vec();
    trailing.push(0);
    let mut not_utf8 = ROUTE_BINARY_HEADER.to_vec();
    not_utf8[32] = 0xff;
    let mut unknown_language = ROUTE_BINARY_HEADER.to_vec();
    unknown_language[2] = 200;
    vec![
        ("java-route".to_owned(), ROUTE_BINARY_HEADER.to_vec()),
        ("send-v2".to_owned(), send),
        ("response-remark".to_owned(), remark_bytes),
        ("negative-remark".to_owned(), negative_remark),
        ("negative-key".to_owned(), negative_key),
        ("huge-ext".to_owned(), huge_ext),
        ("trailing".to_owned(), trailing),
        ("not-utf8".to_owned(), not_utf8),
        ("unknown-language".to_owned(), unknown_language),
        (
            "truncated-10".to_owned(),
            ROUTE_BINARY_HEADER[..10].to_vec(),
        ),
        (
            "truncated-25".to_owned(),
            ROUTE_BINARY_HEADER[..25].to_vec(),
        ),
    ]
}

fn record_bytes(topic: &str, born_host: SocketAddr, store_host: SocketAddr) -> Vec<u8> {
    let draft = MessageDraft {
        topic,
        queue_id: 1,
        flag: 0,
        body: b"hello",
        properties: "TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}0A00000100000000000000A1\u{2}",
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host,
        store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    };
    let mut bytes = vec![0; draft.encoded_len().unwrap()];
    let stamp = StoreStamp {
        queue_offset: 7,
        physical_offset: 4096,
        store_timestamp: 1_700_000_000_100,
    };
    draft.encode(stamp, &mut bytes).unwrap();
    bytes
}

fn record_seeds() -> Seeds {
    let v4: SocketAddr = "10.0.0.1:10911".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::1]:10911".parse().unwrap();
    let v1 = record_bytes("TopicTest", v4, v4);
    let v2 = record_bytes(&"L".repeat(200), v4, v4);
    let ipv6 = record_bytes("TopicTest", v6, v6);
    let mut blank = vec![0; 64];
    record::encode_blank(64, &mut blank);
    let mut bad_crc = v1.clone();
    let last = bad_crc.len() - 80;
    bad_crc[last] ^= 0xff;
    let mut bad_magic = v1.clone();
    bad_magic[4] = 0;
    let mut two = v1.clone();
    two.extend_from_slice(&v1);
    vec![
        ("v1-ipv4".to_owned(), v1.clone()),
        ("v2-long-topic".to_owned(), v2),
        ("ipv6-hosts".to_owned(), ipv6),
        ("blank".to_owned(), blank),
        ("body-crc-mismatch".to_owned(), bad_crc),
        ("bad-magic".to_owned(), bad_magic),
        ("two-records".to_owned(), two),
        ("truncated".to_owned(), v1[..v1.len() - 3].to_vec()),
        ("header-only".to_owned(), v1[..12].to_vec()),
    ]
}

fn batch_seeds() -> Seeds {
    let mut two = Vec::new();
    batch::encode_entry(
        0,
        b"first",
        "UNIQ_KEY\u{1}A1\u{2}KEYS\u{1}k1\u{2}",
        &mut two,
    );
    batch::encode_entry(3, b"", "UNIQ_KEY\u{1}A2\u{2}", &mut two);
    let mut negative_body = two.clone();
    negative_body[16..20].copy_from_slice(&(-1i32).to_be_bytes());
    let mut mismatch = two.clone();
    mismatch[3] = mismatch[3].wrapping_add(1);
    let mut negative_properties = Vec::new();
    batch::encode_entry(0, b"x", "", &mut negative_properties);
    let at = negative_properties.len() - 2;
    negative_properties[at..].copy_from_slice(&(-2i16).to_be_bytes());
    vec![
        ("two-entries".to_owned(), two.clone()),
        ("truncated".to_owned(), two[..two.len() - 4].to_vec()),
        ("negative-body".to_owned(), negative_body),
        ("size-mismatch".to_owned(), mismatch),
        ("negative-properties".to_owned(), negative_properties),
        ("short".to_owned(), two[..10].to_vec()),
    ]
}

fn text_seeds(seeds: &[(&str, &str)]) -> Seeds {
    let mut files: Seeds = seeds
        .iter()
        .map(|(name, text)| ((*name).to_owned(), text.as_bytes().to_vec()))
        .collect();
    // A truncated copy of each, since partial bodies are the commonest real corruption.
    for (name, text) in seeds {
        let half = text.len() / 2;
        files.push((
            format!("{name}-truncated"),
            text.as_bytes()[..half].to_vec(),
        ));
    }
    files
}

const ROUTE_SEEDS: &[(&str, &str)] = &[
    (
        "standard",
        r#"{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#,
    ),
    (
        "legacy-unquoted",
        r#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"C"}],"orderTopicConf":"broker-a:4","queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"writeQueueNums":4}]}"#,
    ),
    (
        "cluster-info",
        r#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{"0":"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"C","enableActingMaster":false}},"clusterAddrTable":{"C":["broker-a"]}}"#,
    ),
    (
        "topic-list",
        r#"{"topicList":["T1","T2","%RETRY%G"],"brokerAddr":null}"#,
    ),
    (
        "bad-broker-id",
        r#"{"brokerDatas":[{"brokerAddrs":{"x":"a"}}]}"#,
    ),
];

const HEARTBEAT_SEEDS: &[(&str, &str)] = &[
    (
        "java",
        r#"{"clientID":"10.0.0.5@12345","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"G","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"T"}],"unitMode":false}],"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"P"}],"withoutSub":false}"#,
    ),
    (
        "ali-ons-nulls",
        r#"{"clientID":"10.0.0.5@1","producerDataSet":[],"consumerDataSet":[{"groupName":"G","consumeType":"CONSUME_PASSIVELY","messageModel":"BROADCASTING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","unitMode":false,"subscriptionDataSet":[{"topic":"T","subString":"*","classFilterMode":false,"tagsSet":[],"codeSet":[],"subVersion":1690000000000,"expressionType":null}]}]}"#,
    ),
    (
        "unknown-enum",
        r#"{"clientID":"c","consumerDataSet":[{"consumeType":"CONSUME_SIDEWAYS"}]}"#,
    ),
    ("wrong-type", r#"{"clientID":5,"consumerDataSet":{}}"#),
];

const REGISTER_SEEDS: &[(&str, &str)] = &[
    (
        "java",
        r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},"topicConfigTable":{"T":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":4}},"topicQueueMappingInfoMap":{},"topicQueueMappingDetailMap":{},"mappingDataVersion":{"counter":0,"stateVersion":0,"timestamp":0}}}"#,
    ),
    (
        "topic-config",
        r#"{"attributes":{"+message.type":"NORMAL"},"order":true,"perm":7,"readQueueNums":8,"topicFilterType":"MULTI_TAG","topicName":"TBW102","topicSysFlag":0,"writeQueueNums":8}"#,
    ),
    (
        "data-version",
        r#"{"counter":1,"stateVersion":0,"timestamp":1700000000000}"#,
    ),
    ("zlib-magic", "x\u{9c}\u{1}\u{2}"),
    ("bad-filter-type", r#"{"topicFilterType":"EVERY_TAG"}"#),
];

const CONSUMER_SEEDS: &[(&str, &str)] = &[
    (
        "offset-table-java",
        r#"{"offsetTable":{"T@G":{0:123,1:45},"%RETRY%G@G":{0:0}}}"#,
    ),
    (
        "lock-batch",
        r#"{"clientId":"c","consumerGroup":"G","mqSet":[{"brokerName":"b","queueId":0,"topic":"T"}],"onlyThisBroker":false}"#,
    ),
    (
        "lock-response",
        r#"{"lockOKMQSet":[{"brokerName":"b","queueId":1,"topic":"T"}]}"#,
    ),
    (
        "consumer-id-list",
        r#"{"consumerIdList":["10.0.0.5@1","10.0.0.6@2"]}"#,
    ),
    (
        "subscription-group",
        r#"{"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,"consumeMessageOrderly":false,"consumeTimeoutMinute":15,"groupName":"G","groupRetryPolicy":{"type":"CUSTOMIZED"},"groupSysFlag":0,"notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,"retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}"#,
    ),
    (
        "subscription-wrapper",
        r#"{"dataVersion":{"counter":1},"forbiddenTable":{},"subscriptionGroupTable":{"G":{"groupName":"G"}}}"#,
    ),
];

const KV_TABLE_SEEDS: &[(&str, &str)] = &[
    (
        "runtime-info",
        r#"{"table":{"brokerVersionDesc":"V5_3_1","putTps":"0.0 0.0 0.0","commitLogDiskRatio":"0.1"}}"#,
    ),
    ("numeric-value", r#"{"table":{"a":1}}"#),
];

#[test]
fn seed_headers_decode_as_clients_meant_them() {
    // The seeds double as compatibility cases: the client variants must decode, not just not
    // panic.
    for (name, header) in client_headers() {
        let frame = frame_of(header.as_bytes(), 0, b"");
        let decoded = frame::decode(&frame, frame::FRAME_BYTES_MAX_DEFAULT);
        let should_decode = !matches!(
            name,
            "lone-surrogate"
                | "code-out-of-range"
                | "duplicate-keys"
                | "not-an-object"
                | "empty"
                | "deep-nesting"
        );
        assert_eq!(decoded.is_ok(), should_decode, "{name}: {decoded:?}");
    }
    let cpp = client_headers()[2].1.clone();
    let command = ringmq_protocol::serialize::json::decode(cpp.as_bytes()).unwrap();
    assert_eq!(command.language, Language::Cpp);
    assert_eq!(command.ext("d"), Some("4"));
    assert_eq!(command.ext("k"), Some("false"));
}
