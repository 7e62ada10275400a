#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs mpi_job under mpiexec and checks what only the outside of a job can see.

  check_job.py ok         MPIEXEC... -- JOB          exit 0, the right sum, no process left
  check_job.py killed     MPIEXEC... -- JOB          a worker rank is SIGKILLed while it runs
                                                     tasks: mpiexec ends non-zero within 20 s
                                                     naming the rank, no process left
  check_job.py mismatch   MPIEXEC... -- JOB OTHER    rank 0 runs JOB, ranks 1 and 2 OTHER:
                                                     every rank says the builds differ, the job
                                                     ends non-zero, no process left

Every process of the job carries CONCUR_MPI_TEST_TOKEN=<random> in its environment (mpiexec -x):
"no process left" means no process on this machine has it once mpiexec returned (polled for
at most 5 s while exiting processes vanish).
"""
import os
import signal
import subprocess
import sys
import time
import uuid


def processes_with(token):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"CONCUR_MPI_TEST_TOKEN={token}".encode() in env:
            found.append(int(pid))
    return found


def rank_of(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(b"OMPI_COMM_WORLD_RANK="):
                    return int(item.split(b"=", 1)[1])
    except OSError:
        pass
    return None


def rank_processes(mpiexec_pid, token):
    """rank -> pid of the rank processes themselves (children of mpiexec)."""
    ranks = {}
    for pid in processes_with(token):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == mpiexec_pid:
            r = rank_of(pid)
            if r is not None:
                ranks[r] = pid
    return ranks


def check_nothing_left(token):
    deadline = time.monotonic() + 5
    while True:
        left = processes_with(token)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if left:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        sys.exit(f"FAIL: processes left behind by the job: {left}")


def main():
    mode = sys.argv[1]
    sep = sys.argv.index("--")
    mpiexec = sys.argv[2:sep]
    programs = sys.argv[sep + 1:]
    token = uuid.uuid4().hex
    env = dict(os.environ, CONCUR_MPI_TEST_TOKEN=token)
    launcher = mpiexec + ["-x", "CONCUR_MPI_TEST_TOKEN"]
    if mode == "mismatch":
        cmd = launcher + ["-n", "1", programs[0], "ok", ":", "-n", "2", programs[1], "ok"]
    else:
        cmd = launcher + ["-n", "3", programs[0], "ok" if mode == "ok" else "slow"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    try:
        if mode == "killed":
            # Open MPI may print notices first; the program says "ready" once its ranks run tasks.
            while True:
                line = proc.stdout.readline()
                output.append(line)
                if line.startswith("ready"):
                    break
                if not line:
                    proc.kill()
                    sys.exit(f"FAIL: the job ended before it was ready: {''.join(output)}")
            ranks = rank_processes(proc.pid, token)
            if 1 not in ranks:
                proc.kill()
                sys.exit(f"FAIL: cannot find rank 1 among {ranks}")
            killed_at = time.monotonic()
            os.kill(ranks[1], signal.SIGKILL)
            out, _ = proc.communicate(timeout=20)
            output.append(out)
            elapsed = time.monotonic() - killed_at
        else:
            out, _ = proc.communicate(timeout=60)
            output.append(out)
            elapsed = time.monotonic() - start
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        check_nothing_left(token)
        sys.exit(f"FAIL: the job did not end in time (it hangs):\n{''.join(output)}")
    text = "".join(output)
    print(text)
    print(f"exit status {proc.returncode} after {elapsed:.2f} s")
    if mode == "ok":
        if proc.returncode != 0 or "sum 332833500 (main build)" not in text:
            sys.exit("FAIL: the job did not compute the sum or exit 0")
    elif mode == "killed":
        if proc.returncode == 0:
            sys.exit("FAIL: the job exited 0 though a rank was killed")
        if "rank 1" not in text:
            sys.exit("FAIL: the job's output does not name rank 1")
    elif mode == "mismatch":
        if proc.returncode == 0:
            sys.exit("FAIL: the job exited 0 though its ranks run different builds")
        said = text.count("the ranks run different builds")
        if said != 3:
            sys.exit(f"FAIL: {said} rank(s) of 3 reported the different builds")
        if "sum " in text:
            sys.exit("FAIL: a task ran across different builds")
    check_nothing_left(token)
    print("OK")


if __name__ == "__main__":
    main()
