//! Goal: the broker configuration files real deployment guides tell people to write start as
//! real `ringmq broker -c` processes when they are right, and the faulty ones make the process
//! exit non-zero with an error on stderr that names the file line, key, value and what was
//! expected. Two brokers that collide on one host fail the same way: the second on the same
//! store with `Lock failed, MQ already started`, the second on the same ports naming the port
//! and what it is for.
//! Method: the verbatim seed fixtures from `broker/tests/fixtures/seeds/` (provenance in its
//! SOURCES.md) are rewritten line by line, so line numbers do not move: store paths into a
//! temporary directory, addresses to 127.0.0.1, `listenPort` to a free port, `namesrvAddr` to a
//! name server started for the test, and the 1 GiB commitlog segments to 64 MiB. Keys a file
//! lacks (`listenPort`, `namesrvAddr`, `shards`, `logDir`) are appended after its last line, and
//! `HOME` points at the temporary directory, so `~` defaults land there too.

#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end tests wait on real processes with wall-clock sleeps"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use ringmq_protocol::body::route::TopicRouteData;
use ringmq_protocol::body::JsonBody;
use ringmq_protocol::{request_code as code, response_code};
use support::{free_port_block, request, start_namesrv, Client, Process, BINARY};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/broker/tests/fixtures/seeds");

const PATH_KEYS: &[&str] = &[
    "storePathRootDir",
    "storePathCommitLog",
    "storePathConsumeQueue",
    "storePathIndex",
    "storeCheckpoint",
    "abortFile",
];

/// Commitlog segment size for tests: small enough that preallocation is cheap.
const SEGMENT_BYTES: &str = "67108864";

/// One seed file made runnable on this host.
struct Localized {
    path: PathBuf,
    port: u16,
}

/// Rewrite `fixture` for a run under `tmp` (see the module doc); `port` becomes its listenPort.
fn localize(fixture: &str, tmp: &Path, namesrv: &str, port: u16) -> Localized {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join(fixture)).expect("fixture exists");
    let mut seen_port = false;
    let mut seen_namesrv = false;
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line
            .split_once('=')
            .filter(|_| !line.trim_start().starts_with('#'))
        else {
            lines.push(line.to_owned());
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let rewritten = if PATH_KEYS.contains(&key) {
            let relative = value.trim_start_matches(['.', '/']);
            format!("{key}={}", tmp.join(relative).display())
        } else {
            match key {
                "brokerIP1" | "brokerIP2" => format!("{key}=127.0.0.1"),
                "listenPort" => {
                    seen_port = true;
                    format!("listenPort={port}")
                }
                "namesrvAddr" => {
                    seen_namesrv = true;
                    format!("namesrvAddr={namesrv}")
                }
                "haMasterAddress" => format!("haMasterAddress=127.0.0.1:{}", port + 1),
                "mapedFileSizeCommitLog" | "mappedFileSizeCommitLog" => {
                    format!("{key}={SEGMENT_BYTES}")
                }
                _ => line.to_owned(),
            }
        };
        lines.push(rewritten);
    }
    if !seen_port {
        lines.push(format!("listenPort={port}"));
    }
    if !seen_namesrv {
        lines.push(format!("namesrvAddr={namesrv}"));
    }
    lines.push("shards=2".to_owned());
    lines.push(format!("logDir={}", tmp.join("logs").display()));
    let path = tmp.join(fixture.replace('/', "-"));
    std::fs::write(&path, lines.join("\n") + "\n").expect("write localized config");
    Localized { path, port }
}

fn start_seed_broker(config: &Path, home: &Path) -> Process {
    Process::start(
        "broker",
        &["broker", "-c", config.to_str().expect("utf8")],
        "boot success",
        &[("HOME", home.to_str().expect("utf8"))],
    )
}

