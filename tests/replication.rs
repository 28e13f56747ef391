//! Goal: master/slave replication as operators run it (issue 6) — the seeds' 2m-2s clusters
//! come up and list both roles; under SYNC_MASTER + SYNC_FLUSH every acknowledged message is
//! on the slave when the master is killed with SIGKILL, and replication resumes after the
//! master restarts; under ASYNC_MASTER the loss is at most the unreplicated tail; a slave
//! catches up on a backlog and resumes from its own offset after a crash; a slave refuses
//! sends and copies the master's offsets; a send right after a slave connects waits for it;
//! a slave older than the master's retained log says so; slow consumers are steered by their
//! group's `whichBrokerWhenConsumeSlowly`.
//! Method: `ringmq namesrv` and `ringmq broker` processes on loopback with temporary stores,
//! four sender threads per load phase using a minimal remoting client, and pulls straight
//! from each broker. Only SUCCESS answers count as acknowledged: SLAVE_NOT_AVAILABLE and
//! FLUSH_SLAVE_TIMEOUT mean the requested durability was not reached.

#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end tests wait on real processes with wall-clock sleeps"
)]
#![allow(
    clippy::too_many_lines,
    reason = "each scenario reads top to bottom: load, crash, check"
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringmq_protocol::body::kv_table::KvTable;
use ringmq_protocol::body::JsonBody;
use ringmq_protocol::command::RemotingCommand;
use ringmq_protocol::record;
use ringmq_protocol::{request_code as code, response_code};
use support::*;

const QUEUES: i32 = 4;

/// Properties of one broker of a master/slave pair on a free port; `extra` is appended.
fn pair_broker(
    directory: &Path,
    namesrv: &str,
    name: &str,
    (role, flush): (&str, &str),
    extra: &str,
) -> PathBuf {
    let port = free_port_block();
    let id = i32::from(role == "SLAVE");
    let path = directory.join(format!("{name}.properties"));
    let text = format!(
        "brokerClusterName=DefaultCluster\nbrokerName=broker-a\nbrokerId={id}\nbrokerRole={role}\n\
         flushDiskType={flush}\nbrokerIP1=127.0.0.1\nlistenPort={port}\nnamesrvAddr={namesrv}\n\
         storePathRootDir={}\nlogDir={}\nmappedFileSizeCommitLog=8388608\n{extra}",
        directory.join(name).display(),
        directory.join(format!("{name}-logs")).display(),
    );
    std::fs::write(&path, text).expect("write properties");
    path
}

/// A name server, a master with `role` and `flush`, and an ASYNC_FLUSH slave, written but
/// not started. Fields drop in order: the name server stops before its directory goes.
struct Pair {
    _namesrv: Process,
    master: PathBuf,
    slave: PathBuf,
    master_address: String,
    slave_address: String,
    directory: tempfile::TempDir,
}

impl Pair {
    /// Both brokers run `shards` shards; `master_extra` is appended to the master's file.
    fn new(role: &str, flush: &str, shards: u16, master_extra: &str) -> Self {
        let directory = tempfile::tempdir().expect("tempdir");
        let (namesrv, address) = start_namesrv(directory.path());
        let extra = format!("shards={shards}\n");
        let master = pair_broker(
            directory.path(),
            &address,
            "master",
            (role, flush),
            &format!("{extra}{master_extra}"),
        );
        let slave = pair_broker(
            directory.path(),
            &address,
            "slave",
            ("SLAVE", "ASYNC_FLUSH"),
            &extra,
        );
        Self {
            _namesrv: namesrv,
            master_address: listen_address(&master),
            slave_address: listen_address(&slave),
            master,
            slave,
            directory,
        }
    }
}

/// Run [`load`] on its own thread until `stop` is set.
fn spawn_load(
    address: &str,
    topic: &'static str,
    size: usize,
    label: &'static str,
    stop: &Arc<AtomicBool>,
) -> std::thread::JoinHandle<Acked> {
    let (address, stop) = (address.to_owned(), Arc::clone(stop));
    std::thread::spawn(move || load(&address, topic, size, label, &stop))
}

fn listen_address(properties: &Path) -> String {
    let text = std::fs::read_to_string(properties).expect("read properties");
    let port = text
        .lines()
        .find_map(|line| line.strip_prefix("listenPort="))
        .expect("listenPort");
    format!("127.0.0.1:{port}")
}

/// Wait until each of the slave's two shards streams from its master.
fn wait_streaming(slave: &mut Process) {
    for _ in 0..2 {
        slave.wait_for("connected to master", Duration::from_secs(20));
    }
}

fn create_topic(address: &str, topic: &str) {
    let mut client = Client::connect(address);
    let queues = QUEUES.to_string();
    let response = client.call(request(
        code::UPDATE_AND_CREATE_TOPIC,
        &[
            ("topic", topic),
            ("defaultTopic", "TBW102"),
            ("readQueueNums", &queues),
            ("writeQueueNums", &queues),
            ("perm", "6"),
            ("topicFilterType", "SINGLE_TAG"),
            ("topicSysFlag", "0"),
            ("order", "false"),
        ],
    ));
    assert_eq!(
        response.code,
        response_code::SUCCESS,
        "{:?}",
        response.remark
    );
}

