// SPDX-License-Identifier: MIT
// concur/threading/futex.hpp — internal: the OS-level services every threading type stands on.
//
// 1. Waiting on a 32-bit atomic word. `futex_wait(word, expected)` blocks while `word` still
//    holds `expected`; `futex_wake(word, n)` wakes up to `n` threads blocked on that word. This is
//    Linux's futex (the primitive under glibc's mutexes), reached through functions defined in
//    src/threading/platform_linux.cpp so that no public header includes an OS header. Lock and
//    Event are built on it because std::mutex cannot be released by another thread (Python's Lock
//    can), and std::atomic::wait has no timeout.
//    Contract: waits may return spuriously (a signal, a wake meant for an earlier value); callers
//    re-check their word in a loop. Waking never blocks and never fails. Deadlines are absolute
//    std::chrono::steady_clock instants (CLOCK_MONOTONIC), so a loop that retries keeps the same
//    deadline instead of re-adding the timeout.
//
// 2. Knowing whether the process is still single-threaded (glibc's __libc_single_threaded), so
//    Lock can skip atomic read-modify-writes then, as glibc's mutex does.
//
// 3. Naming the calling thread. `thread_key()` is a non-zero number unique among the threads that
//    are alive at the same time (the address of a thread_local), cheap enough for RLock's owner
//    check on every acquire. It is what threading::get_ident() returns; like Python's ident it may
//    be reused by a thread created after another one exited.
//
// 4. Counting the CPUs the calling thread may run on (its affinity mask, as Python 3.13's
//    os.process_cpu_count()), for the default size of thread and process pools.
//
// Everything here is in `detail`: it is not part of concur's API and may change.
#pragma once

#include <atomic>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>

#include "concur/export.hpp"

namespace concur::threading::detail {

/// The word a futex waits on. std::atomic<std::uint32_t> has the size and representation of a
/// std::uint32_t on every platform concur supports (checked in platform_linux.cpp).
using FutexWord = std::atomic<std::uint32_t>;

/// Wakes "every waiter" when passed as futex_wake's count.
inline constexpr int futex_wake_all = INT_MAX;

/// Blocks while `word == expected`. Returns at once if it differs; may return spuriously.
CONCUR_API void futex_wait(FutexWord& word, std::uint32_t expected) noexcept;

/// As futex_wait, giving up at `deadline`. Returns false only if the deadline passed
/// (steady_clock::time_point::max() waits forever).
CONCUR_API bool futex_wait_until(FutexWord& word, std::uint32_t expected,
                      std::chrono::steady_clock::time_point deadline) noexcept;

/// Wakes up to `count` threads blocked on `word` (any address is fine, even one nobody waits on).
CONCUR_API void futex_wake(FutexWord& word, int count) noexcept;

/// glibc's __libc_single_threaded flag: non-zero while the process has a single thread (glibc
/// clears it in pthread_create, before the second thread exists). Bound in platform_linux.cpp.
CONCUR_API extern const char& process_single_threaded_flag;

/// True while the calling thread is the only thread of the process. Then no other thread can
/// observe a lock's word, and Lock uses plain loads and stores instead of atomic read-modify-
/// writes, as glibc's own mutexes (and libstdc++'s shared_ptr) do; this keeps Lock on par with
/// std::mutex in single-threaded code. A thread created later synchronizes with everything its
/// creator did, so a lock taken this way is seen as taken by the new thread.
inline bool single_threaded() noexcept { return process_single_threaded_flag != 0; }

/// A non-zero number naming the calling thread, unique among live threads (see above).
CONCUR_API inline std::uint64_t thread_key() noexcept {
  static thread_local const char anchor = 0;
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&anchor));
}

/// The kernel's id of the calling thread (gettid).
CONCUR_API std::uint64_t native_thread_id() noexcept;

/// The number of CPUs in the calling thread's affinity mask (sched_getaffinity), at least 1;
/// when the mask cannot be read, the number of CPUs online.
CONCUR_API std::size_t process_cpu_count() noexcept;

}  // namespace concur::threading::detail
