// SPDX-License-Identifier: MIT
// Condition: the FIFO waiter list, waiting and notifying.
#include "concur/threading/condition.hpp"

#include <cassert>

#include "concur/errors.hpp"

namespace concur::threading {

Condition::~Condition() {
  [[maybe_unused]] const std::scoped_lock hold(m_waiters_mutex);
  assert(m_head == nullptr && "Condition destroyed while threads wait on it");
}

bool Condition::is_owned() const {
  // Python's Condition._is_owned: exact for an RLock; for a Lock, "somebody holds it".
  return m_lock != nullptr ? m_lock->locked() : m_rlock->is_owned();
}

void Condition::append(Waiter& waiter) {
  waiter.prev = m_tail;
  waiter.next = nullptr;
  (m_tail != nullptr ? m_tail->next : m_head) = &waiter;
  m_tail = &waiter;
  waiter.linked = true;
}

void Condition::unlink(Waiter& waiter) {
  assert(waiter.linked);
  (waiter.prev != nullptr ? waiter.prev->next : m_head) = waiter.next;
  (waiter.next != nullptr ? waiter.next->prev : m_tail) = waiter.prev;
  waiter.prev = waiter.next = nullptr;
  waiter.linked = false;
}

bool Condition::wait(std::optional<Timeout> timeout) {
  if (!is_owned()) throw RuntimeError("cannot wait on un-acquired lock");
  Waiter waiter;
  {
    const std::scoped_lock hold(m_waiters_mutex);
    append(waiter);
  }
  // Release the lock completely (an RLock at any recursion level), as Python's _release_save.
  std::size_t saved_count = 0;
  if (m_lock != nullptr) {
    m_lock->release();
  } else {
    saved_count = m_rlock->m_count;
    m_rlock->m_count = 1;
    m_rlock->release();
  }

  const bool forever = !timeout;
  const bool may_sleep = forever || *timeout > Timeout::zero();
  const auto deadline = forever ? std::chrono::steady_clock::time_point::max() : concur::detail::deadline_after(*timeout);
  // acquire: pairs with the notifier's release store (not strictly needed, since the lock is
  // re-acquired before returning, but it keeps the flag itself race-free to reason about).
  while (may_sleep && waiter.signaled.load(std::memory_order_acquire) == 0) {
    if (!detail::futex_wait_until(waiter.signaled, 0, deadline)) break;
  }
  bool notified = false;
  {
    // Either a notifier already unlinked us (and, holding this mutex, signalled us: once we hold
    // it, it is done with `waiter`), or we timed out and remove ourselves.
    const std::scoped_lock hold(m_waiters_mutex);
    if (waiter.linked) {
      unlink(waiter);
    } else {
      notified = true;
    }
  }

  if (m_lock != nullptr) {
    m_lock->acquire();
  } else {
    m_rlock->acquire();
    m_rlock->m_count = saved_count;
  }
  return notified;
}

void Condition::notify(std::size_t n) {
  if (!is_owned()) throw RuntimeError("cannot notify on un-acquired lock");
  const std::scoped_lock hold(m_waiters_mutex);
  while (n > 0 && m_head != nullptr) {
    Waiter& waiter = *m_head;
    unlink(waiter);
    // release: pairs with the waiter's acquire load of `signaled`.
    waiter.signaled.store(1, std::memory_order_release);
    detail::futex_wake(waiter.signaled, 1);
    --n;
  }
}

void Condition::notify_all() { notify(static_cast<std::size_t>(-1)); }

}  // namespace concur::threading
