// SPDX-License-Identifier: MIT
// concur/futures/wait.hpp — wait() and as_completed(), Python's concurrent.futures functions.
//
//   wait(fs, timeout, return_when) -> {done, not_done}
//       Blocks until the condition `return_when` holds for the futures `fs` or `timeout`
//       passes (no exception on timeout: look at not_done). FIRST_COMPLETED: any future is
//       done; FIRST_EXCEPTION: any future finished with an exception (else as ALL_COMPLETED);
//       ALL_COMPLETED: every future is done.
//   as_completed(fs, timeout)
//       A range yielding each future as it completes: first those already done (in the
//       order given), then in completion order. Advancing the iteration past the time limit
//       with futures still pending throws TimeoutError("N (of M) futures unfinished").
//
// `fs` is any range of Future<T> (a vector, a list, a set, {f1, f2}) or a map keyed by
// futures: Python's `futures = {executor.submit(fetch, url): url for url in urls}` idiom, where
// the functions iterate the keys (std::map and std::unordered_map work: futures order and hash
// by identity):
//
//   std::map<futures::Future<int>, std::string> jobs;
//   for (const auto& url : urls) jobs.emplace(pool.submit(fetch, url), url);
//   for (const auto& f : futures::as_completed(jobs)) use(jobs.at(f), f.result());
//
// As in Python, `fs` may contain the same future twice; it counts once (Python takes a set).
// Cancelled futures count as done (see future.hpp for why that is noticed at cancel()).
//
// Differences from Python: `done` and `not_done` are vectors in the order of `fs` (C++ has no
// natural set of handles); as_completed's time limit starts when as_completed() is called, not
// at the first step of the iteration (a C++ range has no generator body to delay it), and it
// watches its futures from that call on. The futures of one call share one type T.
//
// Thread safety: wait() and as_completed() may be called concurrently on the same futures from
// any number of threads. An AsCompleted range is used by one thread at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "concur/errors.hpp"
#include "concur/export.hpp"
#include "concur/futures/future.hpp"
#include "concur/timeout.hpp"

namespace concur::futures {

/// When wait() returns (Python's FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

/// What wait() returns: Python's DoneAndNotDoneFutures named tuple.
template <class T>
struct DoneAndNotDone {
  /// The futures that are done (finished or cancelled), in the order of `fs`.
  std::vector<Future<T>> done;
  /// The futures not done when wait() returned (its condition held, or the timeout passed),
  /// in the order of `fs`.
  std::vector<Future<T>> not_done;
};

namespace detail {

/// Registered with several futures at once (StateBase::add_waiter), a Waiter counts how many
/// of them finished, whether one finished with an exception, and (for as_completed) which
/// ones, in order. Python's _Waiter family in one class.
class CONCUR_API Waiter {
 public:
  /// `capacity`: how many futures it may be told about (reserved so on_done never allocates).
  explicit Waiter(std::size_t capacity) { m_finished.reserve(capacity); }
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  /// Called by a future that became done, under that future's lock. Never throws.
  void on_done(StateBase& state) noexcept;

  /// Waits until `ready(done_count, exception_seen, has_finished)` or `deadline` (nullopt:
  /// forever); returns ready(...).
  template <class Ready>
  bool wait(const std::optional<std::chrono::steady_clock::time_point>& deadline, Ready ready) {
    std::unique_lock lock(m_mutex);
    const auto pred = [&] { return ready(m_done_count, m_exception_seen, !m_finished.empty()); };
    if (!deadline) {
      m_cv.wait(lock, pred);
      return true;
    }
    return m_cv.wait_until(lock, *deadline, pred);
  }