/// Run `ringmq broker -c config` to completion; panics if it is still running after 20 s
/// (a broker that should have refused to start but serves instead).
fn broker_exit(config: &Path, home: &Path) -> (ExitStatus, String) {
    let mut child = Command::new(BINARY)
        .args(["broker", "-c", config.to_str().expect("utf8")])
        .env("HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn broker");
    for _ in 0..200 {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let output = child.wait_with_output().expect("stderr");
            return (status, String::from_utf8_lossy(&output.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "broker -c {} kept running; it should have refused to start",
        config.display()
    );
}

/// Route of `topic` from the name server once `broker_name` is in it.
fn wait_for_route(namesrv: &str, topic: &str, broker_name: &str) -> TopicRouteData {
    let mut names = Client::connect(namesrv);
    for _ in 0..100 {
        let reply = names.call(request(code::GET_ROUTEINFO_BY_TOPIC, &[("topic", topic)]));
        if reply.code == response_code::SUCCESS {
            let route = TopicRouteData::decode(&reply.body).expect("route json");
            if route
                .broker_datas
                .iter()
                .any(|b| b.broker_name == broker_name)
            {
                return route;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{broker_name} never registered {topic} with the name server");
}

/// Send one message and pull it back: the broker the file describes serves.
fn assert_serves(address: &str, topic: &str) {
    let mut client = Client::connect(address);
    let mut message = request(
        code::SEND_MESSAGE_V2,
        &[
            ("a", "SeedProducer"),
            ("b", topic),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "0"),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("i", "TAGS\u{1}TagA\u{2}"),
        ],
    );
    message.body = b"from a seed config".to_vec().into();
    let sent = client.call(message);
    // A SYNC_MASTER without a slave may answer SLAVE_NOT_AVAILABLE, which clients count as
    // stored (the message is on the master's disk).
    assert!(
        [response_code::SUCCESS, response_code::SLAVE_NOT_AVAILABLE].contains(&sent.code),
        "send to {address}: code {} {:?}",
        sent.code,
        sent.remark
    );
    let mut records = Vec::new();
    for _ in 0..40 {
        let pull = client.call(request(
            code::PULL_MESSAGE,
            &[
                ("consumerGroup", "SeedConsumer"),
                ("topic", topic),
                ("queueId", "0"),
                ("queueOffset", "0"),
                ("maxMsgNums", "32"),
                ("sysFlag", "4"),
                ("commitOffset", "0"),
                ("suspendTimeoutMillis", "0"),
                ("subscription", "*"),
                ("subVersion", "0"),
            ],
        ));
        if pull.code == response_code::SUCCESS {
            records = ringmq_protocol::record::decode_all(&pull.body)
                .expect("records")
                .into_iter()
                .map(|r| r.body.to_vec())
                .collect();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(records, vec![b"from a seed config".to_vec()]);
}

#[test]
fn seed_master_files_start_register_and_serve() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (namesrv, namesrv_address) = start_namesrv(tmp.path());
    // A 2m-2s-sync master spelled out in full (SYNC_MASTER, SYNC_FLUSH), the 2m-2s master of a
    // guide whose name servers are host names, and the minimal file Apache ships, which
    // leaves ports and paths at their defaults.
    let cases = [
        ("seed001/broker-a.properties", "broker-a"),
        ("seed002/broker-b.properties", "broker-b"),
        ("seed003/apache-2m-2s-sync-broker-a.properties", "broker-a"),
    ];
    for (index, (fixture, broker_name)) in cases.into_iter().enumerate() {
        let home = tmp.path().join(format!("case{index}"));
        std::fs::create_dir_all(&home).expect("mkdir");
        let localized = localize(fixture, &home, &namesrv_address, free_port_block());
        let broker = start_seed_broker(&localized.path, &home);
        let address = format!("127.0.0.1:{}", localized.port);
        let topic = format!("SeedTopic{index}");
        assert_serves(&address, &topic);
        let route = wait_for_route(&namesrv_address, &topic, broker_name);
        let registered = route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == broker_name)
            .expect("broker data");
        // Files without brokerIP1 advertise the host's first non-loopback address, as
        // RocketMQ does; either way the registered address must be this broker's and reachable.
        let master = registered
            .broker_addrs
            .get(&0)
            .expect("master address registered");
        assert!(
            master.ends_with(&format!(":{}", localized.port)),
            "{fixture}: registered {master}, expected port {}",
            localized.port
        );
        drop(Client::connect(master));
        assert!(broker.terminate().success(), "{fixture}: clean shutdown");
    }
    drop(namesrv);
}

#[test]
fn faulty_seed_files_exit_nonzero_naming_line_key_value_and_expectation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "seed000/broker-a.properties",
            ":51: brokerRole=SYSC_MASTER: expected one of ASYNC_MASTER, SYNC_MASTER, SLAVE",
        ),
        (
            "seed000/broker-b.properties",
            ":51: brokerRole=SYSC_MASTER: expected one of ASYNC_MASTER, SYNC_MASTER, SLAVE",
        ),
        (
            "seed000/broker-a-s.properties",
            ":6: brokerId=0 with brokerRole=SLAVE: a slave needs brokerId > 0",
        ),
    ];
    for (fixture, expected) in cases {
        // No name server is needed: the file must be refused before anything starts.
        let localized = localize(fixture, tmp.path(), "127.0.0.1:1", free_port_block());
        let (status, stderr) = broker_exit(&localized.path, tmp.path());
        assert!(
            !status.success(),
            "{fixture} must not start: {status:?}\n{stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{fixture}: stderr lacks '{expected}':\n{stderr}"
        );
        assert!(
            stderr.contains(localized.path.to_str().expect("utf8")),
            "{fixture}: the error names the file:\n{stderr}"
        );
        assert!(
            !localized_store_has_lock(tmp.path()),
            "{fixture}: a refused config must not open a store"
        );
    }
}

/// Whether any `lock` file was created under `root` (a store that was opened).
fn localized_store_has_lock(root: &Path) -> bool {
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().is_some_and(|name| name == "lock") {
                return true;
            }
        }
    }
    false
}

