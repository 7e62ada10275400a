// SPDX-License-Identifier: MIT
// multiprocessing::Condition: a shared futex sequence word next to a process-shared lock.
//
// Waiters and notifiers agree through two counters guarded by the condition's lock: `waiters`
// (threads inside wait()) and `permits` (notifications granted, not yet taken). notify(n)
// grants min(n, waiters - permits) permits and wakes that many sleepers; a waiter returns true
// only by taking a permit, so exactly that many waits end notified, as Python promises ("wakes
// up at most n"). A waiter whose timeout fires after a permit was granted takes it and returns
// true, so a notification is never lost to a timed-out waiter.
#include <cassert>
#include <climits>
#include <new>
#include <utility>

#include "concur/multiprocessing/serialize.hpp"
#include "concur/multiprocessing/synchronize.hpp"
#include "multiprocessing/sync_shared.hpp"

namespace concur::multiprocessing {

Condition::Condition()
    : m_own_lock(std::in_place), m_rlock(&*m_own_lock), m_region(sizeof(detail::ConditionState)) {
  new (m_region.data()) detail::ConditionState;
}

Condition::Condition(Lock& lock) : m_lock(&lock), m_region(sizeof(detail::ConditionState)) {
  new (m_region.data()) detail::ConditionState;
}

Condition::Condition(RLock& lock) : m_rlock(&lock), m_region(sizeof(detail::ConditionState)) {
  new (m_region.data()) detail::ConditionState;
}

// A reduced Condition: whether its lock is an RLock (its own or not) or a Lock, that lock's
// reduction, then the condition's own region.
Condition::Condition(from_reduction_t tag, detail::InputArchive& ar) {
  bool plain = false;
  ar(plain);
  if (plain) {
    m_own_plain_lock.emplace(tag, ar);
    m_lock = &*m_own_plain_lock;
  } else {
    m_own_lock.emplace(tag, ar);
    m_rlock = &*m_own_lock;
  }
  m_region = detail::SharedRegion(tag, ar, sizeof(detail::ConditionState));
}

void Condition::reduce(detail::OutputArchive& ar) const {
  const bool plain = m_lock != nullptr;
  ar(plain);
  if (plain) {
    m_lock->reduce(ar);
  } else {
    m_rlock->reduce(ar);
  }
  m_region.reduce(ar);
}

Condition::~Condition() = default;

detail::LockState* Condition::lock_state() const noexcept {
  return m_lock != nullptr ? m_lock->state() : m_rlock->state();
}

bool Condition::holds_lock() const { return lock_state()->mutex.held_by_me(); }

bool Condition::acquire(bool blocking, std::optional<Timeout> timeout) {
  return m_lock != nullptr ? m_lock->acquire(blocking, timeout) : m_rlock->acquire(blocking, timeout);
}

void Condition::release() {
  if (m_lock != nullptr) {
    m_lock->release();
  } else {
    m_rlock->release();
  }
}

bool Condition::wait(std::optional<Timeout> timeout) {
  if (!holds_lock()) throw RuntimeError("cannot wait on un-acquired lock");
  if (timeout && *timeout < Timeout::zero()) timeout = Timeout::zero();  // Python: no wait
  const auto deadline = detail::deadline_of(timeout);
  detail::LockState& lock = *lock_state();
  auto& cond = *m_region.as<detail::ConditionState>();
  ++cond.waiters;
  // An RLock is released entirely for the wait and restored to the same depth afterwards.
  const std::uint32_t depth = m_rlock != nullptr ? lock.count : 1;
  for (;;) {
    const std::uint32_t seen = cond.seq.load(std::memory_order_relaxed);  // ordered by the lock
    if (m_rlock != nullptr) lock.count = 0;
    lock.mutex.unlock();
    const bool in_time = detail::futex_wait(cond.seq, seen, deadline);
    // Re-acquire whatever happens, even past the deadline: wait() returns with the lock held.
    lock.mutex.lock();
    if (m_rlock != nullptr) lock.count = depth;
    if (cond.permits > 0) {
      --cond.permits;
      --cond.waiters;
      return true;
    }
    if (!in_time || detail::Clock::now() >= deadline) {
      --cond.waiters;
      return false;
    }
    // Woken without a permit (a signal, or another waiter took it): sleep again.
  }
}

void Condition::notify(std::size_t n) {
  if (!holds_lock()) throw RuntimeError("cannot notify on un-acquired lock");
  auto& cond = *m_region.as<detail::ConditionState>();
  assert(cond.permits <= cond.waiters);
  const std::size_t unnotified = cond.waiters - cond.permits;
  const auto granted = static_cast<std::uint32_t>(n < unnotified ? n : unnotified);
  if (granted == 0) return;
  cond.permits += granted;
  cond.seq.fetch_add(1, std::memory_order_relaxed);  // ordered by the lock
  detail::futex_wake(cond.seq, granted > INT_MAX ? INT_MAX : static_cast<int>(granted));
}

void Condition::notify_all() { notify(static_cast<std::size_t>(-1)); }

}  // namespace concur::multiprocessing
