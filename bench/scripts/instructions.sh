#!/usr/bin/env bash
# CI gate: instructions per iteration of the hot paths (frame codec, record codec, engine
# append on the simulated disk) under valgrind's callgrind, against the committed baseline
# bench/instructions.baseline. Fails when a count grows by more than MAX_GROWTH_PERCENT
# (default 5; counts are deterministic, so the margin is for nothing but real change).
# Usage: bench/scripts/instructions.sh            check against the baseline
#        bench/scripts/instructions.sh --update   rewrite the baseline (commit it, saying why)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
baseline="$root/bench/instructions.baseline"
mode=--check
[ "${1:-}" = --update ] && mode=--update
if ! command -v valgrind >/dev/null 2>&1; then
  echo "instructions.sh: valgrind is not installed; scripts/install-deps.sh installs it" >&2
  exit 2
fi
cd "$root"
# The bench profile is the release build (thin LTO) with debug symbols, so the counts are
# those of the code that ships and callgrind can find the `measured` function by name.
cargo bench -q -p ringmq-bench --bench instructions -- \
  "$mode" "$baseline" --max-growth "${MAX_GROWTH_PERCENT:-5}"
