// SPDX-License-Identifier: MIT
// Event's slow paths: raising the flag and waking, sleeping until raised.
#include "concur/threading/event.hpp"

namespace concur::threading {

void Event::set_slow() noexcept {
  // relaxed: only a first guess for the compare-and-swap below, which does the ordering.
  std::uint32_t seen = m_state.load(std::memory_order_relaxed);
  std::uint32_t next = 0;
  do {
    if ((seen & flag_bit) != 0) return;  // raised meanwhile by another set()
    next = ((seen & ~(flag_bit | sleepers_bit)) + generation_one) | flag_bit;
    // release: publishes the setter's earlier writes to waiters that observe the flag (acquire).
    // relaxed on failure: we only retry with the value read.
  } while (!m_state.compare_exchange_weak(seen, next, std::memory_order_release, std::memory_order_relaxed));
  if ((seen & sleepers_bit) != 0) detail::futex_wake(m_state, detail::futex_wake_all);
}

bool Event::wait_slow(const std::optional<Timeout>& timeout) noexcept {
  if (timeout && *timeout <= Timeout::zero()) return is_set();
  const auto deadline = timeout ? concur::detail::deadline_after(*timeout) : std::chrono::steady_clock::time_point::max();
  // acquire: a raised flag read here must make the setter's writes visible (pairs with set).
  std::uint32_t seen = m_state.load(std::memory_order_acquire);
  const std::uint32_t generation = seen & ~(flag_bit | sleepers_bit);
  for (;;) {
    if ((seen & flag_bit) != 0 || (seen & ~(flag_bit | sleepers_bit)) != generation) return true;
    if ((seen & sleepers_bit) == 0) {
      // Announce a sleeper so set() knows to wake. acquire (both ways): whatever value is read
      // here may be the one that shows the flag raised, and then set()'s writes must be visible.
      if (!m_state.compare_exchange_weak(seen, seen | sleepers_bit, std::memory_order_acquire))
        continue;
      seen |= sleepers_bit;
    }
    const bool woken = detail::futex_wait_until(m_state, seen, deadline);
    seen = m_state.load(std::memory_order_acquire);
    if (!woken) {
      return (seen & flag_bit) != 0 || (seen & ~(flag_bit | sleepers_bit)) != generation;
    }
  }
}

}  // namespace concur::threading
