// SPDX-License-Identifier: MIT
// concur/multiprocessing/synchronize.hpp — locks, semaphores, events, conditions and barriers
// shared between processes.
//
// Mirrors Python's multiprocessing.synchronize (multiprocessing.Lock, RLock, Semaphore,
// BoundedSemaphore, Event, Condition, Barrier) with the names, signatures and exceptions of
// concur::threading: a program moves from threads to processes by changing a namespace.
//
// Sharing model. Each object keeps its state in anonymous shared memory (detail::SharedRegion)
// made when it is constructed. The C++ object itself is a per-process handle of that state.
// A child gets a handle of its own in either of two ways: pass the object to the Process (or
// to a Pool's initializer) as an argument the target takes by reference — `void worker(mp::Lock&
// lock)`, `mp::Process p(worker, lock)` — which works under both start methods (reduction.hpp:
// the memory's descriptor is handed to the child); or, under "fork" only, let the child inherit
// it (a global, or an object the forking code can reach). Destroying a handle in one process
// never disturbs the others; the kernel frees the memory when the last process that maps it is
// gone. Objects are neither copyable nor movable (a Condition refers to its lock).
//
// Built on pthread process-shared *robust* mutexes and shared futexes (see
// src/multiprocessing/sync_shared.hpp for why not pthread_cond_t). Memory ordering: everything
// written before a release()/set()/notify()/wait() in one process is visible after the
// matching acquire()/wait() returns in another, as with threads.
//
// Where it differs from Python, and why:
//   - A process (or thread) that dies holding a Lock or RLock does not deadlock the others:
//     the next acquirer gets the lock (the robust-mutex protocol). Data the lock guarded may be
//     half-updated; that is the program's to judge. Python's multiprocessing.Lock stays taken
//     forever. A process dying inside Barrier.wait's action breaks the barrier.
//   - Only the holder may release a Lock (RuntimeError otherwise), as for RLock; threading.Lock
//     and Python's multiprocessing.Lock allow any thread to release. Ownership is what lets a
//     dead holder be detected. Acquiring a Lock the calling thread already holds is a certain
//     deadlock, so a blocking acquire() without timeout throws RuntimeError instead of hanging;
//     with a timeout it returns false at the deadline, non-blocking it returns false.
//   - Errors are concur::threading's (RuntimeError for releasing an un-acquired lock, ValueError
//     for bad arguments, BrokenBarrierError) where Python's multiprocessing raises ValueError or
//     AssertionError for some of them.
//   - Timed acquisitions of Lock/RLock measure the deadline on the monotonic clock, except under
//     ThreadSanitizer (which does not intercept pthread_mutex_clocklock) where it is turned
//     into a wall-clock deadline at the call.
//   - A Barrier with an action cannot be passed to a Process: the action is a std::function of
//     this process (Python pickles it by name). ValueError when the Process is made; pass a
//     Barrier without action, or let a "fork" child inherit it.
//   - A process that dies inside Condition.wait may cause one spurious wakeup of a later waiter
//     (its notification slot is never taken); wait_for() re-checks its predicate regardless.
//     A process that dies while *waiting* in Barrier.wait (not in the action) still counts as
//     arrived, as a thread would in Python: use a timeout, or abort() when you learn of it.
//
// Thread safety: every member may be called from any thread of any process of the family.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "concur/errors.hpp"
#include "concur/export.hpp"
#include "concur/multiprocessing/detail/shared_region.hpp"
#include "concur/multiprocessing/reduction.hpp"
#include "concur/timeout.hpp"

namespace concur::multiprocessing {

namespace detail {
struct LockState;
struct ConditionState;
struct SemaphoreState;
struct EventState;
struct BarrierState;
}  // namespace detail

/// multiprocessing.Lock: a non-recursive lock shared between processes. Lockable.
class CONCUR_API Lock {
 public:
  /// Creates an unlocked lock in fresh shared memory. Throws OSError when that fails.
  Lock();
  /// A handle, in a child, of the lock another process reduced (reduction.hpp).
  Lock(from_reduction_t, detail::InputArchive& ar);
  ~Lock();
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  /// Takes the lock. Returns true when taken; false when non-blocking and busy, or when the
  /// timeout expired. ValueError for a timeout with blocking=false or a negative timeout;
  /// RuntimeError for a blocking, untimed acquire by the thread that holds it (a deadlock).
  bool acquire(bool blocking = true, std::optional<Timeout> timeout = std::nullopt);
  /// Releases the lock. RuntimeError when it is unlocked or held by another thread.
  void release();
  /// Whether any thread of any process holds it (a snapshot).
  [[nodiscard]] bool locked() const;

  /// Lockable, for std::scoped_lock and std::unique_lock: lock() is acquire(), unlock() is
  /// release(), try_lock() is acquire(false).
  /// @{
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }
  ///@}

  /// Records a handle of this object for a child process (reduction.hpp).
  void reduce(detail::OutputArchive& ar) const;

