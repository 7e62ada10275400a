// SPDX-License-Identifier: MIT
// concur/asyncio/runners.hpp — asyncio::run() and Runner (Python's asyncio.runners).
//
//   int main() { return asyncio::run(main_task()); }
//
//   asyncio::Runner runner({.debug = true});      // several runs on one loop
//   runner.run(setup());
//   int n = runner.run(work());
//   runner.close();                               // or let the destructor do it
//
// run(coro) makes a loop, runs `coro` as the main task to completion, then — as Python does —
// cancels the tasks still pending and waits for them, shuts down the default executor, and
// closes the loop (no libuv handle left). It returns the main task's value or rethrows its
// exception (CancelledError if it was cancelled).
//
// Debug mode (RunnerOptions::debug, or the environment variable CONCUR_ASYNCIO_DEBUG=1 when
// the option is not given) reports steps slower than 100 ms through the loop's exception
// handler. Tasks destroyed while pending and exceptions never retrieved are always reported
// (as in Python).
//
// Thread safety: a Runner belongs to the thread that uses it; each thread may run its own.
// RuntimeError when called from a thread whose loop is running.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "concur/asyncio/events.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/export.hpp"

namespace concur::asyncio {

/// Options of Runner and run() (Python's keyword arguments).
struct RunnerOptions {
  /// Debug mode; unset means "CONCUR_ASYNCIO_DEBUG=1 in the environment".
  std::optional<bool> debug = std::nullopt;
  /// The loop's exception handler (all reports); unset means the default (stderr).
  EventLoop::ExceptionHandler exception_handler = {};
};

/// Runs coroutines on one loop it owns (Python's asyncio.Runner).
class CONCUR_API Runner {
 public:
  /// A runner that applies `options` to the loop it creates on first use, by run() or
  /// get_loop() (Python's asyncio.Runner(debug=...)).
  explicit Runner(RunnerOptions options = {});
  /// close().
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  /// Runs `coro` as a task until it is done; returns its value or rethrows its exception.
  /// RuntimeError if a loop is running in this thread or the runner is closed.
  template <class T>
  T run(Task<T> coro, std::string name = {}) {
    prepare_run();
    Task<T> task = m_loop->create_task(std::move(coro), std::move(name));
    return m_loop->run_until_complete(std::move(task));
  }
  /// Cancels and awaits the pending tasks, shuts the default executor down, closes the loop.
  /// Idempotent.
  void close();
  /// The runner's loop (created on first use). RuntimeError if closed.
  EventLoop& get_loop();

 private:
  void prepare_run();
  RunnerOptions m_options;
  std::unique_ptr<EventLoop> m_loop;  // null before first use and after close()
  bool m_closed = false;
};

/// Runs `main` on a new loop and closes it (Python's asyncio.run); see the file comment.
template <class T>
T run(Task<T> main, RunnerOptions options = {}) {
  Runner runner(std::move(options));
  if constexpr (std::is_void_v<T>) {
    runner.run(std::move(main));
    runner.close();
  } else {
    T value = runner.run(std::move(main));
    runner.close();
    return value;
  }
}

namespace detail {
/// Cancels every pending task of the running loop but the current one and waits for them;
/// reports those that ended with an exception (Python's _cancel_all_tasks).
CONCUR_API Task<void> cancel_all_tasks();
}  // namespace detail

}  // namespace concur::asyncio
