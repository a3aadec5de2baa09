#!/usr/bin/env python3
"""Summarise ipcc_bench_queue JSON runs into the Markdown tables of docs/benchmarks.md.

Usage:
  ./build/bench/ipcc_bench_queue --benchmark_out=run1.json --benchmark_out_format=json
  ... (repeat for run2.json, run3.json: separate runs, same day, same machine)
  python3 bench/summarize_queue_bench.py run1.json run2.json run3.json

Cells are "median [min-max]" over the runs. Ratios are computed run by run
(numerator and denominator from the same run and placement) and then
summarised the same way, so drift between runs cancels out.
"""
import json
import statistics
import sys

IMPLS = ["ref_queue", "ref_queue_max1024", "ref_simple", "ref_joinable", "boost_mq",
         "cpython_queue", "cpython_simple", "cpython_joinable"]
REF_IMPLS = ["ref_queue", "ref_queue_max1024", "ref_simple", "ref_joinable"]
CONFIGS = [("1p1c", "64B"), ("2p2c", "64B"), ("1p1c", "4KiB"), ("2p2c", "4KiB")]
PLACEMENTS = ["same", "cross"]
LATENCY_IMPLS = ["ref_queue", "ref_queue_max1024", "ref_simple", "ref_joinable", "boost_mq"]
# The CPython queue each reference kind is compared with (like for like).
CPYTHON_PEER = {"ref_queue": "cpython_queue", "ref_queue_max1024": "cpython_queue",
                "ref_simple": "cpython_simple", "ref_joinable": "cpython_joinable"}
TARGET_VS_BOOST = 1.0  # the reference Queue at least matches Boost at 64 B


def load(paths):
    """Returns runs: a list (one per file) of {key: entry}.

    key = ("throughput", impl, shape, size, placement) or ("latency", impl, size).
    """
    runs = []
    for path in paths:
        with open(path) as handle:
            data = json.load(handle)
        run = {}
        for bench in data["benchmarks"]:
            if bench.get("run_type", "iteration") != "iteration" or bench.get("error_occurred"):
                continue
            parts = bench["name"].split("/")
            if parts[0] == "throughput" and len(parts) >= 5:
                key = tuple(parts[:5])
            elif parts[0] == "latency" and len(parts) >= 3:
                key = tuple(parts[:3])
            else:
                continue
            scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[bench.get("time_unit", "ns")]
            run[key] = {
                "items": bench.get("items_per_second"),
                "time_ns": bench["real_time"] * scale,
                "put_ns": bench.get("put_ns"),
                "get_ns": bench.get("get_ns"),
                "task_done_ns": bench.get("task_done_ns"),
                "cwaits": bench.get("consumer_waits_per_1k"),
                "pwaits": bench.get("producer_waits_per_1k"),
                "retries": bench.get("retries_per_1k"),
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


def ratio(value):
    return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"


def ns(value):
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def waits(value):
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}" if value >= 0.1 else "0"


def collect(runs, key, field):
    return [run[key][field] for run in runs if key in run]


def ratios(runs, num, den, field):
    out = []
    for run in runs:
        if num in run and den in run and run[den][field]:
            out.append(run[num][field] / run[den][field])
    return out


def tkey(impl, config, placement):
    shape, size = config
    return ("throughput", impl, shape, size, placement)


def config_label(config):
    return f"{config[0]} {config[1]}"


def throughput_table(runs, placement):
    lines = [f"**Throughput, items/s — placement `{placement}`**", "",
             "| implementation | " + " | ".join(config_label(c) for c in CONFIGS) + " |",
             "|---" * (1 + len(CONFIGS)) + "|"]
    for impl in IMPLS:
        cells = [summary(collect(runs, tkey(impl, c, placement), "items"), rate) for c in CONFIGS]
        if all(cell == "n/a" for cell in cells):
            continue
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    return lines


