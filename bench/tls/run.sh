#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/tls/run.sh — TLS on one core, side by side in one run: concur's asyncio streams with
# .ssl, Boost.Asio's ssl::stream, Python asyncio streams with ssl= and the same on uvloop.
# OpenSSL does the cryptography for all four (the same library, the same certificates: an EC
# P-256 test CA and server certificate made here with the openssl command, TLS 1.3); what
# differs is the machinery around it. Each implementation runs its server and its clients in
# one process on one event loop, pinned to one core (taskset), on 127.0.0.1:
#   handshakes  8 clients at a time: connect, full handshake (certificate and name verified,
#               no resumption), one byte each way, close — handshakes/s
#   bulk        one connection, 64 KiB writes awaiting drain — MiB/s through TLS
#   https       100 keep-alive connections: GET, a 13-byte answer, again — requests/s, i.e.
#               the CPU time per request of client and server together
# Every round runs every implementation and mode once, starting with the next implementation
# of the list; the table shows the medians over the rounds and concur's ratio to each peer
# (the median of the ratios within a round, with their range), against the targets.
#
#   bench/tls/run.sh                          5 rounds of 3 s
#   bench/tls/run.sh --rounds 3 --seconds 2 --build-dir build/mine-release --check
set -euo pipefail

usage() {
  cat <<USAGE
usage: $0 [--rounds N] [--seconds S] [--build-dir DIR] [--core C] [--no-build] [--check]
  --rounds N       rounds; the table shows medians (default 5)
  --seconds S      seconds of each run (default 3); every run is also killed after 10 x S + 30 s
  --build-dir DIR  CMake build directory (default build/release, configured if missing)
  --core C         the core every run is pinned to (default 0)
  --no-build       use the binaries already in DIR/bin
  --check          exit 1 if a target is missed
USAGE
}

rounds=5
seconds=3
build_dir=""
core=0
no_build=""
check=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="${2:?}"; shift 2 ;;
    --seconds) seconds="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --core) core="${2:?}"; shift 2 ;;
    --no-build) no_build=1; shift ;;
    --check) check=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "$0: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$rounds" "$seconds" "$core"; do
  if ! [[ "$n" =~ ^[0-9]+$ ]]; then echo "$0: '$n' is not a whole number" >&2; exit 2; fi
done
[[ "$rounds" -ge 1 && "$seconds" -ge 1 ]] || { echo "$0: --rounds and --seconds must be at least 1" >&2; exit 2; }
for tool in openssl taskset timeout; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is required" >&2; exit 2; }
done
# Debian's Python, where python3-uvloop is installed (a python3 earlier in PATH may lack it).
python3=/usr/bin/python3
[[ -x "$python3" ]] || python3="$(command -v python3)" || { echo "$0: python3 is required" >&2; exit 2; }

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build_dir="${build_dir:-$root/build/release}"
if [[ -z "$no_build" ]]; then
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    if [[ "$build_dir" == "$root/build/release" ]]; then
      (cd "$root" && cmake --preset release >/dev/null)
    else
      cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
  fi
  targets=(bench_tls_concur bench_tls_ceiling)
  if [[ -f /usr/include/asio.hpp ]]; then targets+=(bench_tls_asio); fi
  cmake --build "$build_dir" --target "${targets[@]}" -j2 >/dev/null
fi
bin="$build_dir/bin"

work="$(mktemp -d /tmp/concur-bench-tls-XXXXXX)"
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  K="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req $K -keyout server.key -out server.csr -subj "/CN=localhost"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext
) >/dev/null 2>&1 || { echo "$0: making the certificates failed" >&2; exit 1; }

impls=()
[[ -x "$bin/bench_tls_concur" ]] || { echo "$0: $bin/bench_tls_concur is missing" >&2; exit 1; }
impls+=(concur)
if [[ -x "$bin/bench_tls_asio" ]]; then impls+=(asio); else echo "note: Boost.Asio peer not built (libasio-dev)" >&2; fi
impls+=(python)
if "$python3" -c 'import uvloop' 2>/dev/null; then impls+=(uvloop); else echo "note: uvloop is not installed (python3-uvloop): its column is empty" >&2; fi
[[ -x "$bin/bench_tls_ceiling" ]] && impls+=(ceiling)

