// SPDX-License-Identifier: MIT
// concur/multiprocessing/pool.hpp — Pool: multiprocessing.Pool. Its results (AsyncResult,
// MapResult, IMapIterator, Callbacks) are in pool_results.hpp, register_exception in
// remote_exceptions.hpp; both are included here.
//
//     int square(int x) { return x * x; }
//     mp::Pool pool({.processes = 4});
//     std::vector<int> squares = pool.map(square, std::views::iota(0, 1000));
//     for (int v : pool.imap_unordered(square, inputs)) { ... }   // as workers finish
//     mp::AsyncResult<int> r = pool.apply_async(square, 7);        // r.get(1s)
//
// Work crosses to the workers as in Process (process.hpp): a plain function or capture-less
// lambda, and arguments serialize.hpp can encode (checked at compile time); results and
// exceptions come back. Inputs are cut into chunks (`chunksize` items each; Python's default
// for map: len / (4 * processes), rounded up; 1 for imap); a chunk is one task.
//
// Inputs are any input range, its end a sentinel or not (std::views::iota(0) |
// std::views::take_while(...), std::ranges::istream_view, a filter): each is read once, in
// the calling thread, before map/imap/... returns, as Python's map reads its iterable into a
// list first. One whose size is not known up front is read whole before anything is
// submitted: an exception thrown while reading it reaches the caller and submits nothing
// (Python's imap raises it from the result's next() instead). The chunks of a sized range go
// to the workers as they are encoded, so that the workers start on the first while the
// calling thread encodes the rest.
//
// Crash-proof (better than Python, whose Pool hangs forever when a worker dies — cpython
// issue 96062): each worker has its own channel, so the pool knows which task every worker
// holds. A worker that segfaults, aborts, exits or is killed fails exactly the task it was
// running, with ProcessError naming the pid, the signal or exit code and the task; the worker
// is replaced and every other task completes. Tasks that were queued to that worker but not
// started are re-queued. No task runs twice: a worker hands each result over (into memory it
// shares with the pool, or on its socket) before it starts its next task and before it stops
// counting the task as running, so a worker killed after its task returned but before the
// result was out fails that task like one killed while running it. A worker whose
// initializer fails or crashes breaks the pool: every pending and later task fails with
// ProcessError (Python's Pool would restart it forever). So does a
// replacement worker that cannot be started when no worker is left. Under "forkserver", the
// fork server's death costs nothing: the workers run on, and replacements come from a new
// server (Python's pool hangs).
//
// Exceptions: an exception thrown by the function in a worker comes back as its own type when
// that type is registered (register_exception<E>(); <stdexcept> types and concur's common
// errors are), otherwise as RemoteError carrying the type name and message. map/starmap and
// MapResult::get raise the first failure; imap raises a chunk's failure at its position.
//
// Callbacks (Python: apply_async/map_async/starmap_async's callback= and error_callback=):
//
//     pool.apply_async(square, std::tuple(7), {.callback = [&](int v) { total += v; },
//                                              .error_callback = [&](std::exception_ptr e) { ... }});
//     pool.map_async(square, items, {.callback = [&](const std::vector<int>& all) { ... }});
//     pool.starmap_async(add, pairs, 10, {.error_callback = log_failure});   // after chunksize
//
// As in Python, apply_async then takes its arguments as one tuple (`args`), followed by a
// Callbacks struct; map_async/starmap_async take Callbacks last, with or without chunksize.
// `callback` receives what get() returns (a map's whole vector; std::monostate for a void
// function), `error_callback` the std::exception_ptr get() would rethrow (the registered type,
// RemoteError or ProcessError) — also when a worker crashed or terminate() ended the job.
// Exactly one of them is called, exactly once, in the parent process (they are ordinary
// callables and may capture state: they never cross to a worker), on the pool's manager
// thread — or, when the job ends without reaching a worker (a broken pool, an empty map), in
// the call that submitted it, before it returns. As in Python the callback runs before the
// result becomes ready: get()/wait() return, and ready() turns true, only after it returned.
// No lock of the pool or of the result is held while it runs, so it may call ready() or
// submit new work; but it must not wait for a result of the same pool (nor call join()): the
// manager thread that would deliver it is the one running the callback (Python deadlocks
// there too), and like Python's it should be quick — results wait behind it. Dropping the
// AsyncResult/MapResult does not cancel the callback; and since terminate() and the destructor
// fail unfinished jobs, their error_callbacks run then: what a callback uses must outlive the
// Pool (declare it first). An exception escaping a callback goes to threading::excepthook,
// like one escaping a thread (Python's result thread would die and the pool hang); the result
// is unaffected and the pool carries on. Differs from Python: map_async over an empty input
// calls `callback` with the empty vector (Python never calls it).
//
// Lifetime: close() stops new work; join() (after close or terminate) waits for the workers to
// exit; terminate() kills the workers at once and fails every unfinished task with
// ProcessError (Python's results would never be ready). The destructor calls terminate() and
// join(): it never hangs and leaves no zombie. Results (AsyncResult, IMapIterator) may outlive
// the Pool: unfinished ones are failed by terminate().
//
// Thread safety: every member of Pool, AsyncResult, MapResult and IMapIterator may be called
// from any thread. One manager thread per pool talks to the workers.
#pragma once

