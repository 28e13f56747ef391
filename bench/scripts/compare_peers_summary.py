#!/usr/bin/env python3
"""Table of a bench/compare-peers.sh run: ringmq and the peer per row, their ratio, and
ringmq's figures as fractions of the physical limits measured in the same run.

Usage: compare_peers_summary.py OUT ROUNDS   (prints Markdown)
"""
import json
import statistics
import sys
from pathlib import Path


def load(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def figure(out, system, flush, rounds, kind, pick):
    values = []
    for round_ in range(1, rounds + 1):
        report = load(out / f"{system}-{flush}-{round_}" / f"{kind}.json")
        if report is not None and report.get("messages", 0) > 0:
            values.append(pick(report))
    return statistics.median(values) if values else None


def show(value, digits=0):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def ratio(ours, theirs):
    if ours is None or not theirs:
        return "—"
    return f"{ours / theirs:,.1f}×"


def device_limits(out):
    for line in (out / "device.txt").read_text().splitlines():
        if line.startswith("JSON "):
            return json.loads(line[5:])
    return {}


def main():
    out = Path(sys.argv[1])
    rounds = int(sys.argv[2])
    device = device_limits(out)
    iperf = load(out / "iperf3.json") or {}
    loopback_mb_s = iperf.get("end", {}).get("sum_received", {}).get("bits_per_second", 0) / 8e6
    disk_mb_s = device.get("seq_write_qd16_mb_s", 0)
    fsync_p99_ms = device.get("fdatasync_4k_p99_us", 0) / 1000
    rows = [
        ("produce msg/s", "produce", lambda r: r["messages_per_second"], 0),
        ("produce p99 ms", "produce", lambda r: r["latency"]["p99_ms"], 2),
        ("consume msg/s", "consume", lambda r: r["messages_per_second"], 0),
        ("consume MB/s", "consume", lambda r: r["megabytes_per_second"], 1),
    ]
    print(f"Median of {rounds} round(s). Physical limits of this run: device O_DIRECT sequential "
          f"write {disk_mb_s:,.0f} MB/s (QD16), fdatasync p99 {fsync_p99_ms:.2f} ms (4 KiB); "
          f"loopback TCP {loopback_mb_s:,.0f} MB/s (iperf3, one stream).")
    print()
    print("| flush | figure | peer (rocketmq-rust 1.0.0) | ringmq | ringmq / peer |")
    print("|---|---|---|---|---|")
    ours_by = {}
    for flush in ("ASYNC_FLUSH", "SYNC_FLUSH"):
        for label, kind, pick, digits in rows:
            peer = figure(out, "peer", flush, rounds, kind, pick)
            ours = figure(out, "ringmq", flush, rounds, kind, pick)
            ours_by[(flush, label)] = ours
            if "p99" in label:
                shown = ratio(peer, ours) + " lower" if peer and ours else "—"
            else:
                shown = ratio(ours, peer)
            print(f"| {flush} | {label} | {show(peer, digits)} | {show(ours, digits)} | {shown} |")
    print()
    print("ringmq against the physical limits of this run:")
    for flush in ("ASYNC_FLUSH", "SYNC_FLUSH"):
        produced = ours_by.get((flush, "produce msg/s"))
        if produced and disk_mb_s:
            print(f"- {flush} produce: {produced * 1024 / 1e6:,.0f} MB/s of message bodies = "
                  f"{produced * 1024 / 1e6 / disk_mb_s:.2f} of the device's write bandwidth")
    sync_p99 = ours_by.get(("SYNC_FLUSH", "produce p99 ms"))
    if sync_p99 and fsync_p99_ms:
        print(f"- SYNC_FLUSH produce p99 {sync_p99:.2f} ms = {sync_p99 / fsync_p99_ms:.2f}× the "
              f"device's fdatasync p99 (target: at most 2×)")
    for flush in ("ASYNC_FLUSH", "SYNC_FLUSH"):
        consumed = ours_by.get((flush, "consume MB/s"))
        if consumed and loopback_mb_s:
            print(f"- {flush} backlog consume: {consumed:,.0f} MB/s = "
                  f"{consumed / loopback_mb_s:.2f} of loopback TCP (target 1 GB/s: "
                  f"{consumed / 1000:.2f} of it)")


if __name__ == "__main__":
    main()
