// SPDX-License-Identifier: MIT
// Bounded spinning before sleeping, for the futures' waits and the pool's idle workers.
// Private to src/futures.
#pragma once

#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace concur::futures::detail {

/// Tells the CPU this is a spin-wait loop (cheaper for the sibling hyper-thread and power).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

/// Polls `ready()` for a short while: first with pause instructions, then yielding the CPU a
/// few times (other threads may need this core to make `ready()` true — the machine may have
/// fewer cores than threads). Returns whether `ready()` became true. Sleeping on a futex costs
/// a few microseconds to fall asleep and as much to be woken; this bounds the spin to about
/// that long.
template <class Ready>
bool spin_until(Ready ready, int pauses = 64, int yields = 4) {
  for (int i = 0; i < pauses; ++i) {
    if (ready()) return true;
    cpu_relax();
  }
  for (int i = 0; i < yields; ++i) {
    if (ready()) return true;
    std::this_thread::yield();
  }
  return ready();
}

}  // namespace concur::futures::detail
