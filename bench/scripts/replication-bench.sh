#!/usr/bin/env bash
# Replication benchmark (issue 6): produce throughput and latency of a lone ASYNC_MASTER, an
# ASYNC_MASTER with a slave and a SYNC_MASTER with a slave, side by side in each round (1 KiB
# messages, 64 closed-loop senders, ASYNC_FLUSH, the given shard count), then the slave's
# catch-up rate on a backlog written while it was down. CPU per message of the master and the
# slave comes from /proc/PID/stat (user + system time over the whole process life).
# Usage: bench/scripts/replication-bench.sh OUT [SECONDS] [ROUNDS] [SHARDS]
#   WORKERS=N (default 64): closed-loop senders; a few show latency without CPU saturation.
#   OTHER=BINARY: each round also runs SYNC_MASTER with this build (master and slave) right
#     after this tree's, as mode "sync-b", for an A/B on a noisy machine.
#   MODES="lone async sync" (default): the modes each round runs; OTHER_MODES="sync"
#     (default): the modes that OTHER also runs, as "<mode>-b".
#   NO_CATCHUP=1: skip the catch-up measurement; CATCHUP_ONLY=1: measure only catch-up.
#   RINGMQ=BINARY: the build to measure (default: this tree's release build).
#   SLAVE_CPUS=LIST: run the slave under `taskset -c LIST` (its shards pin to those CPUs), as
#     a stand-in for the slave's own machine; by default master and slave both pin to CPU 0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out=${1:?usage: replication-bench.sh OUT [SECONDS] [ROUNDS] [SHARDS]}
seconds=${2:-10}
rounds=${3:-3}
shards=${4:-1}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${RINGMQ:-${CARGO_TARGET_DIR:-$root/target}/release/ringmq}
[ -x "$bin" ] || (cd "$root" && cargo build --release --bin ringmq)
mkdir -p "$out"
out=$(cd "$out" && pwd)
namesrv_port=19876
master_port=29911
slave_port=29921

# GET_BROKER_RUNTIME_INFO (28) over the remoting protocol; prints one key's value.
runtime_key() {
  python3 - "$1" "$2" <<'EOF'
import json, socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
header = json.dumps({"code": 28, "language": "JAVA", "version": 0, "opaque": 1,
                     "flag": 0, "serializeTypeCurrentRPC": "JSON"}).encode()
frame = struct.pack(">ii", 4 + len(header), len(header)) + header
with socket.create_connection((host, int(port)), timeout=5) as s:
    s.sendall(frame)
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
length, header_length = struct.unpack(">ii", data[:8])
body = data[8 + (header_length & 0xFFFFFF):4 + length]
print(json.loads(body)["table"].get(sys.argv[2], ""))
EOF
}

properties() { # name role id port
  cat > "$out/$1.properties" <<EOF
brokerClusterName=BenchCluster
brokerName=bench-a
brokerId=$3
brokerRole=$2
flushDiskType=ASYNC_FLUSH
brokerIP1=127.0.0.1
listenPort=$4
namesrvAddr=127.0.0.1:$namesrv_port
storePathRootDir=$out/store-$1
logDir=$out/logs-$1
shards=$shards
EOF
}

start() { # name [binary]
  local pin=()
  [ "$1" = slave ] && [ -n "${SLAVE_CPUS:-}" ] && pin=(taskset -c "$SLAVE_CPUS")
  "${pin[@]}" "${2:-$bin}" broker -c "$out/$1.properties" > "$out/$1.out" 2>&1 &
  echo $!
}

ticks=$(getconf CLK_TCK)
cpu_ticks() { # pid: user + system clock ticks so far
  awk '{print $14 + $15}' "/proc/$1/stat"
}

