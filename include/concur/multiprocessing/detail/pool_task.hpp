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
#include <cstring>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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

// ---- the hot path at one small item per task: a std::vector of numbers encoded and decoded
// without a cereal archive (whose set-up cost more than the item), byte for byte as
// serialize() and deserialize() do it: the payload header, the length, the elements inline.
// Only for vectors small enough to travel inline; anything else takes the general path.

/// Numbers that travel as one block in a std::vector (bool does not: a bit per element).
template <class T>
inline constexpr bool flat_wire_v = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

/// The bytes before a flat vector's elements: the payload header, then the element count.
inline constexpr std::size_t flat_header_size = payload_header_size + sizeof(std::uint64_t);

/// The payload serialize() makes of a std::vector<T> of `n` numbers, with room for them after
/// flat_header_size bytes (the caller fills them in); n * sizeof(T) < shared_memory_threshold.
template <class T>
Payload flat_payload(std::size_t n) {
  static const std::uint64_t fingerprint = type_fingerprint<std::vector<T>>();
  Payload out;
  out.bytes.resize(flat_header_size + n * sizeof(T));
  const std::uint64_t header[3] = {fingerprint, 0, n};
  std::memcpy(out.bytes.data(), header, sizeof header);
  return out;
}

/// serialize(std::vector<T>(data, data + n)), without building the vector.
template <class T>
Payload encode_flat(const T* data, std::size_t n) {
  if (n * sizeof(T) >= shared_memory_threshold) return serialize_as<std::vector<T>>(FlatView<T>{data, n});
  Payload out = flat_payload<T>(n);
  if (n != 0) std::memcpy(out.bytes.data() + flat_header_size, data, n * sizeof(T));
  return out;
}

/// Where the elements of an inline std::vector<T> payload are, and how many.
struct FlatElements {
  const char* data;
  std::size_t count;
};
/// The elements of `p` if it is a std::vector<T> of numbers encoded inline and nothing else;
/// nullopt for any other payload (decode it with deserialize(), which checks it).
template <class T>
std::optional<FlatElements> flat_elements(const Payload& p) noexcept {
  static const std::uint64_t fingerprint = type_fingerprint<std::vector<T>>();
  if (p.bytes.size() < flat_header_size || p.blob || p.blob_size != 0 || p.blob_view != nullptr) return std::nullopt;
  std::uint64_t header[3];
  std::memcpy(header, p.bytes.data(), sizeof header);
  const std::size_t bytes = p.bytes.size() - flat_header_size;
  if (header[0] != fingerprint || header[1] != 0 || bytes % sizeof(T) != 0 || header[2] != bytes / sizeof(T) ||
      bytes >= shared_memory_threshold)
    return std::nullopt;
  return FlatElements{p.bytes.data() + flat_header_size, bytes / sizeof(T)};
}

// ---- arguments a function reads in place: a parameter std::span<const T> (T a number) takes
// a std::vector<T> argument, std::string_view a std::string, as views of the received bytes ----

/// The parameter types of a plain function or of a lambda's (non-template) call operator.
template <class F>
struct param_types {
  static constexpr bool known = false;
};
template <class R, class... P>
struct param_types<R (*)(P...)> {
  static constexpr bool known = true;
  using type = std::tuple<P...>;
};
template <class R, class... P>
struct param_types<R (*)(P...) noexcept> : param_types<R (*)(P...)> {};
template <class M>
struct member_params {
  static constexpr bool known = false;
};
template <class R, class C, class... P>
struct member_params<R (C::*)(P...) const> : param_types<R (*)(P...)> {};
template <class R, class C, class... P>
struct member_params<R (C::*)(P...) const noexcept> : param_types<R (*)(P...)> {};
template <class F>
  requires std::is_class_v<F> && requires { &F::operator(); }
struct param_types<F> : member_params<decltype(&F::operator())> {};

/// What argument A is decoded as for parameter P: a view when P is one of A's elements.
template <class A, class P>
struct view_arg {
  using type = A;
};
template <class T>
  requires flat_wire_v<T>
