// SPDX-License-Identifier: MIT
// multiprocessing::Lock and RLock: robust process-shared mutexes (see sync_shared.hpp).
#include <cassert>
#include <new>
#include <thread>

#include "concur/multiprocessing/serialize.hpp"
#include "concur/multiprocessing/synchronize.hpp"
#include "multiprocessing/sync_shared.hpp"

namespace concur::multiprocessing {

namespace detail {
namespace {

/// Python's Lock.acquire refuses a timeout without blocking, and a negative timeout.
void check_acquire_arguments(bool blocking, const std::optional<Timeout>& timeout) {
  if (timeout && !blocking) throw ValueError("can't specify a timeout for a non-blocking call");
  if (timeout && *timeout < Timeout::zero()) throw ValueError("timeout value must be a non-negative number");
}

LockState* make_lock_state(SharedRegion& region) {
  region = SharedRegion(sizeof(LockState));
  auto* state = new (region.data()) LockState;
  state->mutex.init();
  return state;
}

Acquired take(RobustMutex& mutex, bool blocking, const std::optional<Timeout>& timeout) {
  if (!blocking) return mutex.try_lock();
  // Fast path without computing a deadline.
  const Acquired got = mutex.try_lock();
  if (got != Acquired::no) return got;
  return mutex.lock_until(deadline_of(timeout));
}

}  // namespace
}  // namespace detail

// ---- Lock --------------------------------------------------------------------------------

Lock::Lock() { detail::make_lock_state(m_region); }
Lock::Lock(from_reduction_t tag, detail::InputArchive& ar) : m_region(tag, ar, sizeof(detail::LockState)) {}
void Lock::reduce(detail::OutputArchive& ar) const { m_region.reduce(ar); }
// No pthread_mutex_destroy: other processes may still use the mutex after this handle is gone,
// and a glibc mutex owns no resource outside the shared page, which the kernel frees.
Lock::~Lock() = default;

detail::LockState* Lock::state() const noexcept { return m_region.as<detail::LockState>(); }

bool Lock::acquire(bool blocking, std::optional<Timeout> timeout) {
  detail::check_acquire_arguments(blocking, timeout);
  switch (detail::take(state()->mutex, blocking, timeout)) {
    case detail::Acquired::yes:
    case detail::Acquired::owner_died: return true;
    case detail::Acquired::no: return false;
    case detail::Acquired::already_own:
      // Only the holder can release it, and the holder is us: nothing can end the wait.
      if (!blocking) return false;
      if (!timeout) throw RuntimeError("deadlock: this thread already holds the (non-recursive) Lock");
      std::this_thread::sleep_until(detail::deadline_of(timeout));
      return false;
  }
  return false;
}

void Lock::release() {
  detail::RobustMutex& mutex = state()->mutex;
  if (!mutex.held_by_me()) {
    throw RuntimeError(locked() ? "cannot release a Lock held by another thread or process" : "release unlocked lock");
  }
  mutex.unlock();
}

bool Lock::locked() const {
  detail::RobustMutex& mutex = state()->mutex;
  switch (mutex.try_lock()) {
    case detail::Acquired::no:
    case detail::Acquired::already_own: return true;
    case detail::Acquired::yes:
    case detail::Acquired::owner_died: mutex.unlock(); return false;
  }
  return true;
}

// ---- RLock -------------------------------------------------------------------------------

RLock::RLock() { detail::make_lock_state(m_region); }
RLock::RLock(from_reduction_t tag, detail::InputArchive& ar) : m_region(tag, ar, sizeof(detail::LockState)) {}
void RLock::reduce(detail::OutputArchive& ar) const { m_region.reduce(ar); }
RLock::~RLock() = default;

detail::LockState* RLock::state() const noexcept { return m_region.as<detail::LockState>(); }

bool RLock::acquire(bool blocking, std::optional<Timeout> timeout) {
  detail::check_acquire_arguments(blocking, timeout);
  detail::LockState& s = *state();
  switch (detail::take(s.mutex, blocking, timeout)) {
    case detail::Acquired::yes:
    case detail::Acquired::owner_died: s.count = 1; return true;  // a dead holder's depth is void
    case detail::Acquired::already_own: ++s.count; return true;
    case detail::Acquired::no: return false;
  }
  return false;
}

void RLock::release() {
  detail::LockState& s = *state();
  if (!s.mutex.held_by_me()) throw RuntimeError("cannot release un-acquired lock");
  assert(s.count > 0);
  if (--s.count == 0) s.mutex.unlock();
}

bool RLock::locked() const {
  detail::RobustMutex& mutex = state()->mutex;
  switch (mutex.try_lock()) {
    case detail::Acquired::no:
    case detail::Acquired::already_own: return true;
    case detail::Acquired::yes:
    case detail::Acquired::owner_died: mutex.unlock(); return false;
  }
  return true;
}

}  // namespace concur::multiprocessing
