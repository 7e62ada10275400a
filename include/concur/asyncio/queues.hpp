// SPDX-License-Identifier: MIT
// concur/asyncio/queues.hpp — Queue, PriorityQueue, LifoQueue (Python's asyncio.queues).
//
//   asyncio::Queue<Job> q(/*maxsize=*/100);          // 0: unbounded
//   co_await q.put(job);          Job j = co_await q.get();
//   q.put_nowait(job);            // QueueFull when full
//   Job k = q.get_nowait();       // QueueEmpty when empty
//   q.task_done();  co_await q.join();               // wait until every item is processed
//   q.shutdown();                 // put -> QueueShutDown; get drains, then QueueShutDown
//
// Semantics are Python's 3.13: put() waits while the queue is full and get() while it is
// empty, in FIFO order of the waiting tasks; a woken task re-checks (another task may have
// taken the item first) and a woken task that is cancelled passes its turn on. join() waits
// until task_done() was called once per item put. shutdown(immediate) makes put raise
// QueueShutDown; get keeps returning the items left (none with immediate=true, which also
// counts them done) and then raises QueueShutDown; every waiting task is woken.
// PriorityQueue yields the smallest item first (Compare, std::less by default, as heapq does);
// LifoQueue the last put.
//
// Cost: put/get that do not wait allocate nothing beyond the container's storage; a task that
// waits is queued by a node in its own frame.
//
// Thread safety: none, as in Python (one loop's thread); use concur::queue across threads.
// Lifetime: a queue must outlive the tasks waiting on it.
#pragma once

#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "concur/asyncio/locks.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/errors.hpp"
#include "concur/export.hpp"

namespace concur::asyncio {

namespace detail {

class QueueBase;

/// A task waiting in put() or get(). When woken it first re-checks the queue (as Python's
/// `while self.full()` loop does) and only then resumes its task, inline.
class CONCUR_API QueueWaiter : public WaitNode, public ReadyNode {
 public:
  QueueWaiter(QueueBase& q, bool getter) noexcept : m_queue(&q), m_getter(getter) {}
  void run_ready() noexcept override;
  void discard_ready() noexcept override {}
  template <class P>
  void wait_in(WaitList& list, std::coroutine_handle<P> h) {
    enqueue(list, h);
  }

 protected:
  /// The cancellation path of await_resume(): passes a wake-up on if this one was woken.
  void on_resume_cancelled();
  QueueBase* m_queue;
  bool m_getter;
};

/// The type-independent part of the queues: waiters, unfinished count, shutdown.
class CONCUR_API QueueBase {
 public:
  explicit QueueBase(std::size_t maxsize) noexcept : m_maxsize(maxsize) { m_finished.set(); }
  QueueBase(const QueueBase&) = delete;
  QueueBase& operator=(const QueueBase&) = delete;
  virtual ~QueueBase() = default;

  /// The number of items.
  [[nodiscard]] virtual std::size_t qsize() const noexcept = 0;
  /// The bound given at construction (0: none).
  [[nodiscard]] std::size_t maxsize() const noexcept { return m_maxsize; }
  [[nodiscard]] bool empty() const noexcept { return qsize() == 0; }
  /// True if bounded and at the bound.
  [[nodiscard]] bool full() const noexcept { return m_maxsize > 0 && qsize() >= m_maxsize; }
  /// One item taken by get() is processed. ValueError if called more times than items put.
  void task_done();
  /// `co_await q.join()`: waits until every item put was marked task_done().
  [[nodiscard]] Event::Wait join() noexcept { return m_finished.wait(); }
  /// See the file comment.
  void shutdown(bool immediate = false);
  [[nodiscard]] bool is_shutdown() const noexcept { return m_shutdown; }

 protected:
  friend class QueueWaiter;
  virtual void drop_front() noexcept = 0;
  /// Wakes the first waiter of `list` (Python's _wakeup_next); it leaves the list.
  void wakeup_next(WaitList& list) noexcept;
  void after_put() noexcept {
    ++m_unfinished;
    m_finished.clear();
    wakeup_next(m_getters);
  }
  void check_put() const {
    if (m_shutdown) throw QueueShutDown();
    if (full()) throw QueueFull();
  }
  void check_get() const {
    if (empty()) {
      if (m_shutdown) throw QueueShutDown();
      throw QueueEmpty();
    }
  }