fn send_request(topic: &str, queue: i32, body: &[u8]) -> RemotingCommand {
    let mut message = request(
        code::SEND_MESSAGE_V2,
        &[
            ("a", "HaProducer"),
            ("b", topic),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", &queue.to_string()),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("i", "TAGS\u{1}ha\u{2}"),
        ],
    );
    message.body = body.to_vec().into();
    message
}

/// Per sender thread (= queue), the bodies the broker answered SUCCESS, in send order.
type Acked = Vec<Vec<String>>;

/// Four threads send `size`-byte messages to `address` until `stop` is set or the
/// connection breaks; each thread owns one queue so order within a queue is send order.
/// Tags are `{label}q{queue}-{sequence}-`, so each load phase needs its own label.
fn load(address: &str, topic: &str, size: usize, label: &str, stop: &Arc<AtomicBool>) -> Acked {
    let threads: Vec<_> = (0..QUEUES)
        .map(|queue| {
            let (address, topic, stop) = (address.to_owned(), topic.to_owned(), Arc::clone(stop));
            let label = label.to_owned();
            std::thread::spawn(move || {
                let mut client = Client::connect(&address);
                client.set_read_timeout(Duration::from_secs(10));
                let mut acked = Vec::new();
                let mut sequence = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let tag = format!("{label}q{queue}-{sequence:08}-");
                    let mut body = tag.clone().into_bytes();
                    body.resize(size.max(body.len()), b'x');
                    sequence += 1;
                    match client.try_call(send_request(&topic, queue, &body)) {
                        Some(response) if response.code == response_code::SUCCESS => {
                            acked.push(tag);
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
                acked
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|thread| thread.join().expect("sender"))
        .collect()
}

/// Every message body tag (the `q…-…-` prefix) stored in `topic` on `address`, with how many
/// times each was found. Retries while the broker does not know the topic yet (a slave copies
/// topics every few seconds).
fn stored_tags(address: &str, topic: &str) -> BTreeMap<String, usize> {
    let mut client = Client::connect(address);
    let mut found = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    for queue in 0..QUEUES {
        let mut offset = 0u64;
        loop {
            let queue_id = queue.to_string();
            let queue_offset = offset.to_string();
            let response = client.call(request(
                code::PULL_MESSAGE,
                &[
                    ("consumerGroup", "HaCheck"),
                    ("topic", topic),
                    ("queueId", &queue_id),
                    ("queueOffset", &queue_offset),
                    ("maxMsgNums", "32"),
                    ("sysFlag", "4"),
                    ("commitOffset", "0"),
                    ("suspendTimeoutMillis", "0"),
                    ("subscription", "*"),
                    ("subVersion", "0"),
                ],
            ));
            if response.code == response_code::TOPIC_NOT_EXIST && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            if response.code != response_code::SUCCESS {
                break;
            }
            for stored in record::decode_all(&response.body).expect("records") {
                let text = String::from_utf8_lossy(stored.body);
                let tag: String = text.chars().take_while(|c| *c != 'x').collect();
                *found.entry(tag).or_insert(0) += 1;
            }
            offset = response
                .ext("nextBeginOffset")
                .and_then(|next| next.parse().ok())
                .expect("nextBeginOffset");
        }
    }
    found
}

fn max_offsets(address: &str, topic: &str) -> Vec<i64> {
    let mut client = Client::connect(address);
    (0..QUEUES)
        .map(|queue| {
            let queue_id = queue.to_string();
            let response = client.call(request(
                code::GET_MAX_OFFSET,
                &[("topic", topic), ("queueId", &queue_id)],
            ));
            response
                .ext("offset")
                .and_then(|offset| offset.parse().ok())
                .unwrap_or(-1)
        })
        .collect()
}

/// Wait until the slave's queues end where the master's do; returns how long it took.
fn wait_caught_up(master: &str, slave: &str, topic: &str, timeout: Duration) -> Duration {
    let started = Instant::now();
    let target = max_offsets(master, topic);
    loop {
        let ours = max_offsets(slave, topic);
        if ours == target {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < timeout,
            "slave queues {ours:?} did not reach the master's {target:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn runtime_info(address: &str) -> BTreeMap<String, String> {
    let mut client = Client::connect(address);
    let response = client.call(request(code::GET_BROKER_RUNTIME_INFO, &[]));
    assert_eq!(response.code, response_code::SUCCESS);
    KvTable::decode(&response.body).expect("KVTable").table
}

fn missing(acked: &Acked, stored: &BTreeMap<String, usize>) -> Vec<Vec<String>> {
    acked
        .iter()
        .map(|queue| {
            queue
                .iter()
                .filter(|tag| !stored.contains_key(*tag))
                .cloned()
                .collect()
        })
        .collect()
}

// Hazard: SYNC_MASTER promises that an acknowledged message exists on the slave; a master
// crash must not lose one, and a restarted master must resume replicating (the seeds'
// reason for running 2m-2s-sync at all).
#[test]
fn sync_master_kill_9_loses_no_acknowledged_message_and_replication_resumes() {
    let pair = Pair::new("SYNC_MASTER", "SYNC_FLUSH", 2, "");
    let (master_address, slave_address) = (pair.master_address.clone(), pair.slave_address.clone());
    let master = start_broker(&pair.master);
    create_topic(&master_address, "HaSync");

    // Without a slave a SYNC_MASTER stores the message but cannot promise a copy.
    let mut client = Client::connect(&master_address);
    let lonely = client.call(send_request("HaSync", 0, b"q0-lonely-"));
    assert_eq!(lonely.code, response_code::SLAVE_NOT_AVAILABLE);

    let mut slave = start_broker(&pair.slave);
    wait_streaming(&mut slave);
    let refused = Client::connect(&slave_address).call(send_request("HaSync", 0, b"to-slave"));
    assert_eq!(
        refused.code,
        response_code::SERVICE_NOT_AVAILABLE,
        "{:?}",
        refused.remark
    );

    let stop = Arc::new(AtomicBool::new(false));
    let sending = spawn_load(&master_address, "HaSync", 512, "a", &stop);
    std::thread::sleep(Duration::from_secs(2));
    master.kill();
    stop.store(true, Ordering::Relaxed);
    let acked = sending.join().expect("load");
    let count: usize = acked.iter().map(Vec::len).sum();
    assert!(count > 50, "only {count} sends were acknowledged");

    let on_slave = stored_tags(&slave_address, "HaSync");
    let lost: usize = missing(&acked, &on_slave).iter().map(Vec::len).sum();
    let duplicates = on_slave.values().filter(|seen| **seen > 1).count();
    eprintln!(
        "SYNC_MASTER kill -9: {count} acknowledged, {lost} missing on the slave, {duplicates} \
         duplicated"
    );
    assert_eq!(lost, 0, "acknowledged messages missing on the slave");

    // The master restarts on its store; the slave reconnects and replication goes on.
    let master = start_broker(&pair.master);
    wait_streaming(&mut slave);
    stop.store(false, Ordering::Relaxed);
    let sending = spawn_load(&master_address, "HaResume", 256, "b", &stop);
    create_topic(&master_address, "HaResume");
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let resumed = sending.join().expect("load");
    assert!(resumed.iter().map(Vec::len).sum::<usize>() > 20);
    wait_caught_up(
        &master_address,
        &slave_address,
        "HaResume",
        Duration::from_secs(20),
    );
    let resumed_on_slave = stored_tags(&slave_address, "HaResume");
    assert!(missing(&resumed, &resumed_on_slave)
        .iter()
        .all(Vec::is_empty));
    let before_crash_on_master = stored_tags(&master_address, "HaSync");
    assert!(missing(&acked, &before_crash_on_master)
        .iter()
        .all(Vec::is_empty));
    drop(master);
}

// Hazard: ASYNC_MASTER acknowledges before the slave has a copy; operators need the lag to
// be visible and the loss after a master crash bounded by what was not yet replicated.
#[test]
fn async_master_lag_is_visible_and_a_crash_loses_at_most_the_unreplicated_tail() {
    let pair = Pair::new("ASYNC_MASTER", "ASYNC_FLUSH", 2, "");
    let (master_address, slave_address) = (pair.master_address.clone(), pair.slave_address.clone());
    let master = start_broker(&pair.master);
    create_topic(&master_address, "HaAsync");
    let mut slave = start_broker(&pair.slave);
    wait_streaming(&mut slave);

    let stop = Arc::new(AtomicBool::new(false));
    let sending = spawn_load(&master_address, "HaAsync", 1024, "a", &stop);
    std::thread::sleep(Duration::from_secs(1));
    let info = runtime_info(&master_address);
    assert_eq!(
        info.get("haSlaveCount").map(String::as_str),
        Some("1"),
        "{info:?}"
    );
    let lag: u64 = info
        .get("slaveFallBehindMuch")
        .and_then(|lag| lag.parse().ok())
        .expect("slaveFallBehindMuch");
    let slave_info = runtime_info(&slave_address);
    assert_eq!(
        slave_info.get("haConnectedShards").map(String::as_str),
        Some("2"),
        "{slave_info:?}"
    );
    // haStatus lists the slave once per shard's log, with what it is being shipped.
    let report = ha_status(&["-b", &master_address]);
    assert!(report.contains("#SlaveNum\t2\n"), "{report}");
    let shipped: f64 = report
        .lines()
        .filter(|line| line.starts_with("127.0.0.1:"))
        .filter_map(|line| line.split_whitespace().nth(3)?.parse::<f64>().ok())
        .sum();
    assert!(shipped > 0.0, "no transfer rate under load:\n{report}");
    std::thread::sleep(Duration::from_secs(1));
    master.kill();
    stop.store(true, Ordering::Relaxed);
    let acked = sending.join().expect("load");
    let count: usize = acked.iter().map(Vec::len).sum();
    let on_slave = stored_tags(&slave_address, "HaAsync");
    let lost = missing(&acked, &on_slave);
    let lost_count: usize = lost.iter().map(Vec::len).sum();
    eprintln!(
        "ASYNC_MASTER kill -9: {count} acknowledged, lag during load {lag} bytes, {lost_count} \
         acknowledged messages not on the slave (the unreplicated tail)"
    );
    // Whatever is missing is the newest of each queue: replication never skips a message.
    for (queue, missing) in acked.iter().zip(&lost) {
        let kept = queue.len() - missing.len();
        assert_eq!(
            missing.as_slice(),
            &queue[kept..],
            "a message older than a replicated one is missing"
        );
    }
    assert!(
        lost_count < count / 2,
        "most acknowledged messages must be on the slave"
    );
}

// Hazard: a slave added to a master with a large backlog must copy all of it, and a slave
// that crashes must resume from its own log, not start over or leave a gap.
#[test]
fn a_slave_catches_up_on_a_backlog_and_resumes_from_its_own_offset_after_a_crash() {
    let pair = Pair::new("ASYNC_MASTER", "ASYNC_FLUSH", 2, "");
    let (master_address, slave_address) = (pair.master_address.clone(), pair.slave_address.clone());
    let _master = start_broker(&pair.master);
    create_topic(&master_address, "HaBacklog");
    let stop = Arc::new(AtomicBool::new(false));
    let sending = spawn_load(&master_address, "HaBacklog", 4096, "a", &stop);
    std::thread::sleep(Duration::from_millis(2500));
    stop.store(true, Ordering::Relaxed);
    let backlog = sending.join().expect("load");
    let backlog_bytes: usize = backlog.iter().map(Vec::len).sum::<usize>() * 4096;

    let mut slave = start_broker(&pair.slave);
    wait_streaming(&mut slave);
    let took = wait_caught_up(
        &master_address,
        &slave_address,
        "HaBacklog",
        Duration::from_secs(60),
    );
    eprintln!(
        "catch-up: {backlog_bytes} bytes of backlog in {took:?} ({:.1} MB/s)",
        f64::from(u32::try_from(backlog_bytes).unwrap_or(u32::MAX))
            / took.as_secs_f64().max(0.001)
            / 1e6
    );

    // Crash the slave while the master takes more, then restart it on its own store.
    stop.store(false, Ordering::Relaxed);
    let sending = spawn_load(&master_address, "HaBacklog", 4096, "b", &stop);
    std::thread::sleep(Duration::from_millis(700));
    slave.kill();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let more = sending.join().expect("load");
    let mut slave = start_broker(&pair.slave);
    let line = slave.wait_for("reporting offset", Duration::from_secs(20));
    let reported: u64 = line
        .rsplit(' ')
        .next()
        .and_then(|offset| offset.parse().ok())
        .expect("offset in the line");
    assert!(reported > 0, "the restarted slave starts over: {line}");
    wait_caught_up(
        &master_address,
        &slave_address,
        "HaBacklog",
        Duration::from_secs(60),
    );
    let on_slave = stored_tags(&slave_address, "HaBacklog");
    let all: Acked = backlog
        .into_iter()
        .zip(more)
        .map(|(mut first, second)| {
            first.extend(second);
            first
        })
        .collect();
    assert!(missing(&all, &on_slave).iter().all(Vec::is_empty));
    assert!(
        on_slave.values().all(|seen| *seen == 1),
        "a record was stored twice"
    );
}

// Hazard: consumers that move to the slave when the master dies must resume from their
// committed offsets, which only happens if the slave copies them.
#[test]
fn a_slave_copies_committed_offsets_and_topics_from_its_master() {
    let pair = Pair::new("ASYNC_MASTER", "ASYNC_FLUSH", 2, "");
    let (master_address, slave_address) = (pair.master_address.clone(), pair.slave_address.clone());
    let _master = start_broker(&pair.master);
    create_topic(&master_address, "HaOffsets");
    let mut client = Client::connect(&master_address);
    for index in 0..10 {
        let body = format!("q1-{index}-");
        let sent = client.call(send_request("HaOffsets", 1, body.as_bytes()));
        assert_eq!(sent.code, response_code::SUCCESS);
    }
    let committed = client.call(request(
        code::UPDATE_CONSUMER_OFFSET,
        &[
            ("consumerGroup", "HaGroup"),
            ("topic", "HaOffsets"),
            ("queueId", "1"),
            ("commitOffset", "7"),
        ],
    ));
    assert_eq!(committed.code, response_code::SUCCESS);
    let mut slave = start_broker(&pair.slave);
    wait_streaming(&mut slave);
    wait_caught_up(
        &master_address,
        &slave_address,
        "HaOffsets",
        Duration::from_secs(20),
    );
    let mut on_slave = Client::connect(&slave_address);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let query = on_slave.call(request(
            code::QUERY_CONSUMER_OFFSET,
            &[
                ("consumerGroup", "HaGroup"),
                ("topic", "HaOffsets"),
                ("queueId", "1"),
            ],
        ));
        if query.code == response_code::SUCCESS && query.ext("offset") == Some("7") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slave never copied the offset: {query:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let tags: BTreeSet<String> = stored_tags(&slave_address, "HaOffsets")
        .into_keys()
        .collect();
    assert_eq!(tags.len(), 10, "{tags:?}");
}

/// `conf/<example>/<file>.properties` with its ports, name servers and store paths moved to
/// free ports and `directory`.
fn rewrite_example(example: &str, file: &str, directory: &Path, namesrvs: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conf")
        .join(example)
        .join(format!("{file}.properties"));
    let text = std::fs::read_to_string(&source).expect("read example");
    let port = free_port_block();
    let store = directory.join(file);
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| match line.split_once('=') {
            Some(("listenPort", _)) => format!("listenPort={port}"),
            Some(("namesrvAddr", _)) => format!("namesrvAddr={namesrvs}"),
            Some(("storePathRootDir", _)) => format!("storePathRootDir={}", store.display()),
            Some(("storePathCommitLog", _)) => {
                format!("storePathCommitLog={}", store.join("commitlog").display())
            }
            _ => line.to_owned(),
        })
        .collect();
    lines.push(format!(
        "logDir={}",
        directory.join(format!("{file}-logs")).display()
    ));
    let path = directory.join(format!("{file}.properties"));
    std::fs::write(&path, lines.join("\n")).expect("write");
    path
}

/// `ringmq admin clusterList -n <namesrvs>` rows as (brokerName, BID, address).
fn cluster_rows(namesrvs: &str) -> BTreeSet<(String, String, String)> {
    let output = std::process::Command::new(BINARY)
        .args(["admin", "clusterList", "-n", namesrvs])
        .output()
        .expect("run clusterList");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1)
        .filter_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            (columns.len() > 3).then(|| {
                (
                    columns[1].to_owned(),
                    columns[2].to_owned(),
                    columns[3].to_owned(),
                )
            })
        })
        .collect()
}

// Hazard: the seeds' 2m-2s deployments (two name servers, two masters, two slaves on one
// host) must start from the shipped examples and show every broker with its role.
#[test]
fn the_2m_2s_examples_start_as_two_name_servers_and_four_brokers() {
    for example in ["2m-2s-sync", "2m-2s-async"] {
        let directory = tempfile::tempdir().expect("tempdir");
        let first = directory.path().join("ns1");
        let second = directory.path().join("ns2");
        std::fs::create_dir_all(&first).expect("mkdir");
        std::fs::create_dir_all(&second).expect("mkdir");
        let (_ns1, namesrv1) = start_namesrv(&first);
        let (_ns2, namesrv2) = start_namesrv(&second);
        let namesrvs = format!("{namesrv1};{namesrv2}");
        let mut brokers = Vec::new();
        let mut addresses = BTreeMap::new();
        for file in ["broker-a", "broker-b", "broker-a-s", "broker-b-s"] {
            let properties = rewrite_example(example, file, directory.path(), &namesrvs);
            addresses.insert(file, listen_address(&properties));
            let mut broker = start_broker(&properties);
            if file.ends_with("-s") {
                broker.wait_for("connected to master", Duration::from_secs(20));
            }
            brokers.push(broker);
        }
        let expected: BTreeSet<(String, String, String)> = [
            ("broker-a", "0", "broker-a"),
            ("broker-a", "1", "broker-a-s"),
            ("broker-b", "0", "broker-b"),
            ("broker-b", "1", "broker-b-s"),
        ]
        .iter()
        .map(|(name, id, file)| {
            (
                (*name).to_owned(),
                (*id).to_owned(),
                addresses[file].clone(),
            )
        })
        .collect();
        for namesrv in [&namesrv1, &namesrv2, &namesrvs] {
            assert_eq!(cluster_rows(namesrv), expected, "{example} via {namesrv}");
        }
        // The sync example really waits for its slave: a send is acknowledged SUCCESS.
        create_topic(&addresses["broker-a"], "Example");
        let sent = Client::connect(&addresses["broker-a"]).call(send_request("Example", 0, b"q0-"));
        assert_eq!(sent.code, response_code::SUCCESS, "{:?}", sent.remark);
        // A message larger than a staging buffer (up to maxMessageSize, 4 MiB) replicates
        // too: the sync example answers SUCCESS only once its slave holds it.
        let large = vec![b'L'; 3 << 20];
        let sent = Client::connect(&addresses["broker-a"]).call(send_request("Example", 0, &large));
        assert_eq!(sent.code, response_code::SUCCESS, "{:?}", sent.remark);
        check_ha_status(&namesrvs, &addresses);
    }
}

/// `ringmq admin haStatus ARGS` output.
fn ha_status(args: &[&str]) -> String {
    let output = std::process::Command::new(BINARY)
        .arg("admin")
        .arg("haStatus")
        .args(args)
        .output()
        .expect("run haStatus");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// haStatus over the cluster lists both masters, each with its one slave in sync and
/// acknowledged up to the master's end; on a slave it names the master's HA address.
fn check_ha_status(namesrvs: &str, addresses: &BTreeMap<&str, String>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let report = loop {
        let report = ha_status(&["-n", namesrvs, "-c", "DefaultCluster"]);
        let settled = report.matches("#InSyncSlaveNum\t1").count() == 2
            && report.lines().filter(|line| line.contains(" OK ")).count() == 2;
        if settled || std::time::Instant::now() > deadline {
            break report;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for master in ["broker-a", "broker-b"] {
        let address = &addresses[master];
        let block = report
            .split("\n\n")
            .map(str::trim_start)
            .find(|block| block.starts_with(&format!("#MasterAddr\t{address}\n")))
            .unwrap_or_else(|| panic!("no block for {master} {address}:\n{report}"));
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(
            lines[2..4],
            ["#SlaveNum\t1", "#InSyncSlaveNum\t1"],
            "{report}"
        );
        let max: i64 = lines[1]
            .strip_prefix("#MasterCommitLogMaxOffset\t")
            .and_then(|max| max.parse().ok())
            .unwrap_or_else(|| panic!("{report}"));
        let row: Vec<&str> = lines[5].split_whitespace().collect();
        assert!(row[0].starts_with("127.0.0.1:"), "{report}");
        let acked: i64 = row[1].parse().expect("ack offset");
        let diff: i64 = row[2].parse().expect("diff");
        assert_eq!((acked + diff, row[4]), (max, "OK"), "{report}");
    }
    let slave = ha_status(&["-b", &addresses["broker-a-s"]]);
    let master_port: u16 = addresses["broker-a"]
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .expect("port");
    assert!(
        slave.contains(&format!("#MasterAddr\t127.0.0.1:{}\n", master_port + 1)),
        "{slave}"
    );
    assert!(slave.contains("#LastReadTime\t20"), "{slave}");
}

// Hazard: a master that loses the tail of its log (a power loss before its fdatasync)
// restarts shorter than its slave; the slave must cut back to the master's end and say so,
// or the two would serve different messages at the same offsets from then on.
#[test]
fn a_slave_ahead_of_a_master_that_lost_its_tail_truncates_and_follows_it() {
    let pair = Pair::new("ASYNC_MASTER", "ASYNC_FLUSH", 1, "");
    let (master_address, slave_address) = (pair.master_address.clone(), pair.slave_address.clone());
    let master = start_broker(&pair.master);
    create_topic(&master_address, "HaCut");
    let mut slave = start_broker(&pair.slave);
    slave.wait_for("connected to master", Duration::from_secs(20));
    let mut client = Client::connect(&master_address);
    for index in 0..200 {
        let body = format!("aq{}-{index:08}-{}", index % QUEUES, "x".repeat(300));
        let sent = client.call(send_request("HaCut", index % QUEUES, body.as_bytes()));
        assert_eq!(sent.code, response_code::SUCCESS);
    }
    wait_caught_up(
        &master_address,
        &slave_address,
        "HaCut",
        Duration::from_secs(20),
    );
    let end: u64 = runtime_info(&master_address)["commitLogMaxOffset"]
        .parse()
        .expect("offset");
    master.kill();

    // The last ~8 KB never reached the master's disk; without a checkpoint the restart
    // scans the whole log and ends it at the first damaged record.
    let store = pair.directory.path().join("master");
    let segment = store.join("commitlog").join("00000000000000000000");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .expect("open segment");
    std::os::unix::fs::FileExt::write_all_at(&file, &[0u8; 8192], end - 8192).expect("zero");
    file.sync_all().expect("sync");
    std::fs::remove_file(store.join("checkpoint")).expect("remove checkpoint");

    let _master = start_broker(&pair.master);
    let line = slave.wait_for("truncated its log", Duration::from_secs(30));
    eprintln!("{line}");
    let mut client = Client::connect(&master_address);
    for index in 0..50 {
        let body = format!("bq{}-{index:08}-", index % QUEUES);
        let sent = client.call(send_request("HaCut", index % QUEUES, body.as_bytes()));
        assert_eq!(sent.code, response_code::SUCCESS);
    }
    wait_caught_up(
        &master_address,
        &slave_address,
        "HaCut",
        Duration::from_secs(20),
    );
    assert_eq!(
        stored_tags(&slave_address, "HaCut"),
        stored_tags(&master_address, "HaCut"),
        "slave and master hold different messages after the truncation"
    );
}

fn pull_suggestion(address: &str, topic: &str) -> Option<String> {
    let response = Client::connect(address).call(request(
        code::PULL_MESSAGE,
        &[
            ("consumerGroup", "HaSuggest"),
            ("topic", topic),
            ("queueId", "0"),
            ("queueOffset", "0"),
            ("maxMsgNums", "1"),
            ("sysFlag", "4"),
            ("commitOffset", "0"),
            ("suspendTimeoutMillis", "0"),
            ("subscription", "*"),
            ("subVersion", "0"),
        ],
    ));
    assert_eq!(
        response.code,
        response_code::SUCCESS,
        "{:?}",
        response.remark
    );
    response.ext("suggestWhichBrokerId").map(str::to_owned)
}

// Hazard: a SYNC_MASTER whose slave stops acknowledging must say so (FLUSH_SLAVE_TIMEOUT)
// instead of answering SUCCESS, after `slaveTimeout` as RocketMQ 4.9.3+ and 5.x do (not
// after syncFlushTimeout, 10 s here); inSyncReplicas above the slaves present must refuse the
// promise (SLAVE_NOT_AVAILABLE); slaveReadEnable must steer a lagging consumer to the slave.
#[test]
fn sync_master_reports_a_stalled_slave_and_honours_in_sync_replicas() {
    let pair = Pair::new(
        "SYNC_MASTER",
        "ASYNC_FLUSH",
        2,
        // slaveTimeout is long enough for a loaded CI machine to deliver the new slave's
        // first report to the warm-up sends, and far from syncFlushTimeout (10 s here).
        "slaveTimeout=1500\nsyncFlushTimeout=10000\nslaveReadEnable=true\n\
         accessMessageInMemoryMaxRatio=0\n",
    );
    let master_address = pair.master_address.clone();
    let master = start_broker(&pair.master);
    create_topic(&master_address, "HaStall");
    let mut slave = start_broker(&pair.slave);
    wait_streaming(&mut slave);
    // Right after the slave connected: it counts from its accept, so these wait for it.
    let mut client = Client::connect(&master_address);
    for index in 0..3 {
        let body = format!("q0-{index}-");
        let sent = client.call(send_request("HaStall", 0, body.as_bytes()));
        assert_eq!(sent.code, response_code::SUCCESS, "{:?}", sent.remark);
    }
    // The consumer at offset 0 is behind the log's end by more than 0 % of RAM.
    assert_eq!(
        pull_suggestion(&master_address, "HaStall").as_deref(),
        Some("1")
    );

    let pid = slave.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status();
    assert!(status.expect("kill -STOP").success());
    let started = Instant::now();
    let stalled = client.call(send_request("HaStall", 0, b"q0-stalled-"));
    let waited = started.elapsed();
    let _ = std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status();
    assert_eq!(
        stalled.code,
        response_code::FLUSH_SLAVE_TIMEOUT,
        "{:?}",
        stalled.remark
    );
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(6),
        "answered after {waited:?}: the wait must be slaveTimeout (1.5 s), not \
         syncFlushTimeout (10 s)"
    );
    drop(master);

    // inSyncReplicas=3 counts the master and two slaves; with one slave the promise is off.
    let text = std::fs::read_to_string(&pair.master).expect("read");
    std::fs::write(&pair.master, format!("{text}inSyncReplicas=3\n")).expect("write");
    let _master = start_broker(&pair.master);
    slave.wait_for("connected to master", Duration::from_secs(20));
    slave.wait_for("connected to master", Duration::from_secs(20));
    let sent = Client::connect(&master_address).call(send_request("HaStall", 0, b"q0-isr-"));
    assert_eq!(
        sent.code,
        response_code::SLAVE_NOT_AVAILABLE,
        "{:?}",
        sent.remark
    );
}

/// A fake slave's side of the HA stream: read one transfer's header and body.
fn read_transfer(stream: &mut std::net::TcpStream) -> (u64, Vec<u8>) {
    use std::io::Read;
    loop {
        let mut header = [0u8; 12];
        stream.read_exact(&mut header).expect("transfer header");
        let offset = u64::from_be_bytes(header[..8].try_into().expect("8 bytes"));
        let size = u32::from_be_bytes(header[8..].try_into().expect("4 bytes"));
        let mut body = vec![0u8; usize::try_from(size).expect("size")];
        stream.read_exact(&mut body).expect("transfer body");
        if size > 0 {
            return (offset, body);
        }
    }
}

// Hazard: right after a slave connects, a SYNC_MASTER answered SLAVE_NOT_AVAILABLE until it
// had read the slave's first report, so a send at that moment was not replicated although a
// slave was there. RocketMQ counts a slave from its accept (`HAConnection` raises
// `connectionCount`); the send must wait for the slave's acknowledgement instead.
// Method: the test plays the slave, holding its first report back until the send is in.
#[test]
fn a_send_right_after_a_slave_connects_waits_for_its_acknowledgement() {
    use std::io::Write;
    let directory = tempfile::tempdir().expect("tempdir");
    let (_namesrv, namesrv) = start_namesrv(directory.path());
    let properties = pair_broker(
        directory.path(),
        &namesrv,
        "master",
        ("SYNC_MASTER", "ASYNC_FLUSH"),
        "shards=1\n",
    );
    let address = listen_address(&properties);
    let mut master = start_broker(&properties);
    create_topic(&address, "HaEarly");
    let port: u16 = address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let mut slave = std::net::TcpStream::connect(("127.0.0.1", port + 1)).expect("HA port");
    slave
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    master.wait_for(
        "counts as a slave until its first report",
        Duration::from_secs(10),
    );

    let sender = {
        let address = address.clone();
        std::thread::spawn(move || {
            Client::connect(&address).call(send_request("HaEarly", 0, b"q0-early-"))
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !sender.is_finished(),
        "the send was answered before the connected slave reported: {:?}",
        sender.join().map(|answer| (answer.code, answer.remark))
    );
    slave.write_all(&0u64.to_be_bytes()).expect("first report");
    let (offset, body) = read_transfer(&mut slave);
    let end = offset + u64::try_from(body.len()).expect("len");
    slave
        .write_all(&end.to_be_bytes())
        .expect("acknowledgement");
    let answer = sender.join().expect("sender");
    assert_eq!(answer.code, response_code::SUCCESS, "{:?}", answer.remark);
}

// Hazard: a slave stopped for longer than the master's fileReservedTime ends before the
// master's oldest retained record. RocketMQ's master then sends only heartbeats and the
// slave waits forever without a word; an operator must learn that it cannot catch up, from
// which offsets, and how to fix it (empty it: an empty slave copies from the master's start).
#[test]
fn a_slave_older_than_the_masters_retained_log_says_so_and_an_emptied_one_catches_up() {
    let hours: Vec<String> = (0..24).map(|hour| format!("{hour:02}")).collect();
    let retention = format!(
        "mappedFileSizeCommitLog=65536\nmaxMessageSize=16384\nfileReservedTime=0\n\
         deleteWhen={}\n",
        hours.join(";")
    );
    let pair = Pair::new("ASYNC_MASTER", "ASYNC_FLUSH", 1, &retention);
    let (master_address, slave_address) = (pair.master_address.clone(), pair.slave_address.clone());
    let text = std::fs::read_to_string(&pair.slave).expect("read");
    std::fs::write(
        &pair.slave,
        format!("{text}mappedFileSizeCommitLog=65536\nmaxMessageSize=16384\n"),
    )
    .expect("write");
    let mut master = start_broker(&pair.master);
    create_topic(&master_address, "HaAway");
    let mut slave = start_broker(&pair.slave);
    slave.wait_for("connected to master", Duration::from_secs(20));
    let mut client = Client::connect(&master_address);
    let mut send = |label: &str, count: i32| {
        for index in 0..count {
            let body = format!("{label}q{}-{index:08}-{}", index % QUEUES, "x".repeat(1000));
            let sent = client.call(send_request("HaAway", index % QUEUES, body.as_bytes()));
            assert_eq!(sent.code, response_code::SUCCESS, "{:?}", sent.remark);
        }
    };
    send("a", 40);
    wait_caught_up(
        &master_address,
        &slave_address,
        "HaAway",
        Duration::from_secs(20),
    );
    let slave_end: u64 = runtime_info(&slave_address)["commitLogMaxOffset"]
        .parse()
        .expect("offset");
    assert!(slave.terminate().success());

    // Seven more segments; retention (checked every 10 s) deletes all but the newest.
    send("b", 420);
    let deadline = Instant::now() + Duration::from_secs(40);
    let master_start = loop {
        let start: u64 = runtime_info(&master_address)["commitLogMinOffset"]
            .parse()
            .expect("offset");
        if start > slave_end {
            break start;
        }
        assert!(Instant::now() < deadline, "retention kept offset {start}");
        std::thread::sleep(Duration::from_millis(200));
    };

    let mut slave = start_broker(&pair.slave);
    let line = slave.wait_for("cannot catch up", Duration::from_secs(20));
    assert!(
        line.contains(&format!(
            "ends at {slave_end} but the master's log now starts at {master_start}"
        )) && line.contains("move its store directory"),
        "{line}"
    );
    let line = master.wait_for("cannot catch up", Duration::from_secs(20));
    assert!(
        line.contains(&format!(
            "reports offset {slave_end} but this log now starts at {master_start}"
        )),
        "{line}"
    );

    // The fix the message names: an emptied slave copies the retained log and follows on.
    slave.kill();
    std::fs::remove_dir_all(pair.directory.path().join("slave")).expect("empty the slave");
    let mut slave = start_broker(&pair.slave);
    slave.wait_for("connected to master", Duration::from_secs(20));
    send("c", 20);
    wait_caught_up(
        &master_address,
        &slave_address,
        "HaAway",
        Duration::from_secs(20),
    );
}

// Hazard: RocketMQ steers a far-behind consumer to `whichBrokerWhenConsumeSlowly` of its
// subscription group (`updateSubGroup -w`); a broker-wide value would send every group to the
// same slave whatever its operator set, and lose the setting on restart.
#[test]
fn slow_consumers_are_steered_by_their_groups_which_broker_when_consume_slowly() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (_namesrv, namesrv) = start_namesrv(directory.path());
    let properties = pair_broker(
        directory.path(),
        &namesrv,
        "master",
        ("ASYNC_MASTER", "ASYNC_FLUSH"),
        "shards=1\nslaveReadEnable=true\naccessMessageInMemoryMaxRatio=0\n",
    );
    let address = listen_address(&properties);
    let master = start_broker(&properties);
    create_topic(&address, "HaSteer");
    let sent = Client::connect(&address).call(send_request("HaSteer", 0, b"q0-steer-"));
    assert_eq!(sent.code, response_code::SUCCESS, "{:?}", sent.remark);
    // A group without a config gets RocketMQ's default, brokerId 1.
    assert_eq!(pull_suggestion(&address, "HaSteer").as_deref(), Some("1"));

    let output = admin(&[
        "updateSubGroup",
        "-n",
        &namesrv,
        "-b",
        &address,
        "-g",
        "HaSuggest",
        "-w",
        "2",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(pull_suggestion(&address, "HaSteer").as_deref(), Some("2"));
    let output = admin(&[
        "updateSubGroup",
        "-n",
        &namesrv,
        "-b",
        &address,
        "-g",
        "HaSuggest",
        "-w",
        "-1",
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !output.status.success()
            && text.contains("whichBrokerWhenConsumeSlowly=-1 of group HaSuggest names no broker"),
        "{text}"
    );

    // Persisted with the group table.
    assert!(master.terminate().success());
    let _master = start_broker(&properties);
    assert_eq!(pull_suggestion(&address, "HaSteer").as_deref(), Some("2"));
}
