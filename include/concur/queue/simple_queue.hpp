// SPDX-License-Identifier: MIT
// concur/queue/simple_queue.hpp — SimpleQueue, Python's queue.SimpleQueue.
//
// An unbounded first-in, first-out queue without the task_done()/join() protocol and without
// shutdown — Python's lighter queue.SimpleQueue (3.7+):
//
//   put(item, {.block, .timeout})     never blocks (the options exist for Queue compatibility
//                                     and are ignored, as in Python); put_nowait(item) likewise
//   get({.block, .timeout}) -> T      Empty when no item arrives in time; ValueError for a
//                                     negative timeout; get_nowait()
//   qsize, empty
//
// Thread safety: every member may be called from any thread (one std::mutex and one
// std::condition_variable). Python's SimpleQueue is also reentrant (put() may be called from a
// signal handler or a __del__); C++ has no such need and this one is not. Lifetime: the queue
// must outlive every thread blocked in get(). Move-only items are fine.
#pragma once

#include <cassert>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <utility>

#include "concur/errors.hpp"
#include "concur/queue/queue.hpp"
#include "concur/timeout.hpp"

namespace concur::queue {

/// queue.SimpleQueue: an unbounded FIFO queue.
template <class T>
class SimpleQueue {
 public:
  SimpleQueue() = default;
  SimpleQueue(const SimpleQueue&) = delete;
  SimpleQueue& operator=(const SimpleQueue&) = delete;
  ~SimpleQueue() { assert(m_waiting_threads == 0); }

  /// Appends `item`. Never blocks; `options` is ignored (Python's signature compatibility).
  void put(T item, [[maybe_unused]] WaitOptions options = {}) {
    std::lock_guard lock(m_mutex);
    m_items.push_back(std::move(item));
    m_not_empty.notify_one();
  }
  /// Same as put(item).
  void put_nowait(T item) { put(std::move(item)); }

  /// Removes and returns the oldest item, waiting for one unless `block` is false. Throws
  /// Empty when none arrives in time, ValueError for a negative timeout.
  T get(WaitOptions options = {}) {
    detail::check_timeout(options);
    std::unique_lock lock(m_mutex);
    const auto has_item = [&] { return !m_items.empty(); };
    if (!options.block) {
      if (!has_item()) throw Empty();
    } else {
      ++m_waiting_threads;
      bool ok = true;
      if (!options.timeout)
        m_not_empty.wait(lock, has_item);
      else
        ok = m_not_empty.wait_until(lock, concur::detail::deadline_after(*options.timeout), has_item);
      --m_waiting_threads;
      if (!ok) throw Empty();
    }
    T item = std::move(m_items.front());
    m_items.pop_front();
    return item;
  }
  /// get({.block = false}): throws Empty at once if there is no item.
  T get_nowait() { return get({.block = false}); }

  /// The number of items (a snapshot).
  [[nodiscard]] std::size_t qsize() const {
    std::lock_guard lock(m_mutex);
    return m_items.size();
  }
  /// Whether the queue holds no item (a snapshot).
  [[nodiscard]] bool empty() const {
    std::lock_guard lock(m_mutex);
    return m_items.empty();
  }

 private:
  mutable std::mutex m_mutex;
  std::condition_variable m_not_empty;  // signalled by put()
  std::deque<T> m_items;                // guarded by m_mutex
  std::size_t m_waiting_threads = 0;    // guarded by m_mutex; threads blocked in get()
};

}  // namespace concur::queue
