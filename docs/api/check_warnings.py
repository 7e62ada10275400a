#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fails on every Doxygen warning that docs/api/undocumented.txt does not list.

Doxygen's warnings (undocumented public classes and members, broken references) are errors,
except those in the baseline: the public members that were undocumented when the reference was
introduced. The baseline may only shrink: a warning it lists that no longer occurs is reported,
so that the line is deleted along with the fix. Warnings are compared without line numbers.

usage: check_warnings.py WARNINGS_LOG BASELINE SOURCE_DIR [--update]
"""
import pathlib
import re
import sys


def normalize(line, source_dir):
    line = line.strip()
    line = line.replace(source_dir.rstrip("/") + "/", "")
    return re.sub(r"^([^:]+):\d+: ", r"\1: ", line)


def main():
    log, baseline, source_dir = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    warnings = sorted({normalize(l, source_dir) for l in pathlib.Path(log).read_text().splitlines() if l.strip()})
    if "--update" in sys.argv:
        header = ("# Doxygen warnings not yet fixed: public API without documentation (compared without\n"
                  "# line numbers by check_warnings.py). Fix one, delete its line; never add lines.\n")
        baseline.write_text(header + "".join(w + "\n" for w in warnings))
        print(f"{baseline}: {len(warnings)} warnings")
        return 0
    known = {l.strip() for l in baseline.read_text().splitlines() if l.strip() and not l.startswith("#")}
    new = [w for w in warnings if w not in known]
    fixed = sorted(known - set(warnings))
    for w in new:
        print(f"error: {w}")
    for w in fixed:
        print(f"error: fixed, delete this line from {baseline.name}: {w}")
    print(f"doxygen: {len(warnings)} warnings, {len(known)} in the baseline, {len(new)} new, {len(fixed)} fixed")
    return 1 if new or fixed else 0


if __name__ == "__main__":
    sys.exit(main())
