// SPDX-License-Identifier: MIT
// TimeoutScope: Python's asyncio.Timeout state machine.
#include "concur/asyncio/timeouts.hpp"

#include <cassert>

namespace concur::asyncio {

namespace detail {
std::optional<double> deadline_from(std::optional<Timeout> delay) {
  if (!delay.has_value()) return std::nullopt;
  return get_running_loop().time() + delay->count();
}
}  // namespace detail

void TimeoutScope::enter() {
  if (m_state != State::created) throw RuntimeError("Timeout has already been entered");
  EventLoop& loop = get_running_loop();
  detail::PromiseBase* task = loop.current_promise();
  if (task == nullptr) throw RuntimeError("Timeout should be used inside a task");
  m_state = State::entered;
  m_task = task;
  m_cancelling = task->m_num_cancels_requested;
  reschedule(m_when);
}

void TimeoutScope::reschedule(std::optional<double> when) {
  if (m_state != State::entered) {
    if (m_state == State::created) throw RuntimeError("Timeout has not been entered");
    throw RuntimeError("Cannot change state of a Timeout that expired or exited");
  }
  m_when = when;
  m_handle.cancel();
  m_handle = {};
  // A deadline already past fires at the next iteration.
  if (when.has_value()) m_handle = get_running_loop().call_at(*when, [this] { on_timeout(); });
}

void TimeoutScope::on_timeout() noexcept {
  assert(m_state == State::entered);
  m_handle = {};
  try {
    m_task->cancel({});
  } catch (...) {
  }
  m_state = State::expiring;
}

void TimeoutScope::exit(const std::exception_ptr& error) {
  assert(m_state == State::entered || m_state == State::expiring);
  m_handle.cancel();
  m_handle = {};
  if (m_state == State::expiring) {
    m_state = State::expired;
    if (m_task->uncancel() <= m_cancelling && error) {
      // No other cancellation is pending: the CancelledError is ours to turn into TimeoutError.
      try {
        std::rethrow_exception(error);
      } catch (const CancelledError&) {
        throw TimeoutError();
      } catch (...) {
      }
    }
  } else if (m_state == State::entered) {
    m_state = State::exited;
  }
}

}  // namespace concur::asyncio
