#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/mpi/mpi_python.py — mpi4py.futures, the peer of mpi_concur.cpp.

Run as `mpiexec -n 3 python3 -m mpi4py.futures mpi_python.py [REPS]` (rank 0 runs this file,
the other ranks serve MPIPoolExecutor's tasks). Prints the same `name value` lines as
mpi_concur.cpp: startup_ms, chunk1_tasks_per_s, chunkbig_tasks_per_s, payload_mib_per_s.
"""
import os
import statistics
import sys
import time

from mpi4py.futures import MPIPoolExecutor


def square(x):
    return x * x


def touch(data):
    return data[0] + data[-1] + len(data)


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with MPIPoolExecutor() as ex:
        ex.submit(square, 3).result()
        t0 = os.environ.get("BENCH_T0")
        if t0:
            print(f"startup_ms {(time.time() - float(t0)) * 1e3:.1f}")
        payloads = [bytes([7]) * (1 << 20) for _ in range(64)]
        c1, cb, mib = [], [], []
        for _ in range(reps):
            start = time.perf_counter()
            a = list(ex.map(square, range(20000), chunksize=1))
            c1.append(20000 / (time.perf_counter() - start))
            start = time.perf_counter()
            b = list(ex.map(square, range(1000000), chunksize=10000))
            cb.append(1e6 / (time.perf_counter() - start))
            start = time.perf_counter()
            c = list(ex.map(touch, payloads, chunksize=1))
            mib.append(64 / (time.perf_counter() - start))
            assert a[-1] == 19999 * 19999 and b[-1] == 999999 * 999999 and c[0] == 14 + (1 << 20)
        print(f"chunk1_tasks_per_s {statistics.median(c1):.1f}")
        print(f"chunkbig_tasks_per_s {statistics.median(cb):.1f}")
        print(f"payload_mib_per_s {statistics.median(mib):.1f}")


if __name__ == "__main__":
    main()
