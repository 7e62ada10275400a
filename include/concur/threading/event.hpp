// SPDX-License-Identifier: MIT
// concur/threading/event.hpp — Event, Python's threading.Event.
//
// An Event is a flag that threads wait on: set() raises it and wakes every waiter, clear() lowers
// it, wait(timeout) blocks until it is raised. Python's promise is kept: a thread that was
// blocked in wait() when set() was called returns true even if clear() follows at once (a
// set-then-clear "pulse" wakes everyone who was waiting).
//
//   set()                    raises the flag, wakes all waiters (no system call if nobody waits)
//   clear()                  lowers the flag
//   is_set() -> bool
//   wait(timeout) -> bool    true if the flag was raised (or a set() woke it), false on timeout;
//                            a zero or negative timeout only looks at the flag
//
// Memory ordering: set() happens-before every wait()/is_set() that observes it: what a thread
// wrote before set() is visible to a thread whose wait() returned true.
//
// Thread safety: every member may be called from any thread. Lifetime: the Event must outlive
// every thread blocked in wait() (destroying it while set() wakes waiters is fine once they
// returned).
//
// Implementation: one futex word holding the flag, a "someone sleeps" bit and a generation
// counter bumped by every set() that raises the flag, so a woken waiter can tell "set since I
// slept" from a spurious wake. A wait that has to sleep costs one futex wait; set() costs one
// atomic and a wake only if the sleepers bit is on. (After 2^30 set() calls between a waiter's
// two looks at the word the generation wraps: that waiter would sleep on; it cannot happen in
// practice since each of those set() calls would need a clear() in between.)
#pragma once

#include <cstdint>
#include <optional>

#include "concur/export.hpp"
#include "concur/threading/futex.hpp"
#include "concur/timeout.hpp"

namespace concur::threading {

/// threading.Event: a flag threads can wait on.
class CONCUR_API Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// Raises the flag and wakes every thread blocked in wait(). Never throws.
  void set() noexcept {
    // relaxed: only a fast "already set" check; the exchange in set_slow is what publishes.
    if ((m_state.load(std::memory_order_relaxed) & flag_bit) == 0) set_slow();
  }

  /// Lowers the flag. Never throws.
  void clear() noexcept {
    // relaxed: clearing publishes nothing; a waiter that sees the flag down just keeps waiting.
    m_state.fetch_and(~flag_bit, std::memory_order_relaxed);
  }

  /// Whether the flag is raised.
  [[nodiscard]] bool is_set() const noexcept {
    // acquire: pairs with set()'s release, so a true result makes set()'s prior writes visible.
    return (m_state.load(std::memory_order_acquire) & flag_bit) != 0;
  }

  /// Blocks until the flag is raised or `timeout` passes (forever when nullopt). Returns true if
  /// the flag was raised (or a set() happened while waiting), false on timeout. Never throws.
  bool wait(std::optional<Timeout> timeout = std::nullopt) noexcept {
    if (is_set()) return true;
    return wait_slow(timeout);
  }

 private:
  static constexpr std::uint32_t flag_bit = 1;     // the Event's flag
  static constexpr std::uint32_t sleepers_bit = 2; // some thread may be in futex_wait on m_state
  static constexpr std::uint32_t generation_one = 4;  // generation counter in bits 2..31

  void set_slow() noexcept;
  bool wait_slow(const std::optional<Timeout>& timeout) noexcept;

  // flag_bit | sleepers_bit | generation << 2. set() raises the flag, clears sleepers_bit (it
  // wakes them all) and bumps the generation, in one read-modify-write.
  detail::FutexWord m_state{0};
};

}  // namespace concur::threading