command_of() {  # implementation mode
  case "$1" in
    concur) echo "$bin/bench_tls_concur --mode $2 --seconds $seconds --dir $work" ;;
    asio) echo "$bin/bench_tls_asio --mode $2 --seconds $seconds --dir $work" ;;
    python) echo "$python3 $here/tls_python.py --mode $2 --seconds $seconds --dir $work --loop asyncio" ;;
    uvloop) echo "$python3 $here/tls_python.py --mode $2 --seconds $seconds --dir $work --loop uvloop" ;;
    ceiling) echo "$bin/bench_tls_ceiling --mode $2 --seconds $seconds --dir $work" ;;
  esac
}

results="$work/results.tsv"
: > "$results"
limit=$((seconds * 10 + 30))
for ((round = 0; round < rounds; round++)); do
  n=${#impls[@]}
  for ((k = 0; k < n; k++)); do
    impl="${impls[$(((round + k) % n))]}"
    for mode in handshakes bulk https; do
      [[ "$impl" == ceiling && "$mode" != bulk ]] && continue  # a ceiling of the bulk workload only
      # shellcheck disable=SC2046
      if figure=$(timeout -k 5 "$limit" taskset -c "$core" $(command_of "$impl" "$mode") 2>"$work/err"); then
        printf '%s\t%s\t%s\t%s\n' "$round" "$impl" "$mode" "$figure" >> "$results"
      else
        echo "round $round: $impl $mode failed: $(head -c 300 "$work/err")" >&2
      fi
    done
  done
  echo "round $((round + 1))/$rounds done" >&2
done

echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), nproc $(nproc), $(uname -sr); $(openssl version); $("$python3" --version)"
echo "Load average when the run ended: $(cut -d' ' -f1-3 /proc/loadavg); every run pinned to core $core; medians of $rounds round(s) of ${seconds} s"
"$python3" - "$results" "$check" <<'PY'
import statistics
import sys
from collections import defaultdict

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
check = sys.argv[2] == "1"
fig = defaultdict(dict)  # (impl, mode) -> {round: figure}
for r, impl, mode, value in rows:
    fig[(impl, mode)][int(r)] = float(value)
units = {"handshakes": "handshakes/s", "bulk": "MiB/s", "https": "req/s"}
names = {"asio": "Boost.Asio ssl::stream", "python": "Python asyncio + ssl", "uvloop": "uvloop + ssl",
         "ceiling": "OpenSSL alone, no event loop (ceiling)"}
# The issue's targets: concur / peer >= target.
targets = {("bulk", "python"): 3.0, ("bulk", "asio"): 1.0, ("handshakes", "python"): 1.5, ("https", "asio"): 1 / 1.2}
print()
print("| Workload | concur | Peer | Peer figure | concur / peer | Range | Target | Met |")
print("|---|---:|---|---:|---:|---:|---:|:---:|")
missed = 0
for mode in ("handshakes", "bulk", "https"):
    ours = fig.get(("concur", mode), {})
    if not ours:
        print(f"| {units[mode]} | failed | | | | | | |")
        missed += 1
        continue
    for peer in ("asio", "python", "uvloop", "ceiling"):
        theirs = fig.get((peer, mode), {})
        common = sorted(set(ours) & set(theirs))
        if not common:
            continue
        ratios = [ours[r] / theirs[r] for r in common]
        ratio = statistics.median(ratios)
        target = targets.get((mode, peer))
        met = "" if target is None else ("yes" if ratio >= target else "NO")
        if met == "NO":
            missed += 1
        tgt = "" if target is None else (f"≥ {target:g}" if target >= 1 else f"≥ {target:.3g} (CPU/request ≤ 1.2×)")
        print(f"| {units[mode]} | {statistics.median(ours.values()):,.1f} | {names[peer]} | "
              f"{statistics.median(theirs.values()):,.1f} | {ratio:.2f}× | {min(ratios):.2f}–{max(ratios):.2f} | {tgt} | {met} |")
ceiling, python = fig.get(("ceiling", "bulk"), {}), fig.get(("python", "bulk"), {})
if ceiling and python:
    c, p = statistics.median(ceiling.values()), statistics.median(python.values())
    print(f"\nBulk ceiling (OpenSSL and loopback TCP with nothing else, one core): {c:,.1f} MiB/s = "
          f"{c / p:.2f}x Python asyncio's figure; the bulk target (3x Python) is {3 * p:,.1f} MiB/s.")
if check and missed:
    sys.exit(1)
PY
