#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/http/run.sh — HTTP/1.1 keep-alive hello-world servers side by side, in one run:
# concur's examples/http_server, a raw single-threaded epoll server (the ceiling), Boost.Asio
# with C++20 coroutines, and Python asyncio's streams and Protocol servers on asyncio's loop
# and on uvloop.
#
# Each server runs pinned to one core (taskset), wrk pinned to the other, on 127.0.0.1 only.
# For every connection count and round, each server is started fresh and measured three ways:
#   idle       hold.py opens N keep-alive connections, makes one request on each and holds
#              them idle: (RSS with them open - RSS before) / N is the memory per connection
#   keepalive  wrk -c N for DURATION seconds (at least STORM_DURATION from 10,000 connections
#              on): req/s, p99 latency, and the server's CPU time per request (exact run time
#              from /proc/<pid>/task/*/schedstat, split into user and system by the clock ticks
#              of /proc/<pid>/stat). It starts once the server has closed hold.py's
#              connections (its open files are back to their number before them).
#   pipelined  (at the first connection count) the same with 16 requests in each write
# Each round starts with the next server of the list (the machine's speed drifts over minutes).
# report.py prints the medians over the rounds and checks issue 4's targets, comparing servers
# by the median of their ratios within a round.
#
#   bench/http/run.sh                                   5 rounds, 100/1000/10000 connections
#   bench/http/run.sh --rounds 5 --duration 10 --build-dir build/mine-release
#   bench/http/run.sh --servers "concur epoll" --conns "100 1000"
set -euo pipefail

usage() {
  cat <<USAGE
usage: $0 [--rounds N] [--duration S] [--conns "100 1000 10000"] [--servers "..."]
          [--build-dir DIR] [--server-core C] [--client-core C] [--raw FILE] [--check]

  --rounds N       rounds; the table shows medians (default 5)
  --duration S     seconds of each wrk run (default 5)
  --storm-duration S  at least this many seconds for runs of 10,000 connections or more
                   (default 10): wrk opens all its connections at once, and a server that
                   takes seconds to accept and set them up must get past that storm
  --conns LIST     connection counts (default "100 1000 10000")
  --servers LIST   any of: concur epoll asio py-streams py-protocol uvloop-streams
                   uvloop-protocol (default: all)
  --build-dir DIR  CMake build directory (default build/release, configured if missing)
  --server-core C  core the servers are pinned to (default 0); --client-core for wrk (1)
  --raw FILE       also keep the raw TSV results in FILE
  --no-build       use the binaries already in DIR/bin
  --check          exit 1 if a target of issue 4 is missed
USAGE
}

rounds=5
duration=5
storm_duration=10
conns_list="100 1000 10000"
servers="concur epoll asio py-streams py-protocol uvloop-streams uvloop-protocol"
build_dir=""
server_core=0
client_core=1
raw_file=""
check=()
no_build=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="${2:?}"; shift 2 ;;
    --duration) duration="${2:?}"; shift 2 ;;
    --storm-duration) storm_duration="${2:?}"; shift 2 ;;
    --conns) conns_list="${2:?}"; shift 2 ;;
    --servers) servers="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --server-core) server_core="${2:?}"; shift 2 ;;
    --client-core) client_core="${2:?}"; shift 2 ;;
    --raw) raw_file="${2:?}"; shift 2 ;;
    --check) check=(--check); shift ;;
    --no-build) no_build=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "$0: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$rounds" "$duration" "$storm_duration" $conns_list; do
  if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then echo "$0: '$n' is not a positive integer" >&2; exit 2; fi
done
for tool in wrk taskset; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is required" >&2; exit 2; }
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python=/usr/bin/python3   # Debian's python3, which has python3-uvloop
if [[ -z "$build_dir" ]]; then
  build_dir="$root/build/release"
  [[ -f "$build_dir/CMakeCache.txt" ]] || (cd "$root" && cmake --preset release)
