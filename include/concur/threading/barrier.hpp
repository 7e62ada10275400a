// SPDX-License-Identifier: MIT
// concur/threading/barrier.hpp — Barrier, Python's threading.Barrier.
//
// A Barrier lets a fixed number of threads (`parties`) meet: each calls wait(), and when the last
// one arrives all of them are released together. The optional action runs once per meeting, in
// the last thread to arrive, before anyone is released (with the barrier's internal mutex held:
// unlike Python's, the action may not call members of its own barrier). The barrier is reusable: after releasing
// a group it accepts the next one (a new "generation").
//
//   Barrier(parties, {.action = f, .timeout = 2s})   ValueError if parties == 0
//   wait(timeout) -> index          0 .. parties-1, distinct within a generation (the arrival order)
//   abort()                         breaks the barrier: every current and future wait() throws
//   reset()                         back to its initial state; current waiters get BrokenBarrierError
//   parties(), n_waiting(), broken()
//
// Breaking (Python's semantics): if a wait() times out (its own timeout, else the barrier's
// default), if abort() is called, or if the action throws, the barrier becomes broken and every
// thread waiting in it, and every later wait() until reset(), throws BrokenBarrierError. The
// thread whose action threw rethrows the action's own exception instead. A thread that arrives
// while the previous generation is still leaving, or while a reset() is in progress, waits
// for that to finish first.
//
// Memory ordering: everything a party wrote before wait() is visible to every party after its
// wait() returned (and to the action).
//
// Thread safety: all members may be called from any thread. Lifetime: no thread may be inside
// wait() when the Barrier is destroyed (asserted).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>

#include "concur/export.hpp"
#include "concur/timeout.hpp"

namespace concur::threading {

/// Barrier's keyword arguments.
struct BarrierOptions {
  /// Runs once per generation, in the last thread to arrive, before the others are released.
  /// It runs with the barrier's internal mutex held, so it must not call this barrier's members.
  std::function<void()> action = {};
  /// Default for wait()'s timeout; nullopt waits forever.
  std::optional<Timeout> timeout = std::nullopt;
};

/// threading.Barrier: a reusable meeting point for a fixed number of threads.
class CONCUR_API Barrier {
 public:
  /// A barrier for `parties` threads. Throws ValueError if `parties` is 0.
  explicit Barrier(std::size_t parties, BarrierOptions options = {});
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;
  ~Barrier();

  /// Waits until all parties have called wait(), or the timeout passes (the barrier's default
  /// when nullopt). Returns this thread's arrival index, 0 .. parties()-1. Throws
  /// BrokenBarrierError if the barrier is or becomes broken (timeout, abort, reset, failing
  /// action); the thread that ran a failing action gets the action's exception.
  std::size_t wait(std::optional<Timeout> timeout = std::nullopt);

  /// Returns the barrier to its empty, unbroken state; threads waiting in it throw
  /// BrokenBarrierError.
  void reset();

  /// Breaks the barrier: current and future wait() calls throw BrokenBarrierError until reset().
  void abort();

  /// The number of threads required to pass the barrier.
  [[nodiscard]] std::size_t parties() const noexcept { return m_parties; }
  /// The number of threads currently waiting in the barrier (0 while it drains or is broken).
  [[nodiscard]] std::size_t n_waiting() const;
  /// Whether the barrier is broken.
  [[nodiscard]] bool broken() const;

 private:
  // Python's Barrier._state, as an explicit enum:
  //   filling   threads are arriving; m_count of them wait
  //   draining  the last one arrived; the waiters are leaving (new arrivals wait for them)
  //   resetting reset() was called while threads waited; they leave with BrokenBarrierError
  //   broken    aborted, timed out or failed action; every wait() throws until reset()
  enum class State { filling, draining, resetting, broken };

  void enter(std::unique_lock<std::mutex>& hold);
  void release_all(std::unique_lock<std::mutex>& hold);
  void wait_for_release(std::unique_lock<std::mutex>& hold, std::optional<Timeout> timeout);
  void exit_one();
  void break_barrier();

  const std::size_t m_parties;
  const BarrierOptions m_options;
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;  // notified on every m_state change
  State m_state = State::filling;     // guarded by m_mutex
  std::size_t m_count = 0;            // threads inside wait(); guarded by m_mutex
};

}  // namespace concur::threading
