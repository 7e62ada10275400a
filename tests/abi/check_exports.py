#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks what concur's shared libraries export: `nm -D --defined-only` on each .so.

The libraries are built with every symbol hidden; CONCUR_API (concur/export.hpp) on a declaration
in a public header makes it visible. This check fails on
  * any libuv symbol (uv_*), and any fmt or cereal symbol: dependencies stay private;
  * any concur symbol whose class, function or variable is not declared CONCUR_API in a header
    under include/: code private to src/ (classes of src/*.hpp, anonymous namespaces, helpers)
    never leaks, whatever namespace it is in;
  * a library without a SONAME of the form lib<name>.so.<major>, or exporting no concur symbol.
Some `detail::` names are exported on purpose: the entry points that inline and template code in
the public headers calls (e.g. asyncio::detail::PromiseBase, threading::detail::futex_wait). They
are declared in include/concur/ with CONCUR_API like the rest of the API; the check treats them
as the ABI they are, and rejects every other `detail::` symbol.

usage: check_exports.py --major N --include DIR [--include DIR ...] LIB.so [LIB.so ...]
"""
import argparse
import pathlib
import re
import subprocess
import sys

NAMESPACES = {"concur", "threading", "asyncio", "multiprocessing", "futures", "queue", "detail",
              "forkserver", "shm_tracker", "connection", "mpi", "ssl"}
# Symbols every shared object defines, whatever its code.
LINKER_SYMBOLS = {"_init", "_fini", "_edata", "_end", "__bss_start"}


def exported_declarations(include_dirs):
    """Names declared CONCUR_API in the headers: classes, functions and variables."""
    names = set()
    for root in include_dirs:
        for header in pathlib.Path(root).rglob("*.hpp"):
            text = header.read_text()
            names.update(re.findall(r"\b(?:class|struct)\s+(?:\[\[\w+\]\]\s+)?CONCUR_API\s+(\w+)", text))
            for line in text.splitlines():
                if "CONCUR_API" not in line or re.search(r"\b(class|struct)\s+(\[\[\w+\]\]\s+)?CONCUR_API\b", line):
                    continue
                m = re.search(r"CONCUR_API\s[^(;=]*?(~?\w+)\s*(\(|;|=)", line)
                if m:
                    names.add(m.group(1))
    names.discard("API")
    return names


def strip_templates(name):
    out, depth = [], 0
    for ch in name:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def symbol_name(demangled):
    """The demangled name without its parameter list: what the symbol is (parameter types are
    only how it is called). "f(int)::x" keeps "f"; "X::operator()(int)" keeps "X::operator()"."""
    depth = 0
    for i, ch in enumerate(demangled):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0:
            if demangled[:i].endswith("operator") and demangled[i:i + 2] == "()":
                continue
            if demangled[:i].endswith("operator("):
                continue
            return last_name(demangled[:i])
    return last_name(demangled)


def last_name(text):
    """The entity a symbol's text names: drops what precedes it at template depth 0 ("typeinfo
    for X" -> X; a function template's return type: "R ns::f<T>" -> ns::f<T>), keeping
    "X::operator new" whole."""
    pieces, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == " " and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    name = pieces[-1]
    if len(pieces) > 1 and pieces[-2].endswith("operator"):
        name = pieces[-2] + " " + name
    return name


def concur_entities(demangled):
    """Every concur entity a symbol's name mentions (itself and its template arguments): the
    first name under concur's namespaces, e.g. concur::asyncio::EventLoop::run -> EventLoop."""
    entities = []
    for m in re.finditer(r"\bconcur::[\w:]+", symbol_name(demangled)):
        parts = m.group(0).split("::")
        for part in parts:
            if part not in NAMESPACES:
                entities.append((m.group(0), part))
                break
    return entities


def defined_dynamic_symbols(library):
    out = subprocess.run(["nm", "-D", "--defined-only", library], check=True, capture_output=True,
                         text=True).stdout
    raw = [line.split()[-1] for line in out.splitlines() if line.strip()]
    demangled = subprocess.run(["c++filt"], input="\n".join(raw), check=True, capture_output=True,
                               text=True).stdout.splitlines()
    return list(zip(raw, demangled))


def soname(library):
    out = subprocess.run(["objdump", "-p", library], check=True, capture_output=True, text=True).stdout
    m = re.search(r"^\s*SONAME\s+(\S+)", out, re.MULTILINE)
    return m.group(1) if m else None


def check(library, allowed, major):
    problems = []
    name = pathlib.Path(library).name.split(".so")[0]
    expected_soname = f"{name}.so.{major}"
    if soname(library) != expected_soname:
        problems.append(f"SONAME is {soname(library)!r}, expected {expected_soname!r}")
    concur_symbols = 0
    for raw, demangled in defined_dynamic_symbols(library):
        raw = raw.split("@")[0]
        if raw in LINKER_SYMBOLS:
            continue
        if re.match(r"_?uv_", raw):
            problems.append(f"libuv symbol: {raw}")
            continue
        if re.search(r"\b(fmt|cereal)::", strip_templates(demangled)) or re.search(r"\bfmt::v\d+::", demangled):
            problems.append(f"fmt/cereal symbol: {demangled}")
            continue
        for qualified, entity in concur_entities(demangled):
            concur_symbols += 1
            if entity.lstrip("~") not in allowed:
                problems.append(f"not declared CONCUR_API in a public header ({qualified}): {demangled}")
                break
    if concur_symbols == 0:
        problems.append("exports no concur symbol at all")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--include", action="append", required=True)
    parser.add_argument("--major", required=True)
    parser.add_argument("libraries", nargs="+")
    args = parser.parse_args()
    allowed = exported_declarations(args.include)
    failed = False
    for library in args.libraries:
        problems = check(library, allowed, args.major)
        print(f"{library}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        for p in problems:
            print(f"  {p}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
