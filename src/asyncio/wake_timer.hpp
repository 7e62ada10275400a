// SPDX-License-Identifier: MIT
// The loop's alarm clock (private to src/asyncio/): wakes libuv's poll at a nanosecond instant.
//
// libuv's own timers count in milliseconds and round every timeout up, so a loop that sleeps
// through uv_timer_t wakes up to a millisecond late, every time. WakeTimer is a kernel timer
// (on Linux a timerfd on CLOCK_MONOTONIC, the clock of std::chrono::steady_clock and so of the
// loop's deadlines) that libuv watches as one more file descriptor: the loop polls with no
// timeout of its own and is woken when the earliest deadline passes, to the nanosecond. The
// kernel never expires it before that instant, so a timer woken by it is never early.
//
// Cost: one system call (setting the timer) before a blocking poll if the earliest deadline
// changed or the alarm went off since it was set, none otherwise; an idle loop sleeps in the
// kernel as it did with uv_timer_t (one more system call per wake-up than libuv's timer cost).
#pragma once

#include <uv.h>

#include <cstdint>

namespace concur::asyncio::detail {

class WakeTimer {
 public:
  WakeTimer() = default;
  WakeTimer(const WakeTimer&) = delete;
  WakeTimer& operator=(const WakeTimer&) = delete;
  ~WakeTimer();

  /// Creates the kernel timer and starts watching it on `loop`. Returns 0 or a libuv error
  /// code; on an error after the poll handle was initialised it is being closed, and the caller
  /// runs the loop to let that finish, as for its other handles.
  int init(uv_loop_t* loop) noexcept;
  /// Arms the alarm for the steady-clock instant `deadline_ns` (absolute). No system call if
  /// it is armed for that instant already and has not gone off since.
  void arm(std::int64_t deadline_ns) noexcept;
  /// Disarms the alarm (and forgets that it went off). No system call if it is not armed.
  void disarm() noexcept;
  /// Stops watching, uv_close()s the poll handle (`closed` runs from the loop's next iteration,
  /// with `data` as the handle's data) and closes the kernel timer.
  void close(void* data, uv_close_cb closed) noexcept;

 private:
  uv_poll_t m_poll{};
  int m_fd = -1;
  std::int64_t m_armed_ns = -1;  // the instant the kernel timer is set for; -1 when disarmed
  bool m_expired = false;        // it went off since it was last set: its descriptor is readable
};

}  // namespace concur::asyncio::detail
