// SPDX-License-Identifier: MIT
// Helpers of the hostile-input tests (connection, serialize): the process's peak resident
// memory, to prove that a forged length was not turned into an allocation, and raw writes of
// forged frames.
//
// The peak (VmHWM) is reset to the current resident size first (/proc/self/clear_refs, "5"),
// so that a peak reached by earlier work in the process cannot hide a new one. A buffer sized
// from a forged length is zero-filled (std::string/std::vector resize), so it is resident:
// the peak sees it even when it is freed before the measurement.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

namespace concur_test {

/// The process's peak resident memory (VmHWM), in bytes; 0 when /proc does not say.
inline std::uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // in kB
  }
  return 0;
}

/// Resets the peak to the current resident size (best effort: an older kernel keeps the old
/// peak, which only makes the check below weaker, never wrong). Returns the new peak.
inline std::uint64_t reset_peak_rss() {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!::write(fd, "5", 1);
    ::close(fd);
  }
  return peak_rss_bytes();
}

/// Measures how much the peak resident memory rose while `body` ran.
template <class F>
std::uint64_t peak_rss_growth(F&& body) {
  const std::uint64_t before = reset_peak_rss();
  body();
  const std::uint64_t after = peak_rss_bytes();
  return after > before ? after - before : 0;
}

/// Blocking: writes all of [data, data + size) to `fd`.
inline void write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GT(n, 0) << "write failed: errno " << errno;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

}  // namespace concur_test