#[test]
fn second_broker_on_the_same_store_fails_with_lock_failed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = localize(
        "seed001/broker-a.properties",
        tmp.path(),
        "127.0.0.1:1",
        free_port_block(),
    );
    let broker = start_seed_broker(&first.path, tmp.path());
    // Same file, other ports: only the store is shared.
    let second_port = free_port_block();
    let text = std::fs::read_to_string(&first.path).expect("read");
    let second_path = tmp.path().join("same-store.properties");
    std::fs::write(
        &second_path,
        text.replace(
            &format!("listenPort={}", first.port),
            &format!("listenPort={second_port}"),
        ),
    )
    .expect("write");
    let (status, stderr) = broker_exit(&second_path, tmp.path());
    assert!(
        !status.success(),
        "a second broker on one store must not start:\n{stderr}"
    );
    assert!(
        stderr.contains("Lock failed, MQ already started"),
        "{stderr}"
    );
    assert_serves(&format!("127.0.0.1:{}", first.port), "SeedLockTopic");
    drop(broker);
}

#[test]
fn second_broker_on_the_same_ports_fails_naming_port_and_role() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let first_home = tmp.path().join("first");
    let second_home = tmp.path().join("second");
    std::fs::create_dir_all(&first_home).expect("mkdir");
    std::fs::create_dir_all(&second_home).expect("mkdir");
    let port = free_port_block();
    let first = localize(
        "seed001/broker-a.properties",
        &first_home,
        "127.0.0.1:1",
        port,
    );
    let broker = start_seed_broker(&first.path, &first_home);
    // Same ports, another store.
    let second = localize(
        "seed001/broker-b.properties",
        &second_home,
        "127.0.0.1:1",
        port,
    );
    let (status, stderr) = broker_exit(&second.path, &second_home);
    assert!(
        !status.success(),
        "a second broker on the same ports must not start:\n{stderr}"
    );
    // Whichever of the three ports is checked first, the error names it and what it is for.
    let named = [
        format!("port {port} (listenPort)"),
        format!("port {} (VIP channel, listenPort-2)", port - 2),
        format!("port {} (HA, listenPort+1)", port + 1),
    ];
    assert!(
        named.iter().any(|text| stderr.contains(text.as_str())),
        "the error names the port and its role:\n{stderr}"
    );
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(
        !localized_store_has_lock(&second_home),
        "the refused broker must not have opened its store"
    );
    assert_serves(&format!("127.0.0.1:{port}"), "SeedPortTopic");
    drop(broker);
}