#include <concur/export.hpp>
#include <concur/multiprocessing/detail/pool_task.hpp>
#include <concur/multiprocessing/pool_results.hpp>
#include <concur/multiprocessing/process.hpp>
#include <concur/multiprocessing/remote_exceptions.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace concur::futures {
template <class PoolT>
class BasicProcessPoolExecutor;
}
namespace concur::mpi::detail {
struct PoolAccess;
}

namespace concur::multiprocessing {

/// A function (plus arguments) run once in each worker when it starts (Python: initializer,
/// initargs). Implicitly built from a function: `.initializer = init` or `{init, 42}`.
class Initializer {
 public:
  Initializer() = default;
  /// fn(args...) runs once in each worker before its first task (Python: initializer=fn,
  /// initargs=args). Arguments are as a Process's (process.hpp): IPC objects reach every worker
  /// as handles of the same object, which live until the worker ends (reduction.hpp).
  template <class F, class... Args>
    requires(!std::is_same_v<std::decay_t<F>, Initializer>)
  Initializer(F fn, Args&&... args)  // NOLINT(google-explicit-constructor): keyword-argument style
      : m_target(detail::make_target<detail::ArgsLifetime::process>(fn, std::forward<Args>(args)...)) {}
  /// Whether an initializer was given.
  [[nodiscard]] explicit operator bool() const noexcept { return m_target.has_value(); }
  /// Internal: the target.
  [[nodiscard]] const std::optional<detail::ProcessTarget>& target() const noexcept { return m_target; }
  /// Internal: takes the target (with the descriptors its arguments carry).
  [[nodiscard]] std::optional<detail::ProcessTarget> take_target() noexcept { return std::exchange(m_target, std::nullopt); }

