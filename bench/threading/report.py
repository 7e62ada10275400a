#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Prints bench/threading's table of ratios from the rounds run.sh wrote into DIR.

DIR holds cpp_<round>.json (Google Benchmark's JSON output of bench_threading) and
python_<round>.json (executor_python.py's output). Each figure is the median over the rounds;
the table is Markdown, so that bench/README.md can quote it as printed.
"""
import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import sys

# Task counts the Python peer ran with (run.sh --python-tasks), for the notes under the table.
python_tasks = set()

NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# (what is compared, concur's benchmark, the peer's benchmark, peer label, kind, target)
# kind "time": figures are times per operation, ratio = concur / peer, target is a maximum.
# kind "rate": figures are tasks per second, ratio = concur / peer, target is a minimum.
ROWS = [
    ("Lock acquire + release, uncontended", "lock_concur", "lock_std_mutex", "std::mutex", "time", 1.1),
    ("Event ping-pong round trip", "event_pingpong_concur", "event_pingpong_std_condition_variable",
     "std::condition_variable", "time", 1.0),
    ("Thread start + join", "thread_start_join_concur", "thread_start_join_std_thread", "std::thread", "time", 1.2),
    ("ThreadPoolExecutor, 1M tasks: tasks/s", "executor_1M_concur", "executor_1M_python",
     "Python ThreadPoolExecutor", "rate", 50.0),
    ("ThreadPoolExecutor, 1M tasks: tasks/s", "executor_1M_concur", "executor_1M_tbb_task_group",
     "oneTBB task_group", "rate", 0.5),
]


def round_of(path):
    """The round a result file belongs to: cpp_<round>_<n>.json or python_<round>.json."""
    return int(os.path.basename(path).split(".")[0].split("_")[1])


def load(directory):
    """{benchmark name: {round: figure}}: ns per iteration for times, items/s for rates."""
    figures = {}
    python_tasks.clear()
    for path in sorted(glob.glob(os.path.join(directory, "cpp_*.json"))):
        with open(path) as f:
            data = json.load(f)
        for b in data["benchmarks"]:
            if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
                continue
            if "items_per_second" in b:
                value = b["items_per_second"]
            else:
                value = b["real_time"] * NS_PER_UNIT[b.get("time_unit", "ns")]
            # "event_pingpong_concur/real_time", "executor_1M_tbb_task_group/iterations:3/real_time"
            figures.setdefault(b["name"].split("/")[0], {})[round_of(path)] = value
    for path in sorted(glob.glob(os.path.join(directory, "python_*.json"))):
        with open(path) as f:
            data = json.load(f)
        figures.setdefault(data["name"], {})[round_of(path)] = data["items_per_second"]
        python_tasks.add(data["tasks"])
    return figures


def show_time(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def show_rate(per_second):
    if per_second >= 1e6:
        return f"{per_second / 1e6:.2f} M/s"
    if per_second >= 1e3:
        return f"{per_second / 1e3:.1f} k/s"
    return f"{per_second:.0f} /s"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory")
    parser.add_argument("--build-type", default="unknown")
    parser.add_argument("--sanitize", default="")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()

    figures = load(args.directory)
    rounds = max((len(v) for v in figures.values()), default=0)
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    print(f"Machine: {cpu_model()}, nproc {nproc}, {platform.system()} {platform.release()}; "
          f"Python {platform.python_version()} (/usr/bin/python3)")
    try:
        with open("/proc/loadavg") as f:
            loadavg = " / ".join(f.read().split()[:3])
        print(f"Load average (1 / 5 / 15 min) when the run ended: {loadavg} -- other work on the machine adds noise")
    except OSError:
        pass
    print(f"Build: {args.build_type}{' with sanitizers ' + args.sanitize if args.sanitize else ''}; "
          f"medians of {rounds} round(s)")
    if args.build_type != "Release" or args.sanitize:
        print("WARNING: not a Release build without sanitizers; these figures say little about concur's speed")
    print()
    print("| Comparison | concur | Peer | Peer figure | Ratio | Ratio range | Target | Met |")
    print("|---|---:|---|---:|---:|---:|---:|:---:|")
    missed = False
    for label, ours, theirs, peer, kind, target in ROWS:
        show = show_time if kind == "time" else show_rate
        unit = "" if kind == "time" else "×"
        a = statistics.median(figures[ours].values()) if ours in figures else None
        b = statistics.median(figures[theirs].values()) if theirs in figures else None
        bound = f"≤ {target:g}" if kind == "time" else f"≥ {target:g}"
        if a is None or b is None:
            missing = " and ".join(n for n in (ours, theirs) if n not in figures)
            print(f"| {label} | {show(a) if a else 'n/a'} | {peer} | {show(b) if b else 'n/a'} | n/a | | {bound} | "
                  f"not measured ({missing}) |")
            missed = True
            continue
        ratio = a / b
        # The ratio within each round (both sides measured minutes apart at most): its spread
        # says how much the shared machine's noise moved the figure.
        paired = [figures[ours][r] / figures[theirs][r] for r in figures[ours] if r in figures[theirs]]
        met = ratio <= target if kind == "time" else ratio >= target
        missed |= not met
        spread = f"{min(paired):.3g}–{max(paired):.3g}{unit}" if paired else ""
        print(f"| {label} | {show(a)} | {peer} | {show(b)} | {ratio:.3g}{unit} | {spread} | {bound} | "
              f"{'yes' if met else 'NO'} |")
    print()
    print("Times are per operation (lower is better); rates are tasks per second (higher is better).")
    print("Ratio = concur / peer, from the medians; ratio range = lowest and highest ratio within one round.")
    if python_tasks and python_tasks != {1_000_000}:
        print(f"Note: the Python peer ran {', '.join(f'{n:,}' for n in sorted(python_tasks))} tasks, not 1,000,000.")
    if args.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
