//! Goal: `ringmq bench` end to end where its report depends on how the binary was built: the
//! `--json` report names the git revision the binary was built from, also when it runs outside
//! the source tree.
//! Method: `ringmq bench produce --embedded` for one second from a temporary directory (no git
//! checkout there), then the report's `git_revision` against `git rev-parse HEAD` of this
//! checkout, which cargo rebuilt the binary from.

#![allow(
    clippy::disallowed_methods,
    reason = "end-to-end tests run real processes"
)]

mod support;

use std::process::Command;

// Hazard: a revision read from git at run time is the revision of whatever directory the
// benchmark runs in (or empty outside a checkout), not of the code that ran, so two reports
// compared by `bench compare` could name the wrong commits.
#[test]
fn json_report_names_the_revision_the_binary_was_built_from_wherever_it_runs() {
    let directory = tempfile::tempdir().expect("tempdir");
    let report = directory.path().join("report.json");
    let output = Command::new(support::BINARY)
        .args([
            "bench",
            "produce",
            "--embedded",
            "--shards",
            "1",
            "-w",
            "2",
            "-s",
            "64",
        ])
        .args(["--duration", "1", "--json"])
        .arg(&report)
        .current_dir(directory.path())
        .env("GIT_CEILING_DIRECTORIES", directory.path())
        .output()
        .expect("run ringmq bench");
    assert!(
        output.status.success(),
        "{}\n{}",
        support::stdout(&output),
        support::stderr(&output)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map_or_else(
            || "unknown".to_owned(),
            |output| String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        );
    assert_eq!(report["machine"]["git_revision"], head.as_str());
}
