// SPDX-License-Identifier: MIT
// concur/asyncio/task.hpp — Task<T>: coroutines, and tasks that run them on the loop.
//
// Mirrors Python's coroutines and asyncio.Task. A function returning `asyncio::Task<T>` is a
// coroutine (`co_await`, `co_return`). Calling it creates the coroutine, suspended; then:
//
//   co_await work();                      runs it inside the current task, like Python's
//                                         `await work()` (no scheduling, no extra task)
//   auto t = asyncio::create_task(work(), "name");
//                                         wraps it in a task scheduled on the running loop,
//                                         like `asyncio.create_task(work())`; `t` is a handle
//   co_await t;  co_await std::move(t);   waits for the task; its value (copied, or moved out
//                                         with std::move), or its exception rethrown with its
//                                         own type
//
// A task handle is copyable (copies refer to the same task, as Python references do) and offers
// Python's Task methods: done, cancelled, result, exception, cancel(msg), cancelling, uncancel,
// get_name, set_name, add_done_callback. `TaskBase` is the same handle without the result type
// (all_tasks(), current_task(), done callbacks).
//
// Cancellation (Python 3.11+): t.cancel() makes CancelledError be thrown at the point where the
// task is suspended (its current co_await), or at its next co_await that suspends if it is
// running or ready to run. A task awaiting another task cancels that task too (use shield() to
// avoid it). A task that catches CancelledError and returns normally is not cancelled.
//
//   CancelledError is NOT a std::exception (in Python it is a BaseException), so
//   `catch (const std::exception&)` does not swallow it. Catch it by name:
//       try { co_await asyncio::sleep(10s); }
//       catch (const concur::CancelledError&) { cleanup(); throw; }   // rethrow it!
//   or as `concur::BaseException`. `catch (...)` does catch it: rethrow it there too.
//
// Never awaited: a coroutine destroyed before it ever started (neither awaited nor passed to
// create_task(), gather(), ...) did nothing at all. As Python's RuntimeWarning does, concur then
// prints "RuntimeWarning: coroutine 'work' was never awaited" on stderr (the name is the
// coroutine function's; "<lambda>" for a lambda). Calling `asyncio::sleep(1s);` or `work();`
// without co_await is caught earlier still: every awaitable concur returns is [[nodiscard]].
//
// Lifetime: the coroutine frame is the task (one allocation per task: the frame holds the task
// state). A scheduled task keeps itself alive until it finishes, even if every handle is gone
// (Python loses unreferenced tasks to its garbage collector, cpython gh-88831; concur does not).
// A finished task lives while a handle refers to it.
//
// Thread safety: none; a task belongs to its loop's thread. Use run_coroutine_threadsafe() and
// call_soon_threadsafe() to cross threads.
//
// Differences from Python:
//  * One type for coroutine and task: `Task<T>` returned by a coroutine function is an unstarted
//    coroutine until create_task() or co_await starts it. Awaiting a coroutine a second time
//    raises RuntimeError, as in Python; awaiting a task any number of times is allowed.
//  * Library callbacks (awaiters, gather, TaskGroup) are notified when a task finishes, without
//    a loop iteration in between; user callbacks (add_done_callback) are scheduled with
//    call_soon as in Python.
//  * A void task's value, where a value is needed (gather), is std::monostate.
#pragma once

#include <cassert>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "concur/asyncio/events.hpp"
#include "concur/errors.hpp"
#include "concur/export.hpp"

namespace concur::asyncio {

namespace detail {

/// What a suspended task waits on (Python's Task._fut_waiter).
class CONCUR_API Waiter {
 public:
  /// Python's `fut_waiter.cancel(msg)`: returns true if the wait is now cancelled (the task
  /// resumes with CancelledError, or when what it awaits has finished), false if it cannot be
  /// (what it awaited is already done and the task is scheduled).
  virtual bool cancel() noexcept = 0;

