// SPDX-License-Identifier: MIT
// concur/multiprocessing/detail/pool_front.hpp — the typed front of a pool (internal): Python's
// Pool methods (apply, apply_async, map, map_async, starmap, starmap_async, imap,
// imap_unordered) turned into chunks (PoolTask) for whatever runs them.
//
// `Derived` provides `void submit(std::vector<detail::PoolTask>, const char* job)` (ValueError
// when it does not take work) and `std::size_t processes() const` (for Python's default map
// chunksize). The semantics are multiprocessing::Pool's (see pool.hpp): every input is read
// once, in the calling thread, before anything is submitted; results come back into the
// AsyncResult / MapResult / IMapIterator of pool.hpp. concur::mpi::Pool stands on it.
#pragma once

#include <concur/multiprocessing/pool.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <ranges>
#include <tuple>
#include <utility>
#include <vector>

namespace concur::multiprocessing::detail {

template <class Derived>
class CONCUR_API PoolFront {
 public:
  /// fn(args...) in a worker; blocks for the result. Errors as AsyncResult::get.
  template <class F, class... Args>
  auto apply(F fn, Args&&... args) {
    return apply_async(fn, std::forward<Args>(args)...).get();
  }
  /// fn(args...) in a worker. ValueError when the pool is not running.
  template <class F, class... Args>
    requires(!is_callbacks_v<std::remove_cvref_t<Args>> && ...)
  auto apply_async(F fn, Args&&... args) {
    return apply_job<F, Args...>(fn, {}, args...);
  }
  /// Python's apply_async(fn, args, callback=, error_callback=) (see pool.hpp).
  template <class F, class... Args>
  auto apply_async(F fn, const std::tuple<Args...>& args, Callbacks<apply_value_t<F, Args...>> callbacks) {
    return std::apply([&](const auto&... a) { return apply_job<F, Args...>(fn, std::move(callbacks), a...); }, args);
  }
  /// [fn(x) for x in items], in order; blocks. chunksize 0: Python's default.
  template <class F, std::ranges::input_range Range>
  auto map(F fn, Range&& items, std::size_t chunksize = 0) {
    return map_async(fn, std::forward<Range>(items), chunksize).get();
  }
  /// map without waiting; `callbacks` with the whole vector of results.
  template <class F, std::ranges::input_range Range>
  auto map_async(F fn, Range&& items, std::size_t chunksize = 0, Callbacks<std::vector<map_value_t<F, Range>>> callbacks = {}) {
    return collect<F, map_args_t<Range>>(fn, std::forward<Range>(items), chunksize, "map", std::move(callbacks));
  }
  /// map_async with Python's default chunksize and callbacks.
  template <class F, std::ranges::input_range Range>
  auto map_async(F fn, Range&& items, Callbacks<std::vector<map_value_t<F, Range>>> callbacks) {
    return collect<F, map_args_t<Range>>(fn, std::forward<Range>(items), 0, "map", std::move(callbacks));
  }
  /// [fn(a, b, ...) for (a, b, ...) in items] — items are tuples or pairs.
  template <class F, std::ranges::input_range Range>
  auto starmap(F fn, Range&& items, std::size_t chunksize = 0) {
    return starmap_async(fn, std::forward<Range>(items), chunksize).get();
  }
  /// starmap without waiting; `callbacks` as map_async's.
  template <class F, std::ranges::input_range Range>
  auto starmap_async(F fn, Range&& items, std::size_t chunksize = 0,
                     Callbacks<std::vector<starmap_value_t<F, Range>>> callbacks = {}) {
    return collect<F, starmap_args_t<Range>>(fn, std::forward<Range>(items), chunksize, "starmap", std::move(callbacks));
  }
  /// starmap_async with Python's default chunksize and callbacks.
  template <class F, std::ranges::input_range Range>
  auto starmap_async(F fn, Range&& items, Callbacks<std::vector<starmap_value_t<F, Range>>> callbacks) {
    return collect<F, starmap_args_t<Range>>(fn, std::forward<Range>(items), 0, "starmap", std::move(callbacks));
  }
  /// fn over items, results in order as they become available (chunksize default 1).
  template <class F, std::ranges::input_range Range>
  auto imap(F fn, Range&& items, std::size_t chunksize = 1) {
    return stream<F, map_args_t<Range>>(fn, std::forward<Range>(items), chunksize, true, "imap");
  }
  /// fn over items, results in completion order.
  template <class F, std::ranges::input_range Range>
  auto imap_unordered(F fn, Range&& items, std::size_t chunksize = 1) {
    return stream<F, map_args_t<Range>>(fn, std::forward<Range>(items), chunksize, false, "imap_unordered");
  }