 private:
  std::optional<detail::ProcessTarget> m_target;
};

/// Keyword arguments of Pool.
struct PoolOptions {
  std::optional<int> processes = std::nullopt;  ///< nullopt: process_cpu_count(); ValueError if < 1
  Initializer initializer = {};      ///< run in each worker at start
  std::size_t maxtasksperchild = 0;  ///< tasks (chunks) a worker runs before it is replaced; 0: no limit
  std::string start_method = {};     ///< "fork", "forkserver"; empty: get_start_method()
};

namespace detail {

class PoolCore;       // the manager (src/multiprocessing/pool_manager.hpp)
class WorkerLauncher;  // how its workers start (detail/pool_channel.hpp)

template <class T>
inline constexpr bool is_callbacks_v = false;
template <class T>
inline constexpr bool is_callbacks_v<Callbacks<T>> = true;

/// What get() of apply_async(fn, args...) returns.
template <class F, class... Args>
using apply_value_t = wire_result_t<task_result_t<F, std::tuple<wire_type_t<Args>...>>>;

/// The arguments of one starmap item: a tuple as it is, a pair as a tuple, else a 1-tuple.
template <class T>
struct tuple_of {
  using type = std::tuple<T>;
};
template <class... Ts>
struct tuple_of<std::tuple<Ts...>> {
  using type = std::tuple<Ts...>;
};
template <class A, class B>
struct tuple_of<std::pair<A, B>> {
  using type = std::tuple<A, B>;
};
template <class T>
using tuple_of_t = typename tuple_of<std::remove_cvref_t<T>>::type;

/// The argument tuple of each item, and what each item's call gives back, for map / starmap.
template <class Range>
using map_args_t = std::tuple<std::ranges::range_value_t<Range>>;
template <class Range>
using starmap_args_t = tuple_of_t<std::ranges::range_value_t<Range>>;
template <class F, class Range>
using map_value_t = wire_result_t<task_result_t<F, map_args_t<Range>>>;
template <class F, class Range>
using starmap_value_t = wire_result_t<task_result_t<F, starmap_args_t<Range>>>;

/// The number of workers of a Pool: `processes`, or by default the CPUs this process may run
/// on (Python 3.13's os.process_cpu_count()). ValueError if it is less than 1, as in Python.
inline std::size_t pool_processes(std::optional<int> processes) {
  if (!processes) return process_cpu_count();
  if (*processes < 1) throw ValueError("Number of processes must be at least 1");
  return static_cast<std::size_t>(*processes);
}

/// A map's chunks go to the pool in parts of about this many encoded bytes (see submit_job).
inline constexpr std::size_t job_part_bytes = std::size_t{256} << 10;

/// Python's default map chunksize: ceil(len / (4 * processes)), at least 1.
inline std::size_t default_chunksize(std::size_t items, std::size_t processes) {
  const std::size_t per = processes * 4;
  const std::size_t c = items / per + (items % per != 0 ? 1 : 0);
  return c == 0 ? 1 : c;
}

}  // namespace detail

/// A pool of worker processes, Python's multiprocessing.Pool (see the file comment).
class CONCUR_API Pool {
 public:
  /// Starts the workers (by default process_cpu_count() of them). ValueError if processes < 1
  /// or for an unknown start method; OSError or ProcessError when a worker cannot be started.
  explicit Pool(PoolOptions options = {});
  /// A pool whose `processes` workers are started by `launcher` (another transport than local
  /// processes, see concur/multiprocessing/detail/pool_channel.hpp; not for applications),
  /// each replaced after `maxtasksperchild` tasks (0: never). ValueError if processes < 1;
  /// what launch() throws when a worker cannot be started.
  Pool(std::unique_ptr<detail::WorkerLauncher> launcher, std::size_t processes, std::size_t maxtasksperchild = 0);
  /// Movable, not copyable; a moved-from Pool owns no workers.
  /// @{
  Pool(Pool&&) noexcept;
  Pool& operator=(Pool&&) noexcept;
  /// @}
  /// terminate() + join(): never hangs, leaves no zombie.
  ~Pool();

  /// fn(args...) in a worker; blocks for the result. Errors as AsyncResult::get.
  template <class F, class... Args>
  auto apply(F fn, Args&&... args) {
    return apply_async(fn, std::forward<Args>(args)...).get();
  }
  /// fn(args...) in a worker. ValueError when the pool is not running.
  template <class F, class... Args>
    requires(!detail::is_callbacks_v<std::remove_cvref_t<Args>> && ...)
  auto apply_async(F fn, Args&&... args) {
    return apply_job<F, Args...>(fn, {}, args...);
  }
  /// Python's apply_async(fn, args, callback=, error_callback=): fn(args...) in a worker — the
  /// tuple is unpacked, so a function of one tuple takes std::tuple(std::tuple(...)) — then
  /// one of the callbacks in the parent (see the contract above). ValueError when the pool is
  /// not running (and no callback is called).
  template <class F, class... Args>
  auto apply_async(F fn, const std::tuple<Args...>& args, Callbacks<detail::apply_value_t<F, Args...>> callbacks) {
    return std::apply([&](const auto&... a) { return apply_job<F, Args...>(fn, std::move(callbacks), a...); }, args);
  }