 protected:
  Waiter() = default;
  ~Waiter() = default;
};

/// A link in a task's list of parties to notify when it finishes (an awaiting task, gather,
/// wait, TaskGroup). `m_notify` must only do bookkeeping and schedule; it runs user code never.
struct DoneLink {
  DoneLink* m_next_link = nullptr;
  PromiseBase* m_linked_to = nullptr;  // the task whose list holds this link; null when unlinked
  void (*m_notify)(DoneLink*, PromiseBase&) noexcept = nullptr;
};

/// Replaces cancel() for a task whose coroutine stands for a Python future rather than a
/// coroutine: gather()'s coroutine is Python's gathering future, whose cancel() cancels the
/// children and says whether any of them accepted; the coroutine itself is never cancelled.
/// Owned by the coroutine's promise, so it lives exactly as long as the coroutine frame.
class CONCUR_API CancelOverride {
 public:
  virtual ~CancelOverride() = default;
  CancelOverride(const CancelOverride&) = delete;
  CancelOverride& operator=(const CancelOverride&) = delete;
  /// What the task's cancel(message) returns.
  virtual bool cancel_instead(const std::string& message) noexcept = 0;

 protected:
  CancelOverride() = default;
};

/// Rarely used per-task data, allocated on demand (a name given, a cancel message, callbacks,
/// a gather's cancellation).
struct TaskExtra {
  std::string name;
  std::string cancel_message;
  std::vector<std::function<void(TaskBase)>> callbacks;
  std::unique_ptr<CancelOverride> cancel_override;
};

/// The state every coroutine frame of Task<T> holds, in its promise. A frame is either an
/// unstarted coroutine (created), a coroutine running inside another task (inlined), a task
/// (pending, then done) or a coroutine that ran inline to its end (finished_inline).
class CONCUR_API PromiseBase : public ReadyNode {
 public:
  enum class State : std::uint8_t { created, inlined, pending, done, finished_inline };

  PromiseBase() noexcept { g_live_frames.fetch_add(1, std::memory_order_relaxed); }
  PromiseBase(const PromiseBase&) = delete;
  PromiseBase& operator=(const PromiseBase&) = delete;
  virtual ~PromiseBase();

  // ---- coroutine protocol --------------------------------------------------------------
  struct InitialAwaiter {
    PromiseBase* m_promise;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    /// A task cancelled before its first step never runs its body (Python's coro.throw()).
    void await_resume() const {
      if (m_promise->m_root == m_promise && m_promise->m_must_cancel) {
        m_promise->m_must_cancel = false;
        m_promise->throw_cancelled();
      }
    }
  };
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      PromiseBase& p = h.promise();
      if (p.m_state == State::inlined) {
        p.m_state = State::finished_inline;
        return p.m_continuation;
      }
      p.complete();  // may destroy the frame: nothing may touch it afterwards
      return std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  InitialAwaiter initial_suspend() noexcept { return {this}; }
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept;

  // ---- reference counting (handles, plus one self-reference while the task is pending) ----
  void add_ref() noexcept { ++m_refs; }
  void release() noexcept {
    assert(m_refs > 0);
    if (--m_refs == 0) destroy_frame();
  }
  [[nodiscard]] std::uint32_t refs() const noexcept { return m_refs; }
  virtual void destroy_frame() noexcept = 0;

  // ---- the task's step ---------------------------------------------------------------------
  /// Runs one step: resumes the innermost suspended frame of this task.
  void run_ready() noexcept final;
  void discard_ready() noexcept final { m_scheduled = false; }

  // ---- the awaiter protocol (called on the root task) --------------------------------------
  /// The task suspends at `h`, waiting on `w` (null for a bare yield). A cancellation requested
  /// while it ran cancels `w` at once (Python's __step does the same).
  void suspend(std::coroutine_handle<> h, Waiter* w) noexcept {
    m_resume = h;
    m_waiter = w;
    if (m_must_cancel && w != nullptr && w->cancel()) m_must_cancel = false;
  }
  /// What the task waited on is done: schedule its next step.
  void wake() noexcept {
    assert(!m_scheduled && m_loop != nullptr);
    m_waiter = nullptr;
    m_scheduled = true;
    m_loop->schedule(this);
  }
  /// Called by an awaiter when the task resumes after a suspension: throws CancelledError if
  /// the wait was cancelled or a cancellation is due (at most one CancelledError per request).
  void resume_point(bool wait_cancelled) {
    if (wait_cancelled || m_must_cancel) {
      m_must_cancel = false;
      throw_cancelled();
    }
  }
  /// Runs the task's next step now, from inside another ready-queue entry that decided the task
  /// may proceed (the queues' waiters re-check their condition before waking the task).
  void resume_now() noexcept {
    assert(!m_scheduled);
    m_waiter = nullptr;
    m_scheduled = true;
    run_ready();
  }
  /// Throws CancelledError carrying the task's cancel message.
  [[noreturn]] void throw_cancelled() const;

