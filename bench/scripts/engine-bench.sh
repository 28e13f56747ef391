#!/usr/bin/env bash
# The storage-engine benchmark of docs/benchmarks.md ("Storage engine"), in one run:
#   for each of REPS rounds: the device's limits (device-limits.sh), then every append
#   configuration (appenders 1/16/64 x SYNC/ASYNC x 1/2 shards), then the 1 GiB recovery;
# so device and engine are measured interleaved on the same, possibly noisy, machine.
# Finally prints medians as a markdown table with the ratios against the issue's targets.
#
# Usage: bench/scripts/engine-bench.sh DIR [REPS] [SECONDS]   (defaults: 3 rounds, 10 s)
#        bench/scripts/engine-bench.sh --summarize RESULTS.jsonl...   (medians over all files)
# CARGO_TARGET_DIR is honoured. To measure a commit while others edit the tree, run this from
# a snapshot: git archive HEAD | tar -x -C SNAP && git rev-parse --short HEAD > SNAP/REVISION.
# Results: every JSON line goes to $DIR/engine-bench-<timestamp>.jsonl; the summary is
# printed and written next to it as .md. Needs jq; installs fio through device-limits.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

# record REP COMMAND...: run, keep its JSON line tagged with the round and the load average.
record() {
    local rep=$1
    shift
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    "$@" 2>/dev/null | tee /dev/stderr | sed -n 's/^JSON //p' |
        jq -c --argjson rep "$rep" --argjson load "$load" '. + {rep: $rep, load1: $load}' >>"$results"
}

machine() {
    echo "kernel $(uname -r), $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "filesystem: $(df -T "$dir" | awk 'NR==2 {print $2, $1}')"
    echo "memlock limit: $(ulimit -l) KiB"
    # The engine measured: the commit, and whether engine or protocol sources differ from it.
    if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
        echo "revision: $(git -C "$repo" rev-parse --short HEAD)," \
            "$(git -C "$repo" status --porcelain engine/src protocol/src | wc -l) engine/protocol files modified"
    else
        echo "revision: $(cat "$repo/REVISION" 2>/dev/null || echo unknown) (source snapshot)"
    fi
}

run_rounds() {
    cargo build --release -p ringmq-engine --example append_bench --manifest-path "$repo/Cargo.toml"
    local bench="${CARGO_TARGET_DIR:-$repo/target}/release/examples/append_bench"
    machine | tee "$results.machine"
    for rep in $(seq 1 "$reps"); do
        echo "=== round $rep of $reps" >&2
        record "$rep" "$here/device-limits.sh" "$dir"
        for flush in sync async; do
            for shards in 1 2; do
                for appenders in 1 16 64; do
                    # One appender cannot keep two shards busy; that cell stays empty.
                    [ "$appenders" -lt "$shards" ] && continue
                    record "$rep" "$bench" --appenders "$appenders" --flush "$flush" \
                        --shards "$shards" --size 1024 --seconds "$seconds" --dir "$dir"
                done
            done
        done
        # Before 66e4e69 the default 64 MiB tail cache could pin the whole 32 MiB buffer pool
        # when batches are large (docs/benchmarks.md); the build keeps a 16 MiB tail cache so
        # older revisions can be measured the same way.
        record "$rep" "$bench" --recovery-gib 1 --size 1024 --drop-caches \
            --tail-cache-mib 16 --dir "$dir"
    done
}

if [ "${1:-}" = --summarize ]; then
    # Summarize earlier results again, e.g. rounds of several invocations together.
    shift
    results=$(mktemp --suffix=.jsonl)
    cat "$@" >"$results"
else
    dir=${1:?usage: engine-bench.sh DIR [REPS] [SECONDS] | engine-bench.sh --summarize FILE...}
    reps=${2:-3}
    seconds=${3:-10}
    mkdir -p "$dir"
    results="$dir/engine-bench-$(date +%Y%m%d-%H%M%S).jsonl"
    run_rounds
fi

