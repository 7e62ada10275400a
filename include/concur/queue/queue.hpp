// SPDX-License-Identifier: MIT
// concur/queue/queue.hpp — Queue, LifoQueue and PriorityQueue, Python's queue module.
//
// Mirrors Python 3.13's queue.Queue / LifoQueue / PriorityQueue: a thread-safe container with
// an optional bound, blocking put()/get() with timeouts, the task_done()/join() protocol and
// shutdown(immediate).
//
//   Queue<T>                          first in, first out
//   LifoQueue<T>                      last in, first out
//   PriorityQueue<T, Compare>         smallest first, as Python's heapq-based queue (a min-heap:
//                                     `Compare` is the "less than", the default std::less<T>)
//
//   put(item, {.block, .timeout})     Full when the queue stays full; ShutDown after shutdown()
//   get({.block, .timeout}) -> T      Empty when the queue stays empty; ShutDown once shut down
//                                     and empty (at once after shutdown(immediate = true))
//   put_nowait / get_nowait           put(item, {.block = false}) / get({.block = false})
//   task_done()                       ValueError when called more times than items were put
//   join()                            blocks until every item put was marked task_done
//   qsize, empty, full, maxsize
//   shutdown(immediate = false)       put() raises ShutDown from now on; blocked putters and
//                                     getters wake; with `immediate` the queue is emptied (each
//                                     dropped item counts as task_done) so join() returns
//
// Semantics are Python's, including the odd corners: a negative timeout is a ValueError (as
// Python's "'timeout' must be a non-negative number"), `block = false` ignores the timeout, a
// maxsize of 0 means unbounded, and shutdown(immediate) releases join() only when the items
// still "in flight" (got but not marked task_done) are marked too.
//
// Differences from Python: the element type is fixed (T; move-only types are fine: get()
// moves the item out). PriorityQueue takes a comparator instead of relying on tuples' ordering;
// among equal elements the order is unspecified, as with Python's heap.
//
// Thread safety: every member may be called from any thread. One std::mutex guards the
// container, with three condition variables (not_empty, not_full, all_tasks_done) as in Python.
// Lifetime: the queue must outlive every thread blocked in one of its members.
#pragma once

#include <algorithm>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "concur/errors.hpp"
#include "concur/timeout.hpp"

namespace concur::queue {

/// Keyword arguments of put() and get(): Python's `block` and `timeout`.
struct WaitOptions {
  /// Whether to wait for room (put) or an item (get); when false the timeout is ignored.
  bool block = true;
  /// How long to wait at most; nullopt waits forever. Negative is a ValueError.
  std::optional<Timeout> timeout = std::nullopt;
};
using PutOptions = WaitOptions;
using GetOptions = WaitOptions;

namespace detail {

/// Throws ValueError for a negative timeout when blocking, as Python's queue does.
inline void check_timeout(const WaitOptions& options) {
  if (options.block && options.timeout && *options.timeout < Timeout::zero())
    throw ValueError("'timeout' must be a non-negative number");
}

/// The machinery shared by Queue, LifoQueue and PriorityQueue. `Storage` supplies Python's
/// _put/_get/_qsize: push(T&&), pop() -> T, size(), empty().
template <class T, class Storage>
class BasicQueue {
 public:
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  ~BasicQueue() {
    // Nobody may be blocked in a member while the queue dies (that would be a use after free).
    assert(m_waiting_threads == 0);
  }

  /// Puts `item` in the queue, waiting for a free slot if it is bounded and full (unless
  /// `block` is false). Throws Full when no slot frees up in time, ShutDown if the queue is or
  /// becomes shut down, ValueError for a negative timeout. On a throw the item is not put.
  void put(T item, WaitOptions options = {}) {
    check_timeout(options);
    std::unique_lock lock(m_mutex);
    if (m_shutdown) throw ShutDown();
    if (m_maxsize > 0) {
      const auto has_room = [&] { return m_shutdown || m_storage.size() < m_maxsize; };
      if (!options.block) {
        if (!has_room()) throw Full();
      } else if (!wait(lock, m_not_full, options.timeout, has_room)) {
        throw Full();
      }
      if (m_shutdown) throw ShutDown();
    }
    m_storage.push(std::move(item));
    ++m_unfinished_tasks;
    m_not_empty.notify_one();
  }

