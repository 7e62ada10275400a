#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the API reference's "Python name -> concur name" page (Doxygen Markdown) from the two
places that already say it, so nothing is kept twice:
  * the README's "Python → concur" table (each row: a Python spelling, the concur spelling);
  * the first line of every public header, which names what it declares and the Python API it
    mirrors ("concur/threading/event.hpp — Event, Python's threading.Event.").
Abbreviated namespaces of the README (th::, mp::, asyncio::, futures::) are spelled out, and
every concur name that Doxygen knows becomes a link to its reference.

usage: python_index.py SOURCE_DIR OUTPUT.md
"""
import pathlib
import re
import sys

ABBREVIATIONS = {
    "th::": "concur::threading::",
    "mp::": "concur::multiprocessing::",
    "asyncio::": "concur::asyncio::",
    "futures::": "concur::futures::",
    "concur::queue::": "concur::queue::",
}


def readme_rows(readme):
    section = re.search(r"^## Python → concur\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    if not section:
        raise SystemExit("README.md has no '## Python → concur' section")
    rows = []
    for line in section.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) != 2 or set(cells[0]) <= set("-: ") or cells[0] == "Python":
            continue
        rows.append(cells)
    if not rows:
        raise SystemExit("README.md's Python → concur table is empty")
    return rows


def qualify(code):
    """th::Thread -> concur::threading::Thread, inside a code span."""
    def expand(m):
        word = m.group(0)
        if word.startswith("concur::"):
            return word
        for short, full in ABBREVIATIONS.items():
            if word.startswith(short):
                return full + word[len(short):]
        return word
    return re.sub(r"(?<![\w:])(?:concur::)?(?:th|mp|asyncio|futures)::\w+(?:::\w+)*|concur::\w+(?:::\w+)*", expand, code)


def linked_names(cell):
    """The fully qualified concur names in a cell, for Doxygen to link (outside code spans)."""
    names = []
    for name in re.findall(r"concur::\w+(?:::\w+)*", qualify(cell)):
        if name not in names:
            names.append(name)
    return names


def header_rows(include_dir):
    rows = []
    for header in sorted(include_dir.rglob("*.hpp")):
        relative = header.relative_to(include_dir.parent).as_posix()
        if "/detail/" in relative:
            continue
        lines = header.read_text().splitlines()
        first = next((l for l in lines if l.startswith("// concur/")), None)
        if not first:
            continue
        summary = first[len("// "):]
        # Continuation lines of the summary (up to the first blank comment line).
        index = lines.index(first) + 1
        while index < len(lines) and lines[index].startswith("// ") and lines[index].strip() != "//":
            summary += " " + lines[index][3:].strip()
            index += 1
        summary = summary.split(" — ", 1)[1] if " — " in summary else summary
        rows.append((relative, summary))
    return rows


def main():
    source, output = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out = ["# Python name → concur name {#python_names}", "",
           "Generated from the README's table and from the first line of every public header.", "",
           "## Python → concur", "",
           "| Python | concur | reference |", "|---|---|---|"]
    for python, concur in readme_rows((source / "README.md").read_text()):
        names = ", ".join(linked_names(concur))
        out.append(f"| {python} | {qualify(concur)} | {names} |")
    out += ["", "## Headers and the Python API each mirrors", "", "| header | declares |", "|---|---|"]
    for relative, summary in header_rows(source / "include" / "concur"):
        out.append(f"| {relative} | {summary.replace('|', '&#124;')} |")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
