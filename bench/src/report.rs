//! What a run prints when it ends and what `--json FILE` holds: the configuration, the machine
//! (kernel, CPUs), the git revision and every figure, so two reports can be compared
//! (`bench compare`) and a run repeated from its report alone.

use std::sync::atomic::Ordering;

use crate::produce::Produced;
use crate::stats::{percentiles_json, percentiles_line};

/// A finished run: its JSON report, and whether its checks passed (`--verify`).
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) report: serde_json::Value,
    pub(crate) passed: bool,
}

fn git(args: &[&str]) -> Option<String> {
    let output = std::process::Command::new("git").args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The machine and source revision, for JSON reports. The revision is the git checkout the
/// command runs in (benchmarks run from the source tree); `git_dirty` says whether tracked
/// files differ from it.
pub(crate) fn machine() -> serde_json::Value {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let revision = git(&["rev-parse", "HEAD"]).unwrap_or_default();
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty());
    serde_json::json!({
        "kernel": kernel.trim(),
        "cpus": std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        "cpu_model": cpu,
        "git_revision": revision,
        "git_dirty": dirty,
    })
}

/// Print the `[Complete]` and percentile lines of a produce run and build its JSON report.
pub(crate) fn produced(produced: &Produced) -> serde_json::Value {
    let counters = &produced.shared.counters;
    let options = &produced.shared.options;
    let batch = u64::try_from(options.batch).unwrap_or(1);
    let success = counters.success.load(Ordering::Relaxed);
    let send_failed = counters.send_failed.load(Ordering::Relaxed);
    let response_failed = counters.response_failed.load(Ordering::Relaxed);
    let latency_ms_max = counters.latency_ms_max.load(Ordering::Relaxed);
    let average_ms =
        counters.latency_ms_total.load(Ordering::Relaxed) as f64 / success.max(1) as f64;
    let elapsed = produced.elapsed_seconds.max(0.001);
    let messages = success * batch;
    let tps = messages as f64 / elapsed;
    println!(
        "[Complete] Send Total: {} | Send TPS: {tps:.0} | Max RT(ms): {latency_ms_max} | Average RT(ms): {average_ms:7.3} | Send Failed: {send_failed} | Response Failed: {response_failed}",
        (success + send_failed) * batch,
    );
    println!("{}", percentiles_line(&produced.latencies));
    let mut config = options.to_json();
    config["queues"] = produced.queues.len().into();
    serde_json::json!({
        "kind": "produce",
        "config": config,
        "machine": machine(),
        "seconds": produced.elapsed_seconds,
        "messages": messages,
        "messages_per_second": tps,
        "megabytes_per_second": tps * options.message_bytes as f64 / 1e6,
        "send_failed": send_failed,
        "response_failed": response_failed,
        "average_rt_ms": average_ms,
        "max_rt_ms": latency_ms_max,
        "latency": percentiles_json(&produced.latencies),
    })
}
