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

/// The git commit this binary was built from, or `unknown` (see `bench/build.rs`).
pub(crate) const GIT_REVISION: &str = env!("RINGMQ_GIT_REVISION");
/// Whether tracked files differed from [`GIT_REVISION`] when it was built: `true`, `false` or
/// `unknown`.
const GIT_DIRTY: &str = env!("RINGMQ_GIT_DIRTY");

/// The machine and source revision, for JSON reports. The revision is the one the binary was
/// built from, wherever it runs; `git_dirty` (null when unknown) says whether the build had
/// uncommitted changes to tracked files.
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
    let dirty = match GIT_DIRTY {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    serde_json::json!({
        "kernel": kernel.trim(),
        "cpus": std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        "cpu_model": cpu,
        "git_revision": GIT_REVISION,
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
        counters.latency_us_total.load(Ordering::Relaxed) as f64 / 1000.0 / success.max(1) as f64;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_revision_is_a_commit_id_or_unknown() {
        let revision = machine()["git_revision"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let commit = revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit());
        assert!(commit || revision == "unknown", "{revision}");
    }
}