  // imap, imap_unordered, an executor's map: each element of `items` is an ArgTuple's one
  // value, or (for a map over several ranges) the ArgTuple itself.
  template <class F, class ArgTuple, class Range>
  auto stream(F fn, Range&& items, std::size_t chunksize, bool ordered, const char* job) {
    if (chunksize == 0) throw ValueError("chunksize must be at least 1");
    using R = wire_result_t<task_result_t<F, ArgTuple>>;
    std::size_t total = 0;
    auto tasks = make_tasks<F, ArgTuple>(fn, std::forward<Range>(items), chunksize, total);
    auto state = std::make_shared<StreamState<R>>(tasks.size(), ordered);
    for (auto& t : tasks) t.sink = state;
    self().submit(std::move(tasks), job);
    return IMapIterator<R>(std::move(state));
  }

 protected:
  PoolFront() = default;
  ~PoolFront() = default;

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  template <class F, class... Args>
  auto apply_job(F fn, Callbacks<apply_value_t<F, Args...>> callbacks, const std::remove_reference_t<Args>&... args) {
    using ArgTuple = std::tuple<wire_type_t<Args>...>;
    using R = apply_value_t<F, Args...>;
    const std::tuple<arg_ref_t<Args>...> refs(args...);
    const auto* one = &refs;
    CollectCallbacks<R> on;
    if (callbacks.callback) {
      on.on_values = [cb = std::move(callbacks.callback)](const std::vector<R>& v) { cb(v.front()); };
    }
    on.on_error = std::move(callbacks.error_callback);
    auto state = std::make_shared<CollectState<R>>(1, std::vector<std::size_t>{0}, std::move(on));
    std::vector<PoolTask> tasks;
    tasks.push_back(make_task<F, ArgTuple>(fn, one, one + 1, 1));
    tasks.back().sink = state;
    self().submit(std::move(tasks), "apply");
    return AsyncResult<task_result_t<F, ArgTuple>>(std::move(state));
  }

  // Cuts `items` into tasks of `chunksize` items (0: Python's default), reading each element
  // once; a range whose size is not known up front is copied into a vector first.
  template <class F, class ArgTuple, class Range>
  std::vector<PoolTask> make_tasks(F fn, Range&& items, std::size_t& chunksize, std::size_t& total) {
    if constexpr (std::ranges::forward_range<Range> && std::ranges::sized_range<Range>) {
      total = static_cast<std::size_t>(std::ranges::distance(items));
      if (chunksize == 0) chunksize = default_chunksize(total, self().processes());
      std::vector<PoolTask> tasks;
      tasks.reserve(total / chunksize + 1);
      auto it = std::ranges::begin(items);
      for (std::size_t first = 0; first < total; first += chunksize) {
        const std::size_t n = std::min(chunksize, total - first);
        auto last = std::ranges::next(it, static_cast<std::ranges::range_difference_t<Range>>(n));
        tasks.push_back(make_task<F, ArgTuple>(fn, it, last, n));
        tasks.back().index = tasks.size() - 1;
        tasks.back().first_item = first;
        it = last;
      }
      return tasks;
    } else {
      std::vector<std::ranges::range_value_t<Range>> copy;
      const auto end = std::ranges::end(items);
      for (auto it = std::ranges::begin(items); it != end; ++it) copy.push_back(*it);
      return make_tasks<F, ArgTuple>(fn, copy, chunksize, total);
    }
  }

  template <class F, class ArgTuple, class Range, class R = wire_result_t<task_result_t<F, ArgTuple>>>
  auto collect(F fn, Range&& items, std::size_t chunksize, const char* job, Callbacks<std::vector<R>> callbacks) {
    std::size_t total = 0;
    auto tasks = make_tasks<F, ArgTuple>(fn, std::forward<Range>(items), chunksize, total);
    std::vector<std::size_t> offsets;
    offsets.reserve(tasks.size());
    for (const auto& t : tasks) offsets.push_back(t.first_item);
    auto state = std::make_shared<CollectState<R>>(total, std::move(offsets),
                                                   CollectCallbacks<R>{std::move(callbacks.callback), std::move(callbacks.error_callback)});
    for (auto& t : tasks) t.sink = state;
    const bool empty = tasks.empty();
    self().submit(std::move(tasks), job);  // ValueError when not running, even for no items (as Python)
    if (empty) state->settle_empty();
    return MapResult<R>(std::move(state));
  }
};

}  // namespace concur::multiprocessing::detail
