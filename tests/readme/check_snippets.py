#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that every code block of README.md marked `<!-- snippet: FILE -->` is cut from FILE:
each non-blank line of the block occurs in FILE, in the same order (indentation may differ)."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
readme = (root / "README.md").read_text()
blocks = re.findall(r"<!-- snippet: (\S+) -->\n```cpp\n(.*?)```", readme, re.S)
if not blocks:
    sys.exit("README.md has no snippet blocks")
failures = 0
for path, code in blocks:
    source = [line.strip() for line in (root / path).read_text().splitlines()]
    position = 0
    for line in (l.strip() for l in code.splitlines()):
        if not line:
            continue
        try:
            position = source.index(line, position) + 1
        except ValueError:
            print(f"{path}: README line not found (in order): {line}")
            failures += 1
            break
print(f"{len(blocks)} snippets checked, {failures} out of date")
sys.exit(1 if failures else 0)