  // ---- Python's Task methods (a task: pending or done) -------------------------------------
  bool cancel(std::string message);
  /// Makes `o` the task's cancel() (see CancelOverride); the promise owns it from now on.
  void set_cancel_override(std::unique_ptr<CancelOverride> o);
  std::size_t uncancel() noexcept {
    if (m_num_cancels_requested > 0) --m_num_cancels_requested;
    if (m_num_cancels_requested == 0) m_must_cancel = false;
    return m_num_cancels_requested;
  }
  [[nodiscard]] std::string name() const;
  void set_name(std::string name);
  [[nodiscard]] const std::string& cancel_message() const noexcept;
  void add_done_callback(std::function<void(TaskBase)> fn);
  [[nodiscard]] bool is_done() const noexcept {
    return m_state == State::done || m_state == State::finished_inline;
  }

  // ---- done links --------------------------------------------------------------------------
  void add_done_link(DoneLink* link) noexcept {
    assert(m_state == State::pending && link->m_linked_to == nullptr);
    link->m_next_link = m_links;
    link->m_linked_to = this;
    m_links = link;
  }
  void remove_done_link(DoneLink* link) noexcept;

  /// Makes an unstarted coroutine a task of `loop` and schedules its first step.
  void start_task(EventLoop& loop, std::coroutine_handle<> self, std::string name);
  /// Marks a pending task of a closing loop done (cancelled) without running it; its links
  /// are dropped. Called by EventLoop::close().
  void abandon() noexcept;

  // ---- fields ------------------------------------------------------------------------------
  EventLoop* m_loop = nullptr;              // the task's loop (roots; null for unstarted frames and after the loop closed)
  PromiseBase* m_root = nullptr;            // the task this frame runs in (itself for a task); null until started
  std::coroutine_handle<> m_resume;         // task: the innermost suspended frame, resumed by the next step
  std::coroutine_handle<> m_continuation;   // inlined frame: the awaiting frame, resumed when this one ends
  Waiter* m_waiter = nullptr;               // task: what it is suspended on (null while ready or running)
  DoneLink* m_links = nullptr;              // task: parties to notify when done (LIFO; reversed when notifying)
  PromiseBase* m_prev_task = nullptr;       // the loop's list of task frames (EventLoop::m_tasks)
  PromiseBase* m_next_task = nullptr;
  std::exception_ptr m_exception;           // how the coroutine ended, if by an exception
  std::unique_ptr<TaskExtra> m_extra;       // name, cancel message, user callbacks (on demand)
  std::uint64_t m_number = 0;               // "Task-N"
  std::uint32_t m_refs = 0;                 // handles + the self-reference of a pending task
  std::uint32_t m_num_cancels_requested = 0;// Python's cancelling()
  State m_state = State::created;
  bool m_must_cancel = false;               // Python's _must_cancel: throw CancelledError at the next suspension
  bool m_cancelled = false;                 // done by CancelledError
  bool m_scheduled = false;                 // in the ready queue (a task is there at most once)
  bool m_log_exception = false;             // done with an exception nobody retrieved yet
  bool m_exception_observed = false;        // a gather took charge of the exception: never report it
  bool m_closed_unstarted = false;          // dropped unstarted on purpose (Python's coro.close()): no never-awaited report
  const char* m_function = nullptr;         // the coroutine function's name (static storage), for reports

