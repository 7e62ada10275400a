// SPDX-License-Identifier: MIT
// concur/futures/process.hpp — ProcessPoolExecutor: concurrent.futures.ProcessPoolExecutor on
// concur's multiprocessing Pool.
//
//     futures::ProcessPoolExecutor ex({.max_workers = 4});
//     futures::Future<int> f = ex.submit(square, 7);     // f.result() == 49
//     for (int v : ex.map(square, inputs)) { ... }        // in input order
//     for (int v : ex.map(add, xs, ys)) { ... }           // add(x, y), up to the shorter range
//
// Work crosses to the worker processes exactly as for multiprocessing::Pool (a plain function
// or capture-less lambda plus serializable arguments, checked at compile time), and comes
// back into concur::futures::Future objects, so wait(), as_completed() and callbacks work as
// for a ThreadPoolExecutor.
//
// max_workers defaults (nullopt, Python's None) to process_cpu_count(), the CPUs this process
// may run on, as in Python 3.13; zero or less is a ValueError.
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

#include <concur/export.hpp>
#include <concur/futures/future.hpp>
#include <concur/multiprocessing/pool.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace concur::futures {

/// Keyword arguments of ProcessPoolExecutor.
struct ProcessPoolOptions {
  std::optional<int> max_workers = std::nullopt;       ///< nullopt: process_cpu_count(); ValueError if <= 0
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

/// How many of map's arguments, from the first, are ranges (the rest are its options).
template <class... Xs>
constexpr std::size_t leading_ranges() {
  constexpr bool is_range[] = {std::ranges::input_range<Xs>..., false};
  std::size_t n = 0;
  while (is_range[n]) ++n;
  return n;
}

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
  /// The range's input iterator (single pass): begin() waits for the first result, each ++
  /// for the next one, with next()'s errors.
  class iterator {
   public:
    /// Input iterator's member types: it yields R.
    /// @{
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    /// @}
    iterator() = default;
    /// Waits for `owner`'s next result (begin() makes it).
    explicit iterator(ProcessMapResults* owner) : m_owner(owner) { m_current = m_owner->next(); }
    /// The current result (valid until the next step).
    const R& operator*() const { return *m_current; }
    /// Waits for the next result: TimeoutError if it has not arrived when the map's timeout
    /// ends, or the exception of a failed item (of its chunk, with a chunksize above 1)
    /// rethrown; the iteration may go on after it with the next results.
    /// @{
    iterator& operator++() {
      m_current = m_owner->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    /// @}
    /// True once every result was returned.
    bool operator==(std::default_sentinel_t) const { return !m_current.has_value(); }

   private:
    ProcessMapResults* m_owner = nullptr;
    std::optional<R> m_current;
  };
  /// Starts the iteration: waits for the first result (see next()). Single pass: call once.
  iterator begin() { return iterator(this); }
  /// The end: reached once every result was returned.
  std::default_sentinel_t end() { return {}; }

  /// The results of the pool's stream `results` (map() makes it); the whole iteration must
  /// end by `deadline` (nullopt: no limit). Destroying the range early does not cancel the
  /// calls: they still run, and their results are dropped.
  ProcessMapResults(multiprocessing::IMapIterator<R> results, std::optional<std::chrono::steady_clock::time_point> deadline)
      : m_results(std::move(results)), m_deadline(deadline) {}

 private:
  multiprocessing::IMapIterator<R> m_results;
  std::optional<std::chrono::steady_clock::time_point> m_deadline;
};

/// Python's Executor interface (submit, map, shutdown) over a process pool of type `PoolT`:
/// multiprocessing::Pool for ProcessPoolExecutor, mpi::Pool for MPIPoolExecutor
/// (concur/mpi/futures.hpp). Construct one of those; this class holds what they share.
/// Every member may be called from any thread.
template <class PoolT>
class BasicProcessPoolExecutor {
 public:
  /// Work crosses into other processes: asyncio::run_in_executor() hands this executor the
  /// function and the arguments themselves (a closure cannot cross), see asyncio/threads.hpp.
  using process_executor_tag = void;

  BasicProcessPoolExecutor(const BasicProcessPoolExecutor&) = delete;
  BasicProcessPoolExecutor& operator=(const BasicProcessPoolExecutor&) = delete;

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
    try {
      pool().submit(std::move(tasks), "submit");
    } catch (const ValueError&) {  // the pool closed between check_open() and here
      throw RuntimeError("cannot schedule new futures after shutdown");
    }
    return future;
  }