  /// Removes and returns an item, waiting for one if the queue is empty (unless `block` is
  /// false). Throws Empty when none arrives in time, ShutDown if the queue is shut down and
  /// empty (or was shut down with `immediate`), ValueError for a negative timeout.
  T get(WaitOptions options = {}) {
    check_timeout(options);
    std::unique_lock lock(m_mutex);
    if (m_shutdown && m_storage.empty()) throw ShutDown();
    const auto has_item = [&] { return m_shutdown || !m_storage.empty(); };
    if (!options.block) {
      if (m_storage.empty()) throw Empty();
    } else if (!wait(lock, m_not_empty, options.timeout, has_item)) {
      throw Empty();
    }
    if (m_storage.empty()) throw ShutDown();  // woken by shutdown()
    T item = m_storage.pop();
    m_not_full.notify_one();
    return item;
  }

  /// put(item, {.block = false}): throws Full at once if there is no room.
  void put_nowait(T item) { put(std::move(item), {.block = false}); }
  /// get({.block = false}): throws Empty at once if there is no item.
  T get_nowait() { return get({.block = false}); }

  /// Marks one item that was got as processed. When every item put so far is marked, join()
  /// returns. Throws ValueError if called more times than items were put.
  void task_done() {
    std::lock_guard lock(m_mutex);
    if (m_unfinished_tasks == 0) throw ValueError("task_done() called too many times");
    if (--m_unfinished_tasks == 0) m_all_tasks_done.notify_all();
  }

  /// Blocks until every item put has been marked with task_done() (or dropped by
  /// shutdown(immediate = true)). Returns at once if there is nothing unfinished.
  void join() {
    std::unique_lock lock(m_mutex);
    ++m_waiting_threads;
    m_all_tasks_done.wait(lock, [&] { return m_unfinished_tasks == 0; });
    --m_waiting_threads;
  }

  /// The number of items in the queue (a snapshot: other threads may change it at once).
  [[nodiscard]] std::size_t qsize() const {
    std::lock_guard lock(m_mutex);
    return m_storage.size();
  }
  /// Whether the queue holds no item (a snapshot).
  [[nodiscard]] bool empty() const {
    std::lock_guard lock(m_mutex);
    return m_storage.empty();
  }
  /// Whether the queue is bounded and holds maxsize() items (a snapshot).
  [[nodiscard]] bool full() const {
    std::lock_guard lock(m_mutex);
    return m_maxsize > 0 && m_storage.size() >= m_maxsize;
  }
  /// The bound given at construction; 0 means unbounded.
  [[nodiscard]] std::size_t maxsize() const noexcept { return m_maxsize; }
  /// Whether shutdown() was called (Python 3.13's `is_shutdown`).
  [[nodiscard]] bool is_shutdown() const {
    std::lock_guard lock(m_mutex);
    return m_shutdown;
  }

  /// Shuts the queue down (Python 3.13): put() raises ShutDown from now on, get() raises it
  /// once the queue is empty, and every blocked put()/get() wakes up to re-check. With
  /// `immediate` the items still queued are dropped (each counted as task_done, which may
  /// release join()) and get() raises ShutDown at once. Calling it again is harmless.
  void shutdown(bool immediate = false) {
    std::lock_guard lock(m_mutex);
    m_shutdown = true;
    if (immediate) {
      while (!m_storage.empty()) {
        (void)m_storage.pop();
        if (m_unfinished_tasks > 0) --m_unfinished_tasks;
      }
      m_all_tasks_done.notify_all();
    }
    m_not_empty.notify_all();
    m_not_full.notify_all();
  }

 protected:
  explicit BasicQueue(std::size_t maxsize, Storage storage = Storage())
      : m_storage(std::move(storage)), m_maxsize(maxsize) {}

 private:
  /// Waits on `cv` until `ready()` or the timeout; returns ready().
  template <class Ready>
  bool wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
            const std::optional<Timeout>& timeout, Ready ready) {
    ++m_waiting_threads;
    bool ok;
    if (!timeout) {
      cv.wait(lock, ready);
      ok = true;
    } else {
      ok = cv.wait_until(lock, concur::detail::deadline_after(*timeout), ready);
    }
    --m_waiting_threads;
    return ok;
  }

