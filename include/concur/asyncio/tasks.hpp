// SPDX-License-Identifier: MIT
// concur/asyncio/tasks.hpp — sleep, gather, wait, as_completed, shield (Python's asyncio.tasks).
//
//   co_await asyncio::sleep(1500ms);          suspends the task; sleep(0s) yields one iteration
//   auto [a, b] = co_await asyncio::gather(fetch("a"), fetch("b"));        std::tuple
//   std::vector<int> all = co_await asyncio::gather(tasks);               a range -> std::vector
//   auto [ra, rb] = co_await asyncio::gather(asyncio::return_exceptions, x(), y());
//                                             each a std::variant<value, std::exception_ptr>
//   auto [done, pending] = co_await asyncio::wait(tasks, 2s, asyncio::FIRST_COMPLETED);
//   for (auto next : asyncio::as_completed(tasks)) { int v = co_await next; }
//   int v = co_await asyncio::shield(task);   cancelling the awaiter does not cancel `task`
//
// Semantics are Python's 3.13:
//  * gather() schedules its coroutines as tasks at once (like Python, before it is awaited).
//    Without return_exceptions the first exception (a cancelled child counts as CancelledError)
//    reaches the awaiter at once and the other children keep running. With return_exceptions
//    every outcome is returned in order. Cancelling the awaiting task, or a task running the
//    gather (create_task(gather(...)), wait_for(gather(...), t)), cancels every child that is
//    not done, whenever it happens (even before that task's first step); the awaiter then gets
//    CancelledError. A task running a gather is Python's gathering future: its cancel() is the
//    gather's, which returns false and keeps the result once every child is done (bpo-26923),
//    and its cancelling() stays 0.
//  * wait() never raises TimeoutError: on timeout it returns what is done and what is pending.
//    It takes tasks (coroutines are wrapped in tasks, which Python 3.11+ refuses).
//  * as_completed(): each awaitable it yields returns the next result to finish (or throws its
//    exception); after the timeout they throw TimeoutError. The tasks are not cancelled.
//  * shield(t): the awaiter's cancellation throws CancelledError at the awaiter while `t` runs
//    on; if `t` itself is cancelled, the awaiter gets CancelledError.
//
// A void task's value is std::monostate in gather's results.
// Thread safety: loop thread only, as every asyncio function.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "concur/asyncio/events.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/errors.hpp"
#include "concur/export.hpp"
#include "concur/timeout.hpp"

namespace concur::asyncio {

namespace detail {

/// `delay` from now in steady-clock nanoseconds, saturating.
CONCUR_API std::int64_t deadline_after_ns(Timeout delay) noexcept;

/// The awaiter of sleep(): a timer in the task's frame (no allocation).
class [[nodiscard]] SleepAwaiter final : public Waiter, public TimerNode {
 public:
  explicit SleepAwaiter(Timeout delay) noexcept : m_delay(delay) {}
  SleepAwaiter(const SleepAwaiter&) = delete;
  SleepAwaiter& operator=(const SleepAwaiter&) = delete;
  ~SleepAwaiter() {
    if (armed()) m_root->m_loop->remove_timer(this);
  }
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    m_root = root_of(h);
    if (m_delay.count() <= 0) {  // a bare yield: run again next iteration
      m_root->suspend(h, nullptr);
      m_root->wake();
      return;
    }
    m_fire = &on_fire;
    m_root->m_loop->add_timer(this, deadline_after_ns(m_delay));
    m_root->suspend(h, this);
  }
  void await_resume() { m_root->resume_point(m_cancelled); }
  bool cancel() noexcept override {
    if (!armed()) return false;  // already fired: the task is scheduled
    m_root->m_loop->remove_timer(this);
    m_cancelled = true;
    m_root->wake();
    return true;
  }

