#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Python side of `concur compare`: one measurement per call, printed as JSON on stdout.

`concur compare` runs every figure of the classic threads / processes / asyncio comparison twice,
once with concur's C++ API and once with this script on Python 3's own `threading`,
`multiprocessing` and `asyncio`, with the same workload and the same method (docs/compare.md
says how each figure is made). It calls this script once per figure, right after measuring the
same figure in C++, so both sides see the same machine; each call is a fresh interpreter, which
also gives the memory figures a clean heap.

    compare_python.py STEP [--repetitions R] [--quick] [--units N] [--seconds S]
                           [--iterations I] [--workers W] [--port P]

STEP is MODEL.FIGURE (threads.startup, processes.io, asyncio.sockets, ...) or cpu.calibrate,
cpu.serial, alloc.serial; `--list` prints them. Prints one JSON value: a number (seconds or
bytes), or an object for I/O-bound points ({"units", "wall_s", "serial_sum_s"}) and for
calibration ({"iterations"}). Every figure is the median of R repetitions; every wait is bounded
(PATIENCE seconds): a unit that does not answer is an error (exit status 1, reason on stderr),
never a hang. Only the standard library is used.
"""
import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import socket
import statistics
import sys
import threading
import time

PATIENCE = 10.0           # no wait of a measurement lasts longer (seconds)
ALLOC_BUFFER = 512 * 1024  # the allocation-heavy work: buffers of 512 KiB ...
ALLOC_BUFFERS = 4          # ... four per task, each filled and freed
MESSAGE = b"x" * 64       # one request of the socket exchanges
EXCHANGES = 4             # request/response round trips per unit in the socket rows

FORK = multiprocessing.get_context("fork")  # Python's default on Linux, and concur's here

now = time.perf_counter


class MeasureError(Exception):
    pass


def median_of(reps, once):
    return statistics.median(once() for _ in range(max(1, reps)))


# ---------------------------------------------------------------- the work units, as in C++

MASK = (1 << 64) - 1


def cpu_work(seed, iterations):
    """splitmix64 rounds, the same arithmetic as concur compare's C++ cpu_work()."""
    x, acc = seed, 0
    for _ in range(iterations):
        x = (x + 0x9E3779B97F4A7C15) & MASK
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        acc ^= z ^ (z >> 31)
    return acc


def alloc_work(tasks):
    """`tasks` times: ALLOC_BUFFERS buffers of ALLOC_BUFFER bytes, live together, each written
    in full, then read and freed; the C++ side does the same with new[] and memset. (A fresh
    bytearray is zero-filled by calloc, which leaves untouched the pages the kernel hands out
    zeroed: the copy of `fill` writes every page, as memset does.)"""
    fill = b"\0" * ALLOC_BUFFER
    acc = 0
    for t in range(tasks):
        bufs = [bytearray(ALLOC_BUFFER) for _ in range(ALLOC_BUFFERS)]
        for buf in bufs:
            buf[:] = fill
            buf[t % ALLOC_BUFFER] = 1
        for buf in bufs:
            acc += buf[t % ALLOC_BUFFER]
        del bufs
    return acc


def resident_bytes(pid="self"):
    return smaps_sum(pid, ("Rss",))


def private_bytes(pid):
    return smaps_sum(pid, ("Private_Clean", "Private_Dirty"))


def smaps_sum(pid, fields):
    total, found = 0, 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in fields:
                total += int(rest.split()[0]) * 1024
                found += 1
    if found != len(fields):
        raise MeasureError(f"unexpected contents in /proc/{pid}/smaps_rollup")
    return total


def wait_or_fail(event, what):
    if not event.wait(PATIENCE):
        raise MeasureError(f"timed out waiting for {what}")


def join_all(units):
    deadline = now() + PATIENCE
    for u in units:
        u.join(max(0.0, deadline - now()))
        if u.is_alive():
            if hasattr(u, "kill"):
                u.kill()
                u.join()
            raise MeasureError("a unit did not finish in time")
        if getattr(u, "exitcode", 0) not in (0, None):
            raise MeasureError(f"a child process failed (exit code {u.exitcode})")


