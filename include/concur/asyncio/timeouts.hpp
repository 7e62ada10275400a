// SPDX-License-Identifier: MIT
// concur/asyncio/timeouts.hpp — timeout, timeout_at, wait_for (Python's asyncio.timeouts and
// asyncio.wait_for).
//
//   int v = co_await asyncio::wait_for(fetch(), 2s);        // TimeoutError after 2 s
//   co_await asyncio::timeout(2s, [&]() -> asyncio::Task<void> {   // a block under a deadline
//     co_await step1();
//     co_await step2();
//   });
//   co_await asyncio::timeout(5s, [&](asyncio::TimeoutScope& cm) -> asyncio::Task<void> {
//     cm.reschedule(asyncio::get_running_loop().time() + 10);   // move the deadline
//     co_await work();
//   });
//
// Python writes `async with asyncio.timeout(2):`; C++ has no asynchronous destructor, so the
// block is a coroutine (usually a lambda) passed to timeout(). Semantics are Python's 3.13: the
// block runs inside the current task (no new task); when the deadline passes the task is
// cancelled, the block unwinds with CancelledError, and timeout() turns it into TimeoutError —
// unless somebody else also cancelled the task (uncancel() counting), in which case
// CancelledError propagates. A deadline of nullopt means none; one already due (timeout(0s),
// a negative delay, a past timeout_at) expires with call_soon, before the block's next step:
// a block that suspends even once (sleep(0s)) gets TimeoutError.
//
// wait_for(aw, timeout) is Python 3.12's: `aw` (a coroutine, or a task) is awaited under
// timeout(); on expiry it is cancelled and awaited before TimeoutError is thrown. A timeout
// <= 0 cancels it at once (after wrapping a coroutine in a task) unless it is already done.
//
// The deadline object is `TimeoutScope` (Python's asyncio.Timeout: when, reschedule, expired);
// the name differs because concur::Timeout is already the duration type of every timeout.
//
// Differences from Python: an exception other than CancelledError raised after the deadline
// passes propagates unchanged (Python chains a TimeoutError into its __context__).
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "concur/asyncio/events.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/asyncio/tasks.hpp"
#include "concur/errors.hpp"
#include "concur/export.hpp"
#include "concur/timeout.hpp"

namespace concur::asyncio {

/// The deadline of a timeout() block (Python's asyncio.Timeout). Lives in the block's frame.
class CONCUR_API TimeoutScope {
 public:
  /// States as in Python: created -> entered -> (expiring -> expired | exited).
  enum class State { created, entered, expiring, expired, exited };

  /// A scope expiring at loop time `when` (nullopt: never).
  explicit TimeoutScope(std::optional<double> when) noexcept : m_when(when) {}
  TimeoutScope(const TimeoutScope&) = delete;
  TimeoutScope& operator=(const TimeoutScope&) = delete;
  ~TimeoutScope() { m_handle.cancel(); }

  /// The deadline in loop time (EventLoop::time()), or nullopt.
  [[nodiscard]] std::optional<double> when() const noexcept { return m_when; }
  /// Moves the deadline (nullopt: none). RuntimeError unless inside the block ("Cannot change
  /// state of expiring/expired/finished Timeout" once the deadline passed or the block ended).
  void reschedule(std::optional<double> when);
  /// True once the deadline passed (the task was cancelled by it).
  [[nodiscard]] bool expired() const noexcept { return m_state == State::expiring || m_state == State::expired; }
  /// Where the scope is in its life (see State): entered by enter(), expiring when the
  /// deadline cancelled the task, expired or exited after exit().
  [[nodiscard]] State state() const noexcept { return m_state; }

  /// Python's __aenter__: binds the current task. RuntimeError outside a task or if entered.
  void enter();
  /// Python's __aexit__ with the block's exception (null if none): throws TimeoutError when the
  /// deadline caused the block's CancelledError; returns otherwise (the caller rethrows).
  void exit(const std::exception_ptr& error);

