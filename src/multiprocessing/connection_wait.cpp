// SPDX-License-Identifier: MIT
// multiprocessing.connection.wait(): poll(2) over the descriptors of Connections, sentinels and
// plain descriptors.
#include <concur/multiprocessing/connection_wait.hpp>

#include <concur/errors.hpp>

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>

namespace concur::multiprocessing::connection {

std::vector<Waitable> wait(std::span<const Waitable> objects, std::optional<Timeout> timeout) {
  using Clock = std::chrono::steady_clock;
  std::vector<pollfd> fds;
  fds.reserve(objects.size());
  bool ready_now = false;
  for (const Waitable& w : objects) {
    if (Connection* c = w.connection()) {
      // The Connection's own answer first (OSError when closed or write-only), so that
      // whatever it counts as readable is reported, not only what the socket shows.
      ready_now = c->poll(Timeout::zero()) || ready_now;
    } else if (w.fileno() < 0) {
      throw ValueError("invalid file descriptor: " + std::to_string(w.fileno()));
    }
    fds.push_back({w.fileno(), POLLIN, 0});
  }
  const Clock::time_point deadline = timeout ? concur::detail::deadline_after(*timeout) : Clock::time_point::max();
  for (;;) {
    int ms = -1;
    if (ready_now) {
      ms = 0;
    } else if (timeout) {
      const auto left = deadline - Clock::now();
      ms = left <= left.zero()
               ? 0
               : static_cast<int>(std::min(std::ceil(std::chrono::duration<double, std::milli>(left).count()), 1e9));
    }
    const int r = ::poll(fds.data(), fds.size(), ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_os_error(errno, "poll");
    }
    std::vector<Waitable> ready;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLNVAL) != 0)
        throw OSError(EBADF, "connection.wait(): descriptor " + std::to_string(fds[i].fd) + " is not open");
      if (fds[i].revents != 0) {
        ready.push_back(objects[i]);
      } else if (ready_now) {
        if (Connection* c = objects[i].connection(); c != nullptr && c->poll(Timeout::zero())) ready.push_back(objects[i]);
      }
    }
    if (!ready.empty() || ms == 0 || Clock::now() >= deadline) return ready;
  }
}

}  // namespace concur::multiprocessing::connection
