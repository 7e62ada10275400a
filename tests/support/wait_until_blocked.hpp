// SPDX-License-Identifier: MIT
// Test helper: wait, without sleeping, until another thread of this process is blocked.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

namespace concur_test {

/// Polls until the kernel reports thread `tid` of this process as sleeping ('S' in
/// /proc/self/task/<tid>/stat), i.e. blocked in a wait.
inline void wait_until_blocked(std::uint64_t tid) {
  for (;;) {
    std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'S') return;
    std::this_thread::yield();
  }
}

}  // namespace concur_test
