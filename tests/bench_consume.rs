//! Goal: `ringmq bench consume` drains a backlog exactly: every produced message is counted
//! once, with the same byte total, whatever the pull size — including pulls whose response
//! frame is larger than the consumer's read buffer, which must grow rather than fail.
//! Method: a real name server and broker on loopback; `ringmq bench produce -q` fills a
//! topic, `ringmq bench consume --from first -q` drains it, and both JSON reports are read.

#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end tests run real processes"
)]

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

fn bench(args: &[&str]) -> String {
    let output = Command::new(BINARY)
        .arg("bench")
        .args(args)
        .output()
        .expect("run ringmq bench");
    assert!(
        output.status.success(),
        "bench {args:?} failed:\nstdout: {}\nstderr: {}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

fn report(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("bench wrote its JSON report");
    serde_json::from_str(&text).expect("the report is JSON")
}

fn produce(cluster: &Cluster, topic: &str, size: &str, count: &str) -> u64 {
    let json = cluster
        .directory
        .path()
        .join(format!("{topic}-produce.json"));
    let json = json.to_str().expect("utf-8 path");
    bench(&[
        "produce",
        "-n",
        &cluster.namesrv,
        "-t",
        topic,
        "-w",
        "8",
        "-s",
        size,
        "-q",
        count,
        "-ri",
        "60000",
        "--json",
        json,
    ]);
    let produced = report(Path::new(json))["messages"]
        .as_u64()
        .expect("messages");
    assert_eq!(produced.to_string(), count, "every send was acknowledged");
    produced
}

fn consume(cluster: &Cluster, topic: &str, pull_batch: &str, expected: u64) -> serde_json::Value {
    let json = cluster
        .directory
        .path()
        .join(format!("{topic}-{pull_batch}.json"));
    let json = json.to_str().expect("utf-8 path");
    let group = format!("drain-{topic}-{pull_batch}");
    let quantity = expected.to_string();
    bench(&[
        "consume",
        "-n",
        &cluster.namesrv,
        "-t",
        topic,
        "-g",
        &group,
        "--from",
        "first",
        "-q",
        &quantity,
        "--duration",
        "60",
        "--pull-batch",
        pull_batch,
        "-ri",
        "60000",
        "--json",
        json,
    ]);
    report(Path::new(json))
}

#[test]
fn bench_consume_counts_every_message_of_a_backlog_once() {
    let cluster = Cluster::start();
    // Small records, default-sized pulls.
    let small = produce(&cluster, "DrainSmall", "256", "3000");
    let drained = consume(&cluster, "DrainSmall", "32", small);
    assert_eq!(drained["messages"].as_u64(), Some(small), "{drained}");
    // 8 KB records in 256-message pulls: about 2 MB per response, twice the read buffer.
    let large = produce(&cluster, "DrainLarge", "8000", "1200");
    let drained = consume(&cluster, "DrainLarge", "256", large);
    assert_eq!(drained["messages"].as_u64(), Some(large), "{drained}");
    let megabytes = drained["megabytes_per_second"].as_f64().expect("rate");
    let seconds = drained["seconds"].as_f64().expect("seconds");
    let bytes = megabytes * 1e6 * seconds;
    // Each stored record is its body plus a fixed part and the topic and properties.
    assert!(
        (1200.0 * 8000.0..1200.0 * 9000.0).contains(&bytes),
        "consumed {bytes} bytes for 1200 records of 8000-byte bodies"
    );
}
