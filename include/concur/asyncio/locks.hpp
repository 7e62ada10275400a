// SPDX-License-Identifier: MIT
// concur/asyncio/locks.hpp — Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier
// (Python's asyncio.locks).
//
//   co_await lock.acquire();  ...  lock.release();
//   { auto held = co_await lock.scoped(); ... }       // Python's `async with lock:`
//   co_await event.wait();    event.set();
//   { auto held = co_await cond.scoped(); co_await cond.wait_for([&] { return ready; }); }
//   { auto held = co_await sem.scoped(); ... }
//   std::size_t index = co_await barrier.wait();
//
// Semantics are Python's 3.13: waiters are woken in FIFO order, and a task that was woken but
// is cancelled before it runs passes its turn on (no wake-up is lost). Lock.acquire is fair: a
// task does not take a free lock while another woken task is about to. Cancellation of a waiting
// task throws CancelledError at its co_await and leaves the primitive consistent.
// Condition.wait re-acquires the lock even when cancelled.
//
// Errors: Lock.release/Condition.release of an unlocked lock -> RuntimeError; Condition.wait or
// notify without the lock -> RuntimeError; BoundedSemaphore released too many times ->
// ValueError; Semaphore with a negative value, Barrier with no party -> ValueError; a broken
// barrier -> BrokenBarrierError.
//
// Thread safety: none, as in Python — these belong to one loop's thread (use the threading
// primitives across threads). Lifetime: a primitive must outlive the tasks waiting on it.
// Differences from Python: no check that a primitive is used by a single loop.
#pragma once

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include "concur/asyncio/task.hpp"
#include "concur/errors.hpp"
#include "concur/export.hpp"

namespace concur::asyncio {

namespace detail {

class WaitList;

/// A task waiting in a primitive's FIFO (Python's waiter future). Woken nodes stay in the list
/// until their task runs (as Python's futures stay in the deque); cancelled ones leave it at once.
class CONCUR_API WaitNode : public Waiter {
 public:
  WaitNode() = default;
  /// Awaiters may be moved before they are awaited (create_task(q.get())), never after.
  WaitNode([[maybe_unused]] WaitNode&& o) noexcept : Waiter() { assert(o.m_list == nullptr && o.m_root == nullptr); }
  WaitNode(const WaitNode&) = delete;
  WaitNode& operator=(const WaitNode&) = delete;
  ~WaitNode();
  /// Python's fut.cancel(): false once woken.
  bool cancel() noexcept override;
  /// Python's fut.set_result(): the task is scheduled.
  void wake_up() noexcept {
    m_woken = true;
    m_root->wake();
  }
  [[nodiscard]] bool woken() const noexcept { return m_woken; }
  /// Queues the node and suspends the task at `h`.
  template <class P>
  void enqueue(WaitList& list, std::coroutine_handle<P> h);
  /// Leaves the list if still in it (called by await_resume).
  void leave() noexcept;

  WaitNode* m_prev = nullptr;  // list links
  WaitNode* m_next = nullptr;
  WaitList* m_list = nullptr;  // non-null while queued
  PromiseBase* m_root = nullptr;
  bool m_woken = false;
  bool m_cancelled = false;
};

/// An intrusive FIFO of WaitNodes.
class CONCUR_API WaitList {
 public:
  void push_back(WaitNode* n) noexcept {
    n->m_list = this;
    n->m_prev = m_tail;
    n->m_next = nullptr;
    (m_tail != nullptr ? m_tail->m_next : m_head) = n;
    m_tail = n;
  }
  void remove(WaitNode* n) noexcept {
    (n->m_prev != nullptr ? n->m_prev->m_next : m_head) = n->m_next;
    (n->m_next != nullptr ? n->m_next->m_prev : m_tail) = n->m_prev;
    n->m_prev = n->m_next = nullptr;
    n->m_list = nullptr;
  }
  [[nodiscard]] bool empty() const noexcept { return m_head == nullptr; }
  [[nodiscard]] WaitNode* front() const noexcept { return m_head; }
  /// Wakes the first node not woken yet; false if there is none.
  bool wake_first_waiting() noexcept;

