// SPDX-License-Identifier: MIT
// Semaphore and BoundedSemaphore.
#include "concur/threading/semaphore.hpp"

#include <cassert>

#include "concur/errors.hpp"

namespace concur::threading {

Semaphore::Semaphore(std::ptrdiff_t value, std::ptrdiff_t bound) : m_value(value), m_bound(bound) {
  if (value < 0) throw ValueError("semaphore initial value must be >= 0");
}

bool Semaphore::acquire(bool blocking, std::optional<Timeout> timeout) {
  if (!blocking && timeout) throw ValueError("can't specify timeout for non-blocking acquire");
  std::unique_lock hold(m_mutex);
  if (m_value == 0) {
    if (!blocking) return false;
    const auto has_count = [this] { return m_value > 0; };
    const auto deadline = timeout ? concur::detail::deadline_after(*timeout) : std::chrono::steady_clock::time_point::max();
    if (deadline == std::chrono::steady_clock::time_point::max()) {  // no timeout, or a practically infinite one
      m_released.wait(hold, has_count);
    } else if (!m_released.wait_until(hold, deadline, has_count)) {
      return false;
    }
  }
  assert(m_value > 0);
  --m_value;
  return true;
}

void Semaphore::release(std::size_t n) {
  if (n < 1) throw ValueError("n must be one or more");
  // Notify with the mutex held: a woken acquirer may destroy the semaphore as soon as it can
  // take the mutex, so nothing may touch *this after the mutex is released.
  const std::scoped_lock hold(m_mutex);
  if (n > static_cast<std::size_t>(m_bound - m_value)) {
    if (m_bound == std::numeric_limits<std::ptrdiff_t>::max()) throw ValueError("semaphore value overflow");
    throw ValueError("Semaphore released too many times");
  }
  m_value += static_cast<std::ptrdiff_t>(n);
  if (n == 1) {
    m_released.notify_one();
  } else {
    // notify_all rather than n notify_one: waking more than n costs them a re-check, and it is
    // one system call instead of n.
    m_released.notify_all();
  }
}

}  // namespace concur::threading