  /// [fn(x) for x in items], in order; blocks. chunksize 0: Python's default.
  template <class F, std::ranges::input_range Range>
  auto map(F fn, Range&& items, std::size_t chunksize = 0) {
    return map_async(fn, std::forward<Range>(items), chunksize).get();
  }
  /// map without waiting; `callbacks` as apply_async's, with the whole vector of results.
  template <class F, std::ranges::input_range Range>
  auto map_async(F fn, Range&& items, std::size_t chunksize = 0,
                 Callbacks<std::vector<detail::map_value_t<F, Range>>> callbacks = {}) {
    return collect<F, detail::map_args_t<Range>>(fn, std::forward<Range>(items), chunksize, "map", std::move(callbacks));
  }
  /// map_async with Python's default chunksize and callbacks.
  template <class F, std::ranges::input_range Range>
  auto map_async(F fn, Range&& items, Callbacks<std::vector<detail::map_value_t<F, Range>>> callbacks) {
    return collect<F, detail::map_args_t<Range>>(fn, std::forward<Range>(items), 0, "map", std::move(callbacks));
  }
  /// [fn(a, b, ...) for (a, b, ...) in items] — items are tuples or pairs.
  template <class F, std::ranges::input_range Range>
  auto starmap(F fn, Range&& items, std::size_t chunksize = 0) {
    return starmap_async(fn, std::forward<Range>(items), chunksize).get();
  }
  /// starmap without waiting; `callbacks` as map_async's.
  template <class F, std::ranges::input_range Range>
  auto starmap_async(F fn, Range&& items, std::size_t chunksize = 0,
                     Callbacks<std::vector<detail::starmap_value_t<F, Range>>> callbacks = {}) {
    return collect<F, detail::starmap_args_t<Range>>(fn, std::forward<Range>(items), chunksize, "starmap", std::move(callbacks));
  }
  /// starmap_async with Python's default chunksize and callbacks.
  template <class F, std::ranges::input_range Range>
  auto starmap_async(F fn, Range&& items, Callbacks<std::vector<detail::starmap_value_t<F, Range>>> callbacks) {
    return collect<F, detail::starmap_args_t<Range>>(fn, std::forward<Range>(items), 0, "starmap", std::move(callbacks));
  }
  /// fn over items, results in order as they become available (chunksize default 1).
  template <class F, std::ranges::input_range Range>
  auto imap(F fn, Range&& items, std::size_t chunksize = 1) {
    return stream<F, detail::map_args_t<Range>>(fn, std::forward<Range>(items), chunksize, true, "imap");
  }
  /// fn over items, results in completion order.
  template <class F, std::ranges::input_range Range>
  auto imap_unordered(F fn, Range&& items, std::size_t chunksize = 1) {
    return stream<F, detail::map_args_t<Range>>(fn, std::forward<Range>(items), chunksize, false, "imap_unordered");
  }

  /// No more tasks may be submitted; workers exit once the queued tasks are done.
  void close();
  /// Kills the workers now; unfinished tasks fail with ProcessError.
  void terminate();
  /// Waits for the workers to exit. ValueError unless close() or terminate() was called.
  void join();
  /// Number of worker processes.
  [[nodiscard]] std::size_t processes() const;

 private:
  // apply_async: one task of one item; `args` are the caller's (Args... as given to it).
  template <class F, class... Args>
  auto apply_job(F fn, Callbacks<detail::apply_value_t<F, Args...>> callbacks, const std::remove_reference_t<Args>&... args) {
    using ArgTuple = std::tuple<detail::wire_type_t<Args>...>;
    using R = detail::apply_value_t<F, Args...>;
    const std::tuple<detail::arg_ref_t<Args>...> refs(args...);
    const auto* one = &refs;
    detail::CollectCallbacks<R> on;
    if (callbacks.callback) {
      on.on_values = [cb = std::move(callbacks.callback)](const std::vector<R>& v) { cb(v.front()); };
    }
    on.on_error = std::move(callbacks.error_callback);
    auto state = std::make_shared<detail::CollectState<R>>(1, std::vector<std::size_t>{0}, std::move(on));
    std::vector<detail::PoolTask> tasks;
    tasks.push_back(detail::make_task<F, ArgTuple>(fn, one, one + 1, 1));
    tasks.back().sink = state;
    submit(std::move(tasks), "apply");
    return AsyncResult<detail::task_result_t<F, ArgTuple>>(std::move(state));
  }

