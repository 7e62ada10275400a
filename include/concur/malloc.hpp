// SPDX-License-Identifier: MIT
// concur/malloc.hpp — keep freed heap memory for reuse: what a Pool's worker does, for threads.
//
// glibc's malloc returns memory to the kernel eagerly: a block of 128 KiB or more may be served
// by its own mmap (unmapped again at free), and once more than about twice that sits free at the
// top of a heap, free() trims it (madvise or sbrk). A task that allocates a few large buffers,
// uses them and frees them then pays, every time, for the kernel to unmap, map, fault in and zero
// the same pages again; with several threads those calls also serialize on the process's memory
// map. `concur compare` measures it (the allocation-heavy CPU-bound row): four 512 KiB buffers per
// task, live together, are many times slower with the defaults than with this tuning, in one
// thread as in several.
//
// multiprocessing::Pool workers and ProcessPoolExecutor workers always run with this tuning (they
// are processes of concur's that run tasks in a loop). A program whose threads allocate and free
// large blocks calls tune_malloc() once, early in main():
//
//     concur::tune_malloc();                       // keep up to 64 MiB of freed heap
//     concur::tune_malloc({.trim_threshold = 256 << 20});
//
// The setting is process-wide (mallopt) and lasts for the life of the process: glibc cannot be
// put back on its adaptive default once it is set. The cost is memory: up to trim_threshold
// bytes of freed heap per malloc arena (glibc makes up to 8 arenas per core) stay resident.
// Python has no such call: CPython's allocator sits on the same malloc and has the same cost.
#pragma once

#include <cstddef>

#include "concur/export.hpp"

namespace concur {

/// The thresholds tune_malloc() sets (mallopt's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD).
struct MallocTuning {
  /// Blocks at least this large get an mmap of their own (unmapped at free).
  std::size_t mmap_threshold = std::size_t{32} << 20;
  /// free() gives the top of a heap back to the kernel only past this many free bytes.
  std::size_t trim_threshold = std::size_t{64} << 20;
};

/// Sets the process's malloc thresholds (see the top of this file). Returns false, changing
/// nothing, when the allocator refuses them (a sanitizer's allocator, which replaces glibc's
/// malloc, does). Throws ValueError when a threshold is zero or above what glibc accepts (the
/// mmap threshold is at most 32 MiB on 64-bit systems).
CONCUR_API bool tune_malloc(const MallocTuning& tuning = {});

}  // namespace concur
