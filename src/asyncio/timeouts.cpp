// SPDX-License-Identifier: MIT
// TimeoutScope: Python's asyncio.Timeout state machine.
#include "concur/asyncio/timeouts.hpp"

#include <fmt/core.h>

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

namespace {
/// Python's names of the states, as its messages show them.
const char* state_name(TimeoutScope::State state) noexcept {
  switch (state) {
    case TimeoutScope::State::created: return "created";
    case TimeoutScope::State::entered: return "active";
    case TimeoutScope::State::expiring: return "expiring";
    case TimeoutScope::State::expired: return "expired";
    case TimeoutScope::State::exited: return "finished";
  }
  return "unknown";
}
}  // namespace

void TimeoutScope::reschedule(std::optional<double> when) {
  if (m_state != State::entered) {
    if (m_state == State::created) throw RuntimeError("Timeout has not been entered");
    throw RuntimeError(fmt::format("Cannot change state of {} Timeout", state_name(m_state)));
  }
  m_when = when;
  m_handle.cancel();
  m_handle = {};
  if (!when.has_value()) return;
  EventLoop& loop = get_running_loop();
  if (*when <= loop.time()) {
    // Already due: expire before the block's next step, whatever the timers' resolution
    // (a timer would fire at the earliest when its clock tick ends).
    m_handle = loop.call_soon([this] { on_timeout(); });
  } else {
    m_handle = loop.call_at(*when, [this] { on_timeout(); });
  }
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