 private:
  friend class Condition;
  detail::LockState* state() const noexcept;
  detail::SharedRegion m_region;  // holds one detail::LockState
};

/// multiprocessing.RLock: a recursive lock owned by one thread of one process. Lockable.
class CONCUR_API RLock {
 public:
  /// Creates an unlocked lock in fresh shared memory. Throws OSError when that fails.
  RLock();
  /// A handle, in a child, of the lock another process reduced (reduction.hpp).
  RLock(from_reduction_t, detail::InputArchive& ar);
  ~RLock();
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  /// Takes the lock, or one more level of it when the calling thread holds it already.
  /// Returns false when non-blocking and busy, or when the timeout expired. ValueError for a
  /// timeout with blocking=false or a negative timeout.
  bool acquire(bool blocking = true, std::optional<Timeout> timeout = std::nullopt);
  /// Drops one level; the lock is free when the levels reach zero. RuntimeError when the
  /// calling thread does not hold it.
  void release();
  /// Whether any thread of any process holds it (a snapshot).
  [[nodiscard]] bool locked() const;

  /// Lockable, for std::scoped_lock and std::unique_lock: lock() is acquire(), unlock() is
  /// release(), try_lock() is acquire(false).
  /// @{
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }
  ///@}

  /// Records a handle of this object for a child process (reduction.hpp).
  void reduce(detail::OutputArchive& ar) const;

 private:
  friend class Condition;
  detail::LockState* state() const noexcept;
  detail::SharedRegion m_region;  // holds one detail::LockState
};

/// multiprocessing.Semaphore: a counter shared between processes.
class CONCUR_API Semaphore {
 public:
  /// ValueError when `value` < 0. Throws OSError when the shared memory cannot be made.
  explicit Semaphore(std::ptrdiff_t value = 1);
  /// A handle, in a child, of the semaphore another process reduced (reduction.hpp).
  Semaphore(from_reduction_t, detail::InputArchive& ar);
  ~Semaphore();
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  /// Decrements the counter, waiting while it is zero. Returns false when non-blocking and
  /// zero, or when the timeout expired. ValueError for a timeout with blocking=false.
  bool acquire(bool blocking = true, std::optional<Timeout> timeout = std::nullopt);
  /// Adds `n` and wakes up to `n` waiters. ValueError when n < 1; for a BoundedSemaphore,
  /// ValueError when the counter would exceed its initial value (nothing is added then).
  void release(std::ptrdiff_t n = 1);
  /// The counter's current value (Python's SemLock._get_value; a snapshot).
  [[nodiscard]] std::ptrdiff_t get_value() const;

  /// Lockable, for std::scoped_lock and std::unique_lock: lock() is acquire(), unlock() is
  /// release(), try_lock() is acquire(false).
  /// @{
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }
  ///@}

  /// Records a handle of this object for a child process (reduction.hpp).
  void reduce(detail::OutputArchive& ar) const;

 protected:
  /// For BoundedSemaphore: `bounded` makes release() above the initial value a ValueError.
  Semaphore(std::ptrdiff_t value, bool bounded);

 private:
  detail::SemaphoreState* state() const noexcept;
  detail::SharedRegion m_region;  // holds one detail::SemaphoreState
};

/// multiprocessing.BoundedSemaphore: a Semaphore that refuses to rise above its initial value.
class BoundedSemaphore : public Semaphore {
 public:
  /// ValueError when `value` < 0.
  explicit BoundedSemaphore(std::ptrdiff_t value = 1) : Semaphore(value, true) {}
  /// A handle, in a child, of the semaphore another process reduced (reduction.hpp).
  BoundedSemaphore(from_reduction_t tag, detail::InputArchive& ar) : Semaphore(tag, ar) {}
};

/// multiprocessing.Event: a flag shared between processes, with waiting until it is set.
class CONCUR_API Event {
 public:
  /// A cleared event. Throws OSError when the shared memory cannot be made.
  Event();
  /// A handle, in a child, of the event another process reduced (reduction.hpp).
  Event(from_reduction_t, detail::InputArchive& ar);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// Sets the flag and wakes every waiter of every process.
  void set();
  /// Clears the flag.
  void clear();
  /// The flag.
  [[nodiscard]] bool is_set() const;
  /// Waits until the flag is set or the timeout expires; returns the flag (false on timeout).
  bool wait(std::optional<Timeout> timeout = std::nullopt);

  /// Records a handle of this object for a child process (reduction.hpp).
  void reduce(detail::OutputArchive& ar) const;

 private:
  detail::EventState* state() const noexcept;
  detail::SharedRegion m_region;  // holds one detail::EventState
};

