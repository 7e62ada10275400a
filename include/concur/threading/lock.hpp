// SPDX-License-Identifier: MIT
// concur/threading/lock.hpp — Lock and RLock, Python's threading.Lock and threading.RLock.
//
// Lock is a plain mutual-exclusion lock. As in Python, it is not owned by a thread: any thread
// may release a Lock that another thread acquired (a hand-off that std::mutex forbids), and
// releasing a Lock that is not locked throws RuntimeError. RLock is re-entrant: the thread that
// holds it may acquire it again, and must release it as many times; releasing an RLock the
// calling thread does not hold throws RuntimeError.
//
//   acquire(blocking = true, timeout = nullopt) -> bool   Python's acquire(blocking, timeout=-1)
//   release()                                             RuntimeError if not held (by this thread, RLock)
//   locked() -> bool                                      Lock only, as in Python
//   lock() / unlock() / try_lock()                        Lockable: std::scoped_lock, std::unique_lock
//
// acquire(false, timeout) throws ValueError ("can't specify a timeout for a non-blocking call"),
// and so does a negative or NaN timeout, as in Python. A timeout of zero tries once. Timeouts are
// measured on std::chrono::steady_clock; huge ones saturate (Python raises OverflowError).
//
// Memory ordering: a successful acquire synchronizes with the release that freed the lock, so
// everything written before a release is visible after the next acquire (the usual mutex promise).
//
// Thread safety: every member may be called from any thread. Lifetime: the lock must outlive
// every thread blocked in acquire(); destroying a locked Lock is allowed (as in Python).
//
// Implementation: Lock is a three-state futex word (0 free, 1 locked, 2 locked and maybe
// waited on), the classic design of Drepper's "Futexes Are Tricky". The uncontended acquire and
// release are one compare-and-swap each, inline (a plain load and store while the process has a
// single thread, as glibc's mutex does); waiting and waking are out of line. Fairness is not
// promised (nor is it in Python).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "concur/export.hpp"
#include "concur/threading/futex.hpp"
#include "concur/timeout.hpp"

namespace concur::threading {

class Condition;

namespace detail {
/// Throws ValueError for the (blocking, timeout) pairs Python's Lock.acquire refuses:
/// a timeout with blocking=false, and a negative or NaN timeout.
CONCUR_API void check_lock_timeout(bool blocking, const std::optional<Timeout>& timeout);
}  // namespace detail

/// threading.Lock: a non-reentrant lock that any thread may release.
class CONCUR_API Lock {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  /// Acquires the lock, waiting at most `timeout` (forever when nullopt) if `blocking`.
  /// Returns true if acquired, false if not (non-blocking and busy, or timed out).
  /// Throws ValueError for a timeout with blocking=false, or a negative timeout.
  bool acquire(bool blocking = true, std::optional<Timeout> timeout = std::nullopt) {
    if (!blocking || timeout) detail::check_lock_timeout(blocking, timeout);
    if (detail::single_threaded()) {
      // No other thread exists: plain load and store (see detail::single_threaded).
      if (m_state.load(std::memory_order_relaxed) != k_free) return acquire_slow(blocking, timeout);
      m_state.store(k_locked, std::memory_order_relaxed);
      return true;
    }
    std::uint32_t expected = k_free;
    // acquire on success: the critical section must not be reordered before taking the lock,
    // and it must see what the previous holder wrote before its release. On failure nothing
    // is read that needs ordering (the slow path re-reads with acquire).
    if (m_state.compare_exchange_strong(expected, k_locked, std::memory_order_acquire, std::memory_order_relaxed))
      return true;
    return acquire_slow(blocking, timeout);
  }