  /// Python's Executor.map: fn(x, y, ...) for the elements of the ranges taken in step
  /// (stopping at the shortest), results in input order. The ranges may be followed by a
  /// timeout (a duration, an optional one or std::nullopt; it counts from this call) and then
  /// a chunksize (items that travel together; default 1):
  ///
  ///     ex.map(add, xs, ys);   ex.map(square, xs, 5s);   ex.map(square, xs, std::nullopt, 64);
  ///
  /// Every element is read here, before anything is submitted: an exception thrown while
  /// reading an input reaches the caller. RuntimeError after shutdown; ValueError for a
  /// chunksize below 1.
  template <class F, class... Xs>
  auto map(F fn, Xs&&... xs) {
    constexpr std::size_t ranges = detail::leading_ranges<Xs...>();
    static_assert(ranges > 0, "map needs at least one range");
    static_assert(sizeof...(Xs) - ranges <= 2, "map takes ranges, then at most a timeout and a chunksize");
    auto args = std::forward_as_tuple(std::forward<Xs>(xs)...);
    std::optional<Timeout> timeout;
    std::size_t chunksize = 1;
    if constexpr (sizeof...(Xs) > ranges) {
      using T = std::tuple_element_t<ranges, std::tuple<Xs...>>;
      static_assert(std::is_convertible_v<T, std::optional<Timeout>>,
                    "map's argument after the ranges is the timeout (a duration or std::nullopt)");
      timeout = std::get<ranges>(args);
    }
    if constexpr (sizeof...(Xs) > ranges + 1) {
      using C = std::remove_cvref_t<std::tuple_element_t<ranges + 1, std::tuple<Xs...>>>;
      static_assert(std::is_integral_v<C>, "map's argument after the timeout is the chunksize (an integer)");
      const C c = std::get<ranges + 1>(args);
      if (c < 1) throw ValueError("chunksize must be >= 1");
      chunksize = static_cast<std::size_t>(c);
    }
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return map_ranges(fn, timeout, chunksize, std::get<I>(args)...);
    }(std::make_index_sequence<ranges>());
  }

  /// Stops accepting work; with `cancel_futures`, cancels what has not started; with `wait`,
  /// returns once every submitted task is done and the workers have stopped. Idempotent.
  void shutdown(bool wait = true, bool cancel_futures = false) {
    m_shutdown.store(true, std::memory_order_release);
    if (cancel_futures) pool().cancel_pending();
    m_pool.close();
    if (wait) {
      std::scoped_lock lock(m_join_mutex);
      if (!m_joined) {
        m_pool.join();
        m_joined = true;
      }
    }
  }

 protected:
  /// Starts the pool: PoolT(pool_args...).
  template <class... A>
  explicit BasicProcessPoolExecutor(A&&... pool_args) : m_pool(std::forward<A>(pool_args)...) {}
  /// shutdown(wait = true).
  ~BasicProcessPoolExecutor() { shutdown(true); }

 private:
  // The Pool's executor-only members (submit, stream, cancel_pending) are private to it.
  multiprocessing::Pool& pool() { return m_pool; }

  void check_open() const {
    if (m_shutdown.load(std::memory_order_acquire)) throw RuntimeError("cannot schedule new futures after shutdown");
  }

  template <class F, class... Rs>
  auto map_ranges(F fn, std::optional<Timeout> timeout, std::size_t chunksize, Rs&&... rs) {
    check_open();
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (timeout) deadline = concur::detail::deadline_after(*timeout);
    using ArgTuple = std::tuple<std::ranges::range_value_t<Rs>...>;
    auto results = [&] {
      if constexpr (sizeof...(Rs) == 1) {
        return pool().template stream<F, ArgTuple>(fn, std::forward<Rs>(rs)..., chunksize, true, "map");
      } else {
        // The argument tuples, zipped up to the shortest range, then one task per chunk of them.
        std::vector<ArgTuple> zipped;
        auto its = std::make_tuple(std::ranges::begin(rs)...);
        const auto ends = std::make_tuple(std::ranges::end(rs)...);
        [&]<std::size_t... I>(std::index_sequence<I...>) {
          while (((std::get<I>(its) != std::get<I>(ends)) && ...)) {
            zipped.emplace_back(*std::get<I>(its)...);
            (++std::get<I>(its), ...);
          }
        }(std::index_sequence_for<Rs...>());
        return pool().template stream<F, ArgTuple>(fn, zipped, chunksize, true, "map");
      }
    }();
    using R = typename decltype(results.begin())::value_type;
    return ProcessMapResults<R>(std::move(results), deadline);
  }

  PoolT m_pool;
  std::atomic<bool> m_shutdown{false};
  std::mutex m_join_mutex;  // serializes the join of shutdown(wait = true)
  bool m_joined = false;    // guarded by m_join_mutex
};

/// concurrent.futures.ProcessPoolExecutor: calls run in worker processes of a
/// multiprocessing::Pool and their results come back in Futures (see the file comment, for
/// the differences from Python too): submit, map and shutdown are BasicProcessPoolExecutor's.
/// Every member may be called from any thread.
class CONCUR_API ProcessPoolExecutor : public BasicProcessPoolExecutor<multiprocessing::Pool> {
 public:
  /// Starts the workers. ValueError if max_workers <= 0; ValueError, OSError, ProcessError as
  /// Pool.
  explicit ProcessPoolExecutor(ProcessPoolOptions options = {});
};

}  // namespace concur::futures