fi
[[ -f "$build_dir/CMakeCache.txt" ]] || { echo "$0: $build_dir is not a CMake build directory" >&2; exit 2; }
targets=()
for s in $servers; do
  case "$s" in
    concur) targets+=(http_server) ;;
    epoll) targets+=(bench_http_epoll) ;;
    asio) targets+=(bench_http_asio) ;;
  esac
done
[[ ${#targets[@]} -eq 0 || -n "$no_build" ]] || cmake --build "$build_dir" --target "${targets[@]}"
bin="$build_dir/bin"

server_command() {
  case "$1" in
    concur) echo "$bin/http_server --port 0" ;;
    epoll) echo "$bin/bench_http_epoll --port 0" ;;
    asio) echo "$bin/bench_http_asio --port 0" ;;
    py-streams) echo "$python $here/python_server.py --style streams --port 0" ;;
    py-protocol) echo "$python $here/python_server.py --style protocol --port 0" ;;
    uvloop-streams) echo "$python $here/python_server.py --style streams --uvloop --port 0" ;;
    uvloop-protocol) echo "$python $here/python_server.py --style protocol --uvloop --port 0" ;;
    *) echo "$0: unknown server '$1'" >&2; exit 2 ;;
  esac
}

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

# Starts server $1 pinned to the server core; sets server_pid and port.
start_server() {
  : >"$work/server.log"   # truncated here, not in the child: never read the last server's port
  # shellcheck disable=SC2046
  taskset -c "$server_core" $(server_command "$1") >>"$work/server.log" 2>&1 &
  server_pid=$!
  port=""
  for _ in $(seq 1 200); do
    port="$(sed -n 's/^listening on \([0-9]*\).*/\1/p' "$work/server.log" | head -1)"
    [[ -n "$port" ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "$0: server $1 did not start:" >&2
  cat "$work/server.log" >&2
  exit 1
}
stop_server() {
  kill -INT "$server_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cpu_ticks() { awk '{print $14, $15}' "/proc/$server_pid/stat"; }     # utime stime (clock ticks)
# Run time of every thread of the server in nanoseconds (schedstat is exact; the clock ticks
# of /proc/<pid>/stat are 10 ms apart, too coarse for a few seconds of a loaded machine).
# "%.0f", not "%d": Debian's awk (mawk) clamps %d to 2^31 - 1, i.e. 2.147 s of run time, after
# which every difference read 0 (the pipelined runs, which come after a keep-alive run, showed
# "cpu/req 0.000+0.000 µs" for every server).
cpu_ns() { cat /proc/"$server_pid"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }
open_fds() { find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
tck="$(getconf CLK_TCK)"

# wrk run: prints "reqs_per_s p99_ms user_us_per_req sys_us_per_req". The total is the exact
# run time (schedstat); the clock ticks of /proc/<pid>/stat only split it into user and system.
measure_wrk() {
  local conns="$1"; shift
  local seconds="$duration"
  if [[ "$conns" -ge 10000 && "$storm_duration" -gt "$duration" ]]; then seconds="$storm_duration"; fi
  read -r u0 s0 < <(cpu_ticks)
  local ns0 ns1
  ns0="$(cpu_ns)"
  taskset -c "$client_core" wrk -t1 -c"$conns" -d"${seconds}s" --timeout 10s --latency "$@" \
    "http://127.0.0.1:$port/" >"$work/wrk.out" 2>&1 || { cat "$work/wrk.out" >&2; echo "- - - -"; return 0; }
  ns1="$(cpu_ns)"
  read -r u1 s1 < <(cpu_ticks)
  awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v ns=$((ns1 - ns0)) '
    /requests in/ { n = $1 }
    /^Requests\/sec:/ { rps = $2 }
    /^ +99%/ { v = $2; if (v ~ /us$/) p = v / 1000; else if (v ~ /ms$/) p = v + 0; else p = v * 1000 }
    END {
      if (n == 0) { print "- - - -"; exit }
      total = ns / 1000 / n
      user = (u + s > 0) ? total * u / (u + s) : 0
      printf "%.0f %.3f %.3f %.3f\n", rps, p, user, total - user
    }' "$work/wrk.out"
  if ! grep -q "requests in" "$work/wrk.out" || grep -q "Socket errors" "$work/wrk.out"; then
    echo "  (wrk: $(grep -E 'Socket errors|unable|requests in' "$work/wrk.out" | sed 's/^ *//' | tr '\n' ' '))" >&2
  fi
}

# Idle connections: prints the RSS growth per connection in KiB ("-" if hold.py failed).
measure_idle() {
  local conns="$1" before after hold_pid fd held="" fds_before
  before="$(rss_kib)"
  fds_before="$(open_fds)"
  rm -f "$work/hold.in" "$work/hold.out"
  mkfifo "$work/hold.in"
  taskset -c "$client_core" "$python" "$here/hold.py" "$port" "$conns" <"$work/hold.in" >"$work/hold.out" 2>&1 &
  hold_pid=$!
  exec {fd}>"$work/hold.in"   # hold.py's stdin: it holds the connections until this closes
  for _ in $(seq 1 1200); do
    grep -q "^held $conns\$" "$work/hold.out" && { held=1; break; }
    kill -0 "$hold_pid" 2>/dev/null || break
    sleep 0.05
  done
  after="$(rss_kib)"
  exec {fd}>&-
  wait "$hold_pid" 2>/dev/null || true
  # The server must have closed them all before wrk starts: a slow server (Python needs about
  # 1 s of CPU for 10,000) would otherwise still be closing them during the keep-alive run.
  for _ in $(seq 1 600); do
    [[ "$(open_fds)" -le $((fds_before + 2)) ]] && break
    sleep 0.05
  done
  if [[ -z "$held" ]]; then echo "  (hold.py: $(tail -1 "$work/hold.out"))" >&2; echo "-"; return; fi
  awk -v b="$before" -v a="$after" -v n="$conns" 'BEGIN { printf "%.3f\n", (a - b) / n }'
}

results="$work/results.tsv"
: >"$results"
first_conns="${conns_list%% *}"
echo "servers on core $server_core, wrk on core $client_core, ${duration}s a run (at least ${storm_duration}s from 10,000 connections), $rounds round(s)" >&2
read -r -a server_list <<<"$servers"
for round in $(seq 1 "$rounds"); do
  # Each round starts with the next server: the machine's speed drifts over minutes, and no
  # server should always be measured in the same place of a round.
  shift_by=$(( (round - 1) % ${#server_list[@]} ))
  order=("${server_list[@]:shift_by}" "${server_list[@]:0:shift_by}")
  for conns in $conns_list; do
    for s in "${order[@]}"; do
      start_server "$s"
      idle="$(measure_idle "$conns")"
      printf '%s\t%s\tidle\t%s\t-\t-\t-\t-\t%s\n' "$s" "$conns" "$round" "$idle" >>"$results"
      read -r rps p99 user sys < <(measure_wrk "$conns")
      printf '%s\t%s\tkeepalive\t%s\t%s\t%s\t%s\t%s\t-\n' "$s" "$conns" "$round" "$rps" "$p99" "$user" "$sys" >>"$results"
      echo "round $round  $s  $conns conns: $rps req/s  p99 ${p99} ms  cpu/req ${user}+${sys} µs  idle rss/conn ${idle} KiB" >&2
      if [[ "$conns" == "$first_conns" ]]; then
        read -r rps p99 user sys < <(measure_wrk "$conns" -s "$here/pipeline.lua")
        printf '%s\t%s\tpipelined\t%s\t%s\t%s\t%s\t%s\t-\n' "$s" "$conns" "$round" "$rps" "$p99" "$user" "$sys" >>"$results"
        echo "round $round  $s  $conns conns pipelined x16: $rps req/s  cpu/req ${user}+${sys} µs" >&2
      fi
      stop_server
    done
  done
done
[[ -z "$raw_file" ]] || cp "$results" "$raw_file"
"$python" "$here/report.py" "${check[@]}" <"$results"
