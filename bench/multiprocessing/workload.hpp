// SPDX-License-Identifier: MIT
// bench/multiprocessing/workload.hpp — the work both sides run (the Python peer,
// mp_python.py, implements the same functions).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace bench {

/// The trivial task of the map benchmarks.
inline int square(int x) { return x * x; }

/// The 1 MiB payload task: reads every byte (so the data really arrives), returns a small sum.
inline std::uint64_t payload_checksum(const std::vector<unsigned char>& data) {
  std::uint64_t sum = 0;
  for (unsigned char b : data) sum += b;
  return sum;
}

/// The CPU-bound task: `n` steps of an integer recurrence (a few tens of ms for the default n).
inline std::uint64_t cpu_task(std::uint64_t n) {
  std::uint64_t x = 88172645463325252ULL;
  std::uint64_t acc = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    acc += x % 1000;
  }
  return acc;
}

}  // namespace bench
