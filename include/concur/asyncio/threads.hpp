// SPDX-License-Identifier: MIT
// concur/asyncio/threads.hpp — bridges between the loop and threads: to_thread,
// run_in_executor, wrap_future, run_coroutine_threadsafe (Python's asyncio.threads and the
// executor/thread-safe parts of asyncio.events/tasks).
//
//   std::string page = co_await asyncio::to_thread(blocking_fetch, url);   // the loop's pool
//   int n = co_await asyncio::run_in_executor(pool, count_words, text);     // any executor
//   int s = co_await asyncio::run_in_executor(process_pool, square, 7);     // even processes
//   int v = co_await asyncio::wrap_future(pool.submit(work));               // a futures::Future
//   futures::Future<int> f = asyncio::run_coroutine_threadsafe(compute(), loop);  // from a thread
//   loop.call_soon_threadsafe([] { ... });                                  // see events.hpp
//
// Semantics are Python's:
//  * to_thread(fn, args...) runs fn in the loop's default ThreadPoolExecutor (created on first
//    use, shut down by Runner.close()/asyncio::run()). run_in_executor(executor, fn, args...)
//    runs it in `executor` (nullptr: the default). The awaiting task is suspended, the loop
//    keeps running. Cancelling the task cancels the call if it has not started (a running
//    call runs to its end; its result is dropped) and throws CancelledError at once. The
//    function's exception reaches the awaiter with its type. Move-only results are supported.
//  * Process pools work as in Python: run_in_executor(process_pool_executor, fn, args...) with
//    a futures::ProcessPoolExecutor, and also with a multiprocessing::Pool (through its
//    apply_async; Python's run_in_executor takes only an Executor). The function and the
//    arguments go to the pool as they are, so the pool's rules apply: a plain function or
//    capture-less lambda and serializable arguments, checked at compile time. Cancelling the
//    awaiting task cancels a ProcessPoolExecutor's call that has not started, as for threads;
//    a Pool's call cannot be taken back (Python's Pool has no cancel), it runs and its result
//    is dropped.
//  * run_coroutine_threadsafe(coro, loop) schedules `coro` as a task of `loop` (running in
//    another thread) and returns a concur::futures::Future for its outcome. Cancelling that
//    future cancels the task. If the loop closes before the task starts, the future is
//    cancelled (Python's would stay pending forever).
//
// Thread safety: to_thread/run_in_executor/wrap_future on the loop's thread (in a task);
// run_coroutine_threadsafe from any thread but the loop's (the loop must be running or about
// to run, and alive until the call returns).
// Memory ordering: everything the function wrote is visible to the task when it resumes
// (the result travels through the executor's future and the loop's thread-safe queue).
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "concur/asyncio/events.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/errors.hpp"
#include "concur/export.hpp"
#include "concur/futures/future.hpp"
#include "concur/futures/thread.hpp"

namespace concur::asyncio {

template <class T>
Task<T> wrap_future(futures::Future<T> future);

namespace detail {

/// Shared by a waiting task (loop thread) and the thread that completes the work.
struct ThreadBridge {
  PromiseBase* m_root = nullptr;  // loop thread only: the waiting task; null once it stopped waiting
  bool m_done = false;            // loop thread only
  bool m_cancelled = false;       // loop thread only: the future was cancelled (e.g. executor shutdown)
};

/// Posts "the future is done" to the loop of `queue`; wakes the waiting task there.
CONCUR_API void post_done(const std::shared_ptr<ThreadsafeQueue>& queue, std::shared_ptr<ThreadBridge> bridge, bool cancelled) noexcept;

/// Waits (in a task) for a futures::Future<U> completion signalled through a ThreadBridge.
template <class U>
class BridgeAwaiter final : public Waiter {
 public:
  BridgeAwaiter(std::shared_ptr<ThreadBridge> bridge, futures::Future<U> future)
      : m_bridge(std::move(bridge)), m_future(std::move(future)) {}
  BridgeAwaiter(const BridgeAwaiter&) = delete;
  BridgeAwaiter& operator=(const BridgeAwaiter&) = delete;
  ~BridgeAwaiter() { m_bridge->m_root = nullptr; }
  bool await_ready() const noexcept { return m_bridge->m_done; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    m_root = root_of(h);
    m_bridge->m_root = m_root;
    m_root->suspend(h, this);
  }
  void await_resume() {
    if (m_root != nullptr) m_root->resume_point(m_cancelled);
    if (m_bridge->m_cancelled) throw CancelledError();
  }
  bool cancel() noexcept override {
    try {
      m_future.cancel();  // fails (harmlessly) once the call runs
    } catch (...) {
    }
    m_bridge->m_root = nullptr;
    m_cancelled = true;
    m_root->wake();
    return true;
  }
  [[nodiscard]] const futures::Future<U>& future() const noexcept { return m_future; }