 private:
  void complete() noexcept;
};

template <class T>
class Promise;

/// Helper: the type a task's value is seen as where a value is required (void -> monostate).
template <class T>
using value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
struct result_ref {
  using type = const T&;
};
template <>
struct result_ref<void> {
  using type = void;
};
template <class T>
using result_ref_t = typename result_ref<T>::type;

/// The name of the function a coroutine frame runs, captured where the frame is created: the
/// compiler constructs the promise with no arguments (no Promise constructor takes a
/// coroutine's parameters), so the default argument is evaluated in the coroutine function.
/// Used to report "coroutine 'f' was never awaited".
struct CoroutineName {
  explicit constexpr CoroutineName(const char* name) noexcept : value(name) {}
  const char* value;
};

/// The promise of a coroutine: the task state plus the value.
template <class T>
class Promise final : public PromiseBase {
 public:
  explicit Promise(CoroutineName function = CoroutineName(__builtin_FUNCTION())) noexcept {
    m_function = function.value;
  }
  Task<T> get_return_object() noexcept;
  template <class U>
    requires std::constructible_from<T, U&&>
  void return_value(U&& value) {
    m_value.emplace(std::forward<U>(value));
  }
  void destroy_frame() noexcept override { std::coroutine_handle<Promise>::from_promise(*this).destroy(); }
  std::optional<T> m_value;
};

template <>
class Promise<void> final : public PromiseBase {
 public:
  explicit Promise(CoroutineName function = CoroutineName(__builtin_FUNCTION())) noexcept {
    m_function = function.value;
  }
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void destroy_frame() noexcept override { std::coroutine_handle<Promise>::from_promise(*this).destroy(); }
};

/// The coroutine's handle from its promise.
template <class T>
std::coroutine_handle<Promise<T>> handle_of(Promise<T>& p) noexcept {
  return std::coroutine_handle<Promise<T>>::from_promise(p);
}

/// The root task of the coroutine suspending at `h` (only Task coroutines may await concur's
/// awaitables).
template <class P>
PromiseBase* root_of(std::coroutine_handle<P> h) noexcept {
  static_assert(std::derived_from<P, PromiseBase>,
                "concur::asyncio awaitables can only be awaited inside an asyncio::Task coroutine");
  PromiseBase* root = h.promise().m_root;
  assert(root != nullptr && root->m_state == PromiseBase::State::pending);
  return root;
}

/// Takes a done task's value: moved out when the caller holds the only handle or when T cannot
/// be copied; copied otherwise. Rethrows the task's exception (marking it retrieved).
template <class T>
value_t<T> take_result(Promise<T>& p, bool move) {
  p.m_log_exception = false;
  if (p.m_exception) std::rethrow_exception(p.m_exception);
  if constexpr (std::is_void_v<T>) {
    return std::monostate{};
  } else {
    assert(p.m_value.has_value());
    if constexpr (std::is_copy_constructible_v<T>) {
      if (!move) return *p.m_value;
    }
    return std::move(*p.m_value);
  }
}

template <class T, bool Move>
class TaskAwaiter;

}  // namespace detail

/// A handle to a task, without its result type (Python's Task object as seen by all_tasks(),
/// current_task() and done callbacks). Copies refer to the same task. Empty when
/// default-constructed or moved from.
class CONCUR_API TaskBase {
 public:
  TaskBase() = default;
  /// A handle on the coroutine frame whose promise is `p`, taking a reference to it (internal:
  /// current_task(), all_tasks() and done callbacks make their handles so). A null `p` makes
  /// an empty handle.
  explicit TaskBase(detail::PromiseBase* p) noexcept : m_promise(p) {
    if (m_promise != nullptr) m_promise->add_ref();
  }
  /// Copyable and movable: a copy refers to the same task and keeps its frame alive; a
  /// moved-from handle is empty. The count of references is not atomic: handles stay on their
  /// loop's thread.
  /// @{
  TaskBase(const TaskBase& o) noexcept : TaskBase(o.m_promise) {}
  TaskBase(TaskBase&& o) noexcept : m_promise(std::exchange(o.m_promise, nullptr)) {}
  TaskBase& operator=(TaskBase o) noexcept {
    std::swap(m_promise, o.m_promise);
    return *this;
  }
  /// @}
  ~TaskBase() {
    if (m_promise != nullptr) m_promise->release();
  }

  /// True unless empty.
  explicit operator bool() const noexcept { return m_promise != nullptr; }
  /// Same task?
  friend bool operator==(const TaskBase& a, const TaskBase& b) noexcept { return a.m_promise == b.m_promise; }

  /// True when finished: with a value, an exception, or cancelled.
  [[nodiscard]] bool done() const noexcept { return m_promise->is_done(); }
  /// True when the task ended by CancelledError.
  [[nodiscard]] bool cancelled() const noexcept { return m_promise->m_cancelled; }
  /// Requests cancellation (see the file comment). Returns false if the task is already done.
  /// A task running a gather() cancels the gather's children instead (see tasks.hpp).
  /// InvalidStateError if this is an unstarted or inline coroutine, not a task.
  bool cancel(std::string message = {}) { return m_promise->cancel(std::move(message)); }
  /// The number of pending cancellation requests (Python's cancelling()).
  [[nodiscard]] std::size_t cancelling() const noexcept { return m_promise->m_num_cancels_requested; }
  /// Decrements the pending cancellation requests; returns the remaining count.
  std::size_t uncancel() noexcept { return m_promise->uncancel(); }
  /// The exception the task ended with (null if it returned a value). Throws CancelledError
  /// if it was cancelled, InvalidStateError if it is not done. Marks the exception retrieved.
  [[nodiscard]] std::exception_ptr exception() const;
  /// The task's name ("Task-N" unless set).
  [[nodiscard]] std::string get_name() const { return m_promise->name(); }
  /// Names the task (Python's set_name()); an empty name gives "Task-N" back. Allowed on an
  /// unstarted coroutine too: create_task() keeps the name unless it is given one.
  void set_name(std::string name) { m_promise->set_name(std::move(name)); }
  /// The task's loop. InvalidStateError if this is not a task.
  [[nodiscard]] EventLoop& get_loop() const;
  /// Schedules fn(task) with call_soon when the task is done (at once if it already is).
  void add_done_callback(std::function<void(TaskBase)> fn) const { m_promise->add_done_callback(std::move(fn)); }

