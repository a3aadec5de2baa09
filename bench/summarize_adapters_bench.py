#!/usr/bin/env python3
"""Medians of ipcc_bench_adapters JSON runs, as the tables in docs/benchmarks.md.

    summarize_adapters_bench.py run1.json run2.json run3.json

Pipe rate: messages/s and the ratio to raw pipe(2) in the same placement; ping-pong: round trip
in microseconds and the ratio of round trips/s to a raw socketpair; Queue and hand-off: items or
round trips per second. Skipped benchmarks are shown with their reason.
"""
import json
import statistics
import sys
from collections import defaultdict


def load(paths):
    rates, errors = defaultdict(list), {}
    for path in paths:
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                name = b["name"].replace("/real_time", "")
                if b.get("error_occurred"):
                    errors[name] = b.get("error_message", "skipped")
                elif "items_per_second" in b:
                    rates[name].append(b["items_per_second"])
    return {k: statistics.median(v) for k, v in rates.items()}, errors


def fmt(rate):
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.0f}"


def main(paths):
    rates, errors = load(paths)
    names = sorted(set(rates) | set(errors))
    adapters = ["reference", "posix", "boost", "zeromq", "cpython-fork"]
    for where in ("same", "cross"):
        print(f"\n### Placement `{where}`\n")
        sizes = ["8B", "64B", "1KiB", "64KiB"]
        print("| Pipe, messages/s (ratio to raw pipe) | " + " | ".join(sizes) + " |")
        print("|---|" + "---|" * len(sizes))
        for adapter in ["raw_pipe"] + adapters:
            cells = []
            for size in sizes:
                key = f"pipe_rate/{adapter}/{size}/{where}"
                base = rates.get(f"pipe_rate/raw_pipe/{size}/{where}")
                if key in rates:
                    ratio = f" ({rates[key] / base:.2f})" if base and adapter != "raw_pipe" else ""
                    cells.append(fmt(rates[key]) + ratio)
                else:
                    cells.append("—")
            print(f"| {adapter} | " + " | ".join(cells) + " |")
        print()
        print("| 64 B unless noted | ping-pong round trip, µs (rate ratio to raw socketpair) | Queue 1P/1C items/s | Queue 2P/2C items/s | Semaphore hand-off round trip, µs | Lock hand-off round trip, µs |")
        print("|---|---|---|---|---|---|")
        base = rates.get(f"pingpong/raw_socketpair/64B/{where}")
        for adapter in ["raw_socketpair"] + adapters:
            def cell(key, as_latency=False, ratio_to=None):
                if key in rates:
                    text = f"{1e6 / rates[key]:.1f}" if as_latency else fmt(rates[key])
                    if ratio_to and adapter != "raw_socketpair":
                        text += f" ({rates[key] / ratio_to:.2f})"
                    return text
                return "—"
            print(f"| {adapter} | " + " | ".join([
                cell(f"pingpong/{adapter}/64B/{where}", True, base),
                cell(f"queue_1p1c/{adapter}/64B/{where}"),
                cell(f"queue_2p2c/{adapter}/64B/{where}"),
                cell(f"handoff_semaphore/{adapter}/-/{where}", True),
                cell(f"handoff_lock/{adapter}/-/{where}", True)]) + " |")
    skipped = sorted({(n.split("/")[0], n.split("/")[1], e) for n, e in errors.items()})
    if skipped:
        print("\nSkipped: " + "; ".join(f"{b} on {a}: {e}" for b, a, e in skipped))


if __name__ == "__main__":
    main(sys.argv[1:])
