// SPDX-License-Identifier: MIT
// concur/futures/process.hpp — ProcessPoolExecutor: concurrent.futures.ProcessPoolExecutor on
// concur's multiprocessing Pool.
//
//     futures::ProcessPoolExecutor ex({.max_workers = 4});
//     futures::Future<int> f = ex.submit(square, 7);     // f.result() == 49
//     for (int v : ex.map(square, inputs)) { ... }        // in input order
//
// Work crosses to the worker processes exactly as for multiprocessing::Pool (a plain function
// or capture-less lambda plus serializable arguments, checked at compile time), and comes
// back into concur::futures::Future objects, so wait(), as_completed() and callbacks work as
// for a ThreadPoolExecutor.
//
// Differences from Python, and why:
//  * A worker that crashes or is killed fails only the future of the task it was running,
//    with ProcessError naming the pid, the signal and the task; the worker is replaced and the
//    executor stays usable. Python marks the whole executor broken (BrokenProcessPool) and
//    fails every pending future. A worker whose initializer fails does break the executor:
//    its pending and later futures fail with ProcessError.
//  * map() submits every item at once (as Python does) and yields results in order; the
//    timeout counts from the call, as in Python, and raises TimeoutError from the iteration.
//
// Lifetime: shutdown(wait = true) waits for every submitted task; shutdown(cancel_futures)
// first cancels the futures that have not started. The destructor is shutdown(wait = true).
// submit() after shutdown throws RuntimeError.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <concur/futures/future.hpp>
#include <concur/multiprocessing/pool.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

namespace concur::futures {

/// Keyword arguments of ProcessPoolExecutor.
struct ProcessPoolOptions {
  std::size_t max_workers = 0;                         ///< 0: cpu_count()
  multiprocessing::Initializer initializer = {};       ///< run in each worker at start
  std::size_t max_tasks_per_child = 0;                 ///< 0: no limit
  std::string start_method = {};                       ///< Python's mp_context: "fork", "forkserver"
};

namespace detail {

/// Completes a Future<R> with the result of a one-item chunk.
template <class R>
class FutureSink final : public multiprocessing::detail::ResultSink {
 public:
  using Wire = multiprocessing::detail::wire_result_t<R>;
  explicit FutureSink(Future<R> f) : m_future(std::move(f)) {}
  void deliver(std::size_t, multiprocessing::Payload& results) override {
    auto values = multiprocessing::deserialize<std::vector<Wire>>(results);
    if (values.size() != 1) throw multiprocessing::SerializationError("cannot decode message: wrong number of results");
    if constexpr (std::is_void_v<R>) {
      m_future.set_result();
    } else {
      m_future.set_result(std::move(values.front()));
    }
  }
  void fail(std::size_t, std::exception_ptr error) override {
    if (!m_future.done()) m_future.set_exception(std::move(error));
  }
  bool on_dispatch(std::size_t) override { return m_future.set_running_or_notify_cancel(); }
  bool cancel_pending(std::size_t) override { return m_future.cancel(); }

 private:
  Future<R> m_future;
};

}  // namespace detail

/// The results of ProcessPoolExecutor::map, in input order.
template <class R>
class ProcessMapResults {
 public:
  /// The next result; nullopt at the end. TimeoutError once the map's timeout has passed;
  /// rethrows a failed item's exception.
  std::optional<R> next() {
    if (!m_deadline) return m_results.next(std::nullopt);
    const auto left = std::chrono::duration_cast<Timeout>(*m_deadline - std::chrono::steady_clock::now());
    return m_results.next(left > Timeout::zero() ? left : Timeout::zero());
  }
  class iterator {
   public:
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(ProcessMapResults* owner) : m_owner(owner) { m_current = m_owner->next(); }
    const R& operator*() const { return *m_current; }
    iterator& operator++() {
      m_current = m_owner->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return !m_current.has_value(); }

   private:
    ProcessMapResults* m_owner = nullptr;
    std::optional<R> m_current;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

  ProcessMapResults(multiprocessing::IMapIterator<R> results, std::optional<std::chrono::steady_clock::time_point> deadline)
      : m_results(std::move(results)), m_deadline(deadline) {}

 private:
  multiprocessing::IMapIterator<R> m_results;
  std::optional<std::chrono::steady_clock::time_point> m_deadline;
};

class ProcessPoolExecutor {
 public:
  /// Work crosses into other processes: asyncio::run_in_executor() hands this executor the
  /// function and the arguments themselves (a closure cannot cross), see asyncio/threads.hpp.
  using process_executor_tag = void;

  /// Starts the workers. ValueError, OSError, ProcessError as Pool.
  explicit ProcessPoolExecutor(ProcessPoolOptions options = {});
  ProcessPoolExecutor(const ProcessPoolExecutor&) = delete;
  ProcessPoolExecutor& operator=(const ProcessPoolExecutor&) = delete;
  /// shutdown(wait = true).
  ~ProcessPoolExecutor();

  /// Schedules fn(args...) in a worker. RuntimeError after shutdown.
  template <class F, class... Args>
  auto submit(F fn, Args&&... args) {
    using ArgTuple = std::tuple<multiprocessing::detail::wire_type_t<Args>...>;
    using R = multiprocessing::detail::task_result_t<F, ArgTuple>;
    check_open();
    Future<R> future;
    const std::tuple<multiprocessing::detail::arg_ref_t<Args>...> refs(args...);
    const auto* one = &refs;
    std::vector<multiprocessing::detail::PoolTask> tasks;
    tasks.push_back(multiprocessing::detail::make_task<F, ArgTuple>(fn, one, one + 1, 1));
    tasks.back().sink = std::make_shared<detail::FutureSink<R>>(future);
    submit_tasks(std::move(tasks));
    return future;
  }

  /// fn over items, results in input order. `timeout` counts from this call; chunksize items
  /// travel together. RuntimeError after shutdown; ValueError for chunksize 0.
  template <class F, std::ranges::input_range Range>
  auto map(F fn, Range&& items, std::optional<Timeout> timeout = std::nullopt, std::size_t chunksize = 1) {
    check_open();
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (timeout) deadline = concur::detail::deadline_after(*timeout);
    auto results = m_pool.imap(fn, std::forward<Range>(items), chunksize);
    using R = typename decltype(results.begin())::value_type;
    return ProcessMapResults<R>(std::move(results), deadline);
  }

  /// Stops accepting work; with `cancel_futures`, cancels what has not started; with `wait`,
  /// returns once every worker has exited. Idempotent.
  void shutdown(bool wait = true, bool cancel_futures = false);

 private:
  void check_open() const;
  void submit_tasks(std::vector<multiprocessing::detail::PoolTask> tasks);

  multiprocessing::Pool m_pool;
  std::atomic<bool> m_shutdown{false};
};

}  // namespace concur::futures