 private:
  WaitNode* m_head = nullptr;
  WaitNode* m_tail = nullptr;
};

template <class P>
void WaitNode::enqueue(WaitList& list, std::coroutine_handle<P> h) {
  m_root = root_of(h);
  list.push_back(this);
  m_root->suspend(h, this);
}

inline void WaitNode::leave() noexcept {
  if (m_list != nullptr) m_list->remove(this);
}

/// `co_await x.scoped()`: acquires, then returns a Held<L> that releases.
template <class L, class Acquire>
class [[nodiscard]] ScopedAcquire : public Acquire {
 public:
  /// `lockable` is released by the Held; `target` is what Acquire waits on (the same object,
  /// or a Condition's lock).
  template <class Target>
  ScopedAcquire(L& lockable, Target& target) noexcept : Acquire(target), m_lockable(&lockable) {}
  auto await_resume();

 private:
  L* m_lockable;
};

}  // namespace detail

/// Holds an acquired lock, condition or semaphore and releases it when destroyed (the end of
/// Python's `async with`). Move-only.
template <class L>
class [[nodiscard]] Held {
 public:
  explicit Held(L& lock) noexcept : m_lock(&lock) {}
  Held(Held&& o) noexcept : m_lock(std::exchange(o.m_lock, nullptr)) {}
  Held& operator=(Held&&) = delete;
  ~Held() {
    if (m_lock != nullptr) m_lock->release();
  }
  /// Releases now instead of at destruction.
  void release() {
    if (m_lock != nullptr) std::exchange(m_lock, nullptr)->release();
  }

 private:
  L* m_lock;
};

template <class L, class Acquire>
auto detail::ScopedAcquire<L, Acquire>::await_resume() {
  Acquire::await_resume();
  return Held<L>(*m_lockable);
}

/// A mutual-exclusion lock for tasks (Python's asyncio.Lock). Not reentrant.
class CONCUR_API Lock {
 public:
  class [[nodiscard]] Acquire : public detail::WaitNode {
   public:
    explicit Acquire(Lock& lock) noexcept : m_lock(&lock) {}
    bool await_ready() noexcept;
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      enqueue(m_lock->m_waiters, h);
    }
    bool await_resume();

   private:
    Lock* m_lock;
  };

  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  ~Lock() { assert(m_waiters.empty()); }
  /// `co_await lock.acquire()` -> true once the lock is the task's. CancelledError if cancelled.
  [[nodiscard]] Acquire acquire() noexcept { return Acquire(*this); }
  /// `auto held = co_await lock.scoped();` -> Held<Lock>, released at scope exit.
  [[nodiscard]] detail::ScopedAcquire<Lock, Acquire> scoped() noexcept { return detail::ScopedAcquire<Lock, Acquire>(*this, *this); }
  /// Releases; wakes the first waiter. RuntimeError("Lock is not acquired.") if not locked.
  void release();
  /// True while held.
  [[nodiscard]] bool locked() const noexcept { return m_locked; }

 private:
  void wake_up_first() noexcept;
  detail::WaitList m_waiters;
  bool m_locked = false;
};

/// A flag tasks can wait for (Python's asyncio.Event).
class CONCUR_API Event {
 public:
  class [[nodiscard]] Wait : public detail::WaitNode {
   public:
    explicit Wait(Event& event) noexcept : m_event(&event) {}
    bool await_ready() const noexcept { return m_event->m_value; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      enqueue(m_event->m_waiters, h);
    }
    bool await_resume();

   private:
    Event* m_event;
  };

  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { assert(m_waiters.empty()); }
  /// `co_await event.wait()` -> true once set. CancelledError if cancelled.
  [[nodiscard]] Wait wait() noexcept { return Wait(*this); }
  /// Sets the flag and wakes every waiter.
  void set() noexcept;
  /// Clears the flag.
  void clear() noexcept { m_value = false; }
  [[nodiscard]] bool is_set() const noexcept { return m_value; }

 private:
  detail::WaitList m_waiters;
  bool m_value = false;
};

/// A condition variable for tasks (Python's asyncio.Condition), over its own Lock or a given one.
class CONCUR_API Condition {
 public:
  /// Waits for notify() (internal awaiter of wait()).
  class [[nodiscard]] Notified : public detail::WaitNode {
   public:
    explicit Notified(Condition& c) noexcept : m_cond(&c) {}
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      enqueue(m_cond->m_waiters, h);
    }
    void await_resume();

