#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/http/report.py — turns run.sh's raw results into the table of bench/README.md.

Input (stdin): TSV lines "server conns mode round reqs_per_s p99_ms user_us_per_req
sys_us_per_req rss_kib_per_conn"; mode is "keepalive", "pipelined" or "idle". Every figure
is the median over the rounds. Ratios are against the raw epoll server (the ceiling), Boost.Asio
and Python asyncio streams, as the targets of issue 4 are stated; each ratio is the median of
the ratios of the same round (the two servers measured minutes apart at most, in turn), not the
ratio of two medians: a shared machine's speed drifts over minutes, and pairing the figures of
one round takes that drift out of the comparison.
"""
import collections
import statistics
import sys

ORDER = ["concur", "epoll", "asio", "py-streams", "py-protocol", "uvloop-streams", "uvloop-protocol"]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def main():
    runs = collections.defaultdict(list)
    by_round = {}  # (server, conns, mode, round) -> figures
    for line in sys.stdin:
        f = line.split()
        if len(f) != 9:
            continue
        server, conns, mode = f[0], int(f[1]), f[2]
        nums = [None if x == "-" else float(x) for x in f[4:]]
        runs[(server, conns, mode)].append(nums)
        by_round[(server, conns, mode, f[3])] = nums

    rounds = {k[3] for k in by_round}

    def paired(a, b, conns, figure):
        """Median over rounds of figure(a's keep-alive run) / figure(b's), same round and conns."""
        ratios = []
        for rnd in rounds:
            mine, other = by_round.get((a, conns, "keepalive", rnd)), by_round.get((b, conns, "keepalive", rnd))
            x, y = (figure(mine), figure(other)) if mine and other else (None, None)
            if x is not None and y:
                ratios.append(x / y)
        return med(ratios)

    def cpu_of(nums):
        """user + sys of a run's figures or of a table row (the same first four columns)."""
        return nums[2] + nums[3] if nums[2] is not None else None

    def user_of(nums):
        return nums[2]
    # The last field: how many rounds gave figures (a failed wrk run gives none).
    table = {k: [med(col) for col in zip(*v)] + [sum(1 for r in v if any(x is not None for x in r))]
             for k, v in runs.items()}
    servers = [s for s in ORDER if any(k[0] == s for k in table)]
    conns_list = sorted({k[1] for k in table if k[2] == "keepalive"})

    print("### Keep-alive GET, one server core, wrk on the other (median of rounds)\n")
    print("| server | conns | req/s | p99 ms | CPU µs/req (user+sys) | user µs/req | sys µs/req | × epoll CPU | runs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for conns in conns_list:
        for s in servers:
            row = table.get((s, conns, "keepalive"))
            if not row:
                continue
            rps, p99, user, sys_, _rss, n = row
            cpu = cpu_of(row)
            ratio = paired(s, "epoll", conns, cpu_of)
            print(f"| {s} | {conns:,} | {fmt(rps, ',.0f')} | {fmt(p99, '.2f')} | {fmt(cpu, '.2f')} | "
                  f"{fmt(user, '.2f')} | {fmt(sys_, '.2f')} | {fmt(ratio, '.2f')} | {n} |")

    idle = sorted({k[1] for k in table if k[2] == "idle"})
    if idle:
        print("\n### Resident memory per idle keep-alive connection (KiB, RSS growth / connections)\n")
        print("| server | " + " | ".join(f"{c:,} conns" for c in idle) + " |")
        print("|---|" + "---:|" * len(idle))
        for s in servers:
            cells = [fmt(table[(s, c, "idle")][4], ".2f") if (s, c, "idle") in table else "–" for c in idle]
            print(f"| {s} | " + " | ".join(cells) + " |")

    pipe = sorted({k[1] for k in table if k[2] == "pipelined"})
    if pipe:
        print("\n### Pipelined: 16 requests a write (req/s, CPU µs/req)\n")
        print("| server | conns | req/s | CPU µs/req |")
        print("|---|---:|---:|---:|")
        for c in pipe:
            for s in servers:
                row = table.get((s, c, "pipelined"))
                if row:
                    print(f"| {s} | {c:,} | {fmt(row[0], ',.0f')} | {fmt(cpu_of(row), '.2f')} |")

    # The targets of issue 4: ratios paired by round (see the top of this file); the medians
    # of the table are shown beside them.
    checks = []
    for conns in conns_list:
        c, e, a, p = (table.get((s, conns, "keepalive")) for s in ("concur", "epoll", "asio", "py-streams"))
        # A peer whose runs all failed (no request completed) has no figures: skip its targets.
        c, e, a, p = (row if row and row[2] is not None else None for row in (c, e, a, p))
        if c and e:
            r = paired("concur", "epoll", conns, cpu_of)
            checks.append((f"CPU/request ≤ 1.1× raw epoll at {conns:,}",
                           f"{r:.2f}× (medians {cpu_of(c):.2f} vs {cpu_of(e):.2f} µs)", r <= 1.1))
        if c and a:
            r = paired("concur", "asio", conns, cpu_of)
            checks.append((f"CPU/request below Boost.Asio at {conns:,}",
                           f"{r:.2f}× (medians {cpu_of(c):.2f} vs {cpu_of(a):.2f} µs)", r < 1.0))
        if c and p:
            r = paired("concur", "py-streams", conns, user_of)
            r = r if r is not None else float("inf")
            shown = f"1/{1 / r:.1f}" if r > 0 else "< 1 clock tick"
            checks.append((f"user CPU/request ≤ 1/10 of Python streams at {conns:,}",
                           f"{shown} (medians {c[2]:.2f} vs {p[2]:.2f} µs)", r <= 0.1))
    if ("concur", 10000, "idle") in table:
        kib = table[("concur", 10000, "idle")][4]
        checks.append(("≤ 1 KiB RSS per idle connection at 10,000", f"{kib:.2f} KiB", kib <= 1.0))
    if checks:
        print("\n### Targets\n")
        print("| target | measured | met |")
        print("|---|---:|:---:|")
        for name, value, ok in checks:
            print(f"| {name} | {value} | {'yes' if ok else 'NO'} |")
    if "--check" in sys.argv and not all(ok for _, _, ok in checks):
        sys.exit(1)


if __name__ == "__main__":
    main()