  /// Releases the lock; any thread may release it. Throws RuntimeError if it is not locked.
  void release() {
    if (detail::single_threaded()) {
      // No other thread exists: plain load and store (see detail::single_threaded).
      const std::uint32_t seen = m_state.load(std::memory_order_relaxed);
      if (seen != k_locked) return release_slow(seen);
      m_state.store(k_free, std::memory_order_relaxed);
      return;
    }
    std::uint32_t expected = k_locked;
    // release: publishes the critical section's writes to the next acquirer.
    if (m_state.compare_exchange_strong(expected, k_free, std::memory_order_release, std::memory_order_relaxed))
      return;
    release_slow(expected);
  }

  /// True if some thread holds the lock (a snapshot: it may change at once, hence relaxed).
  [[nodiscard]] bool locked() const noexcept { return m_state.load(std::memory_order_relaxed) != k_free; }

  /// Lockable: acquire() forever.
  void lock() { acquire(); }
  /// Lockable: release(); throws RuntimeError if not locked.
  void unlock() { release(); }
  /// Lockable: acquire(false).
  bool try_lock() { return acquire(false); }

 private:
  static constexpr std::uint32_t k_free = 0;
  static constexpr std::uint32_t k_locked = 1;
  static constexpr std::uint32_t k_contended = 2;  // locked, and some thread may sleep on m_state

  bool acquire_slow(bool blocking, const std::optional<Timeout>& timeout);
  void release_slow(std::uint32_t seen);

  // k_free / k_locked / k_contended (above). Written by atomic read-modify-writes (plain stores
  // only while the process has one thread). A release that finds `k_contended` stores `k_free`
  // and wakes one sleeper, which re-marks it `k_contended` when it takes the lock (it cannot know
  // whether others still sleep). A waiter that times out leaves `k_contended` behind: that costs
  // the next release one needless wake, never a lost one.
  detail::FutexWord m_state{k_free};
};

/// threading.RLock: a re-entrant lock owned by the thread that acquired it.
class CONCUR_API RLock {
 public:
  RLock() = default;
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  /// Acquires the lock; if the calling thread already holds it, increments the recursion level
  /// and returns true at once. Otherwise as Lock::acquire (same ValueErrors).
  bool acquire(bool blocking = true, std::optional<Timeout> timeout = std::nullopt) {
    if (!blocking || timeout) detail::check_lock_timeout(blocking, timeout);
    const std::uint64_t me = detail::thread_key();
    // relaxed: only this thread ever stores its own key into m_owner, so reading it back needs
    // no ordering; any other value (0 or another thread's key) just means "not mine".
    if (m_owner.load(std::memory_order_relaxed) == me) {
      ++m_count;
      return true;
    }
    if (!m_lock.acquire(blocking, timeout)) return false;
    m_owner.store(me, std::memory_order_relaxed);  // ordered by m_lock's acquire/release
    m_count = 1;
    return true;
  }

  /// Decrements the recursion level, releasing the lock when it reaches zero.
  /// Throws RuntimeError if the calling thread does not hold the lock.
  void release() {
    if (m_owner.load(std::memory_order_relaxed) != detail::thread_key()) throw_not_owned();
    if (--m_count == 0) {
      m_owner.store(0, std::memory_order_relaxed);  // before m_lock.release(), which orders it
      m_lock.release();
    }
  }

  /// Lockable: acquire() forever.
  void lock() { acquire(); }
  /// Lockable: release(); throws RuntimeError if not held by this thread.
  void unlock() { release(); }
  /// Lockable: acquire(false).
  bool try_lock() { return acquire(false); }

 private:
  friend class Condition;
  [[noreturn]] static void throw_not_owned();
  /// Whether the calling thread holds the lock (Python's RLock._is_owned).
  [[nodiscard]] bool is_owned() const noexcept {
    return m_owner.load(std::memory_order_relaxed) == detail::thread_key();
  }

  Lock m_lock;
  // detail::thread_key() of the holder, 0 when free. Written only by the holder (under m_lock);
  // read by any thread to ask "is it me?".
  std::atomic<std::uint64_t> m_owner{0};
  // Recursion level; read and written only by the holder (guarded by m_lock). 0 when free.
  std::size_t m_count = 0;
};

}  // namespace concur::threading