# Brokers are started in command substitutions, so they are not this shell's children and
# `wait` would return at once: poll until each is gone (its ports free), SIGKILL after 20 s.
stop_all() {
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

"$bin" namesrv -c <(echo "listenPort=$namesrv_port") > "$out/namesrv.out" 2>&1 &
namesrv=$!
wait_line "$out/namesrv.out" "boot success"
# Leave no broker running and no store behind (each round writes gigabytes).
trap 'kill $namesrv 2>/dev/null || true; pkill -f "$out/(master|slave).properties" || true;
      rm -rf "$out"/store-*' EXIT

for round in $(seq 1 "$rounds"); do
  modes=()
  for mode in ${MODES:-lone async sync}; do
    modes+=("$mode")
    if [ -n "${OTHER:-}" ] && [[ " ${OTHER_MODES:-sync} " == *" $mode "* ]]; then
      modes+=("$mode-b")
    fi
  done
  [ -n "${CATCHUP_ONLY:-}" ] && modes=()
  for mode in "${modes[@]}"; do
    build=$bin; [ "${mode%-b}" != "$mode" ] && build=$OTHER
    rm -rf "$out"/store-* "$out"/logs-*
    role=ASYNC_MASTER; [ "${mode%-b}" = sync ] && role=SYNC_MASTER
    properties master "$role" 0 "$master_port"
    properties slave SLAVE 1 "$slave_port"
    master=$(start master "$build"); wait_line "$out/master.out" "boot success"
    pids=("$master")
    if [ "${mode%-b}" != lone ]; then
      slave=$(start slave "$build"); pids+=("$slave")
      wait_line "$out/slave.out" "connected to master"
    fi
    "$bin" admin updateTopic -n 127.0.0.1:$namesrv_port -c BenchCluster -t Bench \
      > /dev/null
    "$bin" bench produce -n 127.0.0.1:$namesrv_port -t Bench -w "${WORKERS:-64}" -s 1024 -ri 5000 \
      --duration "$seconds" --json "$out/produce-$mode-$round.json" > "$out/produce-$mode-$round.txt" 2>&1
    lag=""
    [ "${mode%-b}" != lone ] && lag=$(runtime_key 127.0.0.1:$master_port slaveFallBehindMuch)
    cpu_master=$(cpu_ticks "$master") cpu_slave=0
    [ "${mode%-b}" != lone ] && cpu_slave=$(cpu_ticks "$slave")
    python3 - "$out/produce-$mode-$round.json" "$mode" "$round" "$lag" \
      "$cpu_master" "$cpu_slave" "$ticks" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
l = r["latency"]
master, slave, ticks = (int(x) for x in sys.argv[5:8])
per = lambda t: t / ticks * 1e6 / max(r["messages"], 1)
r["master_cpu_us_per_message"], r["slave_cpu_us_per_message"] = per(master), per(slave)
json.dump(r, open(sys.argv[1], "w"))
print(f"round {sys.argv[3]} {sys.argv[2]:6}: {r['messages_per_second']:9.0f} msg/s  "
      f"p50 {l['p50_ms']:.2f} ms  p99 {l['p99_ms']:.2f} ms  p99.9 {l['p99_9_ms']:.2f} ms  "
      f"slave lag after run: {sys.argv[4] or '-'} B  "
      f"CPU us/msg master {per(master):.1f} slave {per(slave):.1f}")
EOF
    stop_all "${pids[@]}"
  done

  [ -n "${NO_CATCHUP:-}" ] && continue
  # Catch-up: a backlog written while the slave is down, then the time until it has it all.
  rm -rf "$out"/store-* "$out"/logs-*
  saved_shards=$shards; shards=1
  properties master ASYNC_MASTER 0 "$master_port"
  properties slave SLAVE 1 "$slave_port"
  master=$(start master); wait_line "$out/master.out" "boot success"
  "$bin" admin updateTopic -n 127.0.0.1:$namesrv_port -c BenchCluster -t Bench > /dev/null
  "$bin" bench produce -n 127.0.0.1:$namesrv_port -t Bench -w 64 -s 1024 --duration "$seconds" \
    > /dev/null 2>&1
  target=$(runtime_key 127.0.0.1:$master_port commitLogMaxOffset)
  began=$(date +%s.%N)
  slave=$(start slave)
  wait_line "$out/slave.out" "boot success"
  while [ "$(runtime_key 127.0.0.1:$slave_port commitLogMaxOffset 2>/dev/null || echo 0)" != "$target" ]; do
    sleep 0.05
  done
  ended=$(date +%s.%N)
  bytes=$target  # one shard: the max offset is the log's length in bytes
  python3 -c "import sys; b,s,e=map(float,sys.argv[1:]); print(f'round $round catch-up: {b/1e6:.0f} MB in {e-s:.2f} s = {b/1e6/(e-s):.0f} MB/s (includes slave start)')" \
    "$bytes" "$began" "$ended"
  stop_all "$master" "$slave"
  shards=$saved_shards
done
