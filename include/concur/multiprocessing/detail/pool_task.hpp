// SPDX-License-Identifier: MIT
// concur/multiprocessing/detail/pool_task.hpp — what a Pool (and ProcessPoolExecutor) sends
// to its workers, and where results come back to (internal).
//
// A task is one chunk: a function (a task entry, instantiated per function and argument
// types, plus the function's pointer) and the chunk's encoded arguments. The worker runs the
// entry, which decodes the chunk, calls the function on each item and encodes the results
// (or lets the exception out, which the worker turns into a (type name, message) reply).
// Results come back to a ResultSink, in the parent, on the pool's manager thread.
#pragma once

#include <concur/errors.hpp>
#include <concur/export.hpp>
#include <concur/multiprocessing/process.hpp>
#include <concur/multiprocessing/remote_exceptions.hpp>
#include <concur/multiprocessing/serialize.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace concur::multiprocessing::detail {

/// What a function returns once it crossed back: void becomes std::monostate.
template <class F, class ArgTuple>
using task_result_t = decltype(std::apply(std::declval<F&>(), std::declval<ArgTuple>()));
template <class T>
using wire_result_t = std::conditional_t<std::is_void_v<T>, std::monostate, std::decay_t<T>>;

/// How a chunk travels: a std::vector of argument tuples, or — for functions of one number —
/// a std::vector of those numbers, which cereal encodes as one block (one memcpy each way
/// instead of one call per item: the difference shows in Pool.map of small numbers).
template <class ArgTuple>
struct ChunkWire {
  static constexpr bool flat = false;
  using type = std::vector<ArgTuple>;
};
template <class T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
struct ChunkWire<std::tuple<T>> {
  static constexpr bool flat = true;
  using type = std::vector<T>;
};

/// Runs in the worker: decodes a chunk, applies the function to each item, encodes results.
using TaskEntry = Payload (*)(std::uintptr_t fn, Payload& chunk);

template <class F, class ArgTuple>
Payload run_chunk(std::uintptr_t word, Payload& chunk) {
  using R = task_result_t<F, ArgTuple>;
  auto items = deserialize<typename ChunkWire<ArgTuple>::type>(chunk);
  auto fn = callable_from_word<F>(word);
  std::vector<wire_result_t<R>> out;
  out.reserve(items.size());
  for (auto& item : items) {
    auto args = [&] {
      if constexpr (ChunkWire<ArgTuple>::flat) {
        return std::tuple(item);
      } else {
        return std::move(item);
      }
    }();
    if constexpr (std::is_void_v<R>) {
      std::apply(fn, std::move(args));
      out.emplace_back();
    } else {
      out.push_back(std::apply(fn, std::move(args)));
    }
  }
  return serialize(out);
}

/// Encodes n numbers at `data` as a std::vector<T> would be encoded.
template <class T>
struct FlatView {
  const T* data;
  std::size_t size;
  template <class Archive>
  void save(Archive& ar) const {
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(size)));
    ar(cereal::binary_data(data, size * sizeof(T)));
  }
};

/// The single value of a one-element tuple, or the value itself.
template <class V>
decltype(auto) only_value(const V& v) {
  if constexpr (requires { std::tuple_size<V>::value; }) {
    return std::get<0>(v);
  } else {
    return v;
  }
}

/// Encodes [first, last) as a std::vector<ArgTuple> would be encoded, without building it
/// (cereal encodes a tuple as its elements in order, and a pair as first then second).
template <class It>
struct ChunkView {
  It first;
  It last;
  std::size_t size;
  template <class Archive>
  void save(Archive& ar) const {
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(size)));
    for (It it = first; it != last; ++it) ar(*it);
  }
};

/// Receives a job's results in the parent (called on the pool's manager thread).
class CONCUR_API ResultSink {
 public:
  virtual ~ResultSink() = default;
  /// Chunk `chunk` succeeded with these encoded results.
  virtual void deliver(std::size_t chunk, Payload& results) = 0;
  /// Chunk `chunk` failed.
  virtual void fail(std::size_t chunk, std::exception_ptr error) = 0;
  /// The chunk is about to be sent to a worker for the first time: false skips it (a
  /// cancelled future).
  virtual bool on_dispatch(std::size_t /*chunk*/) { return true; }
  /// shutdown(cancel_futures): cancel the chunk if it has not started; true if it was.
  virtual bool cancel_pending(std::size_t /*chunk*/) { return false; }
};

/// One chunk of a job, as the pool queues it.
struct PoolTask {
  TaskEntry entry = nullptr;
  std::uintptr_t fn = 0;
  Payload chunk;
  std::shared_ptr<ResultSink> sink;
  std::size_t index = 0;       // chunk number within the job
  std::size_t first_item = 0;  // position of the chunk's first item in the job's input
  std::size_t items = 0;       // items in the chunk
  const char* job = "apply";   // "apply", "map", "imap", ... (for error messages)
  std::uint64_t job_id = 0;    // set by the pool
  bool dispatched = false;     // on_dispatch() was called (a re-queued task is not asked again)
};

template <class F, class ArgTuple, class It>
PoolTask make_task(F fn, It first, It last, std::size_t count) {
  static_assert(PlainCallable<F>,
                "concur::multiprocessing: a pool task must be a plain function or a capture-less lambda. "
                "A lambda with captures, a std::function or a functor with data refers to the parent's "
                "memory, which a worker process does not share: pass what it needs as arguments instead.");
  static_assert(Serializable<wire_result_t<task_result_t<F, ArgTuple>>>,
                "concur::multiprocessing: the function's result cannot cross back from the worker "
                "(see serialize.hpp for what can).");
  PoolTask t;
  // The pool drops the task only once no worker reads it any more: its blocks may go into a
  // recycled segment.
  const RecycledBlobScope recycled_blobs;
  t.entry = &run_chunk<F, ArgTuple>;
  t.fn = function_word(fn);
  if constexpr (ChunkWire<ArgTuple>::flat) {
    using T = std::tuple_element_t<0, ArgTuple>;
    if constexpr (std::contiguous_iterator<It> && std::is_same_v<std::iter_value_t<It>, T>) {
      t.chunk = serialize_as<std::vector<T>>(FlatView<T>{std::to_address(first), count});
    } else {
      std::vector<T> values;
      values.reserve(count);
      for (It it = first; it != last; ++it) values.push_back(static_cast<T>(only_value(*it)));
      t.chunk = serialize(values);
    }
  } else {
    t.chunk = serialize_as<std::vector<ArgTuple>>(ChunkView<It>{first, last, count});
  }
  if (!t.chunk.fds.empty())
    throw ValueError("a pool task's arguments cannot carry descriptors (a Connection): pass it to a Process");
  t.items = count;
  return t;
}

}  // namespace concur::multiprocessing::detail
