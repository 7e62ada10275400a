// SPDX-License-Identifier: MIT
// Helpers of the IPC tests (shared_memory, synchronize, queues): fork a child that runs a
// function and _exits, reap it, and check /dev/shm for leftovers.
//
// A forked child never returns into GoogleTest: it reports through its exit code (0 = pass),
// which the parent asserts. Its GoogleTest assertions would be lost with its memory.
#pragma once

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "concur/multiprocessing/shared_memory.hpp"

namespace concur_test {

/// Forks a child that runs `body` (returning an int exit code, or void for 0) and _exits.
/// An exception escaping `body` exits with 99.
template <class F>
pid_t fork_child(F body) {
  const pid_t pid = ::fork();
  if (pid < 0) ADD_FAILURE() << "fork failed: errno " << errno;
  if (pid == 0) {
    int code = 0;
    try {
      if constexpr (std::is_void_v<decltype(body())>) {
        body();
      } else {
        code = body();
      }
    } catch (...) {
      code = 99;
    }
    ::_exit(code);
  }
  return pid;
}

/// Reaps `pid`: its exit code, or minus the signal that killed it (Python's exitcode).
inline int join_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1000;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1000;
}

/// Whether a shared-memory block named `name` (without '/') exists in /dev/shm.
inline bool shm_exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

/// Waits (bounded) for the block `name` to disappear — the tracker unlinks it asynchronously
/// after the processes holding it died. Returns whether it is gone.
inline bool shm_gone_within(const std::string& name, std::chrono::seconds bound = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (shm_exists(name)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

/// A block name unique to this process and `tag`.
inline std::string unique_shm_name(const std::string& tag) {
  return "concur_test_" + std::to_string(::getpid()) + "_" + tag;
}

/// Whether this build runs under ThreadSanitizer.
constexpr bool under_tsan() {
#if defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

/// After every test: fails it when this process still holds a SharedMemory block it created and
/// did not unlink (the tracker's own list, so blocks of other test processes running at the same
/// time cannot be mistaken for ours), and unlinks them so that the next test starts clean.
class SharedMemoryLeakCheck : public testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const testing::TestInfo& info) override {
    for (const std::string& name : concur::multiprocessing::detail::shared_memory_in_use()) {
      ADD_FAILURE() << info.name() << " left shared memory block /dev/shm/" << name;
      try {
        concur::multiprocessing::SharedMemory(name).unlink();
      } catch (const std::exception&) {
      }
    }
  }
};
inline const bool shared_memory_leak_check_installed = [] {
  testing::UnitTest::GetInstance()->listeners().Append(new SharedMemoryLeakCheck);
  return true;
}();

}  // namespace concur_test
