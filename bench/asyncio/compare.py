#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/asyncio/compare.py — runs bench_asyncio (concur) and peer.py (Python asyncio, uvloop)
side by side, ROUNDS times each in turn, and prints the medians and the ratios against the
targets (README.md). Called by run.sh; see README.md.
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
    ap.add_argument("--sleeps", type=int, default=200, help="sleeps of 1-20 ms in the lateness scenario")
    ap.add_argument("--ticks", type=int, default=40, help="ticks of the periodic job")
    ap.add_argument("--period-ms", type=float, default=50.0, help="period of the periodic job")
    ap.add_argument("--idle-seconds", type=int, default=3, help="length of the idle-CPU run")
    ap.add_argument("--only", choices=["all", "tasks", "timers"], default="all",
                    help="tasks: the task, queue and wake-up scenarios; timers: the timer scenarios")
    ap.add_argument("--realtime", action="store_true",
                    help="with --only timers: run every process under chrt --fifo 10 (root or CAP_SYS_NICE), so "
                         "that on a machine loaded by other work the timer figures measure the timers, not how "
                         "long the scheduler makes a woken process wait for a CPU (all implementations alike)")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    a = ap.parse_args()
    if a.realtime and a.only != "timers":
        ap.error("--realtime is for the timer scenarios only (--only timers): the others keep a CPU busy")

    impls = ["concur", "asyncio", "uvloop"]
    scenarios = {
        "create_gather": ("tasks_per_s", lambda impl: [a.tasks if impl == "concur" else a.python_tasks]),
        "sleep": ("total_s", lambda impl: [a.tasks if impl == "concur" else a.python_tasks,
                                           1.0 if impl == "concur" else 0.5]),
        "queue": ("items_per_s", lambda impl: [a.queue_items if impl == "concur" else a.python_queue_items]),
        "threadsafe": ("median_us", lambda impl: [a.threadsafe]),
        "lateness": ("median_ms", lambda impl: [a.sleeps]),
        "periodic": ("drift_ms", lambda impl: [a.ticks, a.period_ms]),
        "idle_cpu": ("cpu_percent", lambda impl: [a.idle_seconds]),
    }
    timer_scenarios = {"lateness", "periodic", "idle_cpu"}
    if a.only != "all":
        scenarios = {s: v for s, v in scenarios.items() if (s in timer_scenarios) == (a.only == "timers")}
    samples = {(s, i): [] for s in scenarios for i in impls}
    for r in range(a.rounds):
        for s, (_, args) in scenarios.items():
            for impl in impls:
                extra = [str(x) for x in args(impl)]
                cmd = [a.bench, s, *extra] if impl == "concur" else [PYTHON, str(HERE / "peer.py"), impl, s, *extra]
                if a.realtime:
                    cmd = ["chrt", "--fifo", "10", *cmd]
                samples[(s, impl)].append(run(cmd))
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

    def med(s, impl, key):
        return statistics.median(x[key] for x in samples[(s, impl)])

    rows = []
    if "create_gather" in scenarios:
        task_rows(rows, a, impls, med)
    if "lateness" in scenarios:
        timer_rows(rows, a, impls, med, samples)
    print_table(rows, a)


def task_rows(rows, a, impls, med):
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


def vs(c, p, u):
    """concur's figure over each peer's (n/a where a peer's is 0)."""
    def one(x):
        return f"{c / x:.2f}" if x else "n/a"
    return f"concur/asyncio {one(p)}, concur/uvloop {one(u)}"


def timer_rows(rows, a, impls, med, samples):
    # Lateness of a sleep (ms): the median over the rounds of each run's median and p99; the
    # earliest wake-up of all the runs (any early sleep misses the target).
    c, p, u = (med("lateness", i, "median_ms") for i in impls)
    rows.append((f"sleep(1-20 ms) lateness, {a.sleeps} sleeps: median ms (lower is better)", f"{c:.3f}", f"{p:.3f}",
                 f"{u:.3f}", vs(c, p, u), "<= 0.05 ms", c <= 0.05))
    c, p, u = (med("lateness", i, "p99_ms") for i in impls)
    rows.append(("  p99 ms", f"{c:.3f}", f"{p:.3f}", f"{u:.3f}",
                 vs(c, p, u), "<= 0.3 ms", c <= 0.3))
    c, p, u = (max(x["max_ms"] for x in samples[("lateness", i)]) for i in impls)
    rows.append(("  max ms (all rounds)", f"{c:.3f}", f"{p:.3f}", f"{u:.3f}", "", "reported", True))
    c, p, u = (max(x["max_early_ms"] for x in samples[("lateness", i)]) for i in impls)
    rows.append(("  max early ms (all rounds; a sleep that ended before its time)", f"{c:.3f}", f"{p:.3f}",
                 f"{u:.3f}", "", "0", c == 0))
    c, p, u = (med("periodic", i, "drift_ms") for i in impls)
    rows.append((f"periodic job, {a.ticks} x sleep({a.period_ms:g} ms): drift ms", f"{c:.2f}", f"{p:.2f}", f"{u:.2f}",
                 vs(c, p, u), "reported", True))
    c, p, u = (med("idle_cpu", i, "cpu_percent") for i in impls)
    rows.append((f"idle loop, one 50 ms periodic timer, {a.idle_seconds} s: CPU % of a core", f"{c:.3f}", f"{p:.3f}",
                 f"{u:.3f}", vs(c, p, u), "no busy-wait (< 1 %)",
                 c < 1.0))


def print_table(rows, a):
    ok = True
    header = ("scenario", "concur", "asyncio", "uvloop", "ratio", "target", "met")
    table = [header] + [r[:6] + ("yes" if r[6] else "NO",) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    rt = ", every process under chrt --fifo 10" if a.realtime else ""
    print(f"medians of {a.rounds} rounds, each implementation in turn in every round{rt}")
    for k, row in enumerate(table):
        print(" | ".join(str(v).ljust(w) for v, w in zip(row, widths)))
        if k == 0:
            print("-+-".join("-" * w for w in widths))
        ok = ok and (k == 0 or row[6] == "yes")
    if a.check and not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
