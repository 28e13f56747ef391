#!/usr/bin/env bash
# CI smoke run of the whole path: `ringmq bench produce --embedded --verify` starts a name
# server and broker in-process on a temporary store, produces for a few seconds, reads every
# queue back and exits non-zero on any lost, misplaced or out-of-order message. It also fails
# when the embedded run leaves its temporary store behind.
# Usage: bench/scripts/verify-smoke.sh [path/to/ringmq]   (default: a debug build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-${CARGO_TARGET_DIR:-$root/target}/debug/ringmq}
if [ $# -eq 0 ]; then
  (cd "$root" && cargo build -q --bin ringmq)
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/tmp"
run() {
  echo "== ringmq bench produce --embedded --verify $*"
  TMPDIR="$scratch/tmp" "$bin" bench produce --embedded --verify -s 512 -ri 1000 \
    -t VerifySmoke "$@" 2>&1 | grep -v ' INFO '
  # grep's status is irrelevant; the bench's status decides.
  return "${PIPESTATUS[0]}"
}
# ASYNC_FLUSH, closed loop, queues spread over two shards (cross-shard routing).
run --shards 2 -w 16 --duration 3 --json "$scratch/async.json"
# SYNC_FLUSH with batches, a fixed quantity.
run --flush sync --shards 1 -w 8 --batch 4 -q 2000
left=$(ls -A "$scratch/tmp")
if [ -n "$left" ]; then
  echo "verify-smoke: the embedded run left its store behind: $left" >&2
  exit 1
fi
echo "verify-smoke: passed"
