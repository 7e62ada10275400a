// SPDX-License-Identifier: MIT
// concur/multiprocessing/detail/unique_fd.hpp — an owned file descriptor (internal).
//
// The multiprocessing module hands descriptors around a lot (pipe ends, memfd blobs, process
// sentinels). UniqueFd owns one: move-only, closed by the destructor. Closing goes through
// detail::close_fd (defined in src/) so that this header needs no POSIX header.
#pragma once

#include <utility>

#include "concur/export.hpp"

namespace concur::multiprocessing::detail {

/// Closes `fd`, retrying on EINTR is deliberately not done (Linux closes the fd anyway).
CONCUR_API void close_fd(int fd) noexcept;

class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : m_fd(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.m_fd, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  /// The descriptor, or -1 when empty.
  [[nodiscard]] int get() const noexcept { return m_fd; }
  [[nodiscard]] explicit operator bool() const noexcept { return m_fd >= 0; }
  /// Gives up ownership and returns the descriptor.
  [[nodiscard]] int release() noexcept { return std::exchange(m_fd, -1); }
  /// Closes the held descriptor (if any) and takes `fd`.
  void reset(int fd = -1) noexcept {
    if (m_fd >= 0) close_fd(m_fd);
    m_fd = fd;
  }

 private:
  int m_fd = -1;  // -1: empty
};

}  // namespace concur::multiprocessing::detail