   private:
    Condition* m_cond;
  };

  /// A condition with its own lock.
  Condition() : m_own(std::make_unique<Lock>()), m_lock(m_own.get()) {}
  /// A condition over `lock` (which must outlive it).
  explicit Condition(Lock& lock) noexcept : m_lock(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  ~Condition() { assert(m_waiters.empty()); }

  [[nodiscard]] Lock::Acquire acquire() noexcept { return m_lock->acquire(); }
  [[nodiscard]] detail::ScopedAcquire<Condition, Lock::Acquire> scoped() noexcept {
    return detail::ScopedAcquire<Condition, Lock::Acquire>(*this, *m_lock);
  }
  void release() { m_lock->release(); }
  [[nodiscard]] bool locked() const noexcept { return m_lock->locked(); }

  /// Releases the lock, waits for notify(), re-acquires the lock (even when cancelled) and
  /// returns true. RuntimeError if the lock is not held.
  Task<bool> wait();
  /// Waits until `predicate()` is truthy (checked first, then after each wake-up); returns
  /// its last value. The lock must be held.
  template <class Pred>
  Task<std::invoke_result_t<Pred&>> wait_for(Pred predicate) {
    auto result = predicate();
    while (!result) {
      co_await wait();
      result = predicate();
    }
    co_return result;
  }
  /// Wakes up to `n` waiters. RuntimeError if the lock is not held.
  void notify(std::size_t n = 1);
  /// Wakes every waiter. RuntimeError if the lock is not held.
  void notify_all() { notify(static_cast<std::size_t>(-1)); }
  /// notify_all() for callers that hold the lock by construction (Barrier).
  void notify_unchecked_all() noexcept { notify_unchecked(static_cast<std::size_t>(-1)); }

 private:
  void notify_unchecked(std::size_t n) noexcept;
  friend class Barrier;
  std::unique_ptr<Lock> m_own;
  Lock* m_lock;
  detail::WaitList m_waiters;
};

/// A counter of permits (Python's asyncio.Semaphore).
class CONCUR_API Semaphore {
 public:
  class [[nodiscard]] Acquire : public detail::WaitNode {
   public:
    explicit Acquire(Semaphore& s) noexcept : m_sem(&s) {}
    bool await_ready() noexcept;
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      enqueue(m_sem->m_waiters, h);
    }
    bool await_resume();

   private:
    Semaphore* m_sem;
  };

  /// ValueError if `value` < 0.
  explicit Semaphore(std::ptrdiff_t value = 1);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  virtual ~Semaphore() { assert(m_waiters.empty()); }
  /// `co_await sem.acquire()` -> true with a permit. CancelledError if cancelled.
  [[nodiscard]] Acquire acquire() noexcept { return Acquire(*this); }
  [[nodiscard]] detail::ScopedAcquire<Semaphore, Acquire> scoped() noexcept {
    return detail::ScopedAcquire<Semaphore, Acquire>(*this, *this);
  }
  /// Returns a permit; wakes the first waiter.
  virtual void release();
  /// True if acquire() would wait.
  [[nodiscard]] bool locked() const noexcept { return m_value == 0 || !m_waiters.empty(); }
  /// The permits available now.
  [[nodiscard]] std::ptrdiff_t value() const noexcept { return m_value; }

 protected:
  bool wake_up_next() noexcept;
  detail::WaitList m_waiters;
  std::ptrdiff_t m_value;  // permits not handed out (woken waiters already took theirs)
};

/// A Semaphore whose release() above the initial value is a ValueError.
class CONCUR_API BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(std::ptrdiff_t value = 1) : Semaphore(value), m_bound(value) {}
  /// ValueError("BoundedSemaphore released too many times") above the initial value.
  void release() override;

 private:
  std::ptrdiff_t m_bound;
};

/// A barrier for `parties` tasks (Python's asyncio.Barrier).
class CONCUR_API Barrier {
 public:
  /// ValueError if parties < 1.
  explicit Barrier(std::size_t parties);
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;
  /// Waits until `parties` tasks wait; returns this task's arrival index (0..parties-1).
  /// BrokenBarrierError if the barrier is aborted or reset meanwhile, or was broken.
  Task<std::size_t> wait();
  /// Returns to the empty state; tasks waiting get BrokenBarrierError.
  Task<void> reset();
  /// Breaks the barrier: waiting and future wait() calls get BrokenBarrierError.
  Task<void> abort();
  [[nodiscard]] std::size_t parties() const noexcept { return m_parties; }
  /// Tasks waiting in the filling barrier.
  [[nodiscard]] std::size_t n_waiting() const noexcept { return m_state == State::filling ? m_count : 0; }
  [[nodiscard]] bool broken() const noexcept { return m_state == State::broken; }

 private:
  enum class State { filling, draining, resetting, broken };
  Task<void> block();
  Task<void> wait_released();
  void exit() noexcept;
  Condition m_cond;
  std::size_t m_parties;
  std::size_t m_count = 0;  // tasks inside wait()
  State m_state = State::filling;
};

}  // namespace concur::asyncio
