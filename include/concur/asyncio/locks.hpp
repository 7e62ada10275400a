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
  /// Takes charge of `lock`, which the current task has just acquired (scoped() makes it).
  explicit Held(L& lock) noexcept : m_lock(&lock) {}
  /// Hands the charge over: the moved-from Held releases nothing.
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
  /// The awaiter of acquire() (Python's Lock.acquire() coroutine): takes the lock, waiting in
  /// FIFO order while it is held or other tasks wait for it. It may be moved before it is
  /// awaited (create_task(lock.acquire())), never after.
  class [[nodiscard]] Acquire : public detail::WaitNode {
   public:
    /// An acquisition of `lock` (acquire() makes it).
    explicit Acquire(Lock& lock) noexcept : m_lock(&lock) {}
    /// Takes the lock at once, without suspending, if it is free and no task waits for it (a
    /// woken waiter is about to take it: the lock is fair); returns whether it did.
    bool await_ready() noexcept;
    /// Queues the task at the back of the lock's waiters and suspends it until release()
    /// wakes it.
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      enqueue(m_lock->m_waiters, h);
    }
    /// Takes the lock for the woken task and returns true. CancelledError if the task was
    /// cancelled while it waited or before it resumed: the lock is not taken then, and if it
    /// is free the next waiter is woken in its place (no wake-up is lost).
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
  /// The awaiter of wait() (Python's Event.wait() coroutine): returns true once the event is
  /// set, at once if it is set already. It may be moved before it is awaited, never after.
  class [[nodiscard]] Wait : public detail::WaitNode {
   public:
    /// A wait for `event` (wait() makes it).
    explicit Wait(Event& event) noexcept : m_event(&event) {}
    /// True if the event is set: no suspension.
    bool await_ready() const noexcept { return m_event->m_value; }
    /// Queues the task on the event's waiters and suspends it until set() wakes it.
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      enqueue(m_event->m_waiters, h);
    }
    /// Returns true. CancelledError if the task was cancelled while it waited, or after set()
    /// woke it but before it resumed.
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
  /// True while the flag is set (Python's is_set()): after set(), until clear().
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
    /// A wait on `c` (wait() makes it, once it has released the lock).
    explicit Notified(Condition& c) noexcept : m_cond(&c) {}
    /// False: a notification is always waited for.
    bool await_ready() const noexcept { return false; }
    /// Queues the task on the condition's waiters and suspends it until notify() or
    /// notify_all() wakes it.
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      enqueue(m_cond->m_waiters, h);
    }
    /// Returns once notified. CancelledError if the task was cancelled while it waited or
    /// before it resumed (wait() then re-acquires the lock and passes a notification on).
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

  /// `co_await cond.acquire()`: acquires the underlying lock (Python's Condition.acquire()),
  /// as Lock::acquire() does; true once it is the task's. CancelledError if cancelled.
  [[nodiscard]] Lock::Acquire acquire() noexcept { return m_lock->acquire(); }
  /// `auto held = co_await cond.scoped();` -> Held<Condition>: acquires the underlying lock
  /// and releases it at scope exit (Python's `async with cond:`). CancelledError if cancelled.
  [[nodiscard]] detail::ScopedAcquire<Condition, Lock::Acquire> scoped() noexcept {
    return detail::ScopedAcquire<Condition, Lock::Acquire>(*this, *m_lock);
  }
  /// Releases the underlying lock (Python's Condition.release()). RuntimeError("Lock is not
  /// acquired.") if it is not locked.
  void release() { m_lock->release(); }
  /// True while the underlying lock is held, by any task (Python's Condition.locked()).
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
  /// The awaiter of acquire() (Python's Semaphore.acquire() coroutine): takes a permit,
  /// waiting in FIFO order while none is free. It may be moved before it is awaited, never
  /// after.
  class [[nodiscard]] Acquire : public detail::WaitNode {
   public:
    /// An acquisition on `s` (acquire() makes it).
    explicit Acquire(Semaphore& s) noexcept : m_sem(&s) {}
    /// Takes a permit at once, without suspending, if one is free and no task waits for one (a
    /// free permit is not taken ahead of the waiters); returns whether it did.
    bool await_ready() noexcept;
    /// Queues the task at the back of the semaphore's waiters and suspends it until release()
    /// hands it a permit.
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      enqueue(m_sem->m_waiters, h);
    }
    /// Returns true: the task holds the permit it was handed. Permits still free then go to
    /// the next waiters. CancelledError if the task was cancelled while it waited or before it
    /// resumed: a permit it was handed is given back and passed on to the next waiter.
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
  /// `auto held = co_await sem.scoped();` -> Held<Semaphore>: acquires a permit and releases
  /// it at scope exit (Python's `async with sem:`). CancelledError if cancelled.
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
  /// Hands a permit (one of m_value) to the first waiter not woken yet and wakes it; false if
  /// no task waits for one (Python's _wake_up_next()). The caller checks that m_value > 0.
  bool wake_up_next() noexcept;
  /// The tasks waiting for a permit, in FIFO order; a woken task stays in it until it runs.
  detail::WaitList m_waiters;
  std::ptrdiff_t m_value;  ///< permits not handed out (woken waiters already took theirs)
};

/// A Semaphore whose release() above the initial value is a ValueError.
class CONCUR_API BoundedSemaphore : public Semaphore {
 public:
  /// A semaphore with `value` permits, which is also the bound that release() may not exceed.
  /// ValueError if `value` < 0.
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
  /// The number of tasks that must wait() for the barrier to let them pass (Python's parties).
  [[nodiscard]] std::size_t parties() const noexcept { return m_parties; }
  /// Tasks waiting in the filling barrier.
  [[nodiscard]] std::size_t n_waiting() const noexcept { return m_state == State::filling ? m_count : 0; }
  /// True once abort() broke the barrier, until reset() (Python's broken).
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