  /// The futures that finished since the last call, in completion order.
  std::vector<StateBase*> take_finished() {
    std::lock_guard lock(m_mutex);
    std::vector<StateBase*> out;
    out.reserve(m_finished.capacity());
    out.swap(m_finished);
    return out;
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::size_t m_done_count = 0;        // guarded by m_mutex
  bool m_exception_seen = false;       // guarded by m_mutex; a future finished with an exception
  std::vector<StateBase*> m_finished;  // guarded by m_mutex; capacity never exceeded
};

/// Whether a done future finished with an exception (cancelled ones did not).
inline bool finished_with_exception(const StateBase& s) {
  return s.status() == StateBase::finished && s.stored_exception() != nullptr;
}

/// The future an element of `fs` stands for: the element itself, or the key of a map entry.
template <class T>
const Future<T>& future_of(const Future<T>& f) noexcept {
  return f;
}
template <class T, class V>
const Future<T>& future_of(const std::pair<const Future<T>, V>& entry) noexcept {
  return entry.first;
}

/// The T of Future<T> for an element of `fs` (a Future<T>, or a map entry keyed by one).
template <class Element>
struct future_value {};
template <class T>
struct future_value<Future<T>> {
  using type = T;
};
template <class T, class V>
struct future_value<std::pair<const Future<T>, V>> {
  using type = T;
};
template <class Range>
using range_future_value_t = typename future_value<std::ranges::range_value_t<Range>>::type;

/// The distinct futures of `fs`, in first-seen order.
template <class T, class Range>
std::vector<Future<T>> distinct(Range&& fs) {
  std::vector<Future<T>> out;
  std::unordered_set<const StateBase*> seen;
  for (const auto& element : fs) {
    const Future<T>& f = future_of(element);
    if (seen.insert(&f.state()).second) out.push_back(f);
  }
  return out;
}

template <class T>
DoneAndNotDone<T> wait_distinct(std::vector<Future<T>> fs, std::optional<Timeout> timeout, ReturnWhen return_when) {
  Waiter waiter(fs.size());
  std::vector<StateBase*> registered;
  registered.reserve(fs.size());
  std::size_t already_done = 0;
  bool exception_done = false;
  for (const auto& f : fs) {
    if (f.state().add_waiter(&waiter)) {
      registered.push_back(&f.state());
    } else {
      ++already_done;
      exception_done = exception_done || finished_with_exception(f.state());
    }
  }
  const std::size_t watched = registered.size();
  // Python's order of checks: the condition on what is done already, then "all done".
  const bool satisfied = (return_when == FIRST_COMPLETED && already_done > 0) ||
                         (return_when == FIRST_EXCEPTION && exception_done) || watched == 0;
  if (!satisfied) {
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (timeout) deadline = concur::detail::deadline_after(*timeout);
    waiter.wait(deadline, [&](std::size_t n, bool exception, bool) {
      switch (return_when) {
        case FIRST_COMPLETED:
          return n > 0;
        case FIRST_EXCEPTION:
          return exception || n == watched;
        case ALL_COMPLETED:
          break;
      }
      return n == watched;
    });
  }
  for (StateBase* s : registered) s->remove_waiter(&waiter);
  DoneAndNotDone<T> out;
  for (auto& f : fs) (f.done() ? out.done : out.not_done).push_back(std::move(f));
  return out;
}

}  // namespace detail

/// Waits for the futures in `fs` (a range of Future<T>, or a map keyed by them) as
/// `return_when` says, at most `timeout` (nullopt: forever). Returns the done and not-done
/// futures, each in `fs`'s order.
template <std::ranges::input_range Range, class T = detail::range_future_value_t<Range>>
DoneAndNotDone<T> wait(Range&& fs, std::optional<Timeout> timeout = std::nullopt,
                       ReturnWhen return_when = ALL_COMPLETED) {
  return detail::wait_distinct(detail::distinct<T>(fs), timeout, return_when);
}
/// wait({f1, f2, ...}, timeout, return_when).
template <class T>
DoneAndNotDone<T> wait(std::initializer_list<Future<T>> fs, std::optional<Timeout> timeout = std::nullopt,
                       ReturnWhen return_when = ALL_COMPLETED) {
  return detail::wait_distinct(detail::distinct<T>(fs), timeout, return_when);
}

/// The range as_completed() returns: an input range of Future<T>, each yielded once, as it
/// completes. Steps past the time limit with futures still pending throw TimeoutError.
/// Movable; unregisters from the futures it still watches when destroyed.
template <class T>
class AsCompleted {
  struct Impl;