  /// The task state (internal).
  [[nodiscard]] detail::PromiseBase* promise_base() const noexcept { return m_promise; }

 protected:
  detail::PromiseBase* m_promise = nullptr;  ///< the frame's promise; this handle holds one reference
};

/// A coroutine returning T, or a task running one (see the file comment). T may be void or
/// move-only; not a reference.
template <class T = void>
class [[nodiscard]] Task : public TaskBase {
  static_assert(!std::is_reference_v<T>, "asyncio::Task<T&> is not supported; return a pointer or a value");

 public:
  /// The coroutine's promise (the C++ coroutine protocol: it makes a function returning
  /// Task<T> a coroutine, and holds the task's state and value).
  using promise_type = detail::Promise<T>;
  /// T: the type of the value the coroutine returns (co_await gives it, result() refers to it).
  using value_type = T;

  Task() = default;
  /// A handle on the coroutine whose promise is `p`, taking a reference to it (internal: the
  /// promise makes the handle a coroutine function returns).
  explicit Task(promise_type* p) noexcept : TaskBase(p) {}

  /// The value of the finished task (const reference; nothing for void). Rethrows its
  /// exception; CancelledError if cancelled; InvalidStateError if not done.
  detail::result_ref_t<T> result() const {
    if (!done()) throw InvalidStateError("Result is not set.");
    promise().m_log_exception = false;
    if (promise().m_exception) std::rethrow_exception(promise().m_exception);
    if constexpr (!std::is_void_v<T>) return *promise().m_value;
  }

  /// co_await t: waits and returns a copy of the value (rethrows the exception); nothing for
  /// Task<void>.
  detail::TaskAwaiter<T, false> operator co_await() const& noexcept;
  /// co_await std::move(t) / co_await work(): waits and returns the value moved out.
  detail::TaskAwaiter<T, true> operator co_await() && noexcept;

  /// The typed task state (internal).
  [[nodiscard]] promise_type& promise() const noexcept { return *static_cast<promise_type*>(m_promise); }
};

namespace detail {

template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(this);
}
inline Task<void> Promise<void>::get_return_object() noexcept { return Task<void>(this); }

/// The awaiter of `co_await task`: runs an unstarted coroutine inline (symmetric transfer), or
/// waits for a task to finish (cancelling the awaiting task cancels the awaited one, as in
/// Python).
template <class T, bool Move>
class TaskAwaiter final : public Waiter, public DoneLink {
 public:
  explicit TaskAwaiter(Promise<T>& child) noexcept : m_child(&child) {}
  TaskAwaiter(const TaskAwaiter&) = delete;
  TaskAwaiter& operator=(const TaskAwaiter&) = delete;
  ~TaskAwaiter() {
    if (m_linked_to != nullptr) m_linked_to->remove_done_link(this);
  }

  bool await_ready() const noexcept { return m_child->m_state == PromiseBase::State::done; }

  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
    PromiseBase* root = root_of(h);
    switch (m_child->m_state) {
      case PromiseBase::State::created:
        m_child->m_state = PromiseBase::State::inlined;
        m_child->m_root = root;
        m_child->m_continuation = h;
        return handle_of(*m_child);
      case PromiseBase::State::pending:
        if (m_child == root) throw RuntimeError("Task cannot await on itself");
        m_root = root;
        m_notify = &on_done;
        m_child->add_done_link(this);
        root->suspend(h, this);
        return std::noop_coroutine();
      default:
        throw RuntimeError("cannot reuse already awaited coroutine");
    }
  }

