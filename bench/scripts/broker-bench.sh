#!/usr/bin/env bash
# Broker produce/consume benchmark: for each flush mode and shard count, start `ringmq dev`
# on a fresh store, produce 1 KiB messages with 64 closed-loop senders for SECONDS, then drain
# the backlog with `ringmq bench consume --from first`. Results go to OUT/*.json.
# Usage: bench/scripts/broker-bench.sh OUT [SECONDS] [ROUNDS]
#   WORKERS=N: closed-loop senders (default 64, RocketMQ producer.sh's default).
#   DEV_ARGS="--set idlePollMicros=0": further `ringmq dev` options.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out=${1:?usage: broker-bench.sh OUT [SECONDS] [ROUNDS]}
seconds=${2:-15}
rounds=${3:-1}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/release/ringmq
[ -x "$bin" ] || (cd "$(dirname "$0")/../.." && cargo build --release --bin ringmq)
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  for config in "async 1" "sync 1" "async 2" "sync 2"; do
    set -- $config
    flush=$1 shards=$2
    store=$(mktemp -d "$out/store-XXXX")
    flag=""; [ "$flush" = sync ] && flag="--sync-flush"
    "$bin" dev --store "$store" --namesrv-port 19999 --port 29911 --shards "$shards" $flag \
      ${DEV_ARGS:-} > "$out/dev-$flush-$shards-$round.log" 2>&1 &
    dev=$!
    wait_for_boot "$out/dev-$flush-$shards-$round.log"
    "$bin" bench produce -n 127.0.0.1:19999 -t Bench -w "${WORKERS:-64}" -s 1024 -ri 5000 \
      --duration "$seconds" --json "$out/produce-$flush-$shards-$round.json" \
      > "$out/produce-$flush-$shards-$round.txt" 2>&1
    produced=$(python3 -c "import json;print(json.load(open('$out/produce-$flush-$shards-$round.json'))['messages'])")
    "$bin" bench consume -n 127.0.0.1:19999 -t Bench -g benchgroup --from first -q "$produced" \
      -ri 5000 --duration 120 --pull-batch 256 --json "$out/consume-$flush-$shards-$round.json" \
      > "$out/consume-$flush-$shards-$round.txt" 2>&1
    kill -TERM "$dev"; wait "$dev" || true
    rm -rf "$store"
    echo "round $round $flush shards=$shards: $(tail -2 "$out/produce-$flush-$shards-$round.txt" | tr '\n' ' ')"
    echo "    consume: $(tail -1 "$out/consume-$flush-$shards-$round.txt")"
  done
done