struct view_arg<std::vector<T>, std::span<const T>> {
  using type = std::span<const T>;
};
template <>
struct view_arg<std::string, std::string_view> {
  using type = std::string_view;
};

template <class ArgTuple, class Params>
struct view_args {
  using type = ArgTuple;
};
template <class... A, class... P>
  requires(sizeof...(A) == sizeof...(P))
struct view_args<std::tuple<A...>, std::tuple<P...>> {
  using type = std::tuple<typename view_arg<A, std::remove_cvref_t<P>>::type...>;
};

/// The tuple a chunk's items are decoded as for F: views where F takes them (`any`).
template <class F, class ArgTuple>
struct ViewArgs {
  using type = ArgTuple;
  static constexpr bool any = false;
};
template <class F, class ArgTuple>
  requires param_types<F>::known
struct ViewArgs<F, ArgTuple> {
  using type = typename view_args<ArgTuple, typename param_types<F>::type>::type;
  static constexpr bool any = !std::is_same_v<type, ArgTuple>;
};

/// Calls fn on each item (a tuple of arguments, or the one number of a flat chunk) and
/// encodes the results.
template <class W, class F, class Items>
Payload apply_items(F fn, Items& items) {
  std::vector<W> out;
  out.reserve(items.size());
  for (auto& item : items) {
    auto args = [&] {
      if constexpr (requires { std::tuple_size<std::remove_cvref_t<decltype(item)>>::value; }) {
        return std::move(item);
      } else {
        return std::tuple(item);
      }
    }();
    if constexpr (std::is_void_v<decltype(std::apply(fn, std::move(args)))>) {
      std::apply(fn, std::move(args));
      out.emplace_back();
    } else {
      out.push_back(std::apply(fn, std::move(args)));
    }
  }
  return serialize(out);
}

/// Runs in the worker: decodes a chunk, applies the function to each item, encodes results.
using TaskEntry = Payload (*)(std::uintptr_t fn, Payload& chunk);

template <class F, class ArgTuple>
Payload run_chunk(std::uintptr_t word, Payload& chunk) {
  using R = task_result_t<F, ArgTuple>;
  using W = wire_result_t<R>;
  auto fn = callable_from_word<F>(word);
  if constexpr (ChunkWire<ArgTuple>::flat && flat_wire_v<W>) {
    // Numbers in, numbers out: read the items where they are, write the results in place.
    using T = std::tuple_element_t<0, ArgTuple>;
    if (const auto items = flat_elements<T>(chunk); items && items->count * sizeof(W) < shared_memory_threshold) {
      Payload out = flat_payload<W>(items->count);
      char* results = out.bytes.data() + flat_header_size;
      for (std::size_t i = 0; i < items->count; ++i) {
        T item;
        std::memcpy(&item, items->data + i * sizeof(T), sizeof item);
        const W result = std::apply(fn, std::tuple<T>(item));
        std::memcpy(results + i * sizeof(W), &result, sizeof result);
      }
      return out;
    }
  }
  if constexpr (ViewArgs<F, ArgTuple>::any) {
    // The function takes views: its std::vector / std::string arguments are read where they
    // arrived (the chunk's bytes, or the receiver's mapping of its shared-memory block), not
    // copied — unless the block is read through its descriptor, or misaligned for its type.
    if (chunk.blob_size == 0 || chunk.blob_view != nullptr) {
      using Views = typename ViewArgs<F, ArgTuple>::type;
      std::optional<std::vector<Views>> views;
      try {
        views = deserialize_as<std::vector<ArgTuple>, std::vector<Views>>(chunk);
      } catch (const ViewUnavailable&) {
      }
      if (views) return apply_items<W>(fn, *views);
    }
  }
  auto items = deserialize<typename ChunkWire<ArgTuple>::type>(chunk);
  return apply_items<W>(fn, items);
}

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
      t.chunk = encode_flat(std::to_address(first), count);
    } else {
      std::vector<T> values;
      values.reserve(count);
      for (It it = first; it != last; ++it) values.push_back(static_cast<T>(only_value(*it)));
      t.chunk = encode_flat(values.data(), values.size());
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
