// SPDX-License-Identifier: MIT
// concur/futures/thread.hpp — ThreadPoolExecutor, Python's concurrent.futures.ThreadPoolExecutor.
//
// A pool of at most `max_workers` threads running submitted callables, each submission
// returning a Future:
//
//   futures::ThreadPoolExecutor pool({.max_workers = 4, .thread_name_prefix = "io"});
//   Future<int> f = pool.submit(parse, text, 3);      // fn and args decay-copied, like std::thread
//   int n = f.result();                               // rethrows parse's exception, own type
//   for (const auto& page : pool.map(fetch, urls, 5s)) ...   // in order, lazily, 5 s in all
//   pool.shutdown(/*wait=*/true, /*cancel_futures=*/false);  // the destructor does shutdown()
//
// Semantics are Python's: worker threads are started on demand (a submit starts a new one
// when no worker is idle, up to max_workers) and are concur::threading::Thread objects named
// "<prefix>_<n>" (n from 0; the default prefix is "ThreadPoolExecutor-<k>"), so
// threading::current_thread().name() inside a task tells which worker runs it. Each worker
// first runs `initializer`; if that throws, the error is printed on stderr, the pool becomes
// broken: every queued future fails with BrokenThreadPool and so does every later submit().
// submit() after shutdown() throws RuntimeError. shutdown(wait) lets the queued work run
// (unless cancel_futures, which cancels everything not yet started) and, with wait, joins the
// workers. map() submits every call at once and yields the results in order as they are
// asked for, each wait bounded by what is left of the overall timeout (TimeoutError); leaving
// the loop early (or an exception) cancels the calls not yet started.
//
// max_workers defaults (nullopt, Python's None) to min(32, process_cpu_count() + 4): the CPUs
// this process may run on, plus 4; zero or less is a ValueError, as in Python.
//
// Differences from Python: workers are daemon threads (they never hold the program open: the executor's
// destructor joins them, as Python's exit handler does); shutdown(wait = true) called by one
// of the pool's own workers joins the others (Python raises "cannot join current thread").
//
// Performance: one allocation per task (the future's state holds the callable); submit is a
// lock-free push and wakes a sleeping worker only when no worker is awake to take the task;
// idle workers spin briefly before they sleep. See src/futures/thread.cpp.
//
// Thread safety: submit, map and shutdown may be called from any thread, including from tasks.
// Lifetime: the executor must not be destroyed while another thread uses it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "concur/errors.hpp"
#include "concur/export.hpp"
#include "concur/futures/future.hpp"
#include "concur/timeout.hpp"

namespace concur::futures {

/// ThreadPoolExecutor's keyword arguments.
struct ThreadPoolOptions {
  /// The most worker threads; nullopt: min(32, process_cpu_count() + 4), Python's default
  /// (the CPUs in this process's affinity mask, plus 4). ValueError if <= 0.
  std::optional<int> max_workers = std::nullopt;
  /// Workers are named "<prefix>_<n>"; empty: "ThreadPoolExecutor-<k>".
  std::string thread_name_prefix = {};
  /// Run by each worker before any task; if it throws, the pool is broken (BrokenThreadPool).
  std::function<void()> initializer = {};
};

/// map()'s keyword arguments (also accepted: a bare duration as map's last argument).
struct MapOptions {
  /// Bound on the whole iteration, counted from the map() call; nullopt: none.
  std::optional<Timeout> timeout = std::nullopt;
};

namespace detail {

class ThreadPoolCore;  // src/futures/thread.cpp

/// A submitted call and its future in one allocation. Starts with two references: the
/// returned Future and the executor's queue.
template <class R, class Fn>
class TaskState final : public FutureState<R> {
 public:
  explicit TaskState(Fn&& fn) : FutureState<R>(2), m_fn(std::move(fn)) {}

  void run_task() noexcept override {
    try {
      if (!this->set_running_or_notify_cancel()) {
        m_fn.reset();  // cancelled while queued
        return;
      }
    } catch (...) {
      // Someone completed the future by hand (set_result) before it ran: nothing to do.
      m_fn.reset();
      return;
    }
    try {
      if constexpr (std::is_void_v<R>) {
        (*m_fn)();
        m_fn.reset();  // release what the call captured before the future is seen done
        if (this->begin_completion()) this->complete_with();
      } else {
        R value = (*m_fn)();
        m_fn.reset();
        if (this->begin_completion()) this->complete_with(std::move(value));
      }
    } catch (...) {
      auto e = std::current_exception();
      m_fn.reset();
      if (this->begin_completion()) {
        this->store_exception(std::move(e));
        this->end_completion();
      }
    }
  }

  void drop_task() noexcept override { m_fn.reset(); }