  // Cuts `items` into chunks of `chunksize` items (0: Python's default from the item count)
  // and submits them as one job while it makes them: the workers start on the first chunks
  // while later ones are still being encoded (encoding a map of 1 MiB arguments takes about
  // as long as the workers take to run it). `make_sink(total, chunks, chunksize)` gives the
  // job's ResultSink before any chunk is made. Every element is read once (as Python's map
  // makes a list of its iterable first): a range whose size is not known up front (an
  // istream_view, a take_while, a filter) is copied into a vector first, so an exception
  // thrown while reading such an input leaves the pool untouched and reaches the caller. An
  // exception while encoding reaches the caller too; the chunks submitted before it run, and
  // their results are dropped with the job (nothing can wait for it: the call threw).
  template <class F, class ArgTuple, class Range, class MakeSink>
  auto submit_job(F fn, Range&& items, std::size_t chunksize, const char* job, MakeSink make_sink) {
    if constexpr (std::ranges::forward_range<Range> && std::ranges::sized_range<Range>) {
      const auto total = static_cast<std::size_t>(std::ranges::distance(items));
      if (chunksize == 0) chunksize = detail::default_chunksize(total, processes());
      const std::size_t chunks = total / chunksize + (total % chunksize != 0 ? 1 : 0);
      auto sink = make_sink(total, chunks, chunksize);
      std::vector<detail::PoolTask> batch;
      std::size_t batch_bytes = 0;
      std::uint64_t job_id = 0;  // 0 until the first part went out
      try {
        auto it = std::ranges::begin(items);
        for (std::size_t first = 0; first < total; first += chunksize) {
          const std::size_t n = std::min(chunksize, total - first);
          auto last = std::ranges::next(it, static_cast<std::ranges::range_difference_t<Range>>(n));
          auto& t = batch.emplace_back(detail::make_task<F, ArgTuple>(fn, it, last, n));
          t.sink = sink;
          t.index = first / chunksize;
          t.first_item = first;
          batch_bytes += t.chunk.bytes.size() + t.chunk.blob_size;
          it = last;
          if (batch_bytes >= detail::job_part_bytes && first + n < total) {
            job_id = submit_part(batch, job, job_id, false);
            batch_bytes = 0;
          }
        }
      } catch (...) {
        if (job_id != 0) end_job(job_id);
        throw;
      }
      (void)submit_part(batch, job, job_id, true);  // ValueError when not running, even for no items (as Python)
      return sink;
    } else {
      std::vector<std::ranges::range_value_t<Range>> copy;
      const auto end = std::ranges::end(items);
      for (auto it = std::ranges::begin(items); it != end; ++it) copy.push_back(*it);
      return submit_job<F, ArgTuple>(fn, copy, chunksize, job, std::move(make_sink));
    }
  }

  template <class F, class ArgTuple, class Range, class R = detail::wire_result_t<detail::task_result_t<F, ArgTuple>>>
  auto collect(F fn, Range&& items, std::size_t chunksize, const char* job, Callbacks<std::vector<R>> callbacks) {
    bool empty = false;
    auto state = submit_job<F, ArgTuple>(fn, std::forward<Range>(items), chunksize, job,
                                         [&](std::size_t total, std::size_t chunks, std::size_t size) {
                                           empty = chunks == 0;
                                           std::vector<std::size_t> offsets(chunks);
                                           for (std::size_t i = 0; i < chunks; ++i) offsets[i] = i * size;
                                           return std::make_shared<detail::CollectState<R>>(
                                               total, std::move(offsets),
                                               detail::CollectCallbacks<R>{std::move(callbacks.callback),
                                                                           std::move(callbacks.error_callback)});
                                         });
    if (empty) state->settle_empty();
    return MapResult<R>(std::move(state));
  }

  // imap, imap_unordered, ProcessPoolExecutor::map: each element of `items` is an ArgTuple's
  // one value, or (for ProcessPoolExecutor's map over several ranges) the ArgTuple itself.
  template <class F, class ArgTuple, class Range>
  auto stream(F fn, Range&& items, std::size_t chunksize, bool ordered, const char* job) {
    if (chunksize == 0) throw ValueError("chunksize must be at least 1");
    using R = detail::wire_result_t<detail::task_result_t<F, ArgTuple>>;
    auto state = submit_job<F, ArgTuple>(fn, std::forward<Range>(items), chunksize, job, [&](std::size_t, std::size_t chunks, std::size_t) {
      return std::make_shared<detail::StreamState<R>>(chunks, ordered);
    });
    return IMapIterator<R>(std::move(state));
  }

  // One part of a job (see submit_job): `tasks` are queued (and `tasks` left empty) under
  // `job_id`, or under a new job's id when it is 0 — ValueError then when the pool is not
  // running; a job already started takes its later parts even once the pool is closed.
  // `last`: the job is complete (a closed pool's workers exit only once no job is open).
  // Returns the job's id.
  std::uint64_t submit_part(std::vector<detail::PoolTask>& tasks, const char* job, std::uint64_t job_id, bool last);
  // Ends a started job without more parts (its encoding failed).
  void end_job(std::uint64_t job_id) noexcept;
  void submit(std::vector<detail::PoolTask> tasks, const char* job);
  // Cancels the queued tasks whose sink agrees (ProcessPoolExecutor::shutdown).
  void cancel_pending();

  template <class PoolT>
  friend class concur::futures::BasicProcessPoolExecutor;  // ProcessPoolExecutor, MPIPoolExecutor
  friend struct concur::mpi::detail::PoolAccess;            // concur/mpi/detail/pool_access.hpp

  std::unique_ptr<detail::PoolCore> m_core;  // null only in a moved-from Pool
};

}  // namespace concur::multiprocessing