 private:
  static void on_fire(TimerNode* timer) noexcept { static_cast<SleepAwaiter*>(timer)->m_root->wake(); }
  Timeout m_delay;
  PromiseBase* m_root = nullptr;
  bool m_cancelled = false;
};

/// gather()'s state (Python's _GatheringFuture): waits for a set of tasks, all of them or
/// (fail_fast) until the first one that fails. It links the children when gather() is called,
/// before its coroutine first runs, and is owned by that coroutine's promise as its
/// CancelOverride: cancelling a task that runs the gather, whenever it happens, cancels every
/// child that is not done, and returns false (the result is kept) once all are done.
/// Cancelling a task that awaits the gather inline does the same through the Waiter interface.
class CONCUR_API GatherWaiter final : public Waiter, public CancelOverride {
 public:
  GatherWaiter(std::vector<PromiseBase*> children, bool fail_fast);
  GatherWaiter(const GatherWaiter&) = delete;
  GatherWaiter& operator=(const GatherWaiter&) = delete;
  ~GatherWaiter() override;

  bool await_ready() const noexcept { return m_pending == 0 || m_failed != nullptr; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    m_root = root_of(h);
    m_root->suspend(h, this);
  }
  /// Throws CancelledError if the gather was cancelled, else the first failure (fail_fast).
  void await_resume();
  bool cancel() noexcept override;
  bool cancel_instead(const std::string& message) noexcept override;

 private:
  struct Child : DoneLink {
    GatherWaiter* m_owner = nullptr;
  };
  static void on_child_done(DoneLink* link, PromiseBase& child) noexcept;

  std::vector<PromiseBase*> m_children;  // not owned: the gathering coroutine holds the handles
  std::vector<Child> m_links;            // one per child, linked while the child is pending
  std::size_t m_pending = 0;             // children not done
  PromiseBase* m_failed = nullptr;       // fail_fast: the first child that ended by an exception
  PromiseBase* m_root = nullptr;         // the task suspended on the gather (null until then)
  std::string m_cancel_message;          // of the cancel() the children accepted
  bool m_fail_fast;
  bool m_woken = false;             // m_root was woken, or the gather's result is decided
  bool m_cancel_requested = false;  // Python's outer._cancel_requested
};

/// Waits until a task is done without cancelling it when the awaiter is cancelled (the awaiter
/// gets CancelledError, the task runs on): shield(), and wait_for's cancel-and-wait.
class DoneAwaiter final : public Waiter, public DoneLink {
 public:
  explicit DoneAwaiter(PromiseBase& task) noexcept : m_task(&task) {}
  DoneAwaiter(const DoneAwaiter&) = delete;
  DoneAwaiter& operator=(const DoneAwaiter&) = delete;
  ~DoneAwaiter() {
    if (m_linked_to != nullptr) m_linked_to->remove_done_link(this);
  }
  bool await_ready() const noexcept { return m_task->is_done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    m_root = root_of(h);
    if (m_task == m_root) throw RuntimeError("Task cannot await on itself");
    m_notify = [](DoneLink* link, PromiseBase&) noexcept { static_cast<DoneAwaiter*>(link)->m_root->wake(); };
    m_task->add_done_link(this);
    m_root->suspend(h, this);
  }
  void await_resume() {
    if (m_root != nullptr) m_root->resume_point(m_cancelled);
  }
  bool cancel() noexcept override {
    if (m_linked_to == nullptr) return false;
    m_linked_to->remove_done_link(this);
    m_cancelled = true;
    m_root->wake();
    return true;
  }

