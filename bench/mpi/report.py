#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/mpi/report.py OUT_DIR ROUNDS — the table of bench/mpi/run.sh.

Reads OUT_DIR/concur.N and OUT_DIR/python.N (N = 1..ROUNDS; `name value` lines) and prints,
for each figure, the median over the rounds of concur's mpi::Pool, of mpi4py.futures and of
concur's local Pool, the ratio concur / mpi4py (for start-up: mpi4py / concur, so that above 1
is better for concur too), and the target.
"""
import statistics
import sys


def read(path):
    values = {}
    with open(path) as f:
        for line in f:
            name, value = line.split()
            values[name] = float(value)
    return values


def main():
    out, rounds = sys.argv[1], int(sys.argv[2])
    concur = [read(f"{out}/concur.{r}") for r in range(1, rounds + 1)]
    python = [read(f"{out}/python.{r}") for r in range(1, rounds + 1)]

    def med(runs, key):
        vals = [run[key] for run in runs if key in run]
        return statistics.median(vals) if vals else float("nan")

    rows = [
        ("trivial tasks/s, chunksize 1", "chunk1_tasks_per_s", ">= 10x", 10.0, False),
        ("trivial tasks/s, chunksize 10,000", "chunkbig_tasks_per_s", ">= 10x", 10.0, False),
        ("MiB/s of 1 MiB payloads", "payload_mib_per_s", ">= 3x", 3.0, False),
        ("the same, function takes a std::span", "payload_view_mib_per_s", ">= 3x", 3.0, False),
        ("start-up to first result (ms)", "startup_ms", "<= mpi4py's", 1.0, True),
    ]
    print(f"{'figure':36} {'concur mpi':>12} {'mpi4py':>12} {'ratio':>8} {'local Pool':>12}  target")
    missed = 0
    for label, key, target, need, lower_is_better in rows:
        # mpi4py has one payload figure: its function gets bytes (a copy) either way.
        c, p = med(concur, key), med(python, key.replace("_view", ""))
        ratio = (p / c) if lower_is_better else (c / p)
        local = med(concur, "local_" + key) if not lower_is_better else float("nan")
        ok = ratio >= need
        missed += not ok
        print(f"{label:36} {c:12.1f} {p:12.1f} {ratio:7.2f}x {local:12.1f}  {target} {'ok' if ok else 'MISSED'}")
    print(f"({rounds} round(s); medians over rounds of medians within each run)")
    return 1 if missed and "--check" in sys.argv else 0


if __name__ == "__main__":
    sys.exit(main())