/// multiprocessing.Condition: a condition variable shared between processes, over a
/// process-shared Lock or RLock. Lockable (locks its lock).
class CONCUR_API Condition {
 public:
  /// A condition with its own RLock (Python's default).
  Condition();
  /// A condition over `lock`, which must outlive it.
  explicit Condition(Lock& lock);
  /// A condition over `lock`, which must outlive it.
  explicit Condition(RLock& lock);
  /// A handle, in a child, of the condition another process reduced, with a handle of its lock
  /// of its own (reduction.hpp).
  Condition(from_reduction_t, detail::InputArchive& ar);
  ~Condition();
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  /// Acquires the underlying lock (see Lock::acquire / RLock::acquire).
  bool acquire(bool blocking = true, std::optional<Timeout> timeout = std::nullopt);
  /// Releases the underlying lock.
  void release();
  /// Lockable, for std::scoped_lock and std::unique_lock: lock() is acquire(), unlock() is
  /// release(), try_lock() is acquire(false).
  /// @{
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }
  ///@}

  /// Releases the lock (every level of an RLock), sleeps until notified or the timeout, then
  /// re-acquires it. Returns false when the timeout expired without a notification.
  /// RuntimeError when the calling thread does not hold the lock.
  bool wait(std::optional<Timeout> timeout = std::nullopt);
  /// Waits until `predicate()` is true or the timeout expires; returns the predicate's last
  /// value. The predicate is evaluated with the lock held.
  template <class Predicate>
  bool wait_for(Predicate predicate, std::optional<Timeout> timeout = std::nullopt);
  /// Wakes up to `n` threads waiting on this condition (in any process). RuntimeError when the
  /// calling thread does not hold the lock.
  void notify(std::size_t n = 1);
  /// Wakes every waiting thread. RuntimeError when the calling thread does not hold the lock.
  void notify_all();

  /// Records a handle of this object for a child process (reduction.hpp).
  void reduce(detail::OutputArchive& ar) const;

 private:
  detail::LockState* lock_state() const noexcept;
  bool holds_lock() const;
  std::optional<RLock> m_own_lock;  // engaged for Condition(), and rebuilt over an RLock
  std::optional<Lock> m_own_plain_lock;  // engaged when rebuilt over a Lock
  Lock* m_lock = nullptr;           // exactly one of m_lock and m_rlock is non-null
  RLock* m_rlock = nullptr;
  detail::SharedRegion m_region;    // holds one detail::ConditionState
};

/// Options of Barrier, Python's keyword arguments.
struct BarrierOptions {
  /// Called by one of the waiters (the last to arrive) before they are released, in that
  /// waiter's process. If it throws, the barrier breaks and that waiter rethrows.
  std::function<void()> action = {};
  /// Default timeout of wait().
  std::optional<Timeout> timeout = std::nullopt;
};

/// multiprocessing.Barrier: `parties` threads (of any processes) wait until all have arrived.
class CONCUR_API Barrier {
 public:
  /// ValueError when parties < 1.
  explicit Barrier(std::ptrdiff_t parties, BarrierOptions options = {});
  /// A handle, in a child, of the barrier another process reduced (reduction.hpp); it has the
  /// default timeout of the original and no action.
  Barrier(from_reduction_t, detail::InputArchive& ar);
  ~Barrier();
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  /// Waits until `parties` threads are waiting, then releases them all. Returns an index in
  /// [0, parties), distinct for each thread of a generation. BrokenBarrierError when the
  /// barrier is or becomes broken (abort(), reset() while waiting, a timeout — the constructor's
  /// when none is given here —, an action that threw).
  std::ptrdiff_t wait(std::optional<Timeout> timeout = std::nullopt);
  /// Returns the barrier to its initial state; threads waiting get BrokenBarrierError.
  void reset();
  /// Puts the barrier in the broken state: current and future wait()s fail.
  void abort();
  /// The number of threads needed to pass.
  [[nodiscard]] std::ptrdiff_t parties() const;
  /// The number of threads currently waiting.
  [[nodiscard]] std::ptrdiff_t n_waiting() const;
  /// Whether the barrier is broken.
  [[nodiscard]] bool broken() const;

  /// Records a handle of this barrier for a child process (reduction.hpp). ValueError when it
  /// has an action (a std::function of this process cannot reach another).
  void reduce(detail::OutputArchive& ar) const;

 private:
  detail::BarrierState* state() const noexcept;
  BarrierOptions m_options;       // per process: the action runs where the last waiter is
  detail::SharedRegion m_region;  // holds one detail::BarrierState
};

template <class Predicate>
bool Condition::wait_for(Predicate predicate, std::optional<Timeout> timeout) {
  const auto deadline = timeout ? concur::detail::deadline_after(*timeout)
                                : std::chrono::steady_clock::time_point::max();
  bool result = predicate();
  while (!result) {
    std::optional<Timeout> left;
    if (timeout) {
      left = std::chrono::duration_cast<Timeout>(deadline - std::chrono::steady_clock::now());
      if (*left <= Timeout::zero()) break;
    }
    wait(left);
    result = predicate();
  }
  return result;
}

}  // namespace concur::multiprocessing