 private:
  PromiseBase* m_task;
  PromiseBase* m_root = nullptr;
  bool m_cancelled = false;
};

/// When wait() returns (Python's FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };

/// The awaiter of wait(): a link per task and its own timer. Cancelling it cancels no task.
class CONCUR_API WaitWaiter final : public Waiter, public TimerNode {
 public:
  WaitWaiter(std::vector<PromiseBase*> tasks, std::optional<Timeout> timeout, ReturnWhen when);
  WaitWaiter(const WaitWaiter&) = delete;
  WaitWaiter& operator=(const WaitWaiter&) = delete;
  ~WaitWaiter();
  bool await_ready() const noexcept { return satisfied(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    m_root = root_of(h);
    arm();
    m_root->suspend(h, this);
  }
  void await_resume();
  bool cancel() noexcept override;

 private:
  struct Link : DoneLink {
    WaitWaiter* m_owner = nullptr;
  };
  [[nodiscard]] bool satisfied() const noexcept;
  void arm();
  void finish() noexcept;
  static void on_done(DoneLink* link, PromiseBase& task) noexcept;
  static void on_timeout(TimerNode* timer) noexcept;

  std::vector<PromiseBase*> m_tasks;  // not owned: wait()'s coroutine holds the handles
  std::vector<Link> m_links;
  std::optional<Timeout> m_timeout;
  ReturnWhen m_when;
  PromiseBase* m_root = nullptr;
  std::size_t m_pending = 0;  // tasks not done, counted when armed
  bool m_woken = false;
  bool m_cancelled = false;
};

/// The shared state of as_completed(): tasks in the order they finish.
class CONCUR_API AsCompletedState : public TimerNode {
 public:
  AsCompletedState(std::vector<PromiseBase*> tasks, std::optional<Timeout> timeout);
  AsCompletedState(const AsCompletedState&) = delete;
  AsCompletedState& operator=(const AsCompletedState&) = delete;
  ~AsCompletedState();
  /// One await of the next finished task.
  class Next final : public Waiter {
   public:
    explicit Next(AsCompletedState& state) noexcept : m_state(&state) {}
    Next(const Next&) = delete;
    Next& operator=(const Next&) = delete;
    ~Next();
    bool await_ready() noexcept;
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      m_root = root_of(h);
      m_state->m_waiters.push_back(this);
      m_root->suspend(h, this);
    }
    /// The next task that finished; TimeoutError after the timeout.
    PromiseBase* await_resume();
    bool cancel() noexcept override;

   private:
    friend class AsCompletedState;
    AsCompletedState* m_state;
    PromiseBase* m_root = nullptr;
    PromiseBase* m_result = nullptr;  // the finished task handed to this await (null: timed out)
    bool m_ready = false;
    bool m_cancelled = false;
  };

 private:
  struct Link : DoneLink {
    AsCompletedState* m_owner = nullptr;
  };
  void deliver() noexcept;
  static void on_done(DoneLink* link, PromiseBase& task) noexcept;
  static void on_timeout(TimerNode* timer) noexcept;

