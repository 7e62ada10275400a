// SPDX-License-Identifier: MIT
// concur/multiprocessing/pool_results.hpp — AsyncResult, MapResult, IMapIterator, Callbacks:
// what a Pool's asynchronous calls return (Python: multiprocessing.pool.AsyncResult,
// MapResult, IMapIterator).
//
//     mp::AsyncResult<int> r = pool.apply_async(square, 7);   // r.get(1s) == 49
//     mp::MapResult<int> m = pool.map_async(square, items);    // m.get(): every result, in order
//     for (int v : pool.imap(square, items)) { ... }            // IMapIterator: one at a time
//
// A result is a handle on the job's shared state: copies of an AsyncResult or MapResult see
// the same job, and a result may outlive its Pool (terminate() and the Pool's destructor fail
// what is unfinished, so get() never waits forever). get() rethrows the job's failure: the
// task's own exception when its type is registered (remote_exceptions.hpp), RemoteError
// otherwise, ProcessError when the worker died or the pool was terminated. A job's Callbacks
// run before its result becomes ready (see pool.hpp for when and on which thread).
//
// Thread safety: every member may be called from any thread; one IMapIterator is a
// single-pass range, consumed by one reader at a time.
#pragma once

#include <concur/errors.hpp>
#include <concur/multiprocessing/detail/result_states.hpp>
#include <concur/timeout.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace concur::multiprocessing {

/// Python's callback= and error_callback= of apply_async, map_async and starmap_async (see
/// pool.hpp for when and where they run): `T` is what the job's get() returns. Either may be
/// empty.
template <class T>
struct Callbacks {
  std::function<void(const T&)> callback = {};                   ///< with the result, on success
  std::function<void(std::exception_ptr)> error_callback = {};  ///< with the failure, otherwise
};

/// The result of apply_async (Python: AsyncResult / ApplyResult).
template <class T>
class AsyncResult {
 public:
  /// What get() returns: the task's result type (void results as std::monostate).
  using value_type = detail::wire_result_t<T>;
  /// The result, waiting up to `timeout`. TimeoutError if not ready by then; rethrows the
  /// task's exception (or RemoteError, ProcessError).
  value_type get(std::optional<Timeout> timeout = std::nullopt) const {
    if (!m_state->wait(timeout)) throw TimeoutError();
    return m_state->values().front();
  }
  /// Waits until ready or `timeout` elapsed.
  void wait(std::optional<Timeout> timeout = std::nullopt) const { (void)m_state->wait(timeout); }
  /// Whether the task finished (successfully or not).
  [[nodiscard]] bool ready() const { return m_state->ready(); }
  /// Whether it completed without an exception. ValueError if not ready.
  [[nodiscard]] bool successful() const { return m_state->successful(); }

  /// Made by Pool (apply_async); not for users.
  explicit AsyncResult(std::shared_ptr<detail::CollectState<value_type>> state) : m_state(std::move(state)) {}

 private:
  std::shared_ptr<detail::CollectState<value_type>> m_state;
};

/// The result of map_async / starmap_async: get() returns every result, in input order.
template <class R>
class MapResult {
 public:
  /// All results. TimeoutError if not ready within `timeout`; the first failure rethrown.
  std::vector<R> get(std::optional<Timeout> timeout = std::nullopt) const {
    if (!m_state->wait(timeout)) throw TimeoutError();
    return m_state->values();
  }
  /// Waits until every chunk is done or `timeout` elapsed.
  void wait(std::optional<Timeout> timeout = std::nullopt) const { (void)m_state->wait(timeout); }
  /// Whether every task finished (successfully or not).
  [[nodiscard]] bool ready() const { return m_state->ready(); }
  /// Whether every task completed without an exception. ValueError if not ready.
  [[nodiscard]] bool successful() const { return m_state->successful(); }

  /// Made by Pool (map_async, starmap_async); not for users.
  explicit MapResult(std::shared_ptr<detail::CollectState<R>> state) : m_state(std::move(state)) {}

 private:
  std::shared_ptr<detail::CollectState<R>> m_state;
};

/// The results of imap / imap_unordered: an input range (single pass) and Python's
/// next(timeout).
template <class R>
class IMapIterator {
 public:
  /// The next result; nullopt when all were returned (Python: StopIteration). TimeoutError,
  /// or the failed chunk's exception (iteration may continue after it).
  std::optional<R> next(std::optional<Timeout> timeout = std::nullopt) { return m_state->next(timeout); }

  /// A single-pass input iterator over the results; each ++ waits for the next one.
  class iterator {
   public:
    /// std::input_iterator's members: *it is the current result, ++it waits for the next one,
    /// it == end() once every result was returned.
    /// @{
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(detail::StreamState<R>* state) : m_state(state) { advance(); }
    const R& operator*() const { return *m_current; }
    iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    bool operator==(std::default_sentinel_t) const { return !m_current.has_value(); }
    /// @}

   private:
    void advance() { m_current = m_state->next(std::nullopt); }
    detail::StreamState<R>* m_state = nullptr;
    std::optional<R> m_current;
  };
  /// Waits for the first result.
  iterator begin() { return iterator(m_state.get()); }
  /// The end: reached when every result was returned.
  std::default_sentinel_t end() { return {}; }

  /// Made by Pool (imap, imap_unordered); not for users.
  explicit IMapIterator(std::shared_ptr<detail::StreamState<R>> state) : m_state(std::move(state)) {}

 private:
  std::shared_ptr<detail::StreamState<R>> m_state;
};

}  // namespace concur::multiprocessing
