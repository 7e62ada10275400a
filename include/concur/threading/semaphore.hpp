// SPDX-License-Identifier: MIT
// concur/threading/semaphore.hpp — Semaphore and BoundedSemaphore, Python's threading ones.
//
// A Semaphore holds a counter: acquire() decrements it, waiting while it is zero; release(n)
// increments it by n and wakes up to n waiters. BoundedSemaphore additionally refuses to be
// released above its initial value (ValueError "Semaphore released too many times"), which
// catches the classic bug of releasing more often than acquiring.
//
//   Semaphore(value = 1)                  ValueError if value < 0
//   acquire(blocking = true, timeout) -> bool
//   release(n = 1)                        ValueError if n < 1 (or, bounded, above the initial value)
//   lock() / unlock() / try_lock()        Lockable, so std::scoped_lock works
//
// acquire(false, timeout) throws ValueError as in Python; a zero or negative timeout tries once.
// Wake-up order is not specified (as in Python).
//
// Memory ordering: a release happens-before the acquire that takes the count it added.
// Thread safety: every member may be called from any thread. Lifetime: no thread may be blocked
// in acquire() when the semaphore is destroyed.
//
// Implementation: std::mutex + std::condition_variable, the standard tools; a semaphore is not
// on any measured hot path, and this keeps timeouts exact (std::counting_semaphore has no
// release-above-bound check and its timed waits are less predictable across implementations).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <limits>
#include <mutex>
#include <optional>

#include "concur/export.hpp"
#include "concur/timeout.hpp"

namespace concur::threading {

/// threading.Semaphore: a counter that acquire() decrements and release() increments.
class CONCUR_API Semaphore {
 public:
  /// A semaphore with initial counter `value`. Throws ValueError if `value` is negative.
  explicit Semaphore(std::ptrdiff_t value = 1) : Semaphore(value, std::numeric_limits<std::ptrdiff_t>::max()) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  ~Semaphore() = default;

  /// Decrements the counter, waiting (if `blocking`) up to `timeout` (forever when nullopt)
  /// while it is zero. Returns true if decremented, false otherwise.
  /// Throws ValueError for a timeout with blocking=false.
  bool acquire(bool blocking = true, std::optional<Timeout> timeout = std::nullopt);

  /// Adds `n` to the counter and wakes up to `n` waiters. Throws ValueError if `n` is 0, or if
  /// the counter would exceed its bound (BoundedSemaphore) or the largest std::ptrdiff_t.
  void release(std::size_t n = 1);

  /// Lockable: acquire().
  void lock() { acquire(); }
  /// Lockable: release().
  void unlock() { release(); }
  /// Lockable: acquire(false).
  bool try_lock() { return acquire(false); }

 protected:
  /// A semaphore whose counter may never exceed `bound`.
  Semaphore(std::ptrdiff_t value, std::ptrdiff_t bound);

 private:
  std::mutex m_mutex;
  std::condition_variable m_released;  // notified by release(); waited on by acquire()
  std::ptrdiff_t m_value;              // guarded by m_mutex; 0 <= m_value <= m_bound
  const std::ptrdiff_t m_bound;        // the initial value (BoundedSemaphore) or ptrdiff_t max
};

/// threading.BoundedSemaphore: a Semaphore that may not be released above its initial value.
class BoundedSemaphore : public Semaphore {
 public:
  /// A semaphore with initial (and maximum) counter `value`. ValueError if `value` is negative.
  explicit BoundedSemaphore(std::ptrdiff_t value = 1) : Semaphore(value, value) {}
};

}  // namespace concur::threading
