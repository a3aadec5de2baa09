#!/usr/bin/env python3
"""Summarise ipcc_bench_pipe JSON runs into the Markdown tables of docs/benchmarks.md.

Usage:
  ./build/bench/ipcc_bench_pipe --benchmark_out=run1.json --benchmark_out_format=json
  ... (repeat for run2.json, run3.json: separate runs, same day, same machine)
  python3 bench/summarize_pipe_bench.py run1.json run2.json run3.json

Cells are "median [min-max]" over the runs. Ratios are computed run by run
(numerator and denominator from the same run and placement) and then
summarised the same way, so drift between runs cancels out.
"""
import json
import statistics
import sys
from collections import defaultdict

SIZES = ["8B", "64B", "1KiB", "64KiB", "1MiB"]
SMALL = ["8B", "64B", "1KiB"]
LARGE = ["64KiB", "1MiB"]
THROUGHPUT_IMPLS = ["raw_pipe", "raw_socketpair", "ref_simplex", "ref_simplex_ign", "ref_duplex",
                    "ref_simplex_alloc", "cpython_simplex"]
PING_IMPLS = ["raw_pipe_pair", "raw_socketpair", "ref_simplex_pair", "ref_duplex"]
PING_SIZES = ["64B", "1KiB"]
PLACEMENTS = ["same", "cross"]


def load(paths):
    """Returns runs: a list (one per file) of {(kind, impl, size, placement): entry}."""
    runs = []
    for path in paths:
        with open(path) as handle:
            data = json.load(handle)
        run = {}
        for bench in data["benchmarks"]:
            if bench.get("run_type", "iteration") != "iteration" or bench.get("error_occurred"):
                continue
            parts = bench["name"].split("/")
            if len(parts) < 4:
                continue
            kind, impl, size, placement = parts[:4]
            scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[bench.get("time_unit", "ns")]
            run[(kind, impl, size, placement)] = {
                "items": bench.get("items_per_second"),
                "gbps": bench.get("bytes_per_second", 0) / 1e9,
                "time_us": bench["real_time"] * scale,
                "p50": bench.get("rtt_p50_us"),
                "p99": bench.get("rtt_p99_us"),
                "waits": bench.get("waits_per_1k"),
                "sender_waits": bench.get("sender_waits_per_1k"),
            }
        run["load_avg"] = data.get("context", {}).get("load_avg", [])
        runs.append(run)
    return runs


def summary(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return f"{fmt(med)} [{fmt(min(values))}–{fmt(max(values))}]"


def rate(value):
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def gbps(value):
    return f"{value:.2f}"


def micro(value):
    return f"{value:.1f}"


def ratio(value):
    return f"{value:.2f}"


def collect(runs, key, field):
    return [run[key][field] for run in runs if key in run]


def ratios(runs, num, den, field):
    out = []
    for run in runs:
        if num in run and den in run and run[den][field]:
            out.append(run[num][field] / run[den][field])
    return out


def throughput_table(runs, placement):
    lines = [f"**One-way throughput — placement `{placement}`** (msg/s for 8 B–1 KiB, "
             "GB/s = 10⁹ B/s for 64 KiB and 1 MiB)", "",
             "| implementation | " + " | ".join(
                 [f"{s} msg/s" for s in SMALL] + [f"{s} GB/s" for s in LARGE]) + " |",
             "|---" * (1 + len(SIZES)) + "|"]
    for impl in THROUGHPUT_IMPLS:
        cells = []
        for size in SIZES:
            key = ("throughput", impl, size, placement)
            if size in SMALL:
                cells.append(summary(collect(runs, key, "items"), rate))
            else:
                cells.append(summary(collect(runs, key, "gbps"), gbps))
        if all(cell == "n/a" for cell in cells):
            continue
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    return lines


def waits_table(runs, placement):
    sizes = ["8B", "1KiB", "1MiB"]
    head = []
    for size in sizes:
        head += [f"{size} receiver", f"{size} sender"]
    lines = [f"**Blocking waits per 1000 messages (throughput runs) — placement `{placement}`** "
             "(voluntary context switches; sender = child over its whole life, approximate)", "",
             "| implementation | " + " | ".join(head) + " |",
             "|---" * (1 + len(head)) + "|"]
    for impl in THROUGHPUT_IMPLS:
        cells = []
        for size in sizes:
            key = ("throughput", impl, size, placement)
            for field in ("waits", "sender_waits"):
                cells.append(summary(collect(runs, key, field), waits))
        if all(cell == "n/a" for cell in cells):
            continue
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    return lines


def waits(value):
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}" if value >= 0.1 else "0"