summary="${results%.jsonl}.md"
jq -rs -f /dev/stdin "$results" >"$summary" <<'JQ'
def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def r(n): if . == null then "-" else (. * pow(10; n) | round) / pow(10; n) | tostring end;
def ms: if . == null then "-" else (. / 1000 * 100 | round) / 100 | tostring end;
(map(select(.bench == "device"))) as $device
| (map(select(.bench == "append"))) as $append
| (map(select(.bench == "recovery"))) as $recovery
| ($device | map(.seq_write_qd1_mb_s) | median) as $bw1
| ($device | map(.seq_write_qd16_mb_s) | median) as $bw16
| ($device | map(.fdatasync_4k_p99_us) | median) as $sync99
| ($device | map(.fdatasync_64k_p99_us) | median) as $sync99_64
| "### Device limits (fio, median of \($device | length) runs interleaved with the engine runs)",
  "",
  "| fio test | per run | median |",
  "|---|---|---|",
  "| O_DIRECT seq write 1 MiB, io_uring QD1 (MB/s) | \($device | map(.seq_write_qd1_mb_s | r(0)) | join(", ")) | \($bw1 | r(0)) |",
  "| O_DIRECT seq write 1 MiB, io_uring QD16 (MB/s) | \($device | map(.seq_write_qd16_mb_s | r(0)) | join(", ")) | \($bw16 | r(0)) |",
  "| fdatasync after 4 KiB write p50 (ms) | \($device | map(.fdatasync_4k_p50_us | ms) | join(", ")) | \($device | map(.fdatasync_4k_p50_us) | median | ms) |",
  "| fdatasync after 4 KiB write p99 (ms) | \($device | map(.fdatasync_4k_p99_us | ms) | join(", ")) | \($sync99 | ms) |",
  "| fdatasync after 4 KiB write p99.9 (ms) | \($device | map(.fdatasync_4k_p999_us | ms) | join(", ")) | \($device | map(.fdatasync_4k_p999_us) | median | ms) |",
  "| fdatasync after 64 KiB write p50 (ms) | \($device | map(.fdatasync_64k_p50_us | ms) | join(", ")) | \($device | map(.fdatasync_64k_p50_us) | median | ms) |",
  "| fdatasync after 64 KiB write p99 (ms) | \($device | map(.fdatasync_64k_p99_us | ms) | join(", ")) | \($sync99_64 | ms) |",
  "",
  "### Append, 1 KiB records (median of n runs per row)",
  "",
  "| flush | shards | appenders | n | msg/s | MB/s | p50 ms | p99 ms | p99.9 ms | p99 ms per run | fdatasync/s | records per fdatasync | shard CPU | load1 |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ($append | group_by([.flush, .shards, .appenders]) | sort_by(.[0].flush != "sync", .[0].shards, .[0].appenders)[]
   | "| \(.[0].flush) | \(.[0].shards) | \(.[0].appenders) | \(length) | \(map(.msgs_per_s) | median | r(0)) | \(map(.mb_per_s) | median | r(1)) | \(map(.p50_us) | median | ms) | \(map(.p99_us) | median | ms) | \(map(.p999_us) | median | ms) | \(map(.p99_us | ms) | join(", ")) | \(map(.fdatasyncs_per_s) | median | r(0)) | \(if .[0].flush == "sync" then (map(.records_per_fdatasync) | median | r(1)) else "-" end) | \(map(.shard_cpu * 100) | median | r(0))% | \(map(.load1) | median | r(1)) |"),
  "",
  "### Targets (SYNC_FLUSH, 64 appenders)",
  "",
  "| shards | MB/s ÷ fio QD1 seq write | MB/s ÷ fio QD16 seq write | p99 ÷ fio fdatasync p99 (4 KiB) | p99 ÷ fio fdatasync p99 (64 KiB) |",
  "|---|---|---|---|---|",
  ($append | map(select(.flush == "sync" and .appenders == 64)) | group_by(.shards)[]
   | "| \(.[0].shards) | \((map(.mb_per_s) | median) / $bw1 | r(3)) | \((map(.mb_per_s) | median) / $bw16 | r(3)) | \((map(.p99_us) | median) / $sync99 | r(2)) | \((map(.p99_us) | median) / $sync99_64 | r(2)) |"),
  "",
  "Targets: throughput ratio >= 0.5, latency ratio <= 2.",
  "",
  "### Recovery of a 1 GiB commitlog (1 KiB records, page cache dropped before each open, \($recovery | length) runs)",
  "",
  "| case | records re-dispatched | MiB scanned | Shard::open s (per run) | median s |",
  "|---|---|---|---|---|",
  ($recovery | map(.cases[]) | group_by(.case) | sort_by(.[0].case != "fresh_checkpoint", .[0].case)[]
   | "| \(.[0].case) | \(map(.records_redispatched) | median) | \(map(.bytes_scanned / 1048576) | median | r(1)) | \(map(.open_s | r(2)) | join(", ")) | \(map(.open_s) | median | r(2)) |"),
  "",
  "Log end intact after every recovery: \($recovery | map(.cases[].intact) | all)"
JQ
cat "$summary"
echo "results: $results, summary: $summary" >&2
