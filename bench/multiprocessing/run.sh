#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/multiprocessing/run.sh — concur's processes and Pool against raw fork + waitpid and
# Python 3's multiprocessing, side by side in one run.
#
# Builds bench_multiprocessing (in build/release, configured with the release preset if it
# does not exist, or in the build directory given), then runs ROUNDS rounds; each round runs
# concur's program once and Python's peer (mp_python.py under /usr/bin/python3) once, one after
# the other, so that the noise of a shared machine falls on both alike. report.py prints the
# median of each figure over the rounds and the ratios against the targets of issue 5.
#
#   bench/multiprocessing/run.sh                         3 rounds
#   bench/multiprocessing/run.sh --rounds 5 --build-dir build/mp-release
set -euo pipefail

rounds=3
build_dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
    -h|--help) echo "usage: $0 [--rounds N] [--build-dir DIR]"; exit 0 ;;
    *) echo "$0: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if ! [[ "$rounds" =~ ^[1-9][0-9]*$ ]]; then echo "$0: '$rounds' is not a positive integer" >&2; exit 2; fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [[ -z "$build_dir" ]]; then
  build_dir="$root/build/release"
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    (cd "$root" && cmake --preset release)
  fi
fi
cmake --build "$build_dir" --target bench_multiprocessing

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for ((r = 1; r <= rounds; ++r)); do
  echo "round $r/$rounds ..." >&2
  "$build_dir/bin/bench_multiprocessing" 200 5 > "$out/concur.$r"
  /usr/bin/python3 "$here/mp_python.py" 50 3 > "$out/python.$r"
done
/usr/bin/python3 "$here/report.py" "$out" "$rounds"
