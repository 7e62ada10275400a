// SPDX-License-Identifier: MIT
// multiprocessing::Barrier: Python's threading.Barrier state machine in a shared Monitor.
//
//   filling   -> threads arrive (count grows); the last one runs the action -> draining
//   draining  -> released threads leave (count shrinks); the last to leave -> filling
//   resetting -> reset() while threads wait: they leave with BrokenBarrierError; last -> filling
//   broken    -> abort(), a timeout, an action that threw, a process that died holding the
//                barrier's mutex; every wait() fails until reset()
#include <new>

#include "concur/multiprocessing/serialize.hpp"
#include "concur/multiprocessing/synchronize.hpp"
#include "multiprocessing/sync_shared.hpp"

namespace concur::multiprocessing {

using Phase = detail::BarrierState::Phase;

namespace {

void break_barrier(detail::BarrierState& s) {
  s.phase = Phase::broken;
  s.monitor.notify_all();
}

/// After taking the monitor: if its previous holder died holding it, nobody can tell how far
/// that process got, so the barrier breaks. A holder that died inside the action was a counted
/// waiter that will never leave: uncount it, so that reset() can reopen the barrier.
void repair_if_died(detail::BarrierState& s, bool owner_died) {
  if (!owner_died) return;
  if (s.in_action) {
    s.in_action = false;
    --s.count;
  }
  break_barrier(s);
}

}  // namespace

Barrier::Barrier(std::ptrdiff_t parties, BarrierOptions options) : m_options(std::move(options)) {
  if (parties < 1) throw ValueError("parties must be > 0");
  m_region = detail::SharedRegion(sizeof(detail::BarrierState));
  auto* s = new (m_region.data()) detail::BarrierState;
  s->monitor.init();
  s->parties = parties;
}

Barrier::Barrier(from_reduction_t tag, detail::InputArchive& ar) {
  std::optional<double> timeout;
  ar(timeout);
  if (timeout) m_options.timeout = Timeout(*timeout);
  m_region = detail::SharedRegion(tag, ar, sizeof(detail::BarrierState));
}

void Barrier::reduce(detail::OutputArchive& ar) const {
  if (m_options.action)
    throw ValueError("a Barrier with an action cannot be passed to a process: the action is a function object of this "
                     "process; pass a Barrier without action (or let a \"fork\" child inherit this one)");
  std::optional<double> timeout;
  if (m_options.timeout) timeout = m_options.timeout->count();
  ar(timeout);
  m_region.reduce(ar);
}

Barrier::~Barrier() = default;

detail::BarrierState* Barrier::state() const noexcept { return m_region.as<detail::BarrierState>(); }

std::ptrdiff_t Barrier::wait(std::optional<Timeout> timeout) {
  if (!timeout) timeout = m_options.timeout;
  const auto deadline = detail::deadline_of(timeout);
  detail::BarrierState& s = *state();
  detail::MonitorGuard hold(s.monitor);
  repair_if_died(s, hold.owner_died());

  // Wait for the previous generation to drain or a reset to finish.
  while (s.phase == Phase::draining || s.phase == Phase::resetting) {
    bool owner_died = false;
    s.monitor.wait_until(detail::Clock::time_point::max(), &owner_died);
    repair_if_died(s, owner_died);
  }
  if (s.phase == Phase::broken) throw BrokenBarrierError();

  const auto index = static_cast<std::ptrdiff_t>(s.count++);
  // Leaving, however it happens: the last thread out of a drain or reset reopens the barrier.
  struct Leave {
    detail::BarrierState& s;
    ~Leave() {
      if (--s.count == 0 && (s.phase == Phase::draining || s.phase == Phase::resetting)) {
        s.phase = Phase::filling;
        s.monitor.notify_all();
      }
    }
  } leave{s};

  if (index + 1 == s.parties) {
    try {
      if (m_options.action) {
        // Wake the sleepers first: they now block on the robust mutex we hold while the action
        // runs, so if this process dies inside it, one of them inherits the mutex with
        // EOWNERDEAD and breaks the barrier instead of sleeping forever on the futex.
        s.monitor.notify_all();
        s.in_action = true;
        m_options.action();
        s.in_action = false;
      }
    } catch (...) {
      s.in_action = false;
      break_barrier(s);
      throw;
    }
    s.phase = Phase::draining;
    s.monitor.notify_all();
    return index;
  }
  while (s.phase == Phase::filling) {
    bool owner_died = false;
    const bool in_time = s.monitor.wait_until(deadline, &owner_died);
    repair_if_died(s, owner_died);
    if (!in_time && s.phase == Phase::filling) {
      break_barrier(s);
      throw BrokenBarrierError();
    }
  }
  if (s.phase == Phase::broken || s.phase == Phase::resetting) throw BrokenBarrierError();
  return index;
}

void Barrier::reset() {
  detail::BarrierState& s = *state();
  detail::MonitorGuard hold(s.monitor);
  repair_if_died(s, hold.owner_died());
  if (s.count > 0) {
    // Waiters leave with BrokenBarrierError; the last one out sets `filling`.
    if (s.phase == Phase::filling || s.phase == Phase::broken) s.phase = Phase::resetting;
  } else {
    s.phase = Phase::filling;
  }
  s.monitor.notify_all();
}

void Barrier::abort() {
  detail::BarrierState& s = *state();
  detail::MonitorGuard hold(s.monitor);
  repair_if_died(s, hold.owner_died());
  break_barrier(s);
}

std::ptrdiff_t Barrier::parties() const { return static_cast<std::ptrdiff_t>(state()->parties); }

std::ptrdiff_t Barrier::n_waiting() const {
  detail::BarrierState& s = *state();
  detail::MonitorGuard hold(s.monitor);
  repair_if_died(s, hold.owner_died());
  return s.phase == Phase::filling ? static_cast<std::ptrdiff_t>(s.count) : 0;
}

bool Barrier::broken() const {
  detail::BarrierState& s = *state();
  detail::MonitorGuard hold(s.monitor);
  repair_if_died(s, hold.owner_died());
  return s.phase == Phase::broken;
}

}  // namespace concur::multiprocessing