  std::vector<PromiseBase*> m_tasks;
  std::vector<Link> m_links;
  std::vector<PromiseBase*> m_done;  // finished, not yet handed out (FIFO from m_done_head)
  std::size_t m_done_head = 0;
  std::vector<Next*> m_waiters;      // awaits waiting for a task, FIFO
  EventLoop* m_loop = nullptr;
  bool m_timed_out = false;
};

template <class T>
using gather_outcome_t = std::variant<value_t<T>, std::exception_ptr>;

/// A task's outcome for gather(return_exceptions): its value or its exception (retrieved).
template <class T>
gather_outcome_t<T> take_outcome(Promise<T>& p) {
  p.m_log_exception = false;
  if (p.m_exception) return gather_outcome_t<T>(std::in_place_index<1>, p.m_exception);
  return gather_outcome_t<T>(std::in_place_index<0>, take_result(p, p.refs() == 1));
}

template <class T>
void ensure_task(EventLoop& loop, Task<T>& t) {
  if (!t) throw RuntimeError("an empty Task cannot be awaited");
  if (t.promise().m_state == PromiseBase::State::created) t = loop.create_task(std::move(t));
  if (t.promise().m_state != PromiseBase::State::pending && t.promise().m_state != PromiseBase::State::done) {
    throw RuntimeError("cannot reuse already awaited coroutine");
  }
}

template <class T>
struct task_value;
template <class T>
struct task_value<Task<T>> {
  using type = T;
};
template <class R>
using range_task_value_t = typename task_value<std::remove_cvref_t<std::ranges::range_value_t<R>>>::type;

// The gathering coroutines. `waiter` is owned by the coroutine's own promise (see
// start_gather), so the reference stays valid as long as the frame; the children's handles
// are parameters, destroyed after the promise: the waiter never outlives them.
template <class... Ts>
Task<std::tuple<value_t<Ts>...>> gather_tuple(GatherWaiter& waiter, Task<Ts>... tasks) {
  co_await waiter;
  co_return std::tuple<value_t<Ts>...>{take_result(tasks.promise(), tasks.promise().refs() == 1)...};
}

template <class... Ts>
Task<std::tuple<gather_outcome_t<Ts>...>> gather_tuple_settled(GatherWaiter& waiter, Task<Ts>... tasks) {
  co_await waiter;
  co_return std::tuple<gather_outcome_t<Ts>...>{take_outcome(tasks.promise())...};
}

template <class T>
Task<std::vector<value_t<T>>> gather_vector(GatherWaiter& waiter, std::vector<Task<T>> tasks) {
  co_await waiter;
  std::vector<value_t<T>> out;
  out.reserve(tasks.size());
  for (auto& t : tasks) out.push_back(take_result(t.promise(), t.promise().refs() == 1));
  co_return out;
}

template <class T>
Task<std::vector<gather_outcome_t<T>>> gather_vector_settled(GatherWaiter& waiter, std::vector<Task<T>> tasks) {
  co_await waiter;
  std::vector<gather_outcome_t<T>> out;
  out.reserve(tasks.size());
  for (auto& t : tasks) out.push_back(take_outcome(t.promise()));
  co_return out;
}

/// Creates gather's state for `children` (linking them now, as Python's gather() does) and the
/// coroutine `make(waiter)` that awaits it, which then owns the state.
template <class Make>
auto start_gather(std::vector<PromiseBase*> children, bool fail_fast, Make make) {
  auto waiter = std::make_unique<GatherWaiter>(std::move(children), fail_fast);
  auto coro = make(*waiter);
  coro.promise().set_cancel_override(std::move(waiter));
  return coro;
}

template <class T>
std::vector<PromiseBase*> promises_of(std::vector<Task<T>>& tasks) {
  std::vector<PromiseBase*> out;
  out.reserve(tasks.size());
  for (auto& t : tasks) out.push_back(&t.promise());
  return out;
}

template <class R>
auto tasks_of(R&& range) {
  using T = range_task_value_t<R>;
  if constexpr (std::is_same_v<R, std::vector<Task<T>>>) {  // an rvalue vector: take it over
    EventLoop& loop = get_running_loop();
    std::vector<Task<T>> tasks = std::move(range);
    for (auto& t : tasks) ensure_task(loop, t);
    return tasks;
  }
  std::vector<Task<T>> tasks;
  if constexpr (std::ranges::sized_range<R>) tasks.reserve(std::ranges::size(range));
  EventLoop& loop = get_running_loop();
  for (auto&& t : range) {
    Task<T> handle(t);  // a copy of the handle: an unstarted coroutine becomes a task for both
    ensure_task(loop, handle);
    tasks.push_back(std::move(handle));
  }
  return tasks;
}

}  // namespace detail

/// Suspends the current task for `delay` (any std::chrono duration). A zero or negative delay
/// yields to the loop once (Python's sleep(0)). CancelledError if the task is cancelled.
inline detail::SleepAwaiter sleep(Timeout delay) noexcept { return detail::SleepAwaiter(delay); }

/// The tag that selects gather's return_exceptions form.
struct ReturnExceptions {};
inline constexpr ReturnExceptions return_exceptions{};

/// Runs the tasks (coroutines are scheduled as tasks now) and returns their values in order,
/// as a std::tuple. The first exception propagates at once. RuntimeError outside a loop.
template <class... Ts>
Task<std::tuple<detail::value_t<Ts>...>> gather(Task<Ts>... tasks) {
  EventLoop& loop = get_running_loop();
  (detail::ensure_task(loop, tasks), ...);
  return detail::start_gather({&tasks.promise()...}, true, [&](detail::GatherWaiter& w) {
    return detail::gather_tuple(w, std::move(tasks)...);
  });
}

