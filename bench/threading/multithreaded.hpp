// SPDX-License-Identifier: MIT
// bench::KeepMultiThreaded — makes the process multi-threaded for a benchmark's duration.
//
// glibc (2.34 and later) takes a shortcut in pthread_mutex_lock while a process has only one
// thread: a plain store instead of an atomic compare-and-swap. A lock only matters in a program
// with threads, and the shortcut would make std::mutex look three times faster than it is in
// any such program, so the lock benchmarks run with one more thread alive (parked, idle).
// glibc never turns the shortcut back on once a thread was created; the helper is still
// explicit so that the benchmark does not depend on which ones ran before it.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

namespace bench {

class KeepMultiThreaded {
 public:
  KeepMultiThreaded()
      : m_parked([this] {
          std::unique_lock<std::mutex> hold(m_mutex);
          m_wake.wait(hold, [this] { return m_done; });
        }) {}
  ~KeepMultiThreaded() {
    {
      std::lock_guard<std::mutex> hold(m_mutex);
      m_done = true;
    }
    m_wake.notify_one();
    m_parked.join();
  }
  KeepMultiThreaded(const KeepMultiThreaded&) = delete;
  KeepMultiThreaded& operator=(const KeepMultiThreaded&) = delete;

 private:
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_done = false;  // guarded by m_mutex
  std::thread m_parked;  // last: starts once the fields above exist
};

}  // namespace bench