  auto await_resume() {
    if (m_root != nullptr) m_root->resume_point(false);
    if constexpr (std::is_void_v<T>) {
      take_result(*m_child, Move);
    } else {
      return take_result(*m_child, Move);
    }
  }

  bool cancel() noexcept override {
    try {
      return m_child->cancel(m_root->cancel_message());
    } catch (...) {
      return false;  // only an allocation failure for the message can get here
    }
  }

 private:
  static void on_done(DoneLink* link, PromiseBase&) noexcept { static_cast<TaskAwaiter*>(link)->m_root->wake(); }

  Promise<T>* m_child;
  PromiseBase* m_root = nullptr;  // set when waiting on a task
};

}  // namespace detail

template <class T>
detail::TaskAwaiter<T, false> Task<T>::operator co_await() const& noexcept {
  return detail::TaskAwaiter<T, false>(promise());
}
template <class T>
detail::TaskAwaiter<T, true> Task<T>::operator co_await() && noexcept {
  return detail::TaskAwaiter<T, true>(promise());
}

// ---- the loop's task functions --------------------------------------------------------------

template <class T>
Task<T> EventLoop::create_task(Task<T> coro, std::string name) {
  check_open();
  if (!coro) throw RuntimeError("create_task() needs a coroutine, got an empty Task");
  if (coro.promise().m_state != detail::PromiseBase::State::created) {
    throw RuntimeError("create_task() needs an unstarted coroutine; this one is already a task or was awaited");
  }
  coro.promise().start_task(*this, detail::handle_of(coro.promise()), std::move(name));
  return coro;
}

template <class T>
T EventLoop::run_until_complete(Task<T> task) {
  check_open();
  if (!task) throw RuntimeError("run_until_complete() needs a coroutine, got an empty Task");
  if (task.promise().m_state == detail::PromiseBase::State::created) task = create_task(std::move(task));
  if (task.promise().m_loop != this) throw RuntimeError("the task belongs to another loop");
  struct StopLink : detail::DoneLink {
    EventLoop* loop;
  } link;
  link.loop = this;
  link.m_notify = [](detail::DoneLink* l, detail::PromiseBase&) noexcept { static_cast<StopLink*>(l)->loop->stop(); };
  if (!task.done()) task.promise().add_done_link(&link);
  try {
    run_forever();
  } catch (...) {
    if (link.m_linked_to != nullptr) link.m_linked_to->remove_done_link(&link);
    throw;
  }
  if (link.m_linked_to != nullptr) link.m_linked_to->remove_done_link(&link);
  if (!task.done()) throw RuntimeError("Event loop stopped before Future completed.");
  // Moved out when this is the only handle left (the usual case: asyncio::run's main task).
  if constexpr (std::is_void_v<T>) {
    detail::take_result(task.promise(), true);
  } else {
    return detail::take_result(task.promise(), task.promise().refs() == 1);
  }
}

/// Wraps `coro` in a task on the running loop and schedules it (Python's asyncio.create_task).
/// RuntimeError if no loop runs in this thread or `coro` is not an unstarted coroutine.
template <class T>
Task<T> create_task(Task<T> coro, std::string name = {}) {
  return get_running_loop().create_task(std::move(coro), std::move(name));
}

namespace detail {
/// An awaiter object (await_ready/await_suspend/await_resume), such as q.get() or event.wait().
template <class A>
concept awaiter_object = requires(A& a) {
  { a.await_ready() } -> std::convertible_to<bool>;
  a.await_resume();
};
template <awaiter_object A>
using await_result_t = std::remove_cvref_t<decltype(std::declval<A&>().await_resume())>;
/// A coroutine that awaits `aw` and returns its result.
template <awaiter_object A>
Task<await_result_t<A>> await_in_task(A aw) {
  co_return co_await aw;
}
}  // namespace detail

/// Wraps an awaiter object (q.get(), event.wait(), lock.acquire(), ...) in a task, as Python's
/// create_task(q.get()) does with the coroutine q.get() returns.
template <detail::awaiter_object A>
Task<detail::await_result_t<A>> create_task(A aw, std::string name = {}) {
  return create_task(detail::await_in_task(std::move(aw)), std::move(name));
}

/// The task running now, or nullopt outside of a task. RuntimeError if no loop runs.
CONCUR_API std::optional<TaskBase> current_task();
/// The running loop's tasks that are not done. RuntimeError if no loop runs.
CONCUR_API std::vector<TaskBase> all_tasks();

}  // namespace concur::asyncio