def rtt_table(runs, placement):
    head = []
    for size in PING_SIZES:
        head += [f"{size} mean", f"{size} p50", f"{size} p99"]
    lines = [f"**Ping-pong round trip, µs — placement `{placement}`** "
             "(mean = window / round trips)", "",
             "| implementation | " + " | ".join(head) + " |",
             "|---" * (1 + len(head)) + "|"]
    for impl in PING_IMPLS:
        cells = []
        for size in PING_SIZES:
            key = ("pingpong", impl, size, placement)
            for field in ("time_us", "p50", "p99"):
                cells.append(summary(collect(runs, key, field), micro))
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    return lines


def ratio_rows(runs, placement):
    # (label, sizes, kind, field, numerator impl, denominator impl, target or None)
    specs = [
        ("ref_simplex / raw_pipe, msg/s", SMALL, "throughput", "items",
         "ref_simplex", "raw_pipe", 0.6),
        ("ref_simplex_ign / raw_pipe, msg/s (host ignores SIGPIPE)", SMALL, "throughput", "items",
         "ref_simplex_ign", "raw_pipe", 0.6),
        ("ref_duplex / raw_pipe, msg/s", SMALL, "throughput", "items",
         "ref_duplex", "raw_pipe", 0.6),
        ("ref_duplex / raw_socketpair, msg/s (same transport)", SMALL, "throughput", "items",
         "ref_duplex", "raw_socketpair", None),
        ("ref_simplex_alloc / ref_simplex, msg/s", SMALL, "throughput", "items",
         "ref_simplex_alloc", "ref_simplex", None),
        ("ref_duplex / raw_socketpair, GB/s", LARGE, "throughput", "gbps",
         "ref_duplex", "raw_socketpair", 0.9),
        ("ref_simplex / raw_socketpair, GB/s", LARGE, "throughput", "gbps",
         "ref_simplex", "raw_socketpair", 0.9),
        ("ref_simplex / raw_pipe, GB/s (same transport)", LARGE, "throughput", "gbps",
         "ref_simplex", "raw_pipe", None),
        ("ref_simplex / cpython_simplex, msg/s", ["8B", "1KiB"], "throughput", "items",
         "ref_simplex", "cpython_simplex", None),
        ("ref_simplex_ign / cpython_simplex, msg/s", ["8B", "1KiB"], "throughput", "items",
         "ref_simplex_ign", "cpython_simplex", None),
        ("RTT ref_duplex / raw_socketpair (mean)", PING_SIZES, "pingpong", "time_us",
         "ref_duplex", "raw_socketpair", None),
        ("RTT ref_simplex_pair / raw_pipe_pair (mean)", PING_SIZES, "pingpong", "time_us",
         "ref_simplex_pair", "raw_pipe_pair", None),
        ("RTT ref_duplex / raw_pipe_pair (mean)", PING_SIZES, "pingpong", "time_us",
         "ref_duplex", "raw_pipe_pair", None),
    ]
    lines = [f"**Ratios — placement `{placement}`** (per-run ratio, median [min–max]; "
             "RTT ratios > 1 mean slower)", "",
             "| ratio | size | value | target | met? |", "|---|---|---|---|---|"]
    for label, sizes, kind, field, num, den, target in specs:
        for size in sizes:
            values = ratios(runs, (kind, num, size, placement), (kind, den, size, placement), field)
            if not values:
                continue
            verdict = ""
            target_text = ""
            if target is not None:
                target_text = f"≥ {target}"
                verdict = "yes" if statistics.median(values) >= target else "**no**"
            cells = [label, size, summary(values, ratio), target_text, verdict]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(paths):
    runs = load(paths)
    loads = "; ".join(" ".join(f"{x:.2f}" for x in run["load_avg"]) for run in runs)
    print(f"<!-- {len(runs)} run(s): {' '.join(paths)}; load average at start: {loads} -->")
    for placement in PLACEMENTS:
        if not any(len(key) == 4 and key[3] == placement for run in runs for key in run):
            continue
        for block in (throughput_table, waits_table, rtt_table, ratio_rows):
            print("\n".join(block(runs, placement)))
            print()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
