//! Goal: `ringmq admin` (mqadmin) drives a real name server and broker the way RocketMQ's
//! operator tool does, for the cluster, topic, broker and name-server commands: clusterList
//! (also `-m`, `-i --count`), topic create/list/route/status/perm/delete, brokerStatus,
//! get/updateBrokerConfig, get/updateNamesrvConfig, wipe/addWritePerm and clusterRT; dates
//! print in the local time zone that `TZ` names; and operator errors (unknown sub command,
//! unreachable name server, refused changes) name their cause.
//! Method: `ringmq namesrv` and `ringmq broker -c` on free loopback ports with a temporary
//! store; the admin tool is run as a child process and its stdout/stderr checked against
//! RocketMQ 5.x's text layout. Message and consumer-group commands are in
//! `admin_cli_messages.rs`.

#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end tests wait on real processes with wall-clock sleeps"
)]
#![allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]

mod support;

use support::*;

#[test]
fn admin_commands_manage_topics_on_a_live_cluster() {
    let cluster = Cluster::start();
    let broker = cluster.broker.clone();

    let listing = cluster.admin_ok(&["clusterList"]);
    let header = listing.lines().next().expect("header line");
    assert!(header.starts_with("#Cluster Name           #Broker Name            #BID  #Addr"));
    let row = listing
        .lines()
        .find(|line| line.contains(&broker))
        .expect("broker row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..4],
        ["DefaultCluster", "broker-a", "0", broker.as_str()]
    );
    assert!(row.trim_end().ends_with("true"), "{row}");

    let json = cluster.admin_ok(&["clusterList", "--format", "json"]);
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("clusterList json");
    assert_eq!(parsed["brokers"][0]["brokerId"], 0);
    assert_eq!(parsed["brokers"][0]["address"], broker.as_str());

    let text = cluster.admin_ok(&[
        "updateTopic",
        "-c",
        "DefaultCluster",
        "-t",
        "AdminTopic",
        "-r",
        "4",
        "-w",
        "4",
    ]);
    assert!(
        text.contains(&format!("create topic to {broker} success.")),
        "{text}"
    );
    assert!(
        text.contains(
            "TopicConfig [topicName=AdminTopic, readQueueNums=4, writeQueueNums=4, perm=RW-"
        ),
        "{text}"
    );

    cluster.admin_until(&["topicList"], |text| {
        text.lines().any(|line| line == "AdminTopic")
    });
    let route = cluster.admin_until(&["topicRoute", "-t", "AdminTopic"], |_| true);
    let parsed: serde_json::Value = serde_json::from_str(&route).expect("route json");
    assert_eq!(parsed["queueDatas"][0]["writeQueueNums"], 4);
    assert_eq!(
        parsed["brokerDatas"][0]["brokerAddrs"]["0"],
        broker.as_str()
    );
    assert!(route.contains("\n\t\"brokerDatas\":["), "{route}");

    let status = cluster.admin_ok(&["topicStatus", "-t", "AdminTopic"]);
    let lines: Vec<&str> = status.lines().collect();
    assert!(lines[0].starts_with("#Broker Name"), "{status}");
    assert!(lines[0].contains("#QID  #Min Offset"), "{status}");
    assert_eq!(lines.len(), 5, "one row per write queue:\n{status}");
    assert!(lines[1].starts_with("broker-a"), "{status}");

    let config = cluster.admin_ok(&["getBrokerConfig", "-b", &broker]);
    assert!(
        config.starts_with(&format!("============{broker}============")),
        "{config}"
    );
    assert!(config.contains("brokerName"), "{config}");

    let deleted = cluster.admin_ok(&["deleteTopic", "-t", "AdminTopic", "-c", "DefaultCluster"]);
    assert!(deleted.contains("delete topic [AdminTopic] from cluster [DefaultCluster] success."));
    cluster.admin_until(&["topicList"], |text| {
        !text.lines().any(|line| line == "AdminTopic")
    });
    let missing = cluster.admin(&["topicRoute", "-t", "AdminTopic"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("topic [AdminTopic] does not exist"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn cluster_list_more_stats_counts_todays_messages_and_interval_repeats_are_bounded() {
    let cluster = Cluster::start();
    cluster.admin_ok(&["sendMessage", "-t", "StatsTopic", "-p", "one"]);
    cluster.admin_ok(&["sendMessage", "-t", "StatsTopic", "-p", "two"]);

    let more = cluster.admin_ok(&["clusterList", "-m"]);
    let mut lines = more.lines();
    assert_eq!(
        lines.next(),
        Some(
            "#Cluster Name     #Broker Name                       #InTotalYest  #OutTotalYest  \
             #InTotalToday #OutTotalToday"
        )
    );
    let cells: Vec<&str> = lines.next().expect("row").split_whitespace().collect();
    assert_eq!(cells[..2], ["DefaultCluster", "broker-a"]);
    // A broker started today counts every put since its start as today's.
    assert_eq!(cells[4], "2", "#InTotalToday: {more}");

    // -i repeats until interrupted in RocketMQ; --count bounds it (and a hang fails the test).
    let repeated = cluster.admin_ok(&["clusterList", "-i", "1", "--count", "2"]);
    let headers = repeated
        .lines()
        .filter(|line| line.starts_with("#Cluster Name"))
        .count();
    assert_eq!(headers, 2, "{repeated}");
    let json = cluster.admin_ok(&["clusterList", "-m", "-i", "1", "--count", "2", "-F", "json"]);
    assert_eq!(
        json.lines().count(),
        2,
        "one JSON document per report:\n{json}"
    );
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["brokers"][0]["inTotalToday"], 2);

    let unbounded = cluster.admin(&["clusterList", "--count", "2"]);
    assert_eq!(
        unbounded.status.code(),
        Some(2),
        "--count without -i is a usage error"
    );
    assert!(stderr(&unbounded).contains("give -i <seconds> too"));
}

#[test]
fn wipe_write_perm_drains_a_broker_and_add_write_perm_restores_it() {
    let cluster = Cluster::start();
    cluster.admin_ok(&["updateTopic", "-c", "DefaultCluster", "-t", "DrainTopic"]);
    cluster.admin_until(&["topicRoute", "-t", "DrainTopic"], |_| true);

    let wiped = cluster.admin_ok(&["wipeWritePerm", "-b", "broker-a"]);
    assert!(
        wiped.starts_with(&format!(
            "wipe write perm of broker[broker-a] in name server[{}] OK, ",
            cluster.namesrv
        )),
        "{wiped}"
    );
    let route = cluster.admin_ok(&["topicRoute", "-t", "DrainTopic", "-l"]);
    let row = route.lines().nth(1).expect("queue row");
    assert_eq!(
        row.split_whitespace().last(),
        Some("4"),
        "perm R only: {route}"
    );
    let refused = cluster.admin(&["sendMessage", "-t", "DrainTopic", "-p", "x"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("writable queue of topic [DrainTopic]"),
        "{}",
        stderr(&refused)
    );

    let added = cluster.admin_ok(&["addWritePerm", "-b", "broker-a"]);
    assert!(
        added.contains("add write perm of broker[broker-a]"),
        "{added}"
    );
    let route = cluster.admin_ok(&["topicRoute", "-t", "DrainTopic", "-l"]);
    assert_eq!(
        route
            .lines()
            .nth(1)
            .and_then(|row| row.split_whitespace().last()),
        Some("6"),
        "{route}"
    );

    // A second name server that is down gets a Failed line; the reachable one is changed.
    let dead = format!("127.0.0.1:{}", free_port_block());
    let both = format!("{};{dead}", cluster.namesrv);
    let partial = admin(&["wipeWritePerm", "-b", "broker-a", "-n", &both]);
    assert!(!partial.status.success());
    assert!(stdout(&partial).contains(&format!("name server[{dead}] Failed")));
    assert!(stderr(&partial).contains(&format!("cannot reach name server {dead}")));
}

#[test]
fn update_topic_perm_changes_the_permission_the_route_shows() {
    let cluster = Cluster::start();
    cluster.admin_ok(&[
        "updateTopic",
        "-b",
        &cluster.broker,
        "-t",
        "PermTopic",
        "-r",
        "2",
        "-w",
        "2",
    ]);
    cluster.admin_until(&["topicRoute", "-t", "PermTopic"], |_| true);

    let text = cluster.admin_ok(&[
        "updateTopicPerm",
        "-b",
        &cluster.broker,
        "-t",
        "PermTopic",
        "-p",
        "4",
    ]);
    assert!(
        text.starts_with(&format!(
            "update topic perm from 6 to 4 in {} success.\n",
            cluster.broker
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "TopicConfig [topicName=PermTopic, readQueueNums=2, writeQueueNums=2, perm=R--"
        ),
        "{text}"
    );
    cluster.admin_until(&["topicRoute", "-t", "PermTopic", "-l"], |route| {
        route
            .lines()
            .nth(1)
            .and_then(|row| row.split_whitespace().last())
            == Some("4")
    });
    let same = cluster.admin_ok(&[
        "updateTopicPerm",
        "-b",
        &cluster.broker,
        "-t",
        "PermTopic",
        "-p",
        "4",
    ]);
    assert_eq!(same, "new perm equals to the old one!\n");
    let not_master = cluster.admin(&[
        "updateTopicPerm",
        "-b",
        "10.9.9.9:1",
        "-t",
        "PermTopic",
        "-p",
        "6",
    ]);
    assert!(
        stderr(&not_master).contains("broker is not master"),
        "{}",
        stderr(&not_master)
    );
}

#[test]
fn broker_status_lists_runtime_keys_and_update_broker_config_shows_refusals() {
    let cluster = Cluster::start();
    let broker = cluster.broker.as_str();

    let status = cluster.admin_ok(&["brokerStatus", "-b", broker]);
    assert!(
        status.contains(&format!("\n{:<32}: V5_3_1\n", "brokerVersionDesc")),
        "{status}"
    );
    let keys: Vec<&str> = status
        .lines()
        .filter_map(|line| line.split(':').next())
        .map(str::trim_end)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted, "brokerStatus prints keys sorted");
    let by_cluster = cluster.admin_ok(&["brokerStatus", "-c", "DefaultCluster"]);
    assert!(
        by_cluster.lines().all(|line| line.starts_with(broker)),
        "{by_cluster}"
    );

    let updated = cluster.admin_ok(&[
        "updateBrokerConfig",
        "-b",
        broker,
        "-k",
        "brokerPermission",
        "-v",
        "6",
    ]);
    assert_eq!(updated, format!("update broker config success, {broker}\n"));
    let refused = cluster.admin(&[
        "updateBrokerConfig",
        "-c",
        "DefaultCluster",
        "-k",
        "flushDiskType",
        "-v",
        "SYNC_FLUSH",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let error = stderr(&refused);
    assert!(
        error.contains(&format!("broker {broker} refused UPDATE_BROKER_CONFIG")),
        "{error}"
    );
    assert!(
        error.contains("cannot change flushDiskType while running"),
        "{error}"
    );
}

#[test]
fn name_server_config_is_read_and_changed_on_every_name_server() {
    let cluster = Cluster::start();
    let config = cluster.admin_ok(&["getNamesrvConfig"]);
    assert!(
        config.starts_with(&format!("============{}============\n", cluster.namesrv)),
        "{config}"
    );
    assert!(
        config.contains(&format!("\n{:<50}=  false\n", "orderMessageEnable")),
        "{config}"
    );

    let updated = cluster.admin_ok(&[
        "updateNamesrvConfig",
        "-k",
        "orderMessageEnable",
        "-v",
        "true",
    ]);
    assert_eq!(
        updated,
        format!(
            "update name server config success![{}]\norderMessageEnable : true\n",
            cluster.namesrv
        )
    );
    let json = cluster.admin_ok(&["getNamesrvConfig", "--format", "json"]);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        parsed[cluster.namesrv.as_str()]["orderMessageEnable"],
        "true"
    );

    let refused = cluster.admin(&["updateNamesrvConfig", "-k", "kvConfigPath", "-v", "/tmp/x"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("Can not update config in black list."),
        "{}",
        stderr(&refused)
    );
}

// Hazard (besides the output layout): clusterRT sends to the topic named after each broker,
// which RocketMQ brokers create at start; a broker that only created it on a send would fail
// every probe when autoCreateTopicEnable=false.
#[test]
fn cluster_rt_probes_every_broker_and_stops_after_count_rounds() {
    let cluster = Cluster::start_with("autoCreateTopicEnable=false\n");
    let text = cluster.admin_ok(&["clusterRT", "-a", "5", "-s", "16", "--count", "1"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{:<24}  {:<24}  {:<4}  {:<8}  {:<8}",
            "#Cluster Name", "#Broker Name", "#RT", "#successCount", "#failCount"
        )
    );
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[..2], ["DefaultCluster", "broker-a"]);
    assert!(cells[2].parse::<f64>().is_ok(), "RT in ms: {text}");
    assert_eq!(cells[3..], ["5", "0"], "{text}");
    let log = cluster.admin_ok(&[
        "clusterRT",
        "-a",
        "2",
        "-p",
        "true",
        "-m",
        "room1",
        "--count",
        "1",
    ]);
    let fields: Vec<&str> = log.trim_end().split('|').collect();
    assert_eq!(
        fields[1..4],
        ["room1", "DefaultCluster", "broker-a"],
        "{log}"
    );
}

#[test]
fn unknown_sub_command_is_named_and_fails() {
    let output = admin(&["noSuchCommand"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("The sub command noSuchCommand not exist."));
    let listing = admin(&[]);
    assert!(stdout(&listing).contains("The most commonly used mqadmin commands are:"));
    for command in [
        "clusterList",
        "consumerProgress",
        "queryMsgById",
        "clusterRT",
        "sendMessage",
    ] {
        assert!(stdout(&listing).contains(command), "{command} is listed");
    }
    let help = admin(&["help", "updateTopic"]);
    assert!(stdout(&help).contains("-t,--topic"), "{}", stdout(&help));
}

#[test]
fn unreachable_name_server_error_names_the_address() {
    let port = free_port_block();
    let address = format!("127.0.0.1:{port}");
    let output = admin(&["topicList", "-n", &address]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains(&format!("cannot reach name server {address}")),
        "{text}"
    );
    assert!(text.contains("os error"), "{text}");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_instead_of_panicking() {
    // Hazard: operators pipe mqadmin into `head` or `grep -q`; the reader exits first and the
    // next print fails with EPIPE, which Rust turns into a panic and a backtrace message.
    // The reader (`true`) exits at once; the admin tool starts writing half a second later,
    // so its writes always meet a closed pipe.
    let scratch = tempfile::tempdir().expect("temporary directory");
    let errors = scratch.path().join("stderr");
    let status = scratch.path().join("status");
    let script = format!(
        "(sleep 0.5; '{BINARY}' admin 2>'{}'; echo $? >'{}') | true",
        errors.display(),
        status.display()
    );
    let shell = std::process::Command::new("sh")
        .args(["-c", &script])
        .status()
        .expect("sh runs");
    assert!(shell.success());
    let errors = std::fs::read_to_string(&errors).expect("stderr captured");
    assert!(!errors.contains("panicked"), "{errors}");
    // 141 = 128 + SIGPIPE: ended by the signal, as a C or Java tool would be.
    let status = std::fs::read_to_string(&status).expect("status captured");
    assert_eq!(status.trim(), "141", "{errors}");
}

/// The `Store Timestamp:` value of queryMsgById for `offset_id`, run with `TZ=zone`.
fn store_time_text(cluster: &Cluster, offset_id: &str, zone: &str) -> String {
    let output = admin_with_env(
        &[
            "queryMsgById",
            "-t",
            "ZoneTopic",
            "-i",
            offset_id,
            "-n",
            &cluster.namesrv,
        ],
        &[("TZ", zone)],
    );
    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix("Store Timestamp:"))
        .unwrap_or_else(|| panic!("no Store Timestamp line:\n{text}"));
    value.trim().to_owned()
}

/// `yyyy-MM-dd HH:mm:ss,SSS` of `epoch_ms` in `zone`, as the C library's `date` prints it.
fn date_in_zone(epoch_ms: i64, zone: &str) -> String {
    let output = std::process::Command::new("date")
        .arg("-d")
        .arg(format!("@{}", epoch_ms.div_euclid(1000)))
        .arg("+%Y-%m-%d %H:%M:%S")
        .env("TZ", zone)
        .output()
        .expect("run date");
    let seconds = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    format!("{seconds},{:03}", epoch_ms.rem_euclid(1000))
}

// Hazard: RocketMQ prints dates in the JVM's local time zone (TZ, else /etc/localtime); a tool
// printing UTC shows a different time for the same message than mqadmin does on any machine
// outside UTC, and reads `-s yyyy-MM-dd#HH:mm:ss:SSS` hours off.
#[test]
fn dates_print_in_the_local_time_zone_taken_from_tz() {
    let cluster = Cluster::start();
    let sent = cluster.admin_ok(&["sendMessage", "-t", "ZoneTopic", "-p", "tz", "-F", "json"]);
    let sent: serde_json::Value = serde_json::from_str(&sent).expect("json");
    let offset_id = sent["offsetMsgId"]
        .as_str()
        .expect("offsetMsgId")
        .to_owned();
    let detail = cluster.admin_ok(&[
        "queryMsgById",
        "-t",
        "ZoneTopic",
        "-i",
        &offset_id,
        "-F",
        "json",
    ]);
    let detail: serde_json::Value = serde_json::from_str(&detail).expect("json");
    let stored_ms = detail["messages"][0]["storeTimestamp"]
        .as_i64()
        .expect("storeTimestamp");
    // POSIX zone strings need no tz database: UTC+8 and UTC−3 (the sign is inverted).
    for zone in ["UTC0", "RMQ-8", "RMQ+3"] {
        assert_eq!(
            store_time_text(&cluster, &offset_id, zone),
            date_in_zone(stored_ms, zone),
            "TZ={zone}"
        );
    }
    assert_ne!(
        store_time_text(&cluster, &offset_id, "RMQ-8"),
        store_time_text(&cluster, &offset_id, "UTC0")
    );
}
