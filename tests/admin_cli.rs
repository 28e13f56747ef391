//! Goal: `ringmq admin` (mqadmin) drives a real name server and broker the way RocketMQ's
//! operator tool does: clusterList shows the master row, updateTopic creates a topic that
//! topicList, topicRoute and topicStatus then show, deleteTopic removes it, and operator errors
//! (unknown sub command, unreachable name server) name their cause.
//! Method: `ringmq namesrv` and `ringmq broker -c` on free loopback ports with a temporary
//! store; the admin tool is run as a child process and its stdout/stderr checked.

#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end tests wait on real processes with wall-clock sleeps"
)]
#![allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]

mod support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::*;

/// Run `ringmq admin <args>` with NAMESRV_ADDR cleared.
fn admin(args: &[&str]) -> Output {
    Command::new(BINARY)
        .arg("admin")
        .args(args)
        .env_remove("NAMESRV_ADDR")
        .output()
        .expect("run ringmq admin")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Run until `accept` holds on a successful output, for state the broker registers lazily.
fn admin_until(args: &[&str], accept: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let output = admin(args);
        let text = stdout(&output);
        if output.status.success() && accept(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "admin {args:?} never matched:\nstdout: {text}\nstderr: {}",
            stderr(&output)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn admin_commands_manage_topics_on_a_live_cluster() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (_namesrv, namesrv) = start_namesrv(directory.path());
    let (properties, port) = broker_properties(directory.path(), &namesrv, "");
    let _broker = start_broker(&properties);
    let broker = format!("127.0.0.1:{port}");

    let cluster = admin_until(&["clusterList", "-n", &namesrv], |text| {
        text.contains(&broker)
    });
    let header = cluster.lines().next().expect("header line");
    assert!(header.starts_with("#Cluster Name           #Broker Name            #BID  #Addr"));
    let row = cluster
        .lines()
        .find(|line| line.contains(&broker))
        .expect("broker row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..4],
        ["DefaultCluster", "broker-a", "0", broker.as_str()]
    );
    assert!(row.trim_end().ends_with("true"), "{row}");

    let json = stdout(&admin(&["clusterList", "-n", &namesrv, "--format", "json"]));
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("clusterList json");
    assert_eq!(parsed["brokers"][0]["brokerId"], 0);
    assert_eq!(parsed["brokers"][0]["address"], broker.as_str());

    let created = admin(&[
        "updateTopic",
        "-n",
        &namesrv,
        "-c",
        "DefaultCluster",
        "-t",
        "AdminTopic",
        "-r",
        "4",
        "-w",
        "4",
    ]);
    assert!(created.status.success(), "{}", stderr(&created));
    let text = stdout(&created);
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

    admin_until(&["topicList", "-n", &namesrv], |text| {
        text.lines().any(|line| line == "AdminTopic")
    });
    let route = admin_until(&["topicRoute", "-n", &namesrv, "-t", "AdminTopic"], |_| {
        true
    });
    let parsed: serde_json::Value = serde_json::from_str(&route).expect("route json");
    assert_eq!(parsed["queueDatas"][0]["writeQueueNums"], 4);
    assert_eq!(
        parsed["brokerDatas"][0]["brokerAddrs"]["0"],
        broker.as_str()
    );
    assert!(route.contains("\n\t\"brokerDatas\":["), "{route}");

    let status = stdout(&admin(&["topicStatus", "-n", &namesrv, "-t", "AdminTopic"]));
    let lines: Vec<&str> = status.lines().collect();
    assert!(lines[0].starts_with("#Broker Name"), "{status}");
    assert!(lines[0].contains("#QID  #Min Offset"), "{status}");
    assert_eq!(lines.len(), 5, "one row per write queue:\n{status}");
    assert!(lines[1].starts_with("broker-a"), "{status}");

    let config = stdout(&admin(&["getBrokerConfig", "-n", &namesrv, "-b", &broker]));
    assert!(
        config.starts_with(&format!("============{broker}============")),
        "{config}"
    );
    assert!(config.contains("brokerName"), "{config}");

    let deleted = admin(&[
        "deleteTopic",
        "-n",
        &namesrv,
        "-t",
        "AdminTopic",
        "-c",
        "DefaultCluster",
    ]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert!(stdout(&deleted)
        .contains("delete topic [AdminTopic] from cluster [DefaultCluster] success."));
    admin_until(&["topicList", "-n", &namesrv], |text| {
        !text.lines().any(|line| line == "AdminTopic")
    });
    let missing = admin(&["topicRoute", "-n", &namesrv, "-t", "AdminTopic"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("topic [AdminTopic] does not exist"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn unknown_sub_command_is_named_and_fails() {
    let output = admin(&["noSuchCommand"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("The sub command noSuchCommand not exist."));
    let listing = admin(&[]);
    assert!(stdout(&listing).contains("The most commonly used mqadmin commands are:"));
    assert!(stdout(&listing).contains("clusterList"));
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
