#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fails on any Doxygen warning.

Every public class and member is documented, so every Doxygen warning (an undocumented public
class or member, a broken reference, a malformed command) is an error: each one is printed,
with paths relative to the source tree, and the check fails. There is no allow-list.

usage: check_warnings.py WARNINGS_LOG SOURCE_DIR
"""
import pathlib
import sys


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    log, source_dir = pathlib.Path(sys.argv[1]), sys.argv[2].rstrip("/") + "/"
    if not log.is_file():
        print(f"error: {log} is missing: Doxygen did not write its warnings")
        return 1
    warnings = [line.strip().replace(source_dir, "") for line in log.read_text().splitlines() if line.strip()]
    for w in warnings:
        print(f"error: {w}")
    print(f"doxygen: {len(warnings)} warning{'' if len(warnings) == 1 else 's'}")
    return 1 if warnings else 0


if __name__ == "__main__":
    sys.exit(main())
