#!/usr/bin/env bash
# A/B one broker setting: for each round, flush mode and shard count, start a name server
# and a broker on a fresh store with KEY=A, then with KEY=B, and produce 1 KiB messages with
# 64 closed-loop senders for SECONDS each. Prints one line per run (send TPS, p50, p99 and
# the broker's CPU microseconds per message, from /proc/PID/stat) and writes OUT/*.json.
# Usage: bench/scripts/broker-ab.sh OUT KEY A B [SECONDS] [ROUNDS] [CONFIGS]
#   CONFIGS: space-separated flush:shards pairs, default "async:1 sync:1 async:2 sync:2".
#   KEY=binary: A and B are two ringmq binaries (name server and broker); the load generator
#   is this tree's release build for both, and the config is the same.
# Example: bench/scripts/broker-ab.sh /var/tmp/ab zeroFillAheadBytes 0 33554432 8 3
#          bench/scripts/broker-ab.sh /var/tmp/ab binary /tmp/old/ringmq target/release/ringmq
set -euo pipefail
out=${1:?usage: broker-ab.sh OUT KEY A B [SECONDS] [ROUNDS] [CONFIGS]}
key=${2:?KEY}
value_a=${3:?A}
value_b=${4:?B}
seconds=${5:-8}
rounds=${6:-3}
configs=${7:-"async:1 sync:1 async:2 sync:2"}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/release/ringmq
[ -x "$bin" ] || (cd "$root" && cargo build --release --bin ringmq)
mkdir -p "$out"
ticks=$(getconf CLK_TCK)

run() { # value flush shards round
  local value=$1 flush=$2 shards=$3 round=$4
  local tag="$key=$value-$flush-$shards-$round" dir flush_type server=$bin setting
  setting="$key=$value"
  if [ "$key" = binary ]; then
    server=$value setting=""
    tag="binary-B-$flush-$shards-$round"
    [ "$value" = "$value_a" ] && tag="binary-A-$flush-$shards-$round"
  fi
  dir=$(mktemp -d "$out/run-XXXX")
  flush_type=ASYNC_FLUSH
  [ "$flush" = sync ] && flush_type=SYNC_FLUSH
  cat > "$dir/broker.conf" <<CONF
brokerClusterName=DefaultCluster
brokerName=broker-a
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=$flush_type
namesrvAddr=127.0.0.1:19999
brokerIP1=127.0.0.1
listenPort=29911
storePathRootDir=$dir/store
logDir=$dir/logs
shards=$shards
$setting
CONF
  printf 'listenPort=19999\n' > "$dir/namesrv.conf"
  RINGMQ_LOG_DIR="$dir/logs" "$server" namesrv -c "$dir/namesrv.conf" > "$dir/namesrv.out" 2>&1 &
  local namesrv=$!
  "$server" broker -c "$dir/broker.conf" > "$dir/broker.out" 2>&1 &
  local broker=$!
  sleep 2.5
  "$bin" bench produce -n 127.0.0.1:19999 -t Bench -w 64 -s 1024 -ri 5000 \
    --duration "$seconds" --json "$out/$tag.json" > "$dir/produce.txt" 2>&1 || true
  local cpu
  cpu=$(awk '{print $14 + $15}' "/proc/$broker/stat")
  kill -TERM "$broker"; wait "$broker" || true
  kill -TERM "$namesrv"; wait "$namesrv" 2>/dev/null || true
  python3 - "$out/$tag.json" "$cpu" "$ticks" "$tag" <<'PY'
import json, sys
path, cpu, ticks, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
try:
    run = json.load(open(path))
except (OSError, ValueError) as error:
    print(f"{tag}: no result ({error})")
    sys.exit(0)
messages = run["messages"]
latency = run["latency"]
us = cpu / ticks * 1e6 / max(messages, 1)
run["broker_cpu_us_per_message"] = us
json.dump(run, open(path, "w"))
print(f"{tag}: {run['messages_per_second']:.0f} msg/s  p50 {latency['p50_ms']:.3f} ms"
      f"  p99 {latency['p99_ms']:.3f} ms"
      f"  broker {us:.2f} us/msg")
PY
  rm -rf "$dir"
}

for round in $(seq 1 "$rounds"); do
  for config in $configs; do
    flush=${config%%:*} shards=${config##*:}
    run "$value_a" "$flush" "$shards" "$round"
    run "$value_b" "$flush" "$shards" "$round"
  done
done
