// SPDX-License-Identifier: MIT
// Robust process-shared mutexes, shared futexes and the Monitor (see sync_shared.hpp).
#include "multiprocessing/sync_shared.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <climits>
#include <string>

#include "concur/errors.hpp"

// ThreadSanitizer intercepts pthread_mutex_timedlock but not pthread_mutex_clocklock; a lock
// it does not see would make it report false races on everything the lock protects.
#if defined(__SANITIZE_THREAD__)
#define CONCUR_DETAIL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CONCUR_DETAIL_TSAN 1
#endif
#endif

namespace concur::multiprocessing::detail {

namespace {

timespec to_timespec(std::chrono::nanoseconds since_epoch) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  return timespec{static_cast<time_t>(secs.count()), static_cast<long>((since_epoch - secs).count())};
}

/// `deadline` (steady clock = CLOCK_MONOTONIC in libstdc++) as an absolute timespec of `clock`.
timespec absolute_on(clockid_t clock, Clock::time_point deadline) {
  if (clock == CLOCK_MONOTONIC) return to_timespec(deadline.time_since_epoch());
  timespec now_ts{};
  ::clock_gettime(clock, &now_ts);
  const auto left = deadline - Clock::now();
  const auto now = std::chrono::seconds(now_ts.tv_sec) + std::chrono::nanoseconds(now_ts.tv_nsec);
  return to_timespec(now + (left > Clock::duration::zero() ? left : Clock::duration::zero()));
}

void check(int rc, const char* what) {
  if (rc != 0) throw_os_error(rc, what);
}

}  // namespace

bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, Clock::time_point deadline) {
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a wait interrupted by a
  // signal and retried does not stretch the timeout. No FUTEX_PRIVATE_FLAG: the word is shared
  // between processes.
  timespec ts{};
  const timespec* tsp = nullptr;
  if (deadline != Clock::time_point::max()) {
    if (Clock::now() >= deadline) return false;
    ts = absolute_on(CLOCK_MONOTONIC, deadline);
    tsp = &ts;
  }
  const long rc = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET, expected, tsp,
                            nullptr, FUTEX_BITSET_MATCH_ANY);
  if (rc == -1 && errno == ETIMEDOUT) return false;
  // 0 (woken), EAGAIN (the value changed before sleeping), EINTR (a signal): the caller re-checks.
  return true;
}

void futex_wake(std::atomic<std::uint32_t>& word, int count) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

// ---- RobustMutex -------------------------------------------------------------------------

void RobustMutex::init() {
  pthread_mutexattr_t attr;
  check(::pthread_mutexattr_init(&attr), "pthread_mutexattr_init");
  int rc = ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (rc == 0) rc = ::pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
  if (rc == 0) rc = ::pthread_mutex_init(&m_mutex, &attr);
  ::pthread_mutexattr_destroy(&attr);
  check(rc, "pthread_mutex_init (process-shared, robust)");
}

Acquired RobustMutex::interpret(int rc, const char* what) {
  switch (rc) {
    case 0: return Acquired::yes;
    case EBUSY:
    case ETIMEDOUT: return Acquired::no;
    case EDEADLK: return Acquired::already_own;
    case EOWNERDEAD:
      // The holder died. We hold the mutex now; mark it usable again so that it does not
      // become ENOTRECOVERABLE when we unlock it.
      check(::pthread_mutex_consistent(&m_mutex), "pthread_mutex_consistent");
      return Acquired::owner_died;
    case ENOTRECOVERABLE:
      throw RuntimeError("process-shared lock is unrecoverable: a process died while repairing it");
    default: throw_os_error(rc, what);
  }
}

Acquired RobustMutex::lock() {
  for (;;) {
    const int rc = ::pthread_mutex_lock(&m_mutex);
    if (rc != EINTR) return interpret(rc, "pthread_mutex_lock");
  }
}

Acquired RobustMutex::try_lock() { return interpret(::pthread_mutex_trylock(&m_mutex), "pthread_mutex_trylock"); }

Acquired RobustMutex::lock_until(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return lock();
  for (;;) {
#if defined(CONCUR_DETAIL_TSAN)
    const timespec ts = absolute_on(CLOCK_REALTIME, deadline);
    const int rc = ::pthread_mutex_timedlock(&m_mutex, &ts);
#else
    const timespec ts = absolute_on(CLOCK_MONOTONIC, deadline);
    const int rc = ::pthread_mutex_clocklock(&m_mutex, CLOCK_MONOTONIC, &ts);
#endif
    if (rc != EINTR) return interpret(rc, "pthread_mutex_clocklock");
  }
}

void RobustMutex::unlock() {
  const int rc = ::pthread_mutex_unlock(&m_mutex);
  if (rc == EPERM) throw RuntimeError("cannot release un-acquired lock");
  check(rc, "pthread_mutex_unlock");
}

bool RobustMutex::held_by_me() {
  // An errorcheck mutex answers EDEADLK to a trylock by its holder; any other answer means we
  // did not hold it (and if the trylock took it, we give it back).
  const Acquired got = try_lock();
  if (got == Acquired::already_own) return true;
  if (got != Acquired::no) unlock();
  return false;
}

// ---- Monitor -------------------------------------------------------------------------------

bool Monitor::lock() {
  const Acquired got = mutex.lock();
  assert(got != Acquired::already_own && "a Monitor is never locked recursively");
  return got == Acquired::owner_died;
}

bool Monitor::wait_until(Clock::time_point deadline, bool* owner_died) {
  ++m_sleepers;
  // Read under the mutex: a notify() (also under the mutex) after our unlock changes it, so
  // the futex call returns at once instead of missing the wakeup.
  const std::uint32_t seen = m_seq.load(std::memory_order_relaxed);
  unlock();
  const bool in_time = futex_wait(m_seq, seen, deadline);
  if (lock() && owner_died != nullptr) *owner_died = true;
  --m_sleepers;
  return in_time && Clock::now() < deadline;
}

void Monitor::notify(int count) {
  if (m_sleepers == 0) return;
  m_seq.fetch_add(1, std::memory_order_relaxed);  // ordering comes from the mutex
  futex_wake(m_seq, count);
}

void Monitor::notify_all() { notify(INT_MAX); }

}  // namespace concur::multiprocessing::detail
