#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/mpi/run.sh — concur's mpi::Pool against mpi4py.futures on the same ranks
# (mpiexec -n 3 on this machine: rank 0 and two worker ranks), side by side in one run, with
# concur's local Pool as the ceiling. Each round runs concur's program and then mpi4py's, each
# under its own mpiexec; report.py prints the medians and ratios.
#
#   bench/mpi/run.sh                        3 rounds
#   bench/mpi/run.sh --rounds 5 --build-dir build/release --check
set -euo pipefail

rounds=3
build_dir=""
check=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
    --check) check="--check"; shift ;;
    -h|--help) echo "usage: $0 [--rounds N] [--build-dir DIR] [--check]"; exit 0 ;;
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
cmake --build "$build_dir" --target bench_mpi

mpiexec=(mpiexec --oversubscribe --allow-run-as-root -n 3)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for ((r = 1; r <= rounds; ++r)); do
  echo "round $r/$rounds ..." >&2
  BENCH_T0="$(date +%s.%N)" timeout 300 "${mpiexec[@]}" -x BENCH_T0 "$build_dir/bin/bench_mpi" 3 > "$out/concur.$r"
  BENCH_T0="$(date +%s.%N)" timeout 300 "${mpiexec[@]}" -x BENCH_T0 /usr/bin/python3 -m mpi4py.futures "$here/mpi_python.py" 3 > "$out/python.$r"
done
/usr/bin/python3 "$here/report.py" "$out" "$rounds" $check
