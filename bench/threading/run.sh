#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/threading/run.sh — concur's threading module against its peers, side by side.
#
# Builds bench_threading (the release preset's build/release, or the build directory given),
# then runs ROUNDS rounds; each round runs every C++ benchmark once (concur and its peers, one
# after the other, each in a fresh process) and Python's ThreadPoolExecutor peer once, so that
# the noise of a shared machine falls on every implementation alike. report.py takes the median of each figure over
# the rounds and prints one table of ratios against the targets of issue 2.
#
#   bench/threading/run.sh                        5 rounds, 1,000,000 Python tasks
#   bench/threading/run.sh --rounds 3 --build-dir build/mine-release
#   bench/threading/run.sh --check                exit 1 if a target is missed
set -euo pipefail

usage() {
  cat <<USAGE
usage: $0 [--rounds N] [--build-dir DIR] [--python-tasks N] [--min-time SECONDS] [--check]

  --rounds N          rounds of every benchmark; the table shows medians (default 5)
  --build-dir DIR     an existing CMake build directory to use (default: build/release,
                      configured with the release preset if it does not exist)
  --python-tasks N    tasks of the Python ThreadPoolExecutor peer (default 1000000)
  --min-time SECONDS  Google Benchmark's minimum time per micro-benchmark (default 0.5)
  --check             exit with status 1 if any ratio misses its target
USAGE
}

rounds=5
build_dir=""
python_tasks=1000000
min_time=0.5
check=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
    --python-tasks) python_tasks="${2:?--python-tasks needs a number}"; shift 2 ;;
    --min-time) min_time="${2:?--min-time needs seconds}"; shift 2 ;;
    --check) check=(--check); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "$0: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$rounds" "$python_tasks"; do
  if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then echo "$0: '$n' is not a positive integer" >&2; exit 2; fi
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [[ -z "$build_dir" ]]; then
  build_dir="$root/build/release"
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    (cd "$root" && cmake --preset release)
  fi
fi
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  echo "$0: $build_dir is not a CMake build directory" >&2
  exit 2
fi
cmake --build "$build_dir" --target bench_threading
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")"
sanitize="$(sed -n 's/^CONCUR_SANITIZE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")"

# The raw results stay in the build directory, so the table can be printed again with
# `bench/threading/report.py DIR`.
out="$build_dir/bench/threading/results"
rm -rf "$out"
mkdir -p "$out"
# Each benchmark runs in a process of its own, so that none inherits another's leftovers (oneTBB's
# worker threads keep spinning for a while after a task_group finished, which would slow down
# whatever ran next on a 2-core machine). Sorted by name, concur and its peer in one scenario
# run back to back (lock_concur, lock_std_mutex, ...); odd rounds go forwards and even rounds
# backwards, so neither side always runs first.
mapfile -t benchmarks < <("$build_dir/bin/bench_threading" --benchmark_list_tests | sort)
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds: ${#benchmarks[@]} C++ benchmarks..." >&2
  for ((i = 0; i < ${#benchmarks[@]}; i++)); do
    b=$(( r % 2 == 1 ? i : ${#benchmarks[@]} - 1 - i ))
    "$build_dir/bin/bench_threading" --benchmark_filter="^${benchmarks[$b]}\$" --benchmark_format=json \
      --benchmark_min_time="$min_time" >"$out/cpp_${r}_$b.json"
  done
  echo "round $r/$rounds: Python ThreadPoolExecutor, $python_tasks tasks..." >&2
  /usr/bin/python3 "$here/executor_python.py" --tasks "$python_tasks" >"$out/python_$r.json"
done

echo "raw results: $out" >&2
/usr/bin/python3 "$here/report.py" --build-type "${build_type:-unknown}" --sanitize "$sanitize" "${check[@]}" "$out"
