// SPDX-License-Identifier: MIT
// concur::futures::wait / as_completed: the Waiter a future tells when it is done.
#include "concur/futures/wait.hpp"

namespace concur::futures::detail {

void Waiter::on_done(StateBase& state) noexcept {
  std::lock_guard lock(m_mutex);
  ++m_done_count;
  if (finished_with_exception(state)) m_exception_seen = true;
  // Never reallocates: the capacity is the number of futures this waiter is registered with.
  if (m_finished.size() < m_finished.capacity()) m_finished.push_back(&state);
  m_cv.notify_one();
}

}  // namespace concur::futures::detail