 private:
  std::shared_ptr<ThreadBridge> m_bridge;
  futures::Future<U> m_future;
  PromiseBase* m_root = nullptr;
  bool m_cancelled = false;
};

template <class U>
void chain_to_loop(const futures::Future<U>& future, const std::shared_ptr<ThreadBridge>& bridge, EventLoop& loop) {
  future.add_done_callback([queue = loop.threadsafe_queue(), bridge](const futures::Future<U>& f) {
    post_done(queue, bridge, f.cancelled());
  });
}

template <class R>
struct CallSlot {
  std::optional<value_t<R>> value;  // written by the worker before its future completes
};

/// An executor whose work crosses into another process (futures::ProcessPoolExecutor says so
/// with this tag): it is given the function and the arguments, never a closure.
template <class Executor>
concept process_executor = requires { typename Executor::process_executor_tag; };

/// A multiprocessing::Pool (or anything with its apply_async(fn, args, callbacks)).
template <class Pool, class F, class... Args>
concept callback_pool = requires(Pool& pool, F fn, const std::tuple<Args...>& args) {
  pool.apply_async(fn, args, {});
};

template <class Executor, class F, class... Args>
auto run_in(Executor& executor, F fn, Args... args) -> Task<std::invoke_result_t<F&, Args&...>> {
  using R = std::invoke_result_t<F&, Args&...>;
  EventLoop& loop = get_running_loop();
  auto slot = std::make_shared<CallSlot<R>>();
  auto bridge = std::make_shared<ThreadBridge>();
  futures::Future<void> future = executor.submit([slot, fn = std::move(fn), ... args = std::move(args)]() mutable {
    if constexpr (std::is_void_v<R>) {
      std::invoke(fn, args...);
    } else {
      slot->value.emplace(std::invoke(fn, args...));
    }
  });
  chain_to_loop(future, bridge, loop);
  BridgeAwaiter<void> awaiter(bridge, future);
  co_await awaiter;
  if (std::exception_ptr e = future.exception()) std::rethrow_exception(e);
  if constexpr (!std::is_void_v<R>) co_return std::move(*slot->value);
}

/// run_in() for a process executor: the function and the arguments go to the pool as they are.
template <class Executor, class F, class... Args>
auto run_in_process(Executor& executor, F fn, Args... args) -> Task<std::invoke_result_t<F&, Args&...>> {
  (void)get_running_loop();  // RuntimeError outside a loop, before anything is submitted
  if constexpr (std::is_void_v<std::invoke_result_t<F&, Args&...>>) {
    co_await wrap_future(executor.submit(fn, std::move(args)...));
  } else {
    co_return co_await wrap_future(executor.submit(fn, std::move(args)...));
  }
}

/// run_in() for a multiprocessing::Pool: apply_async, its callbacks completing a future.
template <class Pool, class F, class... Args>
auto run_in_pool(Pool& pool, F fn, Args... args) -> Task<std::invoke_result_t<F&, Args&...>> {
  using R = std::invoke_result_t<F&, Args&...>;
  using Wire = std::conditional_t<std::is_void_v<R>, std::monostate, std::decay_t<R>>;
  (void)get_running_loop();
  futures::Future<Wire> future;
  future.set_running_or_notify_cancel();  // a call queued in a Pool cannot be taken back
  pool.apply_async(fn, std::tuple<Args...>(std::move(args)...),
                   {.callback = [future](const Wire& value) { future.set_result(value); },
                    .error_callback = [future](std::exception_ptr e) { future.set_exception(std::move(e)); }});
  if constexpr (std::is_void_v<R>) {
    co_await wrap_future(std::move(future));
  } else {
    co_return co_await wrap_future(std::move(future));
  }
}

/// Picks the way `executor` takes work (see the file comment).
template <class Executor, class F, class... Args>
auto run_in_any(Executor& executor, F fn, Args... args) {
  if constexpr (process_executor<Executor>) {
    return run_in_process(executor, std::move(fn), std::move(args)...);
  } else if constexpr (callback_pool<Executor, F, Args...>) {
    return run_in_pool(executor, std::move(fn), std::move(args)...);
  } else {
    return run_in(executor, std::move(fn), std::move(args)...);
  }
}

}  // namespace detail

/// Runs fn(args...) in `executor` (anything with Python's submit(), e.g.
/// futures::ThreadPoolExecutor or futures::ProcessPoolExecutor, or a multiprocessing::Pool) and
/// waits for it without blocking the loop. Returns its value
/// or rethrows its exception; CancelledError if the task is cancelled (the call is cancelled
/// if it has not started) or the executor cancelled the call. RuntimeError outside a loop or
/// if the executor is shut down.
template <class Executor, class F, class... Args>
  requires std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>&...>
auto run_in_executor(Executor& executor, F&& fn, Args&&... args) {
  return detail::run_in_any(executor, std::decay_t<F>(std::forward<F>(fn)), std::decay_t<Args>(std::forward<Args>(args))...);
}
/// run_in_executor(nullptr, fn, args...): the loop's default executor (Python's None).
template <class F, class... Args>
  requires std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>&...>
auto run_in_executor(std::nullptr_t, F&& fn, Args&&... args) {
  return detail::run_in(get_running_loop().default_executor(), std::decay_t<F>(std::forward<F>(fn)),
                        std::decay_t<Args>(std::forward<Args>(args))...);
}
/// Runs fn(args...) in the loop's default executor (Python's asyncio.to_thread).
template <class F, class... Args>
  requires std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>&...>
auto to_thread(F&& fn, Args&&... args) {
  return run_in_executor(nullptr, std::forward<F>(fn), std::forward<Args>(args)...);
}

/// Awaits a concur::futures::Future from a task (Python's asyncio.wrap_future): its value (a
/// copy), its exception, CancelledError if it was cancelled. Cancelling the task cancels the
/// future.
template <class T>
Task<T> wrap_future(futures::Future<T> future) {
  auto bridge = std::make_shared<detail::ThreadBridge>();
  detail::chain_to_loop(future, bridge, get_running_loop());
  {
    detail::BridgeAwaiter<T> awaiter(bridge, future);
    co_await awaiter;
  }
  if constexpr (std::is_void_v<T>) {
    future.result();
  } else {
    co_return future.result();
  }
}

namespace detail {
/// The loop-side end of run_coroutine_threadsafe: the task, for a cancellation of the future.
struct ThreadsafeRun {
  PromiseBase* task = nullptr;  // loop thread only; null once done
};

template <class T>
struct StartOnLoop {
  Task<T> coro;
  futures::Future<T> future;
  bool started = false;
  StartOnLoop(Task<T> c, futures::Future<T> f) : coro(std::move(c)), future(std::move(f)) {}
  StartOnLoop(StartOnLoop&& o) noexcept
      : coro(std::move(o.coro)), future(o.future), started(std::exchange(o.started, true)) {}
  ~StartOnLoop() {
    if (started) return;
    future.cancel();  // the loop closed before the task could start
    if (coro) coro.promise().m_closed_unstarted = true;  // the cancelled future says so
  }
  void operator()() {
    started = true;
    if (future.cancelled()) {  // cancelled before it started: the coroutine never runs
      coro.promise().m_closed_unstarted = true;
      return;
    }
    EventLoop& loop = get_running_loop();
    Task<T> task = loop.create_task(std::move(coro));
    auto run = std::make_shared<ThreadsafeRun>();
    run->task = &task.promise();
    std::weak_ptr<ThreadsafeRun> weak = run;
    // The future cancelled from any thread -> cancel the task on its loop.
    future.add_done_callback([queue = loop.threadsafe_queue(), weak](const futures::Future<T>& f) {
      if (!f.cancelled()) return;
      post_to(queue, make_callback([weak] {
                if (auto r = weak.lock(); r && r->task != nullptr) r->task->cancel({});
              }));
    });
    // The task done -> complete the future (unless it was cancelled meanwhile).
    task.add_done_callback([run, future = future](TaskBase t) {
      run->task = nullptr;
      auto& p = static_cast<Promise<T>&>(*t.promise_base());
      if (t.cancelled()) {
        future.cancel();
        return;
      }
      if (!future.set_running_or_notify_cancel()) return;
      p.m_log_exception = false;
      if (p.m_exception) {
        future.set_exception(p.m_exception);
      } else if constexpr (std::is_void_v<T>) {
        future.set_result();
      } else {
        future.set_result(std::move(*p.m_value));
      }
    });
  }
};
}  // namespace detail

/// Schedules `coro` on `loop`, which runs in another thread, and returns a future for its
/// outcome (Python's asyncio.run_coroutine_threadsafe). RuntimeError if the loop is closed.
template <class T>
futures::Future<T> run_coroutine_threadsafe(Task<T> coro, EventLoop& loop) {
  futures::Future<T> future;
  loop.call_soon_threadsafe(detail::StartOnLoop<T>(std::move(coro), future));
  return future;
}

}  // namespace concur::asyncio
