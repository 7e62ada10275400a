#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ThreadPoolExecutor workload (executor_workload.hpp) -- the peer: Python 3's own
concurrent.futures.ThreadPoolExecutor, with its default number of workers.

Submits TASKS trivial tasks, collects every result, and prints one JSON object:
{"name": "executor_1M_python", "tasks": ..., "seconds": ..., "items_per_second": ...}.
"""
import argparse
import concurrent.futures
import json
import sys
import time


def trivial_task(i):
    return i & 1


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1_000_000, help="number of tasks (default 1,000,000)")
    args = parser.parse_args()
    if args.tasks <= 0:
        parser.error("--tasks must be positive")

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor() as executor:
        futures = [executor.submit(trivial_task, i) for i in range(args.tasks)]
        total = sum(f.result() for f in futures)
    seconds = time.perf_counter() - start
    if total != args.tasks // 2:
        sys.exit("python ThreadPoolExecutor lost a result")
    json.dump({"name": "executor_1M_python", "tasks": args.tasks, "seconds": seconds,
               "items_per_second": args.tasks / seconds, "python": sys.version.split()[0]}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
