// SPDX-License-Identifier: MIT
// multiprocessing::Semaphore, BoundedSemaphore and Event: a value in a shared Monitor.
#include <climits>
#include <new>

#include "concur/multiprocessing/serialize.hpp"
#include "concur/multiprocessing/synchronize.hpp"
#include "multiprocessing/sync_shared.hpp"

namespace concur::multiprocessing {

// ---- Semaphore ---------------------------------------------------------------------------

Semaphore::Semaphore(std::ptrdiff_t value) : Semaphore(value, false) {}

Semaphore::Semaphore(std::ptrdiff_t value, bool bounded) {
  if (value < 0) throw ValueError("semaphore initial value must be >= 0");
  m_region = detail::SharedRegion(sizeof(detail::SemaphoreState));
  auto* s = new (m_region.data()) detail::SemaphoreState;
  s->monitor.init();
  s->value = value;
  s->bound = value;
  s->bounded = bounded;
}

Semaphore::Semaphore(from_reduction_t tag, detail::InputArchive& ar)
    : m_region(tag, ar, sizeof(detail::SemaphoreState)) {}

void Semaphore::reduce(detail::OutputArchive& ar) const { m_region.reduce(ar); }

Semaphore::~Semaphore() = default;

detail::SemaphoreState* Semaphore::state() const noexcept { return m_region.as<detail::SemaphoreState>(); }

bool Semaphore::acquire(bool blocking, std::optional<Timeout> timeout) {
  if (timeout && !blocking) throw ValueError("can't specify timeout for non-blocking acquire");
  detail::SemaphoreState& s = *state();
  const auto deadline = detail::deadline_of(timeout);
  detail::MonitorGuard hold(s.monitor);
  while (s.value == 0) {
    if (!blocking) return false;
    if (!s.monitor.wait_until(deadline) && s.value == 0) return false;
  }
  --s.value;
  return true;
}

void Semaphore::release(std::ptrdiff_t n) {
  if (n < 1) throw ValueError("n must be one or more");
  detail::SemaphoreState& s = *state();
  detail::MonitorGuard hold(s.monitor);
  if (s.bounded && s.value + n > s.bound) throw ValueError("Semaphore released too many times");
  s.value += n;
  s.monitor.notify(n > INT_MAX ? INT_MAX : static_cast<int>(n));
}

std::ptrdiff_t Semaphore::get_value() const {
  detail::SemaphoreState& s = *state();
  detail::MonitorGuard hold(s.monitor);
  return static_cast<std::ptrdiff_t>(s.value);
}

// ---- Event -------------------------------------------------------------------------------

Event::Event() : m_region(sizeof(detail::EventState)) {
  auto* s = new (m_region.data()) detail::EventState;
  s->monitor.init();
}

Event::Event(from_reduction_t tag, detail::InputArchive& ar) : m_region(tag, ar, sizeof(detail::EventState)) {}

void Event::reduce(detail::OutputArchive& ar) const { m_region.reduce(ar); }

Event::~Event() = default;

detail::EventState* Event::state() const noexcept { return m_region.as<detail::EventState>(); }

void Event::set() {
  detail::EventState& s = *state();
  detail::MonitorGuard hold(s.monitor);
  s.flag = true;
  s.monitor.notify_all();
}

void Event::clear() {
  detail::EventState& s = *state();
  detail::MonitorGuard hold(s.monitor);
  s.flag = false;
}

bool Event::is_set() const {
  detail::EventState& s = *state();
  detail::MonitorGuard hold(s.monitor);
  return s.flag;
}

bool Event::wait(std::optional<Timeout> timeout) {
  detail::EventState& s = *state();
  const auto deadline = detail::deadline_of(timeout);
  detail::MonitorGuard hold(s.monitor);
  while (!s.flag) {
    if (!s.monitor.wait_until(deadline)) break;
  }
  return s.flag;
}

}  // namespace concur::multiprocessing
