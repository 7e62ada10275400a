// SPDX-License-Identifier: MIT
// tune_malloc(): the process's malloc thresholds, through glibc's mallopt.
#include "concur/malloc.hpp"

#include <malloc.h>

#include <cerrno>
#include <climits>
#include <string>

#include "concur/errors.hpp"

namespace concur {

namespace {
// glibc refuses an M_MMAP_THRESHOLD above HEAP_MAX_SIZE / 2: 32 MiB on 64-bit systems.
constexpr std::size_t kMaxMmapThreshold = sizeof(void*) == 8 ? std::size_t{32} << 20 : std::size_t{512} << 10;
}  // namespace

bool tune_malloc(const MallocTuning& tuning) {
  if (tuning.mmap_threshold == 0 || tuning.mmap_threshold > kMaxMmapThreshold) {
    throw ValueError("tune_malloc: mmap_threshold must be between 1 and " + std::to_string(kMaxMmapThreshold) + " bytes");
  }
  if (tuning.trim_threshold == 0 || tuning.trim_threshold > static_cast<std::size_t>(INT_MAX)) {
    throw ValueError("tune_malloc: trim_threshold must be between 1 and " + std::to_string(INT_MAX) + " bytes");
  }
  // mallopt returns 1 on success, 0 when it refuses (a sanitizer's malloc refuses everything).
  return ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(tuning.mmap_threshold)) == 1 &&
         ::mallopt(M_TRIM_THRESHOLD, static_cast<int>(tuning.trim_threshold)) == 1;
}

}  // namespace concur
