// SPDX-License-Identifier: MIT
// Linux implementation of WakeTimer (wake_timer.hpp): a timerfd on CLOCK_MONOTONIC.
#include "wake_timer.hpp"

#if !defined(__linux__)
#error "the event loop's WakeTimer is Linux-only (timerfd); add a wake_timer_<os>.cpp for other systems"
#endif

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>

namespace concur::asyncio::detail {

// steady_clock is the clock the timerfd counts in (libstdc++ reads CLOCK_MONOTONIC for it).
static_assert(std::chrono::steady_clock::is_steady);

WakeTimer::~WakeTimer() {
  if (m_fd >= 0) ::close(m_fd);
}

int WakeTimer::init(uv_loop_t* loop) noexcept {
  m_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (m_fd < 0) return -errno;
  int err = uv_poll_init(loop, &m_poll, m_fd);
  if (err != 0) {
    ::close(m_fd);
    m_fd = -1;
    return err;
  }
  m_poll.data = this;
  // Its going off only has to end the poll (the loop then reads the clock and fires what is
  // due): nothing is read here. The descriptor stays readable until the next arm() or
  // disarm() re-sets the timer, which the loop does before it blocks again.
  err = uv_poll_start(&m_poll, UV_READABLE, [](uv_poll_t* poll, int, int) {
    static_cast<WakeTimer*>(poll->data)->m_expired = true;
  });
  if (err != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&m_poll), nullptr);  // done by the caller's uv_run
    return err;  // m_fd is closed by the destructor, after that uv_run
  }
  return 0;
}

void WakeTimer::arm(std::int64_t deadline_ns) noexcept {
  // The instant 0 would disarm the timer: anything up to 1 ns is "already due".
  deadline_ns = std::max<std::int64_t>(deadline_ns, 1);
  if (deadline_ns == m_armed_ns && !m_expired) return;
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000);
  spec.it_value.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000);
  // Cannot fail with a valid descriptor and a normalised time; were it to, the loop would
  // sleep until I/O or a wake-up rather than spin.
  (void)::timerfd_settime(m_fd, TFD_TIMER_ABSTIME, &spec, nullptr);  // resets the readable state too
  m_armed_ns = deadline_ns;
  m_expired = false;
}

void WakeTimer::disarm() noexcept {
  if (m_armed_ns < 0 && !m_expired) return;
  const itimerspec spec{};
  (void)::timerfd_settime(m_fd, 0, &spec, nullptr);
  m_armed_ns = -1;
  m_expired = false;
}

void WakeTimer::close(void* data, uv_close_cb closed) noexcept {
  uv_poll_stop(&m_poll);
  m_poll.data = data;
  uv_close(reinterpret_cast<uv_handle_t*>(&m_poll), closed);
  // libuv no longer watches the descriptor once the poll is stopped (uv_poll_stop's contract):
  // it may be closed at once.
  ::close(m_fd);
  m_fd = -1;
}

}  // namespace concur::asyncio::detail