def recv_in_time(conn):
    if not conn.poll(PATIENCE):
        raise MeasureError("a child process did not answer in time")
    return conn.recv()


# ---------------------------------------------------------------- threads


def threads_startup(a):
    count = 100 if a.quick else 300

    def once():
        start = now()
        for _ in range(count):
            t = threading.Thread(target=lambda: None)
            t.start()
            t.join()
        return (now() - start) / count
    return median_of(a.repetitions, once)


def threads_memory(a):
    # A fresh interpreter per call: the growth of resident memory while 200 threads block on
    # an Event (their stacks, Python thread states and frames), per thread.
    count = 200
    release, started_all = threading.Event(), threading.Event()
    started = [0]
    lock = threading.Lock()

    def unit():
        with lock:
            started[0] += 1
            if started[0] == count:
                started_all.set()
        release.wait(PATIENCE)
    gc.collect()
    before = resident_bytes()
    threads = [threading.Thread(target=unit) for _ in range(count)]
    for t in threads:
        t.start()
    try:
        wait_or_fail(started_all, "the threads to start")
        after = resident_bytes()
    finally:
        release.set()
        join_all(threads)
    if after <= before:
        raise MeasureError("resident memory did not grow with blocked threads")
    return (after - before) / count


def threads_handoff(a):
    rounds = 2000 if a.quick else 10000

    def once():
        ping, pong = threading.Event(), threading.Event()

        def partner():
            for _ in range(rounds):
                if not ping.wait(PATIENCE):
                    return
                ping.clear()
                pong.set()
        t = threading.Thread(target=partner)
        t.start()
        start = now()
        try:
            for _ in range(rounds):
                ping.set()
                wait_or_fail(pong, "the partner thread")
                pong.clear()
            took = now() - start
        finally:
            ping.set()
            t.join(PATIENCE)
        return took / (2 * rounds)
    return median_of(a.repetitions, once)


def io_point(a, run):
    serial = a.units * median_of(a.repetitions, lambda: run(1))
    wall = median_of(a.repetitions, lambda: run(a.units))
    return {"units": a.units, "wall_s": wall, "serial_sum_s": serial}


def threads_io(a):
    def run(n):
        never = threading.Event()
        start = now()
        threads = [threading.Thread(target=never.wait, args=(a.seconds,)) for _ in range(n)]
        for t in threads:
            t.start()
        join_all(threads)
        return now() - start
    return io_point(a, run)


