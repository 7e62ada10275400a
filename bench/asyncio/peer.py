#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/asyncio/peer.py — the Python peers of bench_asyncio: the same scenarios on Python's
asyncio and on uvloop, one JSON line on stdout (see bench_asyncio.cpp for the scenarios).

    peer.py asyncio|uvloop create_gather N
    peer.py asyncio|uvloop sleep N SECONDS
    peer.py asyncio|uvloop queue N
    peer.py asyncio|uvloop threadsafe N
    peer.py asyncio|uvloop lateness N
    peer.py asyncio|uvloop periodic N MS
    peer.py asyncio|uvloop idle_cpu SECONDS
"""
import asyncio
import json
import math
import sys
import threading
import time


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def trivial(i):
    return i


async def create_gather(n):
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(trivial(i)) for i in range(n)]
    values = await asyncio.gather(*tasks)
    took = time.perf_counter() - t0
    assert len(values) == n and values[-1] == n - 1
    return {"tasks_per_s": round(n / took)}


async def sleep_many(n, secs):
    remaining = n
    all_done = asyncio.Event()

    async def sleeper():
        nonlocal remaining
        await asyncio.sleep(secs)
        remaining -= 1
        if remaining == 0:
            all_done.set()

    before = rss_bytes()
    t0 = time.perf_counter()
    tasks = set()  # Python's tasks must be referenced or the GC may collect them (gh-88831)
    for _ in range(n):
        tasks.add(asyncio.create_task(sleeper()))
    await asyncio.sleep(0)
    per_task = (rss_bytes() - before) / n
    await all_done.wait()
    return {"total_s": round(time.perf_counter() - t0, 3), "bytes_per_task": round(per_task), "sleep_s": secs}


async def queue_pingpong(n):
    q = asyncio.Queue(1)

    async def producer():
        for i in range(n):
            await q.put(i)

    async def consumer():
        s = 0
        for _ in range(n):
            s += await q.get()
        return s

    t0 = time.perf_counter()
    _, s = await asyncio.gather(producer(), consumer())
    took = time.perf_counter() - t0
    assert s == n * (n - 1) // 2
    return {"items_per_s": round(n / took)}


def threadsafe(loop_factory, n):
    loop = loop_factory()
    latencies = []
    acked = threading.Semaphore(0)

    def poster():
        for _ in range(n):
            t0 = time.perf_counter()

            def cb(t0=t0):
                latencies.append((time.perf_counter() - t0) * 1e6)
                acked.release()

            loop.call_soon_threadsafe(cb)
            acked.acquire()
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=poster)
    t.start()
    loop.run_forever()
    t.join()
    loop.close()
    latencies.sort()
    return {"median_us": round(latencies[len(latencies) // 2], 2)}


def lateness_sleep_ms(i):
    # The same durations as bench_asyncio.cpp: 1.0 to 20.0 ms in steps of 0.1 ms.
    return 1.0 + ((i * 37) % 191) / 10.0


def percentile(values, q):
    v = sorted(values)
    k = max(math.ceil(q * len(v)) - 1, 0)
    return v[min(k, len(v) - 1)]


async def lateness(n):
    # time.monotonic() is CLOCK_MONOTONIC, as concur's steady_clock: measured alike.
    late = []
    for i in range(n):
        d = lateness_sleep_ms(i)
        t0 = time.monotonic()
        await asyncio.sleep(d / 1e3)
        late.append((time.monotonic() - t0) * 1e3 - d)
    return {"median_ms": round(percentile(late, 0.5), 4), "p99_ms": round(percentile(late, 0.99), 4),
            "max_ms": round(max(late), 4), "max_early_ms": round(max(0.0, -min(late)), 4)}


async def periodic(n, period_ms):
    t0 = time.monotonic()
    for _ in range(n):
        await asyncio.sleep(period_ms / 1e3)
    return {"period_ms": period_ms, "drift_ms": round((time.monotonic() - t0) * 1e3 - n * period_ms, 3)}


def idle_cpu(loop_factory, secs):
    # An idle loop whose only work is a callback every 50 ms, for `secs` seconds.
    loop = loop_factory()
    start = loop.time()
    state = {"cpu0": 0.0, "ticks": 0}

    def tick():
        state["ticks"] += 1
        if loop.time() - start >= secs:
            loop.stop()
        else:
            loop.call_later(0.05, tick)

    def begin():
        state["cpu0"] = time.process_time()
        loop.call_later(0.05, tick)

    loop.call_soon(begin)
    t0 = time.monotonic()
    loop.run_forever()
    cpu = time.process_time() - state["cpu0"]
    wall = time.monotonic() - t0
    loop.close()
    assert state["ticks"] >= 2
    return {"seconds": secs, "cpu_percent": round(cpu / wall * 100.0, 3)}


def main():
    impl, scenario, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if impl == "uvloop":
        import uvloop
        factory = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    result = {"scenario": scenario, "impl": impl, "n": n}
    if scenario == "threadsafe":
        result.update(threadsafe(factory, n))
    elif scenario == "idle_cpu":
        result.update(idle_cpu(factory, n))
    else:
        if scenario == "create_gather":
            coro = create_gather(n)
        elif scenario == "sleep":
            coro = sleep_many(n, float(sys.argv[4]))
        elif scenario == "queue":
            coro = queue_pingpong(n)
        elif scenario == "lateness":
            coro = lateness(n)
        elif scenario == "periodic":
            coro = periodic(n, float(sys.argv[4]))
        else:
            raise SystemExit(f"unknown scenario {scenario}")
        with asyncio.Runner(loop_factory=factory) as runner:
            result.update(runner.run(coro))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
