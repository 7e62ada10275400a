#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/multiprocessing/mp_python.py — Python's multiprocessing, the peer of mp_concur.cpp.

Prints the same `name value` lines (medians over repetitions inside this run):
process_fork_ms, process_forkserver_ms, map_default_tasks_per_s, map_chunk1_tasks_per_s,
payload_mib_per_s, cpu_speedup. The work is workload.hpp's, in Python.
"""
import multiprocessing as mp
import statistics
import sys
import time


def square(x):
    return x * x


def checksum(data):
    return sum(data)  # reads every byte, as the C++ side does


def cpu_task(n):
    x = 88172645463325252
    acc = 0
    mask = (1 << 64) - 1
    for _ in range(n):
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        acc += x % 1000
    return acc


def nothing():
    pass


def seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def start_join(ctx):
    p = ctx.Process(target=nothing)
    p.start()
    p.join()


def main():
    starts = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    for method in ("fork", "forkserver"):
        ctx = mp.get_context(method)
        start_join(ctx)  # the fork server starts on first use: not part of the figure
        times = [seconds(lambda: start_join(ctx)) for _ in range(starts)]
        print(f"process_{method}_ms {statistics.median(times) * 1e3:.4f}")

    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        ints = range(100_000)
        pool.map(square, ints)
        t_default = [seconds(lambda: pool.map(square, ints)) for _ in range(reps)]
        t_chunk1 = [seconds(lambda: pool.map(square, ints, 1)) for _ in range(max(1, reps // 2))]
        print(f"map_default_tasks_per_s {100_000 / statistics.median(t_default):.0f}")
        print(f"map_chunk1_tasks_per_s {100_000 / statistics.median(t_chunk1):.0f}")

        payloads = [bytes([i % 256]) * (1 << 20) for i in range(200)]
        t_payload = [seconds(lambda: pool.map(checksum, payloads)) for _ in range(reps)]
        print(f"payload_mib_per_s {200 / statistics.median(t_payload):.1f}")

        n = 400_000  # pure Python is slow: fewer steps, same shape of work
        work = [n] * 8
        t_serial = seconds(lambda: [cpu_task(w) for w in work])
        t_parallel = seconds(lambda: pool.map(cpu_task, work, 1))
        print(f"cpu_speedup {t_serial / t_parallel:.3f}")


if __name__ == "__main__":
    main()