/// As gather(), returning each task's value or exception (std::variant<value, exception_ptr>).
template <class... Ts>
Task<std::tuple<detail::gather_outcome_t<Ts>...>> gather(ReturnExceptions, Task<Ts>... tasks) {
  EventLoop& loop = get_running_loop();
  (detail::ensure_task(loop, tasks), ...);
  return detail::start_gather({&tasks.promise()...}, false, [&](detail::GatherWaiter& w) {
    return detail::gather_tuple_settled(w, std::move(tasks)...);
  });
}

/// gather() over a range of Task<T>: a std::vector of the values, in the range's order.
template <std::ranges::input_range R>
Task<std::vector<detail::value_t<detail::range_task_value_t<R>>>> gather(R&& tasks) {
  auto handles = detail::tasks_of(std::forward<R>(tasks));
  return detail::start_gather(detail::promises_of(handles), true, [&](detail::GatherWaiter& w) {
    return detail::gather_vector(w, std::move(handles));
  });
}

/// gather(return_exceptions, range): a std::vector of std::variant<value, exception_ptr>.
template <std::ranges::input_range R>
Task<std::vector<detail::gather_outcome_t<detail::range_task_value_t<R>>>> gather(ReturnExceptions, R&& tasks) {
  auto handles = detail::tasks_of(std::forward<R>(tasks));
  return detail::start_gather(detail::promises_of(handles), false, [&](detail::GatherWaiter& w) {
    return detail::gather_vector_settled(w, std::move(handles));
  });
}

// ---- wait ----------------------------------------------------------------------------------

using detail::ReturnWhen;
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

/// What wait() returns: the tasks done and those still pending, each in the input's order.
template <class T>
struct WaitResult {
  /// The tasks that are done (with a value, an exception, or cancelled).
  std::vector<Task<T>> done;
  /// The tasks not done when wait() returned (its condition held, or the timeout passed).
  std::vector<Task<T>> pending;
};

namespace detail {
template <class T>
Task<WaitResult<T>> wait_impl(std::vector<Task<T>> tasks, std::optional<Timeout> timeout, ReturnWhen when) {
  std::vector<PromiseBase*> ps;
  ps.reserve(tasks.size());
  for (auto& t : tasks) ps.push_back(&t.promise());
  {
    WaitWaiter waiter(std::move(ps), timeout, when);
    co_await waiter;
  }
  WaitResult<T> result;
  for (auto& t : tasks) (t.done() ? result.done : result.pending).push_back(std::move(t));
  co_return result;
}
}  // namespace detail

/// Waits for the tasks of `tasks` (coroutines are wrapped in tasks) until `return_when` holds
/// or `timeout` passes; returns {done, pending}. Never throws TimeoutError and cancels nothing.
/// ValueError if `tasks` is empty.
template <std::ranges::input_range R>
Task<WaitResult<detail::range_task_value_t<R>>> wait(R&& tasks, std::optional<Timeout> timeout = std::nullopt,
                                                     ReturnWhen return_when = ALL_COMPLETED) {
  auto handles = detail::tasks_of(std::forward<R>(tasks));
  if (handles.empty()) throw ValueError("Set of Tasks/Futures is empty.");
  return detail::wait_impl(std::move(handles), timeout, return_when);
}

// ---- as_completed ----------------------------------------------------------------------------

/// The range as_completed() returns: as many awaitables as tasks; each yields the value of the
/// next task to finish (or throws its exception; TimeoutError once the timeout passed).
template <class T>
class AsCompleted {
 public:
  /// One awaitable of the range.
  class [[nodiscard]] Next {
   public:
    /// An awaitable on the range's shared state (the iterator's operator* makes it).
    explicit Next(std::shared_ptr<detail::AsCompletedState> state) : m_state(std::move(state)), m_await(*m_state) {}
    /// Moves an awaitable that has not been awaited yet (an awaited one must not move).
    Next(Next&& o) noexcept : m_state(o.m_state), m_await(*m_state) {}
    /// Takes the first finished task that no awaitable took yet, if there is one, or notes
    /// that the timeout passed: no suspension then.
    bool await_ready() noexcept { return m_await.await_ready(); }
    /// Queues this awaitable behind the others waiting and suspends the task until a task
    /// finishes or the timeout passes.
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      m_await.await_suspend(h);
    }
    /// The value of the finished task this awaitable took (a copy; nothing for void), or that
    /// task's exception rethrown. TimeoutError once the timeout passed with no finished task
    /// left to take; CancelledError if the awaiting task was cancelled.
    auto await_resume() {
      auto& p = static_cast<detail::Promise<T>&>(*m_await.await_resume());
      if constexpr (std::is_void_v<T>) {
        detail::take_result(p, false);
      } else {
        return detail::take_result(p, false);
      }
    }

