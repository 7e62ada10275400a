#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks docs/python-names.md, the index of Python names:
  * every name of the README's Python → concur table is in it: on the Python side each
    attribute (`q.put_nowait`), class-like name (`ThreadPoolExecutor`) and snake_case name
    (`imap_unordered`) that is not a keyword argument; on the concur side each qualified name
    (`mp::connection::wait` → `concur::multiprocessing::connection::wait`) and each method
    called (`t.join(2s)` → `join`);
  * every concur name of the index (`concur::...`) is declared in the header its row names
    (its last component occurs there as a word).
usage: check_python_names.py SOURCE_DIR"""
import pathlib
import re
import sys

ABBREVIATIONS = {"th": "concur::threading", "mp": "concur::multiprocessing", "asyncio": "concur::asyncio",
                 "futures": "concur::futures"}
QUALIFIED = re.compile(r"(?<![\w:])(?:concur|th|mp|asyncio|futures)(?:::\w+)+")


def table_rows(markdown, heading=None):
    if heading:
        section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
        markdown = section.group(1) if section else ""
    rows = []
    for line in markdown.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if set("".join(cells)) <= set("-: ") or cells[0] == "Python":
            continue
        rows.append(cells)
    return rows


def code_spans(cell):
    return re.findall(r"`([^`]*)`", cell)


def expand(name):
    head, _, rest = name.partition("::")
    return ABBREVIATIONS[head] + "::" + rest if head in ABBREVIATIONS else name


def python_names(code):
    """The API names of a Python code span: attributes, class-like names, and snake_case names
    that are called or stand alone (not variables such as `process_pool`, not keywords)."""
    code = re.sub(r"'[^']*'|\"[^\"]*\"", "", code)  # string literals: 'i', "forkserver"
    alone = re.fullmatch(r"\s*\w+\s*", code) is not None
    names = set()
    for match in re.finditer(r"(\.)?\b([A-Za-z_]\w*)\b(\s*=(?!=))?(\s*\()?", code):
        dotted, word, keyword, called = match.groups()
        if keyword:
            continue  # max_workers=4, return_when=...
        snake = "_" in word and not word.startswith("_") and (called or alone)
        if dotted or re.fullmatch(r"[A-Z][a-z]\w*", word) or snake:
            names.add(word)
    return names


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    readme = (root / "README.md").read_text()
    index_path = root / "docs" / "python-names.md"
    index = index_path.read_text()
    failures = 0

    rows = table_rows(readme, "Python → concur")
    if not rows:
        print("README.md has no Python → concur table")
        return 1
    wanted = set()
    for python, concur in rows:
        for span in code_spans(python):
            wanted |= python_names(span)
        for span in code_spans(concur):
            wanted |= {expand(n) for n in QUALIFIED.findall(span)}
            wanted |= set(re.findall(r"\.(\w+)\(", span))
    for name in sorted(wanted):
        if not re.search(rf"(?<![\w:]){re.escape(name)}(?!\w)", index):
            print(f"docs/python-names.md does not mention `{name}` (from the README's table)")
            failures += 1

    checked = 0
    for cells in table_rows(index):
        if len(cells) != 4:
            print(f"docs/python-names.md: a row without 4 cells: {cells}")
            failures += 1
            continue
        headers = code_spans(cells[2])
        if len(headers) != 1 or not (root / "include" / headers[0]).is_file():
            print(f"docs/python-names.md: no such header {cells[2]}")
            failures += 1
            continue
        declared = (root / "include" / headers[0]).read_text()
        for span in code_spans(cells[1]):
            for name in re.findall(r"(?<![\w:])concur(?:::\w+)+", span):
                checked += 1
                last = name.rsplit("::", 1)[1]
                if not re.search(rf"\b{re.escape(last)}\b", declared):
                    print(f"docs/python-names.md: `{name}` is not declared in {headers[0]}")
                    failures += 1

    print(f"{len(wanted)} names of the README's table looked up, {checked} concur names checked "
          f"against their headers, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
