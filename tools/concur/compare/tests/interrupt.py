#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Ctrl-C during `concur compare`: it stops cleanly and prints what it measured so far.

Usage: interrupt.py CONCUR SCHEMA VALIDATOR

Starts `CONCUR compare --quick --json --repetitions 1` in its own process group, reads its
progress lines on stderr until the fourth step has begun (so that the first three have been
measured), then sends SIGINT to the group, as a terminal's Ctrl-C does. Checks that the
command exits within a deadline with status 130, that stderr says it was interrupted, that
stdout is JSON valid against SCHEMA with "complete": false and the figures of the first steps
present, and that no child process of the command is left behind.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile

DEADLINE_S = 120  # from SIGINT to exit; generous for a sanitizer build on a loaded machine
PROGRESS = re.compile(r"\]\s+(\d+)/(\d+) ")


def fail(message, err=""):
    print(f"FAIL: {message}")
    if err:
        print("---- stderr\n" + err)
    return 1


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    concur, schema_path, validator = argv[1:]
    proc = subprocess.Popen([concur, "compare", "--quick", "--json", "--repetitions", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    err_lines = []
    try:
        # Read progress until step 4 begins; readline returns "" at EOF, which ends the loop.
        for line in iter(proc.stderr.readline, ""):
            err_lines.append(line)
            m = PROGRESS.search(line)
            if m and int(m.group(1)) >= 4:
                break
        else:
            proc.wait(timeout=DEADLINE_S)
            return fail("the command ended before step 4 began", "".join(err_lines))
        os.killpg(proc.pid, signal.SIGINT)
        out, rest = proc.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return fail(f"no exit within {DEADLINE_S} s of SIGINT", "".join(err_lines))
    err = "".join(err_lines) + rest
    print(f"---- exit status {proc.returncode}\n---- stderr\n{err}---- stdout\n{out}")

    # Nothing of the command survives it: its process group is empty.
    try:
        os.killpg(proc.pid, 0)
        os.killpg(proc.pid, signal.SIGKILL)
        return fail("a process of the interrupted command outlived it")
    except ProcessLookupError:
        pass

    if proc.returncode != 130:
        return fail(f"expected exit status 130, got {proc.returncode}")
    if "interrupted" not in err:
        return fail("stderr does not say the run was interrupted")
    try:
        doc = json.loads(out)
    except json.JSONDecodeError as e:
        return fail(f"stdout is not JSON: {e}")
    if doc.get("complete") is not False:
        return fail('"complete" is not false')
    measured = [(name, key) for name, model in doc.get("models", {}).items()
                for key in model if key != "io_bound"]
    if not measured:
        return fail("no figure was kept from the steps measured before SIGINT")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(out)
        path = f.name
    try:
        check = subprocess.run([sys.executable, validator, schema_path, path],
                               capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(path)
    print("---- validation\n" + check.stdout + check.stderr)
    if check.returncode != 0:
        return fail("the partial JSON does not validate against the schema")
    print(f"ok: interrupted cleanly, kept {len(measured)} figure(s): {measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