   private:
    std::shared_ptr<detail::AsCompletedState> m_state;
    detail::AsCompletedState::Next m_await;
  };
  /// The range's iterator: size() steps, each dereferenced once to get its awaitable. Stepping
  /// does not wait; co_await on the awaitable does.
  class iterator {
   public:
    /// Input iterator's member types: it yields Next awaitables.
    /// @{
    using value_type = Next;
    using difference_type = std::ptrdiff_t;
    /// @}
    iterator() = default;
    /// The iterator at step `i` of `owner` (begin() and end() make them).
    iterator(const AsCompleted* owner, std::size_t i) : m_owner(owner), m_i(i) {}
    /// A new awaitable on the range. Each awaitable awaited takes the next finished task,
    /// whichever step made it: dereference each step once.
    Next operator*() const { return Next(m_owner->m_state); }
    /// The next step.
    /// @{
    iterator& operator++() {
      ++m_i;
      return *this;
    }
    void operator++(int) { ++m_i; }
    /// @}
    /// Whether both are at the same step.
    bool operator==(const iterator& o) const { return m_i == o.m_i; }

   private:
    const AsCompleted* m_owner = nullptr;
    std::size_t m_i = 0;
  };

  /// The range over `tasks`, which must be tasks of the running loop (as_completed() wraps
  /// coroutines first). It watches them from now on; the timeout counts from now (nullopt:
  /// none). RuntimeError if no loop runs in this thread.
  AsCompleted(std::vector<Task<T>> tasks, std::optional<Timeout> timeout) : m_tasks(std::move(tasks)) {
    std::vector<detail::PromiseBase*> ps;
    for (auto& t : m_tasks) ps.push_back(&t.promise());
    m_state = std::make_shared<detail::AsCompletedState>(std::move(ps), timeout);
  }
  /// The first step.
  [[nodiscard]] iterator begin() const { return iterator(this, 0); }
  /// The end: size() steps after begin().
  [[nodiscard]] iterator end() const { return iterator(this, m_tasks.size()); }
  /// The number of tasks, which is the number of awaitables the range yields.
  [[nodiscard]] std::size_t size() const noexcept { return m_tasks.size(); }

 private:
  std::vector<Task<T>> m_tasks;  // keeps the tasks alive while the range is
  std::shared_ptr<detail::AsCompletedState> m_state;
};

/// Python's as_completed(aws, timeout): `for (auto next : as_completed(tasks)) { v = co_await next; }`.
/// Coroutines are wrapped in tasks. Nothing is cancelled on timeout.
template <std::ranges::input_range R>
AsCompleted<detail::range_task_value_t<R>> as_completed(R&& tasks, std::optional<Timeout> timeout = std::nullopt) {
  return AsCompleted<detail::range_task_value_t<R>>(detail::tasks_of(std::forward<R>(tasks)), timeout);
}

// ---- shield ----------------------------------------------------------------------------------

namespace detail {
template <class T>
Task<T> shield_impl(Task<T> inner) {
  co_await DoneAwaiter(inner.promise());
  if constexpr (std::is_void_v<T>) {
    take_result(inner.promise(), false);
  } else {
    co_return take_result(inner.promise(), inner.promise().refs() == 1);
  }
}
}  // namespace detail

/// Protects `aw` (a coroutine, wrapped in a task now, or a task) from cancellation: cancelling
/// the awaiter throws CancelledError there while `aw` runs on (Python's shield).
template <class T>
Task<T> shield(Task<T> aw) {
  detail::ensure_task(get_running_loop(), aw);
  return detail::shield_impl(std::move(aw));
}

}  // namespace concur::asyncio
