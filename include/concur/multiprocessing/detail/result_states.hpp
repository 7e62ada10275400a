// SPDX-License-Identifier: MIT
// concur/multiprocessing/detail/result_states.hpp — where a pool job's results gather in the
// parent (internal): CollectState (apply, map, starmap: one vector, ready when complete) and
// StreamState (imap, imap_unordered: consumed one at a time). The result types of
// pool_results.hpp are handles on these; the pool's manager fills them through ResultSink,
// whatever channel brought the results back.
#pragma once

#include <concur/errors.hpp>
#include <concur/multiprocessing/detail/pool_task.hpp>
#include <concur/multiprocessing/remote_exceptions.hpp>
#include <concur/multiprocessing/serialize.hpp>
#include <concur/threading/thread.hpp>
#include <concur/timeout.hpp>

#include <cassert>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

namespace concur::multiprocessing::detail {

/// Reports an exception that escaped a Pool callback the way one escaping a thread is
/// reported (threading::excepthook, in the calling thread), and carries on.
inline void report_callback_error(const std::exception_ptr& e) noexcept {
  try {
    threading::excepthook({e, exception_type_name(e), threading::current_thread()});
  } catch (...) {  // the hook itself failed: as Thread does, say so on stderr and go on
    std::fputs("Exception in threading.excepthook while reporting a Pool callback's exception\n", stderr);
  }
}

/// A job's callbacks, on the job's vector of results (apply_async's unwrap the one value).
template <class R>
struct CollectCallbacks {
  std::function<void(const std::vector<R>&)> on_values;
  std::function<void(std::exception_ptr)> on_error;
};

/// Results of a job whose chunks fill one vector (apply, map, starmap): settled when every
/// chunk arrived or at the first failure; then its callback runs; then it is ready.
template <class R>
class CollectState final : public ResultSink {
 public:
  CollectState(std::size_t items, std::vector<std::size_t> offsets, CollectCallbacks<R> callbacks = {})
      : m_values(items),
        m_offsets(std::move(offsets)),
        m_remaining(m_offsets.size()),
        m_callbacks(std::move(callbacks)) {}
  void deliver(std::size_t chunk, Payload& results) override {
    auto values = deserialize<std::vector<R>>(results);
    {
      std::scoped_lock lock(m_mutex);
      if (m_settled) return;
      const std::size_t end = chunk + 1 < m_offsets.size() ? m_offsets[chunk + 1] : m_values.size();
      if (values.size() != end - m_offsets[chunk]) throw SerializationError("cannot decode message: wrong number of results");
      std::move(values.begin(), values.end(), m_values.begin() + static_cast<std::ptrdiff_t>(m_offsets[chunk]));
      if (--m_remaining != 0) return;
      m_settled = true;
    }
    finish();
  }
  void fail(std::size_t, std::exception_ptr error) override {
    // A copy of its own (see clone_exception): the pool fails many results with one exception,
    // and an exception object shared between threads is freed by whichever drops it last,
    // through a reference count that ThreadSanitizer cannot see (libstdc++ is not instrumented).
    std::exception_ptr mine = clone_exception(error);
    {
      std::scoped_lock lock(m_mutex);
      if (m_settled) return;
      m_error = std::move(mine);
      m_settled = true;
    }
    finish();
  }
  /// A job of no chunks (an empty map), once submitted: settles now, in the calling thread.
  void settle_empty() {
    {
      std::scoped_lock lock(m_mutex);
      assert(m_remaining == 0 && !m_settled);
      m_settled = true;
    }
    finish();
  }
  bool wait(std::optional<Timeout> timeout) const {
    std::unique_lock lock(m_mutex);
    if (!timeout) {
      m_cv.wait(lock, [&] { return m_done; });
      return true;
    }
    return m_cv.wait_until(lock, concur::detail::deadline_after(*timeout), [&] { return m_done; });
  }
  bool ready() const {
    std::scoped_lock lock(m_mutex);
    return m_done;
  }
  bool successful() const {
    std::scoped_lock lock(m_mutex);
    if (!m_done) throw ValueError("result is not ready");
    return !m_error;
  }
  /// After wait() returned true: the values, or the failure rethrown.
  const std::vector<R>& values() const {
    std::scoped_lock lock(m_mutex);
    assert(m_done);
    if (m_error) std::rethrow_exception(clone_exception(m_error));
    return m_values;
  }

