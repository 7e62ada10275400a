#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that every source, header, script and CMake file of the source tree declares its
licence in an `SPDX-License-Identifier: MIT` line among its first three lines, and that the
LICENSE file is there. Walks the tree itself (not git), so a file added but not yet committed
is checked too. Usage: check_spdx.py SOURCE_DIR"""
import os
import re
import sys

CODE = re.compile(r"(\.(cpp|hpp|h|c|cc|py|sh|lua|cmake|in)|^CMakeLists\.txt|^Makefile|^run)$")
SKIP_DIRS = {".git", "build", "__pycache__"}
TAG = "SPDX-License-Identifier: MIT"


def main() -> int:
    root = sys.argv[1]
    if not os.path.isfile(os.path.join(root, "LICENSE")):
        print("LICENSE is missing at the root of the source tree")
        return 1
    checked, missing = 0, []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith("build")]
        for name in files:
            if not CODE.search(name):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                head = [f.readline() for _ in range(3)]
            checked += 1
            if not any(TAG in line for line in head):
                missing.append(os.path.relpath(path, root))
    for path in sorted(missing):
        print(f"{path}: no '{TAG}' line in its first three lines")
    print(f"{checked} files checked, {len(missing)} without a licence line")
    return 1 if missing or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
