#!/usr/bin/env bash
# The device's own limits, measured with fio in the directory the engine benchmark uses, so
# ringmq's numbers can be put next to them (docs/benchmarks.md, "Storage engine"):
#   1. O_DIRECT sequential write bandwidth, 1 MiB writes, io_uring, at queue depth 1 (what
#      one group-commit chain in flight can use) and at queue depth 16 (the device ceiling);
#   2. O_DIRECT sequential read bandwidth, 1 MiB reads at queue depth 1 and 4: the ceiling of
#      a backlog drain that is served from disk rather than the tail cache;
#   3. fdatasync latency after an O_DIRECT write (4 KiB, and 64 KiB = one batch of 64 1 KiB
#      records), from fio's "sync" percentiles (--fdatasync=1).
# fio lays its files out with fallocate first, like the engine's preallocated segments.
#
# Usage: bench/scripts/device-limits.sh DIR [SIZE]   (SIZE of the bandwidth test, default 1G)
# Env:   SYNC_SECONDS (default 20) runtime of each fdatasync test.
# Prints a summary and one line starting with "JSON " for scripts; keeps fio's JSON output
# in $DIR/fio-*.json unless KEEP_FIO_JSON=0.
set -euo pipefail

dir=${1:?usage: device-limits.sh DIR [SIZE]}
size=${2:-1G}
sync_seconds=${SYNC_SECONDS:-20}
keep_json=${KEEP_FIO_JSON:-1}

if ! command -v fio >/dev/null; then
    echo "device-limits: installing fio" >&2
    # A fresh machine's package index may be empty or stale.
    apt-get install -y -qq fio >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq fio >/dev/null; }
fi
command -v jq >/dev/null || { echo "device-limits: jq is required to read fio's JSON" >&2; exit 1; }
mkdir -p "$dir"
out=$(mktemp -d "$dir/fio-out.XXXXXX")
work="$dir/fio-work"
mkdir -p "$work"
trap 'rm -rf "$work"; [ "$keep_json" = 1 ] || rm -rf "$out"' EXIT

# seqwrite NAME IODEPTH: bandwidth in MB/s (10^6 B/s).
seqwrite() {
    fio --name="$1" --directory="$work" --rw=write --bs=1M --direct=1 --size="$size" \
        --ioengine=io_uring --iodepth="$2" --end_fsync=1 --output-format=json \
        --output="$out/$1.json" >/dev/null
    rm -f "$work"/"$1"*
    jq '.jobs[0].write.bw_bytes / 1e6' "$out/$1.json"
}

# seqread NAME IODEPTH: O_DIRECT sequential read bandwidth in MB/s, the ceiling of a cold
# backlog drain (fio lays the file out first).
seqread() {
    fio --name="$1" --directory="$work" --rw=read --bs=1M --direct=1 --size="$size" \
        --ioengine=io_uring --iodepth="$2" --output-format=json \
        --output="$out/$1.json" >/dev/null
    rm -f "$work"/"$1"*
    jq '.jobs[0].read.bw_bytes / 1e6' "$out/$1.json"
}

# fdatasync NAME BS: percentiles of fdatasync latency in microseconds "p50 p99 p99.9 max n".
fdatasync_latency() {
    fio --name="$1" --directory="$work" --rw=write --bs="$2" --direct=1 --fdatasync=1 \
        --ioengine=sync --size=256M --runtime="$sync_seconds" --time_based \
        --output-format=json --output="$out/$1.json" >/dev/null
    rm -f "$work"/"$1"*
    jq -r '.jobs[0].sync.lat_ns as $l
           | [($l.percentile["50.000000"]), ($l.percentile["99.000000"]),
              ($l.percentile["99.900000"]), $l.max, $l.N]
           | map(. / 1000 | floor) | .[4] = ($l.N) | map(tostring) | join(" ")' \
        "$out/$1.json"
}

# write+fdatasync round trip: fio's write completion latency plus the sync latency, p50.
write_lat_p50() {
    jq '.jobs[0].write.clat_ns.percentile["50.000000"] / 1000 | floor' "$out/$1.json"
}

bw_qd1=$(seqwrite seqwrite-qd1 1)
bw_qd16=$(seqwrite seqwrite-qd16 16)
rd_qd1=$(seqread seqread-qd1 1)
rd_qd4=$(seqread seqread-qd4 4)
read -r s4_p50 s4_p99 s4_p999 s4_max s4_n <<<"$(fdatasync_latency fdatasync-4k 4k)"
w4_p50=$(write_lat_p50 fdatasync-4k)
read -r s64_p50 s64_p99 s64_p999 s64_max s64_n <<<"$(fdatasync_latency fdatasync-64k 64k)"
w64_p50=$(write_lat_p50 fdatasync-64k)

echo "device limits in $dir ($(fio --version), kernel $(uname -r))"
printf '  O_DIRECT seq write 1 MiB io_uring: QD1 %.1f MB/s, QD16 %.1f MB/s\n' "$bw_qd1" "$bw_qd16"
printf '  O_DIRECT seq read 1 MiB io_uring:  QD1 %.1f MB/s, QD4 %.1f MB/s\n' "$rd_qd1" "$rd_qd4"
echo "  fdatasync after 4 KiB O_DIRECT write:  p50 ${s4_p50} us, p99 ${s4_p99} us, p99.9 ${s4_p999} us, max ${s4_max} us (n=${s4_n}; write p50 ${w4_p50} us)"
echo "  fdatasync after 64 KiB O_DIRECT write: p50 ${s64_p50} us, p99 ${s64_p99} us, p99.9 ${s64_p999} us, max ${s64_max} us (n=${s64_n}; write p50 ${w64_p50} us)"
echo "JSON {\"bench\":\"device\",\"seq_write_qd1_mb_s\":$bw_qd1,\"seq_write_qd16_mb_s\":$bw_qd16,\"seq_read_qd1_mb_s\":$rd_qd1,\"seq_read_qd4_mb_s\":$rd_qd4,\"fdatasync_4k_p50_us\":$s4_p50,\"fdatasync_4k_p99_us\":$s4_p99,\"fdatasync_4k_p999_us\":$s4_p999,\"fdatasync_4k_max_us\":$s4_max,\"write_4k_p50_us\":$w4_p50,\"fdatasync_64k_p50_us\":$s64_p50,\"fdatasync_64k_p99_us\":$s64_p99,\"fdatasync_64k_p999_us\":$s64_p999,\"write_64k_p50_us\":$w64_p50}"
