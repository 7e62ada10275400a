// SPDX-License-Identifier: MIT
// Barrier: Python's threading.Barrier state machine over a std::mutex + condition_variable.
#include "concur/threading/barrier.hpp"

#include <cassert>

#include "concur/errors.hpp"

namespace concur::threading {

Barrier::Barrier(std::size_t parties, BarrierOptions options)
    : m_parties(parties), m_options(std::move(options)) {
  if (parties == 0) throw ValueError("parties must be >= 1");
}

Barrier::~Barrier() {
  [[maybe_unused]] const std::scoped_lock hold(m_mutex);
  assert(m_count == 0 && "Barrier destroyed while threads wait in it");
}

std::size_t Barrier::wait(std::optional<Timeout> timeout) {
  if (!timeout) timeout = m_options.timeout;
  std::unique_lock hold(m_mutex);
  enter(hold);
  const std::size_t index = m_count++;
  // Python's try/finally: whatever happens, this thread leaves (exit_one) before returning.
  try {
    if (index + 1 == m_parties) {
      release_all(hold);
    } else {
      wait_for_release(hold, timeout);
    }
  } catch (...) {
    exit_one();
    throw;
  }
  exit_one();
  return index;
}

void Barrier::enter(std::unique_lock<std::mutex>& hold) {
  // The previous generation is still leaving, or a reset is in progress: wait until it is over.
  m_changed.wait(hold, [this] { return m_state != State::draining && m_state != State::resetting; });
  if (m_state == State::broken) throw BrokenBarrierError();
  assert(m_state == State::filling);
}

void Barrier::release_all(std::unique_lock<std::mutex>& /*hold: held throughout*/) {
  if (m_options.action) {
    // Run the action with the mutex held, as Python runs it under the barrier's condition: no
    // other thread can enter, leave or abort meanwhile.
    try {
      m_options.action();
    } catch (...) {
      break_barrier();
      throw;
    }
  }
  m_state = State::draining;
  m_changed.notify_all();
}

void Barrier::wait_for_release(std::unique_lock<std::mutex>& hold, std::optional<Timeout> timeout) {
  const auto released = [this] { return m_state != State::filling; };
  bool ok = true;
  const auto deadline = timeout ? concur::detail::deadline_after(*timeout) : std::chrono::steady_clock::time_point::max();
  if (deadline == std::chrono::steady_clock::time_point::max()) {  // no timeout, or a practically infinite one
    m_changed.wait(hold, released);
  } else {
    ok = m_changed.wait_until(hold, deadline, released);
  }
  if (!ok) {
    break_barrier();
    throw BrokenBarrierError("barrier wait timed out");
  }
  if (m_state == State::broken || m_state == State::resetting) throw BrokenBarrierError();
  assert(m_state == State::draining);
}

void Barrier::exit_one() {
  // Called with m_mutex held. The last thread out of a draining or resetting barrier opens it
  // for the next generation.
  assert(m_count > 0);
  --m_count;
  if (m_count == 0 && (m_state == State::draining || m_state == State::resetting)) {
    m_state = State::filling;
    m_changed.notify_all();
  }
}

void Barrier::break_barrier() {
  // Called with m_mutex held.
  m_state = State::broken;
  m_changed.notify_all();
}

void Barrier::reset() {
  const std::scoped_lock hold(m_mutex);
  if (m_count > 0) {
    if (m_state == State::filling || m_state == State::broken) {
      // Waiters leave with BrokenBarrierError; the last one out sets State::filling. (A broken
      // barrier's waiters are already leaving; marking it resetting makes the last one reopen it.)
      m_state = State::resetting;
    }
    // draining: the generation completed; it reopens by itself when the last one leaves.
  } else {
    m_state = State::filling;
  }
  m_changed.notify_all();
}

void Barrier::abort() {
  const std::scoped_lock hold(m_mutex);
  break_barrier();
}

std::size_t Barrier::n_waiting() const {
  const std::scoped_lock hold(m_mutex);
  return m_state == State::filling ? m_count : 0;
}

bool Barrier::broken() const {
  const std::scoped_lock hold(m_mutex);
  return m_state == State::broken;
}

}  // namespace concur::threading
