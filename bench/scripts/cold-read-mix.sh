#!/usr/bin/env bash
# Sends while a consumer drains a backlog from disk: what a cold reader costs the producers
# of the same broker. Per round and per build: `ringmq dev` on a fresh store on the disk,
# a backlog of BACKLOG 1 KiB messages (far more than the tail cache), then 64 closed-loop
# senders for SECONDS alone ("alone"), then again while `bench consume --from first` drains
# the backlog ("mixed"). Prints produce msg/s, p50, p99 and p99.9 of each, and the consumer's
# rate. Builds alternate inside each round so that both see the same machine.
#
# Usage: bench/scripts/cold-read-mix.sh OUT [SECONDS] [ROUNDS] [BACKLOG] [BINARY...]
#   BINARY defaults to this tree's release build; give two to compare them.
#   SHARDS (default 2), PULL_BATCH (default 32).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out=${1:?usage: cold-read-mix.sh OUT [SECONDS] [ROUNDS] [BACKLOG] [BINARY...]}
seconds=${2:-10}
rounds=${3:-3}
backlog=${4:-600000}
shift $(($# < 4 ? $# : 4))
root=$(cd "$(dirname "$0")/../.." && pwd)
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
  bins=("${CARGO_TARGET_DIR:-$root/target}/release/ringmq")
  [ -x "${bins[0]}" ] || (cd "$root" && cargo build --release --bin ringmq)
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
shards=${SHARDS:-2}
batch=${PULL_BATCH:-32}

# produce-json FILE: "msg/s p50 p99 p99.9"
summary() {
  python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
l = r["latency"]
print(f'{r["messages_per_second"]:.0f} msg/s, p50 {l["p50_ms"]:.2f} ms, '
      f'p99 {l["p99_ms"]:.2f} ms, p99.9 {l["p99_9_ms"]:.2f} ms')
EOF
}

for round in $(seq 1 "$rounds"); do
  for index in "${!bins[@]}"; do
    bin=${bins[$index]}
    tag="r$round-b$index"
    store=$(mktemp -d "$out/store-XXXX")
    "$bin" dev --store "$store" --namesrv-port 19997 --port 29931 --shards "$shards" \
      > "$out/dev-$tag.log" 2>&1 &
    dev=$!
    wait_for_boot "$out/dev-$tag.log"
    "$bin" bench produce -n 127.0.0.1:19997 -t Backlog -w 64 -s 1024 -ri 5000 -q "$backlog" \
      > "$out/fill-$tag.txt" 2>&1
    "$bin" bench produce -n 127.0.0.1:19997 -t Live -w 64 -s 1024 -ri 5000 \
      --duration "$seconds" --json "$out/alone-$tag.json" > "$out/alone-$tag.txt" 2>&1
    "$bin" bench consume -n 127.0.0.1:19997 -t Backlog -g drain --from first -q "$backlog" \
      -ri 5000 --duration $((seconds + 1)) --pull-batch "$batch" \
      --json "$out/drain-$tag.json" > "$out/drain-$tag.txt" 2>&1 &
    consumer=$!
    sleep 1
    "$bin" bench produce -n 127.0.0.1:19997 -t Live -w 64 -s 1024 -ri 5000 \
      --duration "$seconds" --json "$out/mixed-$tag.json" > "$out/mixed-$tag.txt" 2>&1
    wait "$consumer" || true
    kill -TERM "$dev"
    wait "$dev" || true
    rm -rf "$store"
    echo "round $round build $index ($bin)"
    echo "  alone: $(summary "$out/alone-$tag.json")"
    echo "  mixed: $(summary "$out/mixed-$tag.json")"
    echo "  drain: $(tail -1 "$out/drain-$tag.txt")"
    grep -h "cold windows read" "$out/dev-$tag.log" | sed 's/^.*INFO /  /' || true
  done
done
