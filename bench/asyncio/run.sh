#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/asyncio/run.sh — concur::asyncio against Python 3's asyncio and uvloop, side by side.
#
# Builds bench_asyncio (in the release preset's build/release, or the build directory given),
# then compare.py runs every scenario ROUNDS times — concur, asyncio and uvloop in turn in each
# round, each in a fresh process, so that the noise of a shared machine falls on all alike —
# and prints the medians and the ratios against the targets (see README.md).
#
#   bench/asyncio/run.sh                              5 rounds
#   bench/asyncio/run.sh --rounds 3 --build-dir build/mine-release
#   bench/asyncio/run.sh --only timers                the timer rows only (or: --only tasks)
#   bench/asyncio/run.sh --only timers --realtime     the timer rows, each process under chrt --fifo
#                                                     (root; on a loaded machine, see README.md)
#   bench/asyncio/run.sh --check                      exit 1 if a target is missed
set -euo pipefail

rounds=5
build_dir=""
check=()
only=(--only all)
realtime=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --check) check=(--check); shift ;;
    --only) only=(--only "$2"); shift 2 ;;
    --realtime) realtime=(--realtime); shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

root="$(cd "$(dirname "$0")/../.." && pwd)"
if [[ -z "$build_dir" ]]; then
  build_dir="$root/build/release"
  [[ -f "$build_dir/build.ninja" ]] || cmake --preset release -S "$root" >/dev/null
fi
cmake --build "$build_dir" --target bench_asyncio >/dev/null
/usr/bin/python3 -c 'import uvloop' 2>/dev/null || { echo "uvloop is missing (Debian: python3-uvloop)" >&2; exit 1; }
exec /usr/bin/python3 "$root/bench/asyncio/compare.py" --bench "$build_dir/bin/bench_asyncio" --rounds "$rounds" "${only[@]}" "${realtime[@]}" "${check[@]}"
