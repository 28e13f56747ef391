#!/usr/bin/env bash
# Installs what the test suite and the CI gates need beyond the Rust toolchain.
# Idempotent; quiet when done.
set -euo pipefail
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc)
# The instruction-count gate (bench/scripts/instructions.sh) runs the hot paths under callgrind.
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need[@]}"
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq "${need[@]}"
  fi
fi