 private:
  std::optional<Fn> m_fn;  // the call; destroyed once run (or dropped)
};

/// A decayed return type: a call returning a reference is stored by value.
template <class F, class... Args>
using call_result_t = std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;

template <class X>
struct is_map_option : std::false_type {};
template <>
struct is_map_option<MapOptions> : std::true_type {};
template <class Rep, class Period>
struct is_map_option<std::chrono::duration<Rep, Period>> : std::true_type {};
/// Whether map()'s last argument is its options rather than a range.
template <class X>
inline constexpr bool is_map_option_v = is_map_option<std::remove_cvref_t<X>>::value;

inline MapOptions to_map_options(const MapOptions& o) { return o; }
template <class Rep, class Period>
MapOptions to_map_options(std::chrono::duration<Rep, Period> d) {
  return {.timeout = std::chrono::duration_cast<Timeout>(d)};
}

}  // namespace detail

/// The range ThreadPoolExecutor::map returns: the results in the order of the inputs, each
/// waited for when the iteration reaches it. Destroying it cancels the calls not yet started.
template <class R>
class MapResults {
 public:
  /// The type of the results: R, or std::monostate for functions returning void.
  using value_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  /// What the iteration yields: `const R&` (valid until the next step), or std::monostate for
  /// functions returning void.
  using reference = std::conditional_t<std::is_void_v<R>, std::monostate, const value_type&>;

  /// The range over the futures `fs` of the calls, in input order (map() makes it); the whole
  /// iteration must end by `deadline` (nullopt: no limit).
  MapResults(std::vector<Future<R>> fs, std::optional<std::chrono::steady_clock::time_point> deadline)
      : m_fs(std::move(fs)), m_deadline(deadline) {}
  /// Movable before the iteration starts (map() returns it so); a moved-from range may only be
  /// destroyed. Not assignable.
  MapResults(MapResults&&) noexcept = default;
  MapResults& operator=(MapResults&&) = delete;
  ~MapResults() { cancel_rest(m_next); }

  /// The range's input iterator (single pass): begin() waits for the first result, each ++
  /// for the next one.
  class iterator {
   public:
    /// Input iterator's member types.
    /// @{
    using value_type = MapResults::value_type;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;
    /// @}

    iterator() = default;
    /// The current result.
    reference operator*() const {
      if constexpr (std::is_void_v<R>)
        return {};
      else
        return m_owner->m_fs[m_owner->m_next - 1].result();
    }
    /// Waits for the next result (with what is left of the timeout). Rethrows the call's
    /// exception or TimeoutError; either ends the iteration and cancels the calls not started.
    iterator& operator++() {
      m_owner->advance();
      return *this;
    }
    /// As ++it (returns nothing: an input iterator).
    void operator++(int) { ++*this; }
    /// True at the end: after the last result, once an exception ended the iteration, or for a
    /// default-constructed iterator.
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.at_end(); }

   private:
    friend class MapResults;
    explicit iterator(MapResults* owner) : m_owner(owner) {}
    [[nodiscard]] bool at_end() const noexcept { return m_owner == nullptr || m_owner->m_at_end; }
    MapResults* m_owner = nullptr;
  };

  /// Starts the iteration: waits for the first result (see operator++). Call once.
  iterator begin() {
    advance();
    return iterator(this);
  }
  /// The end (see the iterator's operator==).
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  void advance() {
    if (m_next > 0) {
      Future<R> yielded = std::move(m_fs[m_next - 1]);  // release it, as Python does
    }
    if (m_next == m_fs.size()) {
      m_at_end = true;
      return;
    }
    const Future<R>& f = m_fs[m_next++];
    try {
      std::optional<Timeout> left;
      if (m_deadline) left = std::chrono::duration_cast<Timeout>(*m_deadline - std::chrono::steady_clock::now());
      f.result(left);  // waits; throws the call's exception, CancelledError or TimeoutError
    } catch (...) {
      m_at_end = true;
      cancel_rest(m_next - 1);
      throw;
    }
  }
  /// Cancels every call from index `from` on that has not started.
  void cancel_rest(std::size_t from) noexcept {
    // Only futures from m_next - 1 on are still held (the earlier ones were released).
    for (std::size_t i = from; i < m_fs.size(); ++i) {
      try {
        m_fs[i].cancel();
      } catch (...) {  // a done-callback's failure is reported by the future itself
      }
    }
  }

  std::vector<Future<R>> m_fs;  // one per call, in input order; [0, m_next - 1) released (moved from)
  std::optional<std::chrono::steady_clock::time_point> m_deadline;
  std::size_t m_next = 0;  // index of the next future to wait for
  bool m_at_end = false;
};

