// SPDX-License-Identifier: MIT
// concur/threading/condition.hpp — Condition, Python's threading.Condition.
//
// A condition variable bound to a lock. Condition() makes its own RLock, as Python does;
// Condition(lock) and Condition(rlock) use the caller's Lock or RLock, which must outlive it.
// The Condition is itself a lock (acquire/release, and Lockable lock/unlock/try_lock forwarding
// to the underlying lock), so `std::scoped_lock hold(cond);` works.
//
//   wait(timeout) -> bool                 releases the lock, sleeps until notified or timed out,
//                                         re-acquires the lock; false on timeout
//   wait_for(predicate, timeout) -> bool  waits until predicate() is true or the timeout passes;
//                                         returns predicate()'s last value
//   notify(n = 1), notify_all()           wakes the n longest-waiting threads / all of them
//
// As in Python, wait, wait_for and notify throw RuntimeError when the calling thread does not
// hold the lock ("cannot wait on un-acquired lock"). With an RLock that is exact; with a plain
// Lock (which has no owner) it checks that *some* thread holds it, as Python does. wait()
// releases an RLock completely, whatever its recursion level, and restores that level after.
// Waiters are woken in FIFO order (Python's waiter deque); spurious wake-ups do not happen:
// wait() returns true only after a notify chose this waiter.
//
// Memory ordering: that of the lock; notify publishes nothing by itself.
//
// Thread safety: all members may be called from any thread (wait/notify with the lock held).
// Lifetime: no thread may be waiting when the Condition is destroyed (asserted).
//
// Differences from Python: timeouts are concur::Timeout; a negative timeout does not wait.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>

#include "concur/export.hpp"
#include "concur/threading/futex.hpp"
#include "concur/threading/lock.hpp"
#include "concur/timeout.hpp"

namespace concur::threading {

/// threading.Condition: a condition variable with its lock.
class CONCUR_API Condition {
 public:
  /// A Condition over a fresh RLock of its own.
  Condition() : m_rlock(&m_own_lock) {}
  /// A Condition over `lock`, which must outlive it.
  explicit Condition(Lock& lock) : m_lock(&lock) {}
  /// A Condition over `lock`, which must outlive it.
  explicit Condition(RLock& lock) : m_rlock(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  ~Condition();

  /// Acquires the underlying lock (see Lock::acquire / RLock::acquire for the arguments).
  bool acquire(bool blocking = true, std::optional<Timeout> timeout = std::nullopt) {
    return m_lock != nullptr ? m_lock->acquire(blocking, timeout) : m_rlock->acquire(blocking, timeout);
  }
  /// Releases the underlying lock. Throws RuntimeError if it is not held.
  void release() { m_lock != nullptr ? m_lock->release() : m_rlock->release(); }
  /// Lockable: acquire().
  void lock() { acquire(); }
  /// Lockable: release().
  void unlock() { release(); }
  /// Lockable: acquire(false).
  bool try_lock() { return acquire(false); }

  /// Releases the lock, waits until notified or until `timeout` passes (forever when nullopt),
  /// re-acquires the lock. Returns false if the timeout passed, true otherwise.
  /// Throws RuntimeError if the lock is not held.
  bool wait(std::optional<Timeout> timeout = std::nullopt);

  /// Waits until `predicate()` returns true, or `timeout` (in total) passes. Returns the
  /// predicate's last value. The predicate runs with the lock held. Throws RuntimeError if the
  /// lock is not held, and whatever the predicate throws.
  template <class Predicate>
  bool wait_for(Predicate predicate, std::optional<Timeout> timeout = std::nullopt) {
    bool result = static_cast<bool>(predicate());
    if (result) return true;
    const auto deadline = timeout ? concur::detail::deadline_after(*timeout) : std::chrono::steady_clock::time_point::max();
    while (!result) {
      std::optional<Timeout> remaining;
      if (timeout) {
        remaining = deadline - std::chrono::steady_clock::now();
        if (*remaining <= Timeout::zero()) break;
      }
      wait(remaining);
      result = static_cast<bool>(predicate());
    }
    return result;
  }

  /// Wakes up to `n` threads waiting on this condition, longest-waiting first.
  /// Throws RuntimeError if the lock is not held.
  void notify(std::size_t n = 1);
  /// Wakes every waiting thread. Throws RuntimeError if the lock is not held.
  void notify_all();

 private:
  // One waiting thread, on its own stack. Linked into the list by wait() and unlinked either by
  // a notifier (which then sets `signaled` and wakes it) or, on timeout, by the waiter itself.
  struct Waiter {
    detail::FutexWord signaled{0};
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    bool linked = false;
  };

  [[nodiscard]] bool is_owned() const;
  void append(Waiter& waiter);
  void unlink(Waiter& waiter);

  RLock m_own_lock;            // used only when constructed without a lock
  Lock* m_lock = nullptr;      // exactly one of m_lock, m_rlock is set
  RLock* m_rlock = nullptr;

  // Guards the waiter list and every Waiter's prev/next/linked, and is held while a notifier
  // signals a waiter, so a waiter that takes it afterwards knows nobody touches its Waiter any
  // more (it can return and free it). Internal, never held while blocking on anything else.
  std::mutex m_waiters_mutex;
  Waiter* m_head = nullptr;    // longest waiting; guarded by m_waiters_mutex
  Waiter* m_tail = nullptr;    // guarded by m_waiters_mutex
};

}  // namespace concur::threading
