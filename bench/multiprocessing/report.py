#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Prints the table of bench/multiprocessing/run.sh: medians over rounds, ratios, targets."""
import statistics
import sys
from pathlib import Path


def load(directory, side, rounds):
    values = {}
    for r in range(1, rounds + 1):
        for line in (Path(directory) / f"{side}.{r}").read_text().splitlines():
            name, value = line.split()
            values.setdefault(name, []).append(float(value))
    return {k: statistics.median(v) for k, v in values.items()}


def main():
    directory, rounds = sys.argv[1], int(sys.argv[2])
    c = load(directory, "concur", rounds)
    p = load(directory, "python", rounds)
    rows = [
        ("Process start+join, fork (ms)", f"{c['process_fork_ms']:.3f}",
         f"raw fork+waitpid {c['raw_fork_ms']:.3f}", c["process_fork_ms"] / c["raw_fork_ms"], "<= 1.5x raw", True),
        ("  vs Python fork (ms)", f"{c['process_fork_ms']:.3f}", f"{p['process_fork_ms']:.3f}",
         p["process_fork_ms"] / c["process_fork_ms"], "(faster by)", None),
        ("Process start+join, forkserver (ms)", f"{c['process_forkserver_ms']:.3f}", f"{p['process_forkserver_ms']:.3f}",
         p["process_forkserver_ms"] / c["process_forkserver_ms"], "(faster by)", None),
        ("Pool(2).map 100k ints, default chunksize (tasks/s)", f"{c['map_default_tasks_per_s']:,.0f}",
         f"{p['map_default_tasks_per_s']:,.0f}", c["map_default_tasks_per_s"] / p["map_default_tasks_per_s"], ">= 5x", 5.0),
        ("Pool(2).map 100k ints, chunksize 1 (tasks/s)", f"{c['map_chunk1_tasks_per_s']:,.0f}",
         f"{p['map_chunk1_tasks_per_s']:,.0f}", c["map_chunk1_tasks_per_s"] / p["map_chunk1_tasks_per_s"], ">= 10x", 10.0),
        ("Pool(2).map 200 x 1 MiB (MiB/s)", f"{c['payload_mib_per_s']:.1f}", f"{p['payload_mib_per_s']:.1f}",
         c["payload_mib_per_s"] / p["payload_mib_per_s"], ">= 5x", 5.0),
        ("CPU-bound speed-up on 2 cores", f"{c['cpu_speedup']:.2f}x", f"{p['cpu_speedup']:.2f}x",
         c["cpu_speedup"], ">= 1.9x", 1.9),
    ]
    if "raw_cpu_speedup" in c:
        # What two fork()ed processes get from the machine's CPUs right now: the ceiling of the
        # row above (a VM's two vCPUs may share a physical core).
        rows.append(("  vs raw fork() ceiling", f"{c['cpu_speedup']:.2f}x", f"raw {c['raw_cpu_speedup']:.2f}x",
                     c["cpu_speedup"] / c["raw_cpu_speedup"], "(of the ceiling)", None))
    print(f"medians of {rounds} round(s)\n")
    print(f"{'figure':<52} {'concur':>14} {'peer':>26} {'ratio':>8}  target")
    for name, mine, peer, ratio, target, goal in rows:
        if goal is True:
            ok = "met" if ratio <= 1.5 else "MISSED"
        elif goal is None:
            ok = ""
        else:
            ok = "met" if ratio >= goal else "MISSED"
        print(f"{name:<52} {mine:>14} {peer:>26} {ratio:>7.2f}x  {target} {ok}")


if __name__ == "__main__":
    main()