def socket_exchanges(port):
    """One socket unit: connect to the echo peer, EXCHANGES request/response round trips."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(EXCHANGES):
            s.sendall(MESSAGE)
            got = 0
            while got < len(MESSAGE):
                chunk = s.recv(len(MESSAGE) - got)
                if not chunk:
                    raise MeasureError("the echo peer closed the connection")
                got += len(chunk)


def threads_sockets(a):
    def run(n):
        errors = []

        def unit():
            try:
                socket_exchanges(a.port)
            except Exception as e:  # reported below, after every thread is joined
                errors.append(e)
        start = now()
        threads = [threading.Thread(target=unit) for _ in range(n)]
        for t in threads:
            t.start()
        join_all(threads)
        if errors:
            raise MeasureError(f"{len(errors)} of {n} socket units failed: {errors[0]}")
        return now() - start
    return io_point(a, run)


def split_run(workers, target, shares):
    """Runs target(*share) in one thread per share; returns the wall time."""
    threads = [threading.Thread(target=target, args=s) for s in shares]
    start = now()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return now() - start


def threads_cpu(a):
    shares = [(i + 1, a.iterations // a.workers) for i in range(a.workers)]
    return median_of(a.repetitions, lambda: split_run(a.workers, cpu_work, shares))


def threads_alloc(a):
    shares = [(a.iterations // a.workers,) for _ in range(a.workers)]
    return median_of(a.repetitions, lambda: split_run(a.workers, alloc_work, shares))


def uncontended(a, lock):
    count = 200000 if a.quick else 1000000

    def once():
        acquire, release = lock.acquire, lock.release
        start = now()
        for _ in range(count):
            acquire()
            release()
        return (now() - start) / count
    return median_of(a.repetitions, once)


def threads_lock(a):
    return uncontended(a, threading.Lock())


def threads_counter(a):
    per_unit = 50000 if a.quick else 200000

    def once():
        lock, go = threading.Lock(), threading.Event()
        counter = [0]

        def unit():
            go.wait(PATIENCE)
            for _ in range(per_unit):
                with lock:
                    counter[0] += 1
        threads = [threading.Thread(target=unit) for _ in range(a.units)]
        for t in threads:
            t.start()
        start = now()
        go.set()
        join_all(threads)
        took = now() - start
        if counter[0] != per_unit * a.units:
            raise MeasureError("the counter lost increments")
        return took / (per_unit * a.units)
    return median_of(a.repetitions, once)


# ---------------------------------------------------------------- processes


def noop():
    pass


def processes_startup(a):
    count = 20 if a.quick else 50

    def once():
        start = now()
        for _ in range(count):
            p = FORK.Process(target=noop)
            p.start()
            join_all([p])
        return (now() - start) / count
    return median_of(a.repetitions, once)


def hold_child(conn):
    conn.send(1)
    try:
        conn.recv()
    except EOFError:
        pass


def processes_memory(a):
    count = 8

    def once():
        procs, mine, sizes = [], [], []
        try:
            for _ in range(count):
                parent_end, child_end = FORK.Pipe()
                p = FORK.Process(target=hold_child, args=(child_end,))
                p.start()
                child_end.close()
                procs.append(p)
                mine.append(parent_end)
            for p, conn in zip(procs, mine):
                recv_in_time(conn)
                sizes.append(private_bytes(p.pid))
            for conn in mine:
                conn.send(0)
        finally:
            for conn in mine:
                conn.close()
            join_all(procs)
        return statistics.median(sizes)
    return median_of(a.repetitions, once)


def echo_child(conn, rounds):
    try:
        for _ in range(rounds):
            conn.send(conn.recv())
    except EOFError:
        pass


def processes_handoff(a):
    rounds = 1000 if a.quick else 5000

    def once():
        conn, child_end = FORK.Pipe()
        p = FORK.Process(target=echo_child, args=(child_end, rounds))
        p.start()
        child_end.close()
        try:
            start = now()
            for i in range(rounds):
                conn.send(i)
                if recv_in_time(conn) != i:
                    raise MeasureError("the echo child answered out of order")
            took = now() - start
        finally:
            conn.close()
            join_all([p])
        return took / (2 * rounds)
    return median_of(a.repetitions, once)


def wait_child(seconds):
    threading.Event().wait(seconds)


def processes_io(a):
    def run(n):
        start = now()
        procs = [FORK.Process(target=wait_child, args=(a.seconds,)) for _ in range(n)]
        for p in procs:
            p.start()
        join_all(procs)
        return now() - start
    return io_point(a, run)


def processes_sockets(a):
    def run(n):
        start = now()
        procs = [FORK.Process(target=socket_exchanges, args=(a.port,)) for _ in range(n)]
        for p in procs:
            p.start()
        join_all(procs)
        return now() - start
    return io_point(a, run)


def result_child(conn, fn, args):
    conn.send(fn(*args))


def split_processes(fn, shares):
    procs, mine = [], []
    start = now()
    try:
        for s in shares:
            parent_end, child_end = FORK.Pipe()
            p = FORK.Process(target=result_child, args=(child_end, fn, s))
            p.start()
            child_end.close()
            procs.append(p)
            mine.append(parent_end)
        for conn in mine:
            if not conn.poll(PATIENCE * 10):
                raise MeasureError("a CPU-bound child did not finish in time")
            conn.recv()
    finally:
        for conn in mine:
            conn.close()
        join_all(procs)
    return now() - start


def processes_cpu(a):
    shares = [(i + 1, a.iterations // a.workers) for i in range(a.workers)]
    return median_of(a.repetitions, lambda: split_processes(cpu_work, shares))


def processes_alloc(a):
    shares = [(a.iterations // a.workers,) for _ in range(a.workers)]
    return median_of(a.repetitions, lambda: split_processes(alloc_work, shares))


def processes_lock(a):
    return uncontended(a, FORK.Lock())


def counter_child(counter, ready, go, increments):
    ready.release()
    if not go.wait(PATIENCE):
        return
    for _ in range(increments):
        with counter.get_lock():
            counter.value += 1


def processes_counter(a):
    per_unit = 20000 if a.quick else 100000

    def once():
        counter, ready, go = FORK.Value("q", 0), FORK.Semaphore(0), FORK.Event()
        procs = [FORK.Process(target=counter_child, args=(counter, ready, go, per_unit)) for _ in range(a.units)]
        for p in procs:
            p.start()
        try:
            for _ in procs:
                if not ready.acquire(timeout=PATIENCE):
                    raise MeasureError("the counter children did not start in time")
            start = now()
            go.set()
            join_all(procs)
            took = now() - start
        finally:
            go.set()
            join_all(procs)
        if counter.value != per_unit * a.units:
            raise MeasureError("the shared counter lost increments")
        return took / (per_unit * a.units)
    return median_of(a.repetitions, once)


# ---------------------------------------------------------------- asyncio


def loop_median(a, make):
    return median_of(a.repetitions, lambda: asyncio.run(make()))


async def noop_task():
    pass


def asyncio_startup(a):
    count = 10000 if a.quick else 50000

    async def once():
        start = now()
        for _ in range(count):
            await asyncio.create_task(noop_task())
        return (now() - start) / count
    return loop_median(a, once)


def asyncio_memory(a):
    count = 10000

    async def once():
        release = asyncio.Event()
        gc.collect()
        before = resident_bytes()
        tasks = [asyncio.create_task(release.wait()) for _ in range(count)]
        await asyncio.sleep(0)  # every task runs up to its wait
        after = resident_bytes()
        release.set()
        await asyncio.wait_for(asyncio.gather(*tasks), PATIENCE)
        if after <= before:
            raise MeasureError("resident memory did not grow with blocked tasks")
        return (after - before) / count
    return asyncio.run(once())


def asyncio_handoff(a):
    rounds = 10000 if a.quick else 50000

    async def once():
        ping, pong = asyncio.Queue(), asyncio.Queue()

        async def partner():
            for _ in range(rounds):
                await pong.put(await ping.get())
        task = asyncio.create_task(partner())
        start = now()
        for i in range(rounds):
            await ping.put(i)
            if await pong.get() != i:
                raise MeasureError("the partner task answered out of order")
        took = now() - start
        await asyncio.wait_for(task, PATIENCE)
        return took / (2 * rounds)
    return loop_median(a, once)


def asyncio_io(a):
    def run(n):
        async def once():
            start = now()
            await asyncio.wait_for(asyncio.gather(*(asyncio.sleep(a.seconds) for _ in range(n))),
                                   PATIENCE + a.seconds)
            return now() - start
        return asyncio.run(once())
    return io_point(a, run)


async def async_socket_exchanges(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(EXCHANGES):
            writer.write(MESSAGE)
            await writer.drain()
            await reader.readexactly(len(MESSAGE))
    finally:
        writer.close()
        await writer.wait_closed()


def asyncio_sockets(a):
    def run(n):
        async def once():
            start = now()
            await asyncio.wait_for(asyncio.gather(*(async_socket_exchanges(a.port) for _ in range(n))),
                                   PATIENCE)
            return now() - start
        return asyncio.run(once())
    return io_point(a, run)


def asyncio_split(fn, shares):
    async def unit(share):
        fn(*share)

    async def once():
        start = now()
        await asyncio.gather(*(unit(s) for s in shares))
        return now() - start
    return once


def asyncio_cpu(a):
    shares = [(i + 1, a.iterations // a.workers) for i in range(a.workers)]
    return loop_median(a, asyncio_split(cpu_work, shares))


def asyncio_alloc(a):
    shares = [(a.iterations // a.workers,) for _ in range(a.workers)]
    return loop_median(a, asyncio_split(alloc_work, shares))


def asyncio_lock(a):
    count = 200000 if a.quick else 1000000

    async def once():
        lock = asyncio.Lock()
        start = now()
        for _ in range(count):
            await lock.acquire()
            lock.release()
        return (now() - start) / count
    return loop_median(a, once)


def asyncio_counter(a):
    per_unit = 5000 if a.quick else 20000

    async def once():
        lock = asyncio.Lock()
        counter = [0]

        async def unit():
            for _ in range(per_unit):
                async with lock:
                    counter[0] += 1
                    await asyncio.sleep(0)  # as in C++: yield while holding, so the others queue
        start = now()
        await asyncio.wait_for(asyncio.gather(*(unit() for _ in range(a.units))), PATIENCE * 6)
        took = now() - start
        if counter[0] != per_unit * a.units:
            raise MeasureError("the counter lost increments")
        return took / (per_unit * a.units)
    return loop_median(a, once)


# ---------------------------------------------------------------- the serial references


def calibrate(work, seconds):
    """How many units of `work` take about `seconds` in one thread."""
    n = 16
    while True:
        start = now()
        work(n)
        took = now() - start
        if took >= 0.05 or n >= 1 << 40:
            return max(1, int(seconds / (took / n)))
        n *= 4


def cpu_calibrate(a):
    return {"iterations": calibrate(lambda n: cpu_work(1, n), a.seconds)}


def alloc_calibrate(a):
    return {"iterations": calibrate(alloc_work, a.seconds)}


def cpu_serial(a):
    return median_of(a.repetitions, lambda: timed(cpu_work, 1, a.iterations))


def alloc_serial(a):
    return median_of(a.repetitions, lambda: timed(alloc_work, a.iterations))


def timed(fn, *args):
    start = now()
    fn(*args)
    return now() - start


STEPS = {
    "threads.startup": threads_startup, "processes.startup": processes_startup, "asyncio.startup": asyncio_startup,
    "threads.memory": threads_memory, "processes.memory": processes_memory, "asyncio.memory": asyncio_memory,
    "threads.handoff": threads_handoff, "processes.handoff": processes_handoff, "asyncio.handoff": asyncio_handoff,
    "threads.io": threads_io, "processes.io": processes_io, "asyncio.io": asyncio_io,
    "threads.sockets": threads_sockets, "processes.sockets": processes_sockets, "asyncio.sockets": asyncio_sockets,
    "cpu.calibrate": cpu_calibrate, "cpu.serial": cpu_serial,
    "threads.cpu": threads_cpu, "processes.cpu": processes_cpu, "asyncio.cpu": asyncio_cpu,
    "alloc.calibrate": alloc_calibrate, "alloc.serial": alloc_serial,
    "threads.alloc": threads_alloc, "processes.alloc": processes_alloc, "asyncio.alloc": asyncio_alloc,
    "threads.lock": threads_lock, "processes.lock": processes_lock, "asyncio.lock": asyncio_lock,
    "threads.counter": threads_counter, "processes.counter": processes_counter, "asyncio.counter": asyncio_counter,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", nargs="?", help="the figure to measure (--list shows them)")
    parser.add_argument("--list", action="store_true", help="print the steps and exit")
    parser.add_argument("--version", action="store_true", help="print the Python version and exit")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--units", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=0.05)
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    a = parser.parse_args()
    if a.version:
        print(json.dumps({"version": "%d.%d.%d" % sys.version_info[:3], "implementation": sys.implementation.name,
                          "executable": sys.executable}))
        return 0
    if a.list:
        print("\n".join(STEPS))
        return 0
    if a.step not in STEPS:
        parser.error(f"unknown step {a.step!r}; --list shows them")
    if a.units < 1 or a.workers < 1 or a.iterations < 1 or a.repetitions < 1 or a.seconds <= 0:
        parser.error("--units, --workers, --iterations and --repetitions must be >= 1, --seconds > 0")
    try:
        value = STEPS[a.step](a)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # one line for the caller's notes
        print(f"{a.step}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
