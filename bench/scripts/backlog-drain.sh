#!/usr/bin/env bash
# A backlog drain on a fresh `ringmq dev` store, the consume half of the peer comparison:
# BACKLOG 1 KiB messages from 64 senders, then `ringmq bench consume --from first
# --pull-batch 32` until all are consumed. Rounds alternate ASYNC_FLUSH and SYNC_FLUSH.
#
# Usage: bench/scripts/backlog-drain.sh [ROUNDS] [BACKLOG]   (defaults 3 and 50000)
# Env:   RINGMQ (binary, default target/release/ringmq), PORT (broker, default 20921;
#        the name server uses PORT+8956)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."
rounds=${1:-3}
backlog=${2:-50000}
bin=${RINGMQ:-${CARGO_TARGET_DIR:-target}/release/ringmq}
port=${PORT:-20921}
nport=$((port + 8956))
for round in $(seq 1 "$rounds"); do
    for flush in async sync; do
        dir=$(mktemp -d /tmp/ringmq-drain.XXXXXX)
        flag=""
        [ "$flush" = sync ] && flag=--sync-flush
        HOME="$dir" "$bin" dev --store "$dir/store" --namesrv-port "$nport" --port "$port" \
            $flag >"$dir/dev.log" 2>&1 &
        pid=$!
        wait_for_boot "$dir/dev.log"
        "$bin" bench produce -n "127.0.0.1:$nport" -t Backlog -w 64 -s 1024 -ri 60000 \
            -q "$backlog" >"$dir/fill.txt" 2>&1
        line=$("$bin" bench consume -n "127.0.0.1:$nport" -t Backlog -g benchgroup \
            --from first -q "$backlog" -ri 60000 --duration 300 --pull-batch 32 2>&1 |
            grep Complete || true)
        echo "round $round $flush: $line"
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        rm -rf "$dir"
    done
done