/// concurrent.futures.ThreadPoolExecutor.
class CONCUR_API ThreadPoolExecutor {
 public:
  /// A pool; no thread starts until the first submit(). ValueError if max_workers <= 0.
  explicit ThreadPoolExecutor(ThreadPoolOptions options = {});
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;
  /// shutdown(wait = true).
  ~ThreadPoolExecutor();

  /// Schedules `fn(args...)` (decay-copies, passed as rvalues once, like std::thread) and
  /// returns its future. Throws RuntimeError after shutdown(), BrokenThreadPool if an
  /// initializer failed, std::system_error if a worker thread cannot be started.
  template <class F, class... Args>
    requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>
  Future<detail::call_result_t<F, Args...>> submit(F&& fn, Args&&... args) {
    using R = detail::call_result_t<F, Args...>;
    auto call = [f = std::forward<F>(fn), ... a = std::forward<Args>(args)]() mutable -> decltype(auto) {
      return std::invoke(std::move(f), std::move(a)...);
    };
    auto* state = new detail::TaskState<R, decltype(call)>(std::move(call));
    Future<R> future(state, detail::adopt_t{});  // one reference; the other goes to the queue
    submit_state(state);
    return future;
  }

  /// Python's Executor.map: calls `fn(x, y, ...)` for the elements of the ranges taken in
  /// step (stopping at the shortest), all submitted now, and returns a range of the results
  /// in input order. The last argument may be a MapOptions or a duration (the timeout).
  /// The elements are copied; fn is shared by all the calls (it must be safe to call
  /// concurrently). Submission errors are thrown here; the calls' errors when iterating.
  template <class F, class... Xs>
  auto map(F&& fn, Xs&&... xs) {
    static_assert(sizeof...(Xs) > 0, "map needs at least one range");
    if constexpr (detail::is_map_option_v<std::tuple_element_t<sizeof...(Xs) - 1, std::tuple<Xs...>>>) {
      static_assert(sizeof...(Xs) > 1, "map needs at least one range");
      auto args = std::forward_as_tuple(std::forward<Xs>(xs)...);
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return map_ranges(detail::to_map_options(std::get<sizeof...(Xs) - 1>(args)), std::forward<F>(fn),
                          std::get<I>(args)...);
      }(std::make_index_sequence<sizeof...(Xs) - 1>());
    } else {
      return map_ranges(MapOptions{}, std::forward<F>(fn), std::forward<Xs>(xs)...);
    }
  }

  /// Stops accepting work. The queued work still runs unless `cancel_futures` (then every
  /// future not started is cancelled). With `wait`, returns once the workers have exited.
  /// Calling it again is harmless.
  void shutdown(bool wait = true, bool cancel_futures = false);

  /// The most worker threads this pool starts.
  [[nodiscard]] std::size_t max_workers() const noexcept;

 private:
  /// Queues `state` (which holds one reference for the queue). On a throw, releases it.
  void submit_state(detail::StateBase* state);

  template <class F, std::ranges::input_range... Rs>
  auto map_ranges(MapOptions options, F&& fn, Rs&&... rs) {
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (options.timeout) deadline = concur::detail::deadline_after(*options.timeout);
    auto shared_fn = std::make_shared<std::decay_t<F>>(std::forward<F>(fn));
    using R = std::remove_cvref_t<
        std::invoke_result_t<std::decay_t<F>&, std::remove_cvref_t<std::ranges::range_reference_t<Rs>>...>>;
    std::vector<Future<R>> fs;
    auto its = std::make_tuple(std::ranges::begin(rs)...);
    auto ends = std::make_tuple(std::ranges::end(rs)...);
    const auto any_at_end = [&]<std::size_t... I>(std::index_sequence<I...>) {
      return ((std::get<I>(its) == std::get<I>(ends)) || ...);
    };
    const auto advance_all = [&]<std::size_t... I>(std::index_sequence<I...>) { (++std::get<I>(its), ...); };
    const auto submit_one = [&]<std::size_t... I>(std::index_sequence<I...>) {
      fs.push_back(submit(
          [shared_fn](auto&&... a) -> R { return std::invoke(*shared_fn, std::forward<decltype(a)>(a)...); },
          std::remove_cvref_t<std::ranges::range_reference_t<Rs>>(*std::get<I>(its))...));
    };
    constexpr auto indexes = std::index_sequence_for<Rs...>();
    try {
      while (!any_at_end(indexes)) {
        submit_one(indexes);
        advance_all(indexes);
      }
    } catch (...) {
      for (auto& f : fs) f.cancel();
      throw;
    }
    return MapResults<R>(std::move(fs), deadline);
  }

  std::shared_ptr<detail::ThreadPoolCore> m_core;  // shared with the running workers
};

}  // namespace concur::futures
