// SPDX-License-Identifier: MIT
// concur/mpi/futures.hpp — MPIPoolExecutor: mpi4py.futures.MPIPoolExecutor, a
// concurrent.futures executor over the ranks of an MPI job.
//
//     concur::mpi::init(argc, argv);                      // at the top of main (runtime.hpp)
//     futures::MPIPoolExecutor ex;                        // one worker per rank >= 1
//     futures::Future<int> f = ex.submit(square, 7);      // f.result() == 49
//     for (int v : ex.map(add, xs, ys)) { ... }           // in input order
//
// ProcessPoolExecutor's contract (futures/process.hpp) with mpi::Pool underneath (mpi/pool.hpp
// says where tasks run, how a crash or a lost rank is reported, and what happens without
// mpirun): futures work with futures::wait, as_completed, add_done_callback and
// asyncio::wrap_future as any other. map takes several ranges, then a timeout and a chunksize.
// shutdown(wait = true) waits for every submitted task; with cancel_futures it first cancels
// what has not been sent to a rank. The destructor is shutdown(wait = true); submit() after
// shutdown throws RuntimeError. max_workers: how many worker ranks to use (nullopt: all).
//
// Thread safety: every member may be called from any thread, on rank 0.
#pragma once

#include <concur/export.hpp>
#include <concur/futures/process.hpp>
#include <concur/mpi/detail/pool_access.hpp>
#include <concur/mpi/pool.hpp>

#include <atomic>
#include <mutex>
#include <optional>

namespace concur::futures {

/// Keyword arguments of MPIPoolExecutor.
struct MPIPoolOptions {
  std::optional<int> max_workers = std::nullopt;  ///< worker ranks to use; nullopt: all. ValueError if <= 0
};

/// mpi4py.futures.MPIPoolExecutor: ProcessPoolExecutor's interface over the worker ranks of
/// an MPI job (see the top of this file).
class CONCUR_API MPIPoolExecutor {
 public:
  /// Work crosses into other processes (see asyncio/threads.hpp's run_in_executor).
  using process_executor_tag = void;

  /// Takes the worker ranks. ValueError if max_workers <= 0 or is more than the worker ranks,
  /// or when another pool owns them; RuntimeError before mpi::init() or off rank 0.
  explicit MPIPoolExecutor(MPIPoolOptions options = {});
  MPIPoolExecutor(const MPIPoolExecutor&) = delete;
  MPIPoolExecutor& operator=(const MPIPoolExecutor&) = delete;
  /// shutdown(wait = true).
  ~MPIPoolExecutor();

  /// Schedules fn(args...) on a worker rank. RuntimeError after shutdown.
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

  /// Executor.map over one or more ranges, then optionally a timeout and a chunksize, as
  /// ProcessPoolExecutor::map. RuntimeError after shutdown; ValueError for a chunksize below 1.
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

  /// Stops accepting work; with `cancel_futures`, cancels what has not been sent; with `wait`,
  /// returns once every submitted task is done. Idempotent.
  void shutdown(bool wait = true, bool cancel_futures = false);

 private:
  void check_open() const;
  void submit_tasks(std::vector<multiprocessing::detail::PoolTask> tasks);

  template <class F, class... Rs>
  auto map_ranges(F fn, std::optional<Timeout> timeout, std::size_t chunksize, Rs&&... rs) {
    check_open();
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (timeout) deadline = concur::detail::deadline_after(*timeout);
    using ArgTuple = std::tuple<std::ranges::range_value_t<Rs>...>;
    auto results = [&] {
      if constexpr (sizeof...(Rs) == 1) {
        return mpi::detail::PoolAccess::stream<F, ArgTuple>(m_pool, fn, std::forward<Rs>(rs)..., chunksize, true, "map");
      } else {
        std::vector<ArgTuple> zipped;
        auto its = std::make_tuple(std::ranges::begin(rs)...);
        const auto ends = std::make_tuple(std::ranges::end(rs)...);
        [&]<std::size_t... I>(std::index_sequence<I...>) {
          while (((std::get<I>(its) != std::get<I>(ends)) && ...)) {
            zipped.emplace_back(*std::get<I>(its)...);
            (++std::get<I>(its), ...);
          }
        }(std::index_sequence_for<Rs...>());
        return mpi::detail::PoolAccess::stream<F, ArgTuple>(m_pool, fn, zipped, chunksize, true, "map");
      }
    }();
    using R = typename decltype(results.begin())::value_type;
    return ProcessMapResults<R>(std::move(results), deadline);
  }

  mpi::Pool m_pool;
  std::atomic<bool> m_shutdown{false};
  std::mutex m_shutdown_mutex;  // serializes shutdown()
  bool m_joined = false;        // guarded by m_shutdown_mutex
};

}  // namespace concur::futures
