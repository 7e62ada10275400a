// SPDX-License-Identifier: MIT
// concur/asyncio/taskgroups.hpp — TaskGroup (Python's asyncio.TaskGroup, structured concurrency).
//
//   co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<void> {
//     auto a = tg.create_task(fetch("a"));
//     (void)tg.create_task(fetch("b"));  // Task is [[nodiscard]] (a forgotten co_await is a
//     co_return;                         // bug); discard a handle you do not need with (void)
//   });                                  // returns when every task of the group is done
//
// Python writes `async with asyncio.TaskGroup() as tg:`; C++ has no asynchronous destructor,
// so the body is a coroutine (usually a lambda) given to task_group(), which enters the group,
// runs the body, then waits for the group's tasks (Python's __aexit__). The explicit form is
//   asyncio::TaskGroup tg;  tg.create_task(...);  co_await tg.join(body_exception);
// where the code must pass the exception its body ended with (task_group() does this for you).
//
// Semantics are Python's 3.13: the first task that fails cancels the others and the task that
// entered the group (the body is interrupted at its current co_await); join() waits for them all
// and throws an ExceptionGroup holding every failure, in the order they happened (CancelledError
// of the cancelled siblings is not a failure). An exception of the body is added to the group;
// if the body is cancelled from outside, the tasks are cancelled and CancelledError propagates.
// The group uses uncancel() so that its own cancellation of the parent is not mistaken for an
// outside one. When an outside cancellation meets failures (the parent is cancelled while a
// task fails), the ExceptionGroup is thrown and the cancellation is kept: the parent is
// cancelled again (uncancel() + cancel(), as Python's __aexit__), so the code that handles the
// group gets CancelledError at its next co_await that suspends, and cancelling() is unchanged.
//
// Thread safety: loop thread only. Lifetime: a TaskGroup must not be destroyed while its tasks
// run; if it is (join() never awaited), its tasks are cancelled and the misuse is reported.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "concur/asyncio/events.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/errors.hpp"
#include "concur/export.hpp"

namespace concur::asyncio {

/// A group of tasks that ends together (Python's asyncio.TaskGroup): create_task() adds tasks,
/// join() waits for all of them, and the first one that fails cancels the others and the task
/// that entered the group. Usually entered through task_group(). See the file comment for the
/// semantics; loop thread only; it must not be destroyed while its tasks run.
class CONCUR_API TaskGroup {
 public:
  /// Enters the group (Python's __aenter__) in the current task. RuntimeError outside a task.
  TaskGroup();
  /// See "Lifetime" above.
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  /// Schedules `coro` as a task of the group and returns it. RuntimeError if the group is
  /// finished or shutting down (a task failed or the body was cancelled).
  template <class T>
  Task<T> create_task(Task<T> coro, std::string name = {}) {
    try {
      check_can_create();
    } catch (...) {
      if (coro) coro.promise().m_closed_unstarted = true;  // Python's coro.close(): no never-awaited report
      throw;
    }
    Task<T> task = m_loop->create_task(std::move(coro), std::move(name));
    track(task.promise());
    return task;
  }

  /// Python's __aexit__: waits for every task; throws ExceptionGroup if any failed (or the
  /// body's `body_exception`, which must be the exception the body ended with, if any).
  Task<void> join(std::exception_ptr body_exception = nullptr);

  /// The number of tasks of the group that are not done.
  [[nodiscard]] std::size_t size() const noexcept { return m_count; }

 private:
  /// One task of the group: linked to the task while it runs, then queued on the loop so that
  /// the group reacts in the next iteration, as Python's done callback does (two tasks failing
  /// in one iteration are both reported, neither is cancelled by the other).
  struct Child final : detail::DoneLink, detail::ReadyNode {
    void run_ready() noexcept override;
    void discard_ready() noexcept override;
    TaskGroup* m_group = nullptr;  // null once the group is gone (the child then deletes itself)
    detail::PromiseBase* m_task = nullptr;
    TaskBase m_keep;               // a reference: the group holds its tasks (Python's _tasks set)
    Child* m_prev = nullptr;       // the group's list of children
    Child* m_next = nullptr;
  };
  /// join()'s wait for the last task (Python's _on_completed_fut).
  class [[nodiscard]] Completed final : public detail::Waiter {
   public:
    explicit Completed(TaskGroup& group) noexcept : m_group(&group) {}
    bool await_ready() const noexcept { return m_group->m_count == 0; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      m_root = detail::root_of(h);
      m_group->m_joiner = this;
      m_root->suspend(h, this);
    }
    void await_resume() {
      if (m_root != nullptr) m_root->resume_point(m_cancelled);
    }
    bool cancel() noexcept override;
    void wake() noexcept;

   private:
    TaskGroup* m_group;
    detail::PromiseBase* m_root = nullptr;
    bool m_cancelled = false;
  };

  void check_can_create() const;
  void track(detail::PromiseBase& task);
  void abort() noexcept;
  void on_task_done(Child* child) noexcept;
  void unlink(Child* child) noexcept;

  EventLoop* m_loop;
  detail::PromiseBase* m_parent;           // the task that entered the group (it awaits join())
  Child* m_first = nullptr;                // children not yet handled, in creation order (owned: new/delete)
  Child* m_last = nullptr;
  std::size_t m_count = 0;
  std::vector<std::exception_ptr> m_errors;
  Completed* m_joiner = nullptr;           // join() waiting for the last task
  bool m_exiting = false;
  bool m_aborting = false;
  bool m_parent_cancel_requested = false;
};

namespace detail {
template <class F>
using group_body_t = std::invoke_result_t<F&, TaskGroup&>;
}  // namespace detail

/// Runs `body(tg)` (a callable returning a Task) in a new TaskGroup, then waits for the group's
/// tasks; returns the body's value. See the file comment for the exceptions.
template <class F>
  requires std::is_invocable_v<F&, TaskGroup&>
auto task_group(F body) -> Task<typename detail::group_body_t<F>::value_type> {
  using T = typename detail::group_body_t<F>::value_type;
  TaskGroup tg;
  std::exception_ptr error;
  std::optional<detail::value_t<T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await body(tg);
    } else {
      value.emplace(co_await body(tg));
    }
  } catch (...) {
    error = std::current_exception();
  }
  co_await tg.join(error);
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

}  // namespace concur::asyncio
