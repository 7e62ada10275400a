#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages concur needs to build, test and benchmark — only those missing,
# so a second run costs a few dpkg queries. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  # toolchain
  g++ clang make cmake ninja-build pkg-config
  # libraries the project builds on
  libfmt-dev libuv1-dev libcereal-dev libcli11-dev libssl-dev
  # the MPI component (concur_mpi) and its tests and benchmark: Open MPI, mpiexec, mpi4py
  libopenmpi-dev openmpi-bin python3-mpi4py
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev libtbb-dev libasio-dev
  # peers and clients used by tests, examples and benchmarks
  python3 python3-uvloop wrk curl apache2-utils netcat-openbsd procps openssl
  # charts of `concur compare --plot`
  gnuplot-nox
  # Debian packages (cpack: dpkg-shlibdeps, file), their checks, and the API reference
  dpkg-dev file lintian doxygen
)

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing: ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