def waits_table(runs, placement):
    configs = [c for c in CONFIGS if c[1] == "64B"]
    head = []
    for config in configs:
        head += [f"{config_label(config)} consumers", f"{config_label(config)} producers",
                 f"{config_label(config)} retries"]
    lines = [f"**Blocking waits and retries per 1000 items, 64 B — placement `{placement}`** "
             "(waits = voluntary context switches in the window, all processes of a role; "
             "retries = puts refused with resource_exhausted, CPython: pacing naps)", "",
             "| implementation | " + " | ".join(head) + " |",
             "|---" * (1 + len(head)) + "|"]
    for impl in IMPLS:
        cells = []
        for config in configs:
            key = tkey(impl, config, placement)
            for field in ("cwaits", "pwaits", "retries"):
                cells.append(summary(collect(runs, key, field), waits))
        if all(cell == "n/a" for cell in cells):
            continue
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    return lines


def ratio_rows(runs, placement):
    lines = [f"**Ratios of items/s — placement `{placement}`** (per-run ratio, "
             "median [min–max])", "",
             "| ratio | " + " | ".join(config_label(c) for c in CONFIGS) + " |",
             "|---" * (1 + len(CONFIGS)) + "|"]
    specs = [(f"{impl} / boost_mq", impl, "boost_mq") for impl in REF_IMPLS]
    specs += [(f"{impl} / {CPYTHON_PEER[impl]}", impl, CPYTHON_PEER[impl]) for impl in REF_IMPLS]
    specs += [("ref_joinable / ref_queue (JoinableQueue overhead)", "ref_joinable", "ref_queue"),
              ("ref_queue_max1024 / ref_queue", "ref_queue_max1024", "ref_queue"),
              ("cpython_joinable / cpython_queue", "cpython_joinable", "cpython_queue"),
              ("boost_mq / cpython_queue", "boost_mq", "cpython_queue")]
    for label, num, den in specs:
        cells = [summary(ratios(runs, tkey(num, c, placement), tkey(den, c, placement), "items"),
                         ratio) for c in CONFIGS]
        if all(cell == "n/a" for cell in cells):
            continue
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def target_rows(runs):
    lines = ["**Target: reference Queue ≥ Boost message_queue at 64 B** "
             f"(ratio of items/s, per run; ≥ {TARGET_VS_BOOST} to meet)", "",
             "| implementation | placement | 1p1c 64B | 2p2c 64B | met? |", "|---|---|---|---|---|"]
    for impl in ("ref_queue", "ref_queue_max1024"):
        for placement in PLACEMENTS:
            cells, verdicts = [], []
            for config in [c for c in CONFIGS if c[1] == "64B"]:
                values = ratios(runs, tkey(impl, config, placement),
                                tkey("boost_mq", config, placement), "items")
                cells.append(summary(values, ratio))
                if values:
                    verdicts.append(statistics.median(values) >= TARGET_VS_BOOST)
            if not verdicts:
                continue
            verdict = "yes" if all(verdicts) else "**no**"
            lines.append(f"| {impl} | {placement} | " + " | ".join(cells) + f" | {verdict} |")
    return lines


def latency_table(runs):
    lines = ["**Put + get latency, one process on CPU 0, 64 B, no contention** "
             "(ns; pair = one put then one get (+ task_done); put/get/task_done = per call, "
             "from batches of 256)", "",
             "| implementation | pair ns | put ns | get ns | task_done ns | pair / boost_mq |",
             "|---|---|---|---|---|---|"]
    for impl in LATENCY_IMPLS:
        key = ("latency", impl, "64B")
        if not any(key in run for run in runs):
            continue
        cells = [summary(collect(runs, key, field), ns)
                 for field in ("time_ns", "put_ns", "get_ns", "task_done_ns")]
        cells.append(summary(ratios(runs, key, ("latency", "boost_mq", "64B"), "time_ns"), ratio))
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    return lines


def main(paths):
    runs = load(paths)
    loads = "; ".join(" ".join(f"{x:.2f}" for x in run["load_avg"]) for run in runs)
    print(f"<!-- {len(runs)} run(s): {' '.join(paths)}; load average at start: {loads} -->")
    print()
    print("\n".join(target_rows(runs)))
    print()
    for placement in PLACEMENTS:
        if not any(len(key) == 5 and key[4] == placement for run in runs for key in run):
            continue
        for block in (throughput_table, ratio_rows, waits_table):
            print("\n".join(block(runs, placement)))
            print()
    print("\n".join(latency_table(runs)))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
