#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the code the documentation shows against the files it is cut from.

Every code block of README.md and of docs/**/*.md marked `<!-- snippet: FILE -->` must be cut
from FILE: each non-blank line of the block occurs in FILE, in the same order (indentation may
differ). For the cookbook (docs/cookbook/), also:
  * every page but the index has at least one snippet, and its relative links lead to files
    that exist;
  * every program of examples/cookbook/ is shown by some page;
  * the index (docs/cookbook/README.md) links every page.
usage: check_snippets.py SOURCE_DIR"""
import pathlib
import re
import sys

SNIPPET = re.compile(r"<!-- snippet: (\S+) -->\n```cpp\n(.*?)```", re.S)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def check_snippets(root, page):
    """Returns (the files the page's snippets come from, the number of failures)."""
    sources, failures = [], 0
    for path, code in SNIPPET.findall(page.read_text()):
        sources.append(path)
        file = root / path
        if not file.is_file():
            print(f"{page.relative_to(root)}: snippet of {path}, which does not exist")
            failures += 1
            continue
        source = [line.strip() for line in file.read_text().splitlines()]
        position = 0
        for line in (l.strip() for l in code.splitlines()):
            if not line:
                continue
            try:
                position = source.index(line, position) + 1
            except ValueError:
                print(f"{page.relative_to(root)}: line not found in {path} (in order): {line}")
                failures += 1
                break
    return sources, failures


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    pages = [root / "README.md"] + sorted((root / "docs").rglob("*.md"))
    failures, blocks, shown = 0, 0, set()
    for page in pages:
        sources, failed = check_snippets(root, page)
        blocks += len(sources)
        failures += failed
        shown.update(sources)
    if not SNIPPET.search((root / "README.md").read_text()):
        print("README.md has no snippet blocks")
        failures += 1

    cookbook = root / "docs" / "cookbook"
    index = cookbook / "README.md"
    recipes = sorted(p for p in cookbook.glob("*.md") if p != index)
    if not index.is_file() or not recipes:
        print("docs/cookbook/ has no README.md index or no pages")
        return 1
    index_links = {pathlib.Path(t).name for t in LINK.findall(index.read_text())}
    for page in recipes + [index]:
        text = page.read_text()
        if page != index and not SNIPPET.search(text):
            print(f"{page.relative_to(root)}: no snippet of a compiled example")
            failures += 1
        if page != index and page.name not in index_links:
            print(f"docs/cookbook/README.md does not link {page.name}")
            failures += 1
        prose = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))  # links outside code
        for target in LINK.findall(prose):
            if "://" in target:
                continue
            if not (page.parent / target).resolve().exists():
                print(f"{page.relative_to(root)}: broken link {target}")
                failures += 1
    for program in sorted((root / "examples" / "cookbook").glob("*.cpp")):
        if program.relative_to(root).as_posix() not in shown:
            print(f"{program.relative_to(root)}: no cookbook page shows it")
            failures += 1

    print(f"{blocks} snippets in {len(pages)} pages checked, {len(recipes)} cookbook pages, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