 private:
  void on_timeout() noexcept;
  std::optional<double> m_when;
  State m_state = State::created;
  detail::PromiseBase* m_task = nullptr;  // the task of the block (not a reference: the block is inside it)
  std::size_t m_cancelling = 0;  // the task's cancelling() when entered
  Handle m_handle;               // the scheduled expiry (call_at, or call_soon if already due), if any
};

namespace detail {

template <class F>
auto invoke_block(F& body, TimeoutScope& scope) {
  if constexpr (std::is_invocable_v<F&, TimeoutScope&>) {
    return body(scope);
  } else {
    return body();
  }
}
/// The Task type a block returns (no type when F is not a block: SFINAE-friendly).
template <class F>
struct block_result {};
template <class F>
  requires std::is_invocable_v<F&, TimeoutScope&>
struct block_result<F> {
  using type = std::invoke_result_t<F&, TimeoutScope&>;
};
template <class F>
  requires(!std::is_invocable_v<F&, TimeoutScope&> && std::is_invocable_v<F&>)
struct block_result<F> {
  using type = std::invoke_result_t<F&>;
};
template <class F>
using block_task_t = typename block_result<F>::type;

template <class T, class F>
Task<T> run_with_timeout(std::optional<double> when, F body) {
  TimeoutScope scope(when);
  scope.enter();
  std::exception_ptr error;
  std::optional<value_t<T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await invoke_block(body, scope);
    } else {
      value.emplace(co_await invoke_block(body, scope));
    }
  } catch (...) {
    error = std::current_exception();
  }
  scope.exit(error);
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

CONCUR_API std::optional<double> deadline_from(std::optional<Timeout> delay);

}  // namespace detail

/// Runs `block` (a callable returning a Task, taking a TimeoutScope& or nothing) inside the
/// current task with a deadline `delay` from now; TimeoutError if it passes. Returns the
/// block's value.
template <class F>
  requires std::is_invocable_v<F&, TimeoutScope&> || std::is_invocable_v<F&>
auto timeout(std::optional<Timeout> delay, F block) -> Task<typename detail::block_task_t<F>::value_type> {
  using T = typename detail::block_task_t<F>::value_type;
  return detail::run_with_timeout<T>(detail::deadline_from(delay), std::move(block));
}
/// As timeout(delay, block) with an absolute deadline in loop time (nullopt: none).
template <class F>
  requires std::is_invocable_v<F&, TimeoutScope&> || std::is_invocable_v<F&>
auto timeout_at(std::optional<double> when, F block) -> Task<typename detail::block_task_t<F>::value_type> {
  using T = typename detail::block_task_t<F>::value_type;
  return detail::run_with_timeout<T>(when, std::move(block));
}
/// timeout() over one coroutine or task: `co_await asyncio::timeout(2s, fetch())`.
template <class T>
Task<T> timeout(std::optional<Timeout> delay, Task<T> aw) {
  return detail::run_with_timeout<T>(detail::deadline_from(delay), [aw = std::move(aw)]() mutable { return std::move(aw); });
}

namespace detail {
template <class T>
Task<T> wait_for_now(Task<T> aw) {
  ensure_task(get_running_loop(), aw);
  if (!aw.done()) {
    aw.cancel();
    co_await DoneAwaiter(aw.promise());  // cancelling us does not cancel it again
  }
  try {
    if constexpr (std::is_void_v<T>) {
      take_result(aw.promise(), true);
    } else {
      co_return take_result(aw.promise(), aw.promise().refs() == 1);
    }
  } catch (const CancelledError&) {
    throw TimeoutError();
  }
}
}  // namespace detail

/// Waits for `aw` (a coroutine or a task) at most `timeout` (nullopt: forever); on expiry
/// cancels it, waits for it to finish and throws TimeoutError (Python 3.12's wait_for).
template <class T>
Task<T> wait_for(Task<T> aw, std::optional<Timeout> timeout) {
  if (timeout.has_value() && timeout->count() <= 0) return detail::wait_for_now(std::move(aw));
  return asyncio::timeout(timeout, std::move(aw));
}

}  // namespace concur::asyncio
