// SPDX-License-Identifier: MIT
// Linux implementation of concur/threading/futex.hpp: futex waits and wakes, gettid.
// The only file of concur::threading that talks to the kernel directly.
#include "concur/threading/futex.hpp"

#if !defined(__linux__)
#error "concur::threading's futex layer is Linux-only; add a platform_<os>.cpp for other systems"
#endif

#include <linux/futex.h>
#include <sched.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace concur::threading::detail {

static_assert(sizeof(FutexWord) == sizeof(std::uint32_t) && alignof(FutexWord) == alignof(std::uint32_t),
              "futex needs std::atomic<std::uint32_t> to be a plain 32-bit word");
static_assert(FutexWord::is_always_lock_free);

const char& process_single_threaded_flag = __libc_single_threaded;

namespace {

std::uint32_t* address(FutexWord& word) noexcept {
  // The kernel compares the 32-bit value at this address; std::atomic<uint32_t> is exactly that
  // word (static_asserts above), the usual way futex-based code addresses an atomic.
  return reinterpret_cast<std::uint32_t*>(&word);
}

// Returns 0 or the errno of the call; leaves the caller's errno as it was.
int futex(std::uint32_t* uaddr, int op, std::uint32_t val, const timespec* timeout, std::uint32_t val3) noexcept {
  const int saved = errno;
  const long rc = ::syscall(SYS_futex, uaddr, op, val, timeout, nullptr, val3);
  const int err = rc == -1 ? errno : 0;
  errno = saved;
  return err;
}

}  // namespace

void futex_wait(FutexWord& word, std::uint32_t expected) noexcept {
  // EAGAIN (the word changed), EINTR (a signal) and a wake all mean "re-check": nothing to do.
  futex(address(word), FUTEX_WAIT_PRIVATE, expected, nullptr, 0);
}

bool futex_wait_until(FutexWord& word, std::uint32_t expected,
                      std::chrono::steady_clock::time_point deadline) noexcept {
  using namespace std::chrono;
  if (deadline == steady_clock::time_point::max()) {
    futex_wait(word, expected);
    return true;
  }
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, the clock behind steady_clock
  // on Linux (libstdc++ and libc++ both use it).
  const auto since_epoch = deadline.time_since_epoch();
  if (since_epoch <= steady_clock::duration::zero()) return false;
  const auto secs = duration_cast<seconds>(since_epoch);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(secs.count());
  ts.tv_nsec = static_cast<long>(duration_cast<nanoseconds>(since_epoch - secs).count());
  return futex(address(word), FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, &ts, FUTEX_BITSET_MATCH_ANY) !=
         ETIMEDOUT;
}

void futex_wake(FutexWord& word, int count) noexcept {
  futex(address(word), FUTEX_WAKE_PRIVATE, static_cast<std::uint32_t>(count), nullptr, 0);
}

std::uint64_t native_thread_id() noexcept {
  // Not cached: a cache would go stale in a fork()ed child, and this is not on a hot path.
  return static_cast<std::uint64_t>(::syscall(SYS_gettid));
}

std::size_t process_cpu_count() noexcept {
  // As CPython's os.sched_getaffinity: a mask sized for 1,024 CPUs, doubled while the kernel
  // says it is too small (EINVAL).
  for (int ncpus = 1024; ncpus <= (1 << 22); ncpus *= 2) {
    cpu_set_t* set = CPU_ALLOC(ncpus);
    if (set == nullptr) break;
    const std::size_t size = CPU_ALLOC_SIZE(ncpus);
    const int rc = ::sched_getaffinity(0, size, set);
    const int err = errno;
    const int n = rc == 0 ? CPU_COUNT_S(size, set) : 0;
    CPU_FREE(set);
    if (rc == 0) return n > 0 ? static_cast<std::size_t>(n) : 1;
    if (err != EINVAL) break;
  }
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<std::size_t>(online) : 1;
}

}  // namespace concur::threading::detail
