// SPDX-License-Identifier: MIT
// Private to concur_multiprocessing: the building blocks of the process-shared primitives.
//
// Everything here lives inside a detail::SharedRegion (anonymous MAP_SHARED memory inherited by
// fork), so every field is seen by every process of the family.
//
//   RobustMutex  a pthread mutex with PTHREAD_PROCESS_SHARED and PTHREAD_MUTEX_ROBUST, of the
//                ERRORCHECK kind. Robust: when its holder dies, the kernel marks it and the next
//                locker gets it with EOWNERDEAD instead of waiting forever. Errorcheck: the lock
//                word itself says whether the calling thread holds it (trylock -> EDEADLK), which
//                is reliable even when a dead thread's id has been reused (the kernel clears the
//                dead owner's id from the word).
//   futex_wait / futex_wake
//                shared (not FUTEX_PRIVATE_FLAG) futexes on a 32-bit sequence word, used as the
//                condition variable. glibc's process-shared pthread_cond_t is not used on
//                purpose: up to glibc 2.40 a signaller may wait for the waiters of an older
//                group to leave, so a process killed inside pthread_cond_wait can hang every
//                later notify. A futex on a counter has no such state: a dead sleeper is simply
//                never woken.
//   Monitor      RobustMutex + sequence word + sleeper count: "lock, check a predicate, sleep
//                until notified or the deadline" for Semaphore, Event and Barrier.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "concur/timeout.hpp"

namespace concur::multiprocessing::detail {

using Clock = std::chrono::steady_clock;

/// The steady-clock deadline of an optional timeout; time_point::max() for "no timeout".
inline Clock::time_point deadline_of(std::optional<Timeout> timeout) {
  return timeout ? concur::detail::deadline_after(*timeout) : Clock::time_point::max();
}

// The futex word must be a plain 32-bit integer in memory.
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

/// Sleeps while `*word == expected`, until woken or `deadline` (steady clock; max() = never).
/// Returns false when the deadline passed, true otherwise (woken, value changed, or a signal:
/// callers re-check their predicate either way).
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, Clock::time_point deadline);
/// Wakes up to `count` threads, in any process, sleeping on `word`.
void futex_wake(std::atomic<std::uint32_t>& word, int count);

/// How a lock attempt ended.
enum class Acquired {
  no,          // busy (try) or the deadline passed
  yes,         // acquired
  owner_died,  // acquired; the previous holder died holding it (state it guarded may be torn)
  already_own  // the calling thread holds it already (nothing changed)
};

class RobustMutex {
 public:
  /// Initializes the mutex in place (the region is zero-filled; call once, in the creator).
  void init();
  /// Blocks until acquired. Returns yes, owner_died or already_own.
  Acquired lock();
  /// Tries once without blocking.
  Acquired try_lock();
  /// Blocks until acquired or `deadline`.
  Acquired lock_until(Clock::time_point deadline);
  /// Releases; RuntimeError when the calling thread does not hold it.
  void unlock();
  /// Whether the calling thread holds it.
  bool held_by_me();
  pthread_mutex_t* native() noexcept { return &m_mutex; }

 private:
  Acquired interpret(int rc, const char* what);
  pthread_mutex_t m_mutex;
};

/// "Lock + predicate + sleep" in shared memory. Fields the caller adds next to it are guarded
/// by `mutex`.
class Monitor {
 public:
  void init() { mutex.init(); }
  /// Locks the mutex; returns true when a previous holder died holding it.
  bool lock();
  void unlock() { mutex.unlock(); }
  /// With the mutex held: releases it, sleeps until notified or `deadline`, relocks it.
  /// Returns false when the deadline has passed. Spurious returns happen: re-check.
  /// `*owner_died` (when given) is set when relocking found that a holder had died.
  bool wait_until(Clock::time_point deadline, bool* owner_died = nullptr);
  /// With the mutex held: wakes up to `count` sleepers.
  void notify(int count);
  void notify_all();

  RobustMutex mutex;

 private:
  std::atomic<std::uint32_t> m_seq{0};  // bumped by every notify that finds sleepers
  std::uint32_t m_sleepers = 0;         // guarded by mutex: threads inside wait_until
};

/// RAII lock of a Monitor.
class MonitorGuard {
 public:
  explicit MonitorGuard(Monitor& monitor) : m_monitor(monitor), m_owner_died(monitor.lock()) {}
  ~MonitorGuard() { m_monitor.unlock(); }
  MonitorGuard(const MonitorGuard&) = delete;
  MonitorGuard& operator=(const MonitorGuard&) = delete;
  /// Whether a previous holder died holding the monitor.
  [[nodiscard]] bool owner_died() const noexcept { return m_owner_died; }

 private:
  Monitor& m_monitor;
  bool m_owner_died;
};

// ---- the states behind the public classes -------------------------------------------------

/// Lock and RLock.
struct LockState {
  RobustMutex mutex;
  std::uint32_t count = 0;  // RLock recursion depth; written only by the holder of `mutex`
};

/// Condition's own part (the lock is a LockState elsewhere). Guarded by that lock.
struct ConditionState {
  std::atomic<std::uint32_t> seq{0};  // bumped by notify; the futex waiters sleep on
  std::uint32_t waiters = 0;          // threads inside wait(), notified or not
  std::uint32_t permits = 0;          // notifications granted and not yet taken; <= waiters
};

struct SemaphoreState {
  Monitor monitor;
  std::int64_t value = 0;  // guarded by monitor
  std::int64_t bound = 0;  // BoundedSemaphore's initial value (immutable)
  bool bounded = false;    // BoundedSemaphore (immutable)
};

struct EventState {
  Monitor monitor;
  bool flag = false;  // guarded by monitor
};

struct BarrierState {
  enum Phase : int { filling = 0, draining = 1, resetting = -1, broken = -2 };
  Monitor monitor;
  std::int64_t parties = 0;  // immutable
  std::int64_t count = 0;    // guarded by monitor: threads inside wait()
  int phase = filling;       // guarded by monitor
  bool in_action = false;    // guarded by monitor: a counted waiter runs the action (holding it)
};

}  // namespace concur::multiprocessing::detail