 private:
  // Called once, by the thread that settled the job, without m_mutex (the callback may call
  // into the pool or ask this result whether it is ready): runs the callback, then makes the
  // result ready, so that get() returns after the callback, as in Python. Once m_settled,
  // nothing writes m_values or m_error any more, and readers wait for m_done (set under
  // m_mutex after the callback, which orders its reads and writes before theirs).
  void finish() {
    run_callbacks();
    std::scoped_lock lock(m_mutex);
    m_done = true;
    m_cv.notify_all();
  }
  void run_callbacks() noexcept {
    // Taken out so that the captures are released here, right after the call.
    CollectCallbacks<R> callbacks = std::move(m_callbacks);
    try {
      if (!m_error) {
        if (callbacks.on_values) callbacks.on_values(m_values);
      } else if (callbacks.on_error) {
        // A copy of its own, like get()'s (see clone_exception): the callback may keep it.
        callbacks.on_error(clone_exception(m_error));
      }
    } catch (...) {
      report_callback_error(std::current_exception());
    }
  }
  mutable std::mutex m_mutex;  // guards everything below, except as finish() says
  mutable std::condition_variable m_cv;
  std::vector<R> m_values;
  std::vector<std::size_t> m_offsets;  // first item of each chunk
  std::size_t m_remaining;             // chunks not yet arrived
  std::exception_ptr m_error;
  CollectCallbacks<R> m_callbacks;     // used once, by finish(), without the lock
  bool m_settled = false;              // every chunk arrived, or one failed: the rest are ignored
  bool m_done = false;                 // settled and the callback returned: ready (implies m_settled)
};

/// Results of imap / imap_unordered, consumed one at a time.
template <class R>
class StreamState final : public ResultSink {
 public:
  StreamState(std::size_t chunks, bool ordered) : m_chunks(chunks), m_ordered(ordered) {}
  void deliver(std::size_t chunk, Payload& results) override {
    auto values = deserialize<std::vector<R>>(results);
    std::scoped_lock lock(m_mutex);
    arrive(chunk, std::move(values));
  }
  void fail(std::size_t chunk, std::exception_ptr error) override {
    std::exception_ptr mine = clone_exception(error);  // a copy of its own, as CollectState::fail
    std::scoped_lock lock(m_mutex);
    arrive(chunk, std::move(mine));
  }
  /// The next result; nullopt at the end. Rethrows a failed chunk's exception (once, then
  /// iteration continues after it); TimeoutError when nothing arrives within `timeout`.
  std::optional<R> next(std::optional<Timeout> timeout) {
    std::unique_lock lock(m_mutex);
    auto available = [&] { return !m_ready.empty() || m_consumed_chunks == m_chunks; };
    if (!timeout) {
      m_cv.wait(lock, available);
    } else if (!m_cv.wait_until(lock, concur::detail::deadline_after(*timeout), available)) {
      throw TimeoutError();
    }
    if (m_ready.empty()) return std::nullopt;
    auto item = std::move(m_ready.front());
    m_ready.pop_front();
    if (auto* e = std::get_if<std::exception_ptr>(&item)) std::rethrow_exception(clone_exception(*e));
    return std::move(std::get<R>(item));
  }

 private:
  using Arrival = std::variant<std::vector<R>, std::exception_ptr>;
  // With m_mutex held: files a chunk and moves what is now in order to m_ready.
  void arrive(std::size_t chunk, Arrival a) {
    if (m_ordered) {
      m_pending.emplace(chunk, std::move(a));
      while (!m_pending.empty() && m_pending.begin()->first == m_next_chunk) {
        release(std::move(m_pending.begin()->second));
        m_pending.erase(m_pending.begin());
        ++m_next_chunk;
      }
    } else {
      release(std::move(a));
    }
    m_cv.notify_all();
  }
  void release(Arrival a) {
    ++m_consumed_chunks;
    if (auto* values = std::get_if<std::vector<R>>(&a)) {
      for (R& v : *values) m_ready.emplace_back(std::in_place_index<0>, std::move(v));
    } else {
      m_ready.emplace_back(std::in_place_index<1>, std::get<std::exception_ptr>(a));
    }
  }
  std::mutex m_mutex;  // guards everything below
  std::condition_variable m_cv;
  const std::size_t m_chunks;
  const bool m_ordered;
  std::size_t m_next_chunk = 0;                     // ordered: the chunk to release next
  std::map<std::size_t, Arrival> m_pending;         // ordered: arrived early
  std::size_t m_consumed_chunks = 0;                // chunks moved to m_ready
  std::deque<std::variant<R, std::exception_ptr>> m_ready;  // in the order to yield
};

}  // namespace concur::multiprocessing::detail
