// SPDX-License-Identifier: MIT
// The main of every test binary: GoogleTest plus a listener that fails a test which leaves
// something behind — a thread still running, a file descriptor still open, a child process
// not reaped. Threads and processes that a test joined may take a moment to vanish from
// /proc, so the check polls for a bounded time before it reports a leak.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

namespace {

int count_entries(const char* path) {
  DIR* dir = ::opendir(path);
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - (std::string(path) == "/proc/self/fd" ? 1 : 0);  // the DIR's own descriptor
}

int count_children() {
  // Children of every thread of this process (a child's parent is the thread that forked it).
  int n = 0;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/children");
    std::string pid;
    while (in >> pid) ++n;
  }
  ::closedir(dir);
  return n;
}

struct Snapshot {
  int threads = 0, fds = 0, children = 0;
  static Snapshot take() {
    return {count_entries("/proc/self/task"), count_entries("/proc/self/fd"), count_children()};
  }
  bool operator==(const Snapshot&) const = default;
};

class LeakCheck : public testing::EmptyTestEventListener {
 public:
  void OnTestStart(const testing::TestInfo&) override { m_before = Snapshot::take(); }
  void OnTestEnd(const testing::TestInfo& info) override {
    if (std::getenv("CONCUR_TEST_NO_LEAK_CHECK") != nullptr) return;
    // Bounded wait for exiting threads and processes to disappear from /proc.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    Snapshot after = Snapshot::take();
    while (!(after.threads <= m_before.threads && after.fds <= m_before.fds &&
             after.children <= m_before.children) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      after = Snapshot::take();
    }
    if (after.threads > m_before.threads)
      ADD_FAILURE() << info.name() << " left " << after.threads - m_before.threads << " thread(s) running";
    if (after.fds > m_before.fds)
      ADD_FAILURE() << info.name() << " left " << after.fds - m_before.fds << " file descriptor(s) open";
    if (after.children > m_before.children)
      ADD_FAILURE() << info.name() << " left " << after.children - m_before.children << " child process(es)";
  }

 private:
  Snapshot m_before;
};

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  // ThreadSanitizer starts a helper thread of its own the first time the program creates a
  // thread; make it start now so the leak check does not count it against the first test.
  std::thread([] {}).join();
  testing::UnitTest::GetInstance()->listeners().Append(new LeakCheck);
  return RUN_ALL_TESTS();
}