  WaitList m_getters;
  WaitList m_putters;
  std::size_t m_maxsize;
  std::size_t m_unfinished = 0;  // items put and not yet task_done()
  Event m_finished;              // set while m_unfinished == 0
  bool m_shutdown = false;
};

template <class T>
struct FifoStore {
  std::deque<T> items;
  void push(T v) { items.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items.front());
    items.pop_front();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
};

template <class T>
struct LifoStore {
  std::vector<T> items;
  void push(T v) { items.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items.back());
    items.pop_back();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
};

template <class T, class Compare>
struct PriorityStore {
  std::vector<T> items;
  // std::*_heap keep the largest first; the reversed comparison keeps the smallest first.
  struct Greater {
    Compare less;
    bool operator()(const T& a, const T& b) const { return less(b, a); }
  };
  void push(T v) {
    items.push_back(std::move(v));
    std::push_heap(items.begin(), items.end(), Greater{});
  }
  T pop() {
    std::pop_heap(items.begin(), items.end(), Greater{});
    T v = std::move(items.back());
    items.pop_back();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
};

}  // namespace detail

/// The queue template behind Queue, LifoQueue and PriorityQueue (see the file comment).
template <class T, class Store>
class BasicQueue : public detail::QueueBase {
 public:
  /// The awaiter of get(): the item.
  class [[nodiscard]] Get : public detail::QueueWaiter {
   public:
    /// A get() from `q` (get() makes it).
    explicit Get(BasicQueue& q) noexcept : QueueWaiter(q, true) {}
    /// True if an item can be taken, or the queue is shut down (await_resume() then throws
    /// QueueShutDown if it is also empty): no suspension.
    bool await_ready() const noexcept { return !queue().empty() || queue().m_shutdown; }
    /// Queues the task on the queue's getters and suspends it until a put or shutdown() wakes
    /// it. A woken getter checks again and, if another task took the item first, waits again
    /// at the back.
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      wait_in(queue().m_getters, h);
    }
    /// Takes the next item (as get_nowait()) and returns it. QueueShutDown if the queue is shut
    /// down and empty; CancelledError if the task was cancelled while it waited or before it
    /// resumed (no item is taken, and a wake-up it received is passed on to the next getter).
    T await_resume() {
      if (m_root != nullptr) {
        leave();
        if (m_cancelled || m_root->m_must_cancel) on_resume_cancelled();
      }
      return queue().get_nowait();
    }

   private:
    BasicQueue& queue() const noexcept { return static_cast<BasicQueue&>(*m_queue); }
  };
  /// The awaiter of put().
  class [[nodiscard]] Put : public detail::QueueWaiter {
   public:
    /// A put of `item` into `q` (put() makes it); the item is moved into the awaiter.
    Put(BasicQueue& q, T item) : QueueWaiter(q, false), m_item(std::move(item)) {}
    /// True if the queue has room, or is shut down (await_resume() then throws QueueShutDown):
    /// no suspension.
    bool await_ready() const noexcept { return !queue().full() || queue().m_shutdown; }
    /// Queues the task on the queue's putters and suspends it until a get or shutdown() wakes
    /// it. A woken putter checks again and, if another task took the room first, waits again
    /// at the back.
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      wait_in(queue().m_putters, h);
    }
    /// Puts the item (as put_nowait()). QueueShutDown if the queue is shut down;
    /// CancelledError if the task was cancelled while it waited or before it resumed (the item
    /// is not put, and a wake-up it received is passed on to the next putter).
    void await_resume() {
      if (m_root != nullptr) {
        leave();
        if (m_cancelled || m_root->m_must_cancel) on_resume_cancelled();
      }
      queue().put_nowait(std::move(m_item));
    }

   private:
    BasicQueue& queue() const noexcept { return static_cast<BasicQueue&>(*m_queue); }
    T m_item;
  };

  /// A queue of at most `maxsize` items; 0, the default, means unbounded (Python's
  /// Queue(maxsize=0)).
  explicit BasicQueue(std::size_t maxsize = 0) noexcept : QueueBase(maxsize) {}

  /// `co_await q.put(item)`: waits while full. QueueShutDown after shutdown(); CancelledError.
  [[nodiscard]] Put put(T item) { return Put(*this, std::move(item)); }
  /// `T item = co_await q.get()`: waits while empty. QueueShutDown once shut down and empty.
  [[nodiscard]] Get get() noexcept { return Get(*this); }
  /// Puts without waiting. QueueFull if full, QueueShutDown after shutdown().
  void put_nowait(T item) {
    check_put();
    m_store.push(std::move(item));
    after_put();
  }
  /// Takes without waiting. QueueEmpty if empty (QueueShutDown if also shut down).
  T get_nowait() {
    check_get();
    T item = m_store.pop();
    wakeup_next(m_putters);
    return item;
  }
  /// The number of items in the queue (Python's qsize()).
  [[nodiscard]] std::size_t qsize() const noexcept override { return m_store.size(); }

 private:
  void drop_front() noexcept override { (void)m_store.pop(); }
  Store m_store;
};

/// First in, first out (Python's asyncio.Queue).
template <class T>
class Queue : public BasicQueue<T, detail::FifoStore<T>> {
 public:
  using BasicQueue<T, detail::FifoStore<T>>::BasicQueue;
};

/// Last in, first out (Python's asyncio.LifoQueue).
template <class T>
class LifoQueue : public BasicQueue<T, detail::LifoStore<T>> {
 public:
  using BasicQueue<T, detail::LifoStore<T>>::BasicQueue;
};

/// Smallest first by Compare (Python's asyncio.PriorityQueue).
template <class T, class Compare = std::less<T>>
class PriorityQueue : public BasicQueue<T, detail::PriorityStore<T, Compare>> {
 public:
  using BasicQueue<T, detail::PriorityStore<T, Compare>>::BasicQueue;
};

}  // namespace concur::asyncio
