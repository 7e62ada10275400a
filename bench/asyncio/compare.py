#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/asyncio/compare.py — runs bench_asyncio (concur) and peer.py (Python asyncio, uvloop)
side by side, ROUNDS times each in turn, and prints the medians and the ratios against the
targets of issue 3. Called by run.sh; see README.md.
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3"


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="path to bench_asyncio")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tasks", type=int, default=1_000_000, help="concur's create+gather and sleep tasks")
    ap.add_argument("--python-tasks", type=int, default=100_000, help="the Python peers' tasks")
    ap.add_argument("--queue-items", type=int, default=1_000_000)
    ap.add_argument("--python-queue-items", type=int, default=100_000)
    ap.add_argument("--threadsafe", type=int, default=2000)
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    a = ap.parse_args()

    impls = ["concur", "asyncio", "uvloop"]
    scenarios = {
        "create_gather": ("tasks_per_s", lambda impl: [a.tasks if impl == "concur" else a.python_tasks]),
        "sleep": ("total_s", lambda impl: [a.tasks if impl == "concur" else a.python_tasks,
                                           1.0 if impl == "concur" else 0.5]),
        "queue": ("items_per_s", lambda impl: [a.queue_items if impl == "concur" else a.python_queue_items]),
        "threadsafe": ("median_us", lambda impl: [a.threadsafe]),
    }
    samples = {(s, i): [] for s in scenarios for i in impls}
    for r in range(a.rounds):
        for s, (_, args) in scenarios.items():
            for impl in impls:
                extra = [str(x) for x in args(impl)]
                cmd = [a.bench, s, *extra] if impl == "concur" else [PYTHON, str(HERE / "peer.py"), impl, s, *extra]
                samples[(s, impl)].append(run(cmd))
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

    def med(s, impl, key):
        return statistics.median(x[key] for x in samples[(s, impl)])

    rows = []
    ok = True
    # create + gather: tasks/s
    c, p, u = (med("create_gather", i, "tasks_per_s") for i in impls)
    rows.append(("create+gather trivial tasks (tasks/s)", f"{c:,.0f}", f"{p:,.0f}", f"{u:,.0f}",
                 f"{c / p:.1f}x asyncio, {c / u:.1f}x uvloop", ">= 30x asyncio", c / p >= 30))
    # sleep: total and memory
    ct = med("sleep", "concur", "total_s")
    cb = med("sleep", "concur", "bytes_per_task")
    pt, ut = med("sleep", "asyncio", "total_s"), med("sleep", "uvloop", "total_s")
    pb, ub = med("sleep", "asyncio", "bytes_per_task"), med("sleep", "uvloop", "bytes_per_task")
    rows.append((f"{a.tasks:,} tasks sleeping 1 s (concur) / {a.python_tasks:,} sleeping 0.5 s (Python): total s",
                 f"{ct:.3f}", f"{pt:.3f}", f"{ut:.3f}",
                 f"overhead beyond the sleep: {ct - 1.0:.3f} s vs {pt - 0.5:.3f} s, {ut - 0.5:.3f} s", "<= 2 s", ct <= 2.0))
    rows.append(("  resident memory per sleeping task (bytes)", f"{cb:,.0f}", f"{pb:,.0f}", f"{ub:,.0f}",
                 f"{pb / cb:.1f}x less than asyncio", "<= 300 B", cb <= 300))
    # queue
    c, p, u = (med("queue", i, "items_per_s") for i in impls)
    rows.append(("Queue(maxsize=1) put/get between two tasks (items/s)", f"{c:,.0f}", f"{p:,.0f}", f"{u:,.0f}",
                 f"{c / p:.1f}x asyncio, {c / u:.1f}x uvloop", ">= 30x asyncio", c / p >= 30))
    # threadsafe latency
    c, p, u = (med("threadsafe", i, "median_us") for i in impls)
    rows.append(("call_soon_threadsafe wake-up latency (median µs, lower is better)", f"{c:.1f}", f"{p:.1f}",
                 f"{u:.1f}", f"concur/asyncio {c / p:.2f}, concur/uvloop {c / u:.2f}", "reported", True))

    header = ("scenario", "concur", "asyncio", "uvloop", "ratio", "target", "met")
    table = [header] + [r[:6] + ("yes" if r[6] else "NO",) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    print(f"medians of {a.rounds} rounds, each implementation in turn in every round")
    for k, row in enumerate(table):
        print(" | ".join(str(v).ljust(w) for v, w in zip(row, widths)))
        if k == 0:
            print("-+-".join("-" * w for w in widths))
        ok = ok and (k == 0 or row[6] == "yes")
    if a.check and not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
