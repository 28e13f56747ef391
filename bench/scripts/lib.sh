# Shared by the bench scripts: source "$(dirname "$0")/lib.sh".

# wait_line FILE TEXT: wait up to 20 s for TEXT to appear in FILE; fail naming both.
wait_line() {
  for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "timed out waiting for '$2' in $1" >&2; return 1
}

# wait_for_boot LOG: wait for a broker's (or `ringmq dev`'s) boot line in LOG, then 2 s more
# for its registration with the name server, which follows the boot line by a moment.
wait_for_boot() {
  wait_line "$1" "boot success"
  sleep 2
}
