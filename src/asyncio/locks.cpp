// SPDX-License-Identifier: MIT
// asyncio locks: Python 3.13's asyncio.locks, waiter by waiter.
#include "concur/asyncio/locks.hpp"

namespace concur::asyncio {

namespace detail {

WaitNode::~WaitNode() { leave(); }

bool WaitNode::cancel() noexcept {
  if (m_woken || m_cancelled) return false;
  leave();
  m_cancelled = true;
  m_root->wake();
  return true;
}

bool WaitList::wake_first_waiting() noexcept {
  for (WaitNode* n = m_head; n != nullptr; n = n->m_next) {
    if (!n->woken()) {
      n->wake_up();
      return true;
    }
  }
  return false;
}

}  // namespace detail

// ---- Lock ------------------------------------------------------------------------------------

bool Lock::Acquire::await_ready() noexcept {
  // Free, and no woken waiter about to take it: take it without suspending.
  if (!m_lock->m_locked && m_lock->m_waiters.empty()) {
    m_lock->m_locked = true;
    return true;
  }
  return false;
}

bool Lock::Acquire::await_resume() {
  if (m_root == nullptr) return true;  // acquired in await_ready
  leave();
  if (m_cancelled || m_root->m_must_cancel) {
    // Keep the invariant: if the lock is free and tasks wait, the first of them will run.
    if (!m_lock->m_locked) m_lock->wake_up_first();
    m_root->resume_point(m_cancelled);
  }
  m_lock->m_locked = true;
  return true;
}

void Lock::release() {
  if (!m_locked) throw RuntimeError("Lock is not acquired.");
  m_locked = false;
  wake_up_first();
}

void Lock::wake_up_first() noexcept {
  // Only the first: a woken first waiter is already about to take the lock.
  detail::WaitNode* first = m_waiters.front();
  if (first != nullptr && !first->woken()) first->wake_up();
}

// ---- Event -----------------------------------------------------------------------------------

bool Event::Wait::await_resume() {
  if (m_root == nullptr) return true;
  leave();
  m_root->resume_point(m_cancelled);
  return true;
}

void Event::set() noexcept {
  if (m_value) return;
  m_value = true;
  for (detail::WaitNode* n = m_waiters.front(); n != nullptr; n = n->m_next) {
    if (!n->woken()) n->wake_up();
  }
}

// ---- Condition -------------------------------------------------------------------------------

void Condition::Notified::await_resume() {
  leave();
  m_root->resume_point(m_cancelled);
}

Task<bool> Condition::wait() {
  if (!locked()) throw RuntimeError("cannot wait on un-acquired lock");
  release();
  std::exception_ptr error;
  try {
    co_await Notified(*this);
  } catch (...) {
    error = std::current_exception();
  }
  // The lock must be re-acquired even if the wait was cancelled.
  for (;;) {
    try {
      co_await m_lock->acquire();
      break;
    } catch (const CancelledError&) {
      error = std::current_exception();  // the most recent cancellation wins, as in Python
    }
  }
  if (error) {
    // This task may have been notified just before it failed: pass the wake-up on, so that
    // it is not lost (a spurious wake-up is allowed for condition variables).
    notify_unchecked(1);
    std::rethrow_exception(error);
  }
  co_return true;
}

void Condition::notify(std::size_t n) {
  if (!locked()) throw RuntimeError("cannot notify on un-acquired lock");
  notify_unchecked(n);
}

void Condition::notify_unchecked(std::size_t n) noexcept {
  std::size_t woken = 0;
  for (detail::WaitNode* w = m_waiters.front(); w != nullptr && woken < n; w = w->m_next) {
    if (!w->woken()) {
      ++woken;
      w->wake_up();
    }
  }
}

// ---- Semaphore -------------------------------------------------------------------------------

Semaphore::Semaphore(std::ptrdiff_t value) : m_value(value) {
  if (value < 0) throw ValueError("Semaphore initial value must be >= 0");
}

bool Semaphore::Acquire::await_ready() noexcept {
  // FIFO: a free permit is not taken while other tasks wait for one.
  if (!m_sem->locked()) {
    --m_sem->m_value;
    return true;
  }
  return false;
}

bool Semaphore::Acquire::await_resume() {
  if (m_root == nullptr) return true;
  leave();
  if (m_cancelled || m_root->m_must_cancel) {
    // Woken with a permit but not taking it: give it back.
    if (m_woken) ++m_sem->m_value;
    while (m_sem->m_value > 0 && m_sem->wake_up_next()) {
    }
    m_root->resume_point(m_cancelled);
  }
  // Waiters that arrived while we waited may take the permits left.
  while (m_sem->m_value > 0 && m_sem->wake_up_next()) {
  }
  return true;
}

bool Semaphore::wake_up_next() noexcept {
  for (detail::WaitNode* n = m_waiters.front(); n != nullptr; n = n->m_next) {
    if (!n->woken()) {
      --m_value;  // the permit is handed to the woken task now
      n->wake_up();
      return true;
    }
  }
  return false;
}

void Semaphore::release() {
  ++m_value;
  wake_up_next();
}

void BoundedSemaphore::release() {
  if (m_value >= m_bound) throw ValueError("BoundedSemaphore released too many times");
  Semaphore::release();
}

// ---- Barrier ---------------------------------------------------------------------------------

Barrier::Barrier(std::size_t parties) : m_parties(parties) {
  if (parties < 1) throw ValueError("parties must be >= 1");
}

Task<void> Barrier::block() {
  // Wait while the barrier drains or resets.
  co_await m_cond.wait_for([this] { return m_state != State::draining && m_state != State::resetting; });
  if (m_state == State::broken) throw BrokenBarrierError("Barrier aborted");
}

Task<void> Barrier::wait_released() {
  co_await m_cond.wait_for([this] { return m_state != State::filling; });
  if (m_state == State::broken || m_state == State::resetting) throw BrokenBarrierError("Abort or reset of barrier");
}

void Barrier::exit() noexcept {
  // The last task out lets the next round fill.
  if (m_count == 0) {
    if (m_state == State::resetting || m_state == State::draining) m_state = State::filling;
    m_cond.notify_unchecked_all();
  }
}

Task<std::size_t> Barrier::wait() {
  auto held = co_await m_cond.scoped();
  co_await block();
  const std::size_t index = m_count++;
  std::exception_ptr error;
  try {
    if (index + 1 == m_parties) {
      m_state = State::draining;  // release the others
      m_cond.notify_all();
    } else {
      co_await wait_released();
    }
  } catch (...) {
    error = std::current_exception();
  }
  --m_count;
  exit();
  if (error) std::rethrow_exception(error);
  co_return index;
}

Task<void> Barrier::reset() {
  auto held = co_await m_cond.scoped();
  if (m_count > 0) {
    m_state = State::resetting;
  } else {
    m_state = State::filling;
  }
  m_cond.notify_all();
}

Task<void> Barrier::abort() {
  auto held = co_await m_cond.scoped();
  m_state = State::broken;
  m_cond.notify_all();
}

}  // namespace concur::asyncio