 public:
  /// Watches the futures `fs` from now on, which must be distinct (as_completed() removes
  /// duplicates); the time limit `timeout` counts from now (nullopt: none).
  AsCompleted(std::vector<Future<T>> fs, std::optional<Timeout> timeout)
      : m_impl(std::make_unique<Impl>(std::move(fs), timeout)) {}

  /// The range's input iterator (single pass): begin() and each ++ wait for the next future
  /// to complete.
  class iterator {
   public:
    /// Input iterator's member types: it yields Future<T>.
    /// @{
    using value_type = Future<T>;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;
    /// @}

    iterator() = default;
    /// The current future.
    const Future<T>& operator*() const { return *m_impl->current; }
    /// The current future's members (`it->result()`).
    const Future<T>* operator->() const { return &*m_impl->current; }
    /// Steps to the next future to complete, waiting for it; TimeoutError past the limit.
    iterator& operator++() {
      m_impl->advance();
      return *this;
    }
    /// As ++it (returns nothing: an input iterator).
    void operator++(int) { ++*this; }
    /// True at the end: once every future was yielded, or for a default-constructed iterator.
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return it.m_impl == nullptr || !it.m_impl->current.has_value();
    }

   private:
    friend class AsCompleted;
    explicit iterator(Impl* impl) : m_impl(impl) {}
    Impl* m_impl = nullptr;
  };

  /// Starts the iteration: waits for the first future (TimeoutError past the limit). Call once.
  iterator begin() {
    m_impl->advance();
    return iterator(m_impl.get());
  }
  /// The end (see the iterator's operator==).
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  struct Impl {
    Impl(std::vector<Future<T>> futures, std::optional<Timeout> timeout)
        : fs(std::move(futures)), waiter(fs.size()) {
      if (timeout) deadline = concur::detail::deadline_after(*timeout);
      registered.reserve(fs.size());
      for (const auto& f : fs) {
        if (f.state().add_waiter(&waiter))
          registered.push_back(&f.state());
        else
          ready.push_back(f);  // already done: yielded first, in the order given
      }
      pending = registered.size();
    }
    ~Impl() {
      for (StateBase* s : registered) s->remove_waiter(&waiter);
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void advance() {
      current.reset();
      if (ready.empty() && pending > 0) {
        const bool got = waiter.wait(deadline, [](std::size_t, bool, bool has_finished) { return has_finished; });
        if (!got)
          throw TimeoutError(std::to_string(pending) + " (of " + std::to_string(fs.size()) + ") futures unfinished");
        for (StateBase* s : waiter.take_finished()) {
          s->add_ref();
          ready.emplace_back(static_cast<FutureState<T>*>(s), adopt_t{});
          --pending;
        }
      }
      if (!ready.empty()) {
        current.emplace(std::move(ready.front()));
        ready.pop_front();
      }
    }

    using StateBase = detail::StateBase;
    template <class U>
    using FutureState = detail::FutureState<U>;
    using adopt_t = detail::adopt_t;

    std::vector<Future<T>> fs;               // keeps every state alive while registered
    detail::Waiter waiter;
    std::vector<StateBase*> registered;      // states `waiter` was registered with
    std::deque<Future<T>> ready;             // done, not yet yielded
    std::size_t pending = 0;                 // registered and not yet seen finished
    std::optional<Future<T>> current;        // what the iterator points at; empty at the end
    std::optional<std::chrono::steady_clock::time_point> deadline;
  };

  std::unique_ptr<Impl> m_impl;
};

/// Yields the futures in `fs` (a range of Future<T>, or a map keyed by them) as they complete;
/// stepping past `timeout` (counted from this call) with futures still pending throws
/// TimeoutError.
template <std::ranges::input_range Range, class T = detail::range_future_value_t<Range>>
AsCompleted<T> as_completed(Range&& fs, std::optional<Timeout> timeout = std::nullopt) {
  return AsCompleted<T>(detail::distinct<T>(fs), timeout);
}
/// as_completed({f1, f2, ...}, timeout).
template <class T>
AsCompleted<T> as_completed(std::initializer_list<Future<T>> fs, std::optional<Timeout> timeout = std::nullopt) {
  return AsCompleted<T>(detail::distinct<T>(fs), timeout);
}

}  // namespace concur::futures
