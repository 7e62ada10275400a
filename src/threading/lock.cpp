// SPDX-License-Identifier: MIT
// Slow paths of Lock (waiting, waking, misuse) and the timeout check shared by the locks.
#include "concur/threading/lock.hpp"

#include <cassert>
#include <cmath>

#include "concur/errors.hpp"

namespace concur::threading {

namespace detail {
void check_lock_timeout(bool blocking, const std::optional<Timeout>& timeout) {
  if (!timeout) return;
  if (!blocking) throw ValueError("can't specify a timeout for a non-blocking call");
  if (!(timeout->count() >= 0.0)) throw ValueError("timeout value must be a non-negative number");
}
}  // namespace detail

bool Lock::acquire_slow(bool blocking, const std::optional<Timeout>& timeout) {
  if (!blocking) return false;  // the fast path's compare-and-swap already failed once
  const auto deadline = timeout ? concur::detail::deadline_after(*timeout) : std::chrono::steady_clock::time_point::max();
  if (timeout && *timeout <= Timeout::zero()) {
    std::uint32_t expected = k_free;
    // acquire on success / relaxed on failure: as in the inline fast path.
    return m_state.compare_exchange_strong(expected, k_locked, std::memory_order_acquire, std::memory_order_relaxed);
  }
  // Mark the lock contended before sleeping so the holder's release knows to wake someone. If the
  // exchange returns `k_free`, we took the lock (marked contended: we cannot know whether others
  // sleep; the cost is one needless wake). acquire: as in the fast path.
  std::uint32_t seen = m_state.exchange(k_contended, std::memory_order_acquire);
  while (seen != k_free) {
    if (!detail::futex_wait_until(m_state, k_contended, deadline)) {
      // Timed out; one last try, so that a release racing with the deadline is not wasted.
      seen = m_state.exchange(k_contended, std::memory_order_acquire);
      return seen == k_free;
    }
    seen = m_state.exchange(k_contended, std::memory_order_acquire);
  }
  return true;
}

void Lock::release_slow(std::uint32_t seen) {
  if (seen == k_free) throw RuntimeError("release unlocked lock");
  assert(seen == k_contended);
  // release: as in the fast path. Then wake one sleeper; it re-marks the word `k_contended`.
  m_state.store(k_free, std::memory_order_release);
  detail::futex_wake(m_state, 1);
}

void RLock::throw_not_owned() { throw RuntimeError("cannot release un-acquired lock"); }

}  // namespace concur::threading
