#!/usr/bin/env bash
# Side by side with the peer: the rocketmq-rust 1.0.0 name server and broker (installed from
# crates.io) and ringmq, each started on loopback with the same broker settings, under the same
# `ringmq bench` workloads in one run:
#   1 KiB messages, 64 closed-loop senders, ASYNC_FLUSH and SYNC_FLUSH, for SECONDS each;
#   then a backlog of BACKLOG messages (default 50,000) consumed from the first offset;
# and, in the same run, the physical limits those figures are read against:
#   the device (fio: O_DIRECT sequential write bandwidth, fdatasync latency) and
#   loopback TCP (iperf3, one stream).
#
# Usage: bench/compare-peers.sh OUT [SECONDS] [ROUNDS]
# Env:   PEER_ROOT  where `cargo install` puts the peer (default ~/.cache/ringmq-peer)
#        BACKLOG  messages in the consumed backlog (default 50000)
#        SYNC_SECONDS  runtime of each fio fdatasync test (default 10)
# Writes OUT/summary.md (the table for docs/benchmarks.md) and every raw report under OUT.
#
# Equivalent settings: both brokers get one properties file with only the keys the peer
# accepts (it refuses to start with some seed keys such as defaultTopicQueueNums and
# mapedFileSizeCommitLog): cluster and broker name, brokerId 0, ASYNC_MASTER, listenPort,
# namesrvAddr, brokerIP1 127.0.0.1, store paths, flushDiskType and autoCreateTopicEnable.
# ringmq runs with its defaults otherwise (one shard per core). The bench client sends
# SEND_MESSAGE_V2 with the Java JSON header layout, including serializeTypeCurrentRPC, which
# the peer insists on.
set -euo pipefail

out=${1:?usage: compare-peers.sh OUT [SECONDS] [ROUNDS]}
seconds=${2:-15}
rounds=${3:-1}
backlog=${BACKLOG:-50000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/release/ringmq
peer_root=${PEER_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/ringmq-peer}
peer_namesrv=$peer_root/bin/rocketmq-namesrv-rust
peer_broker=$peer_root/bin/rocketmq-broker-rust

install_packages() {
    local need=()
    for tool in "$@"; do command -v "$tool" >/dev/null || need+=("$tool"); done
    [ ${#need[@]} -eq 0 ] && return
    echo "compare-peers: installing ${need[*]}" >&2
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
}

install_packages fio iperf3 jq python3
if [ ! -x "$peer_namesrv" ] || [ ! -x "$peer_broker" ]; then
    echo "compare-peers: installing the peer (rocketmq-rust 1.0.0) into $peer_root" >&2
    cargo install --locked --root "$peer_root" rocketmq-namesrv@1.0.0 rocketmq-broker@1.0.0
fi
[ -x "$bin" ] || (cd "$root" && cargo build --release --bin ringmq)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# --- physical limits of this run -------------------------------------------------------------
echo "== device limits (fio)"
SYNC_SECONDS=${SYNC_SECONDS:-10} KEEP_FIO_JSON=0 \
    "$root/bench/scripts/device-limits.sh" "$out/device" 1G | tee "$out/device.txt"
echo "== loopback TCP (iperf3, one stream, 5 s)"
iperf3 -s -1 -p 25201 >/dev/null 2>&1 &
sleep 1
iperf3 -c 127.0.0.1 -p 25201 -t 5 -J >"$out/iperf3.json"
wait
jq '.end.sum_received.bits_per_second / 8e6 | floor | "loopback: \(.) MB/s"' -r "$out/iperf3.json"

# --- servers ----------------------------------------------------------------------------------
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "compare-peers: nothing listens on port $1 after 30 s" >&2
    return 1
}

stop_all() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}

# properties FILE STORE FLUSH NAMESRV_PORT BROKER_PORT
properties() {
    cat >"$1" <<EOF
brokerClusterName=DefaultCluster
brokerName=broker-a
brokerId=0
brokerRole=ASYNC_MASTER
brokerIP1=127.0.0.1
listenPort=$5
namesrvAddr=127.0.0.1:$4
storePathRootDir=$2
storePathCommitLog=$2/commitlog
flushDiskType=$3
autoCreateTopicEnable=true
EOF
}

# start SYSTEM RUN FLUSH NAMESRV_PORT BROKER_PORT
start() {
    local system=$1 run=$2 flush=$3 nport=$4 bport=$5
    local dir="$out/$run"
    mkdir -p "$dir/home/conf" "$dir/store"
    properties "$dir/broker.properties" "$dir/store" "$flush" "$nport" "$bport"
    if [ "$system" = peer ]; then
        ROCKETMQ_HOME="$dir/home" HOME="$dir/home" "$peer_namesrv" --listenPort "$nport" \
            --bindAddress 127.0.0.1 --rocketmqHome "$dir/home" >"$dir/namesrv.log" 2>&1 &
        pids+=($!)
        wait_port "$nport"
        ROCKETMQ_HOME="$dir/home" HOME="$dir/home" "$peer_broker" -c "$dir/broker.properties" \
            >"$dir/broker.log" 2>&1 &
        pids+=($!)
    else
        echo "listenPort=$nport" >"$dir/namesrv.properties"
        HOME="$dir/home" "$bin" namesrv -c "$dir/namesrv.properties" >"$dir/namesrv.log" 2>&1 &
        pids+=($!)
        wait_port "$nport"
        HOME="$dir/home" "$bin" broker -c "$dir/broker.properties" >"$dir/broker.log" 2>&1 &
        pids+=($!)
    fi
    wait_port "$bport"
    # Registration with the name server follows the listener by a moment.
    sleep 3
}

# workload RUN NAMESRV_PORT
workload() {
    local dir="$out/$1" namesrv="127.0.0.1:$2"
    "$bin" bench produce -n "$namesrv" -t Bench -w 64 -s 1024 -ri 5000 --duration "$seconds" \
        --json "$dir/produce.json" >"$dir/produce.txt" 2>&1 || true
    # The backlog to consume is the same for both: BACKLOG messages of 1 KiB in a topic of
    # their own. (Batches would fill it faster, but the peer stores a SEND_BATCH_MESSAGE as
    # one record, so its consumers would see 32 times fewer messages.)
    "$bin" bench produce -n "$namesrv" -t Backlog -w 64 -s 1024 -ri 60000 -q "$backlog" \
        --json "$dir/fill.json" >"$dir/fill.txt" 2>&1 || true
    local filled
    filled=$(jq '.messages // 0' "$dir/fill.json" 2>/dev/null || echo 0)
    if [ "$filled" -gt 0 ]; then
        "$bin" bench consume -n "$namesrv" -t Backlog -g benchgroup --from first -q "$filled" \
            -ri 5000 --duration 300 --pull-batch 32 --json "$dir/consume.json" \
            >"$dir/consume.txt" 2>&1 || true
    fi
    echo "  $(tail -2 "$dir/produce.txt" | head -1)"
    [ -f "$dir/consume.txt" ] && echo "  consume: $(tail -1 "$dir/consume.txt")"
    return 0
}

port=21000
for round in $(seq 1 "$rounds"); do
    for flush in ASYNC_FLUSH SYNC_FLUSH; do
        for system in peer ringmq; do
            run="$system-$flush-$round"
            echo "== round $round: $system $flush"
            start "$system" "$run" "$flush" "$port" "$((port + 11))"
            workload "$run" "$port"
            stop_all
            rm -rf "$out/$run/store"
            port=$((port + 100))
        done
    done
done

python3 "$root/bench/scripts/compare_peers_summary.py" "$out" "$rounds" | tee "$out/summary.md"