  mutable std::mutex m_mutex;
  std::condition_variable m_not_empty;       // signalled when an item is put (or at shutdown)
  std::condition_variable m_not_full;        // signalled when an item is got (or at shutdown)
  std::condition_variable m_all_tasks_done;  // signalled when m_unfinished_tasks drops to 0
  Storage m_storage;                         // guarded by m_mutex
  std::size_t m_unfinished_tasks = 0;        // guarded by m_mutex; items put minus task_done()
  std::size_t m_waiting_threads = 0;         // guarded by m_mutex; threads blocked in a member
  bool m_shutdown = false;                   // guarded by m_mutex; never goes back to false
  const std::size_t m_maxsize;               // 0: unbounded
};

/// Items taken from the front (first in, first out) or from the back (last in, first out) of
/// a sequence container.
template <class T, class Container, bool from_back>
class EndStorage {
 public:
  void push(T&& item) { m_items.push_back(std::move(item)); }
  T pop() {
    assert(!m_items.empty());
    if constexpr (from_back) {
      T item = std::move(m_items.back());
      m_items.pop_back();
      return item;
    } else {
      T item = std::move(m_items.front());
      m_items.pop_front();
      return item;
    }
  }
  [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
  [[nodiscard]] bool empty() const noexcept { return m_items.empty(); }

 private:
  Container m_items;
};

template <class T>
using FifoStorage = EndStorage<T, std::deque<T>, false>;
template <class T>
using LifoStorage = EndStorage<T, std::vector<T>, true>;

/// A binary min-heap under `Compare` (std::priority_queue cannot move its top out, which
/// move-only items need, hence the heap algorithms on a vector).
template <class T, class Compare>
class HeapStorage {
 public:
  explicit HeapStorage(Compare compare = Compare()) : m_greater{std::move(compare)} {}
  void push(T&& item) {
    m_items.push_back(std::move(item));
    std::push_heap(m_items.begin(), m_items.end(), m_greater);
  }
  T pop() {
    assert(!m_items.empty());
    std::pop_heap(m_items.begin(), m_items.end(), m_greater);
    T item = std::move(m_items.back());
    m_items.pop_back();
    return item;
  }
  [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
  [[nodiscard]] bool empty() const noexcept { return m_items.empty(); }

 private:
  /// The std heap algorithms build max-heaps; comparing with the arguments swapped makes the
  /// smallest element the top.
  struct Greater {
    Compare less;
    bool operator()(const T& a, const T& b) const { return less(b, a); }
  };
  std::vector<T> m_items;
  Greater m_greater;
};

}  // namespace detail

/// queue.Queue: a first-in, first-out queue, optionally bounded.
template <class T>
class Queue : public detail::BasicQueue<T, detail::FifoStorage<T>> {
 public:
  /// A queue holding at most `maxsize` items (0: unbounded).
  explicit Queue(std::size_t maxsize = 0) : detail::BasicQueue<T, detail::FifoStorage<T>>(maxsize) {}
};

/// queue.LifoQueue: a last-in, first-out queue (a stack), optionally bounded.
template <class T>
class LifoQueue : public detail::BasicQueue<T, detail::LifoStorage<T>> {
 public:
  /// A queue holding at most `maxsize` items (0: unbounded).
  explicit LifoQueue(std::size_t maxsize = 0) : detail::BasicQueue<T, detail::LifoStorage<T>>(maxsize) {}
};

/// queue.PriorityQueue: get() returns the smallest item under `Compare` (a strict weak order,
/// "less than"), optionally bounded.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public detail::BasicQueue<T, detail::HeapStorage<T, Compare>> {
 public:
  /// A queue holding at most `maxsize` items (0: unbounded), ordered by `compare`.
  explicit PriorityQueue(std::size_t maxsize = 0, Compare compare = Compare())
      : detail::BasicQueue<T, detail::HeapStorage<T, Compare>>(
            maxsize, detail::HeapStorage<T, Compare>(std::move(compare))) {}
};

}  // namespace concur::queue
