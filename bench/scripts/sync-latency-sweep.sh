#!/usr/bin/env bash
# SYNC_FLUSH acknowledgement latency against the number of closed-loop senders: for each count
# start `ringmq dev --sync-flush` on a fresh store, run `bench produce` (1 KiB) and print
# rate and latency percentiles, then the shard's exit line (records, chains, fdatasyncs).
# Put the figures next to bench/scripts/device-limits.sh run on the same disk.
# Usage: bench/scripts/sync-latency-sweep.sh BINARY OUT
#   SWEEP="1 4 8 16 32 64" sender counts; SHARDS=1; SECS=5 seconds per count;
#   DEV_ARGS="--set idlePollMicros=200" further `ringmq dev` options.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bin=${1:?usage: sync-latency-sweep.sh BINARY OUT}
out=${2:?usage: sync-latency-sweep.sh BINARY OUT}
mkdir -p "$out"
for w in ${SWEEP:-1 4 8 16 32 64}; do
  store=$(mktemp -d "$out/store-XXXX")
  "$bin" dev --store "$store" --namesrv-port 19999 --port 29911 --shards "${SHARDS:-1}" \
    --sync-flush ${DEV_ARGS:-} > "$out/dev-$w.log" 2>&1 &
  dev=$!; wait_for_boot "$out/dev-$w.log"
  "$bin" bench produce -n 127.0.0.1:19999 -t Bench -w "$w" -s 1024 -ri 5000 \
    --duration "${SECS:-5}" --json "$out/p-$w.json" > "$out/p-$w.txt" 2>&1
  python3 -c "
import json;r=json.load(open('$out/p-$w.json'));l=r['latency']
print(f\"senders $w: {r['messages_per_second']:9.0f} msg/s  p50 {l['p50_ms']:.3f}  p99 {l['p99_ms']:.3f}  p99.9 {l['p99_9_ms']:.3f} ms\")"
  kill -INT "$dev"; wait "$dev" || true; rm -rf "$store"
  grep -h 'chains' "$out/dev-$w.log" | sed 's/.*INFO //' | head -2
done
