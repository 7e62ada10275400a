// SPDX-License-Identifier: MIT
// Event ping-pong round trip — the peer: the textbook event made of a std::mutex, a
// std::condition_variable and a flag, as one would write it without concur.
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <mutex>

#include "pingpong.hpp"

namespace {

class CvEvent {
 public:
  void set() {
    {
      std::lock_guard<std::mutex> hold(m_mutex);
      m_flag = true;
    }
    m_changed.notify_all();
  }
  void clear() {
    std::lock_guard<std::mutex> hold(m_mutex);
    m_flag = false;
  }
  void wait() {
    std::unique_lock<std::mutex> hold(m_mutex);
    m_changed.wait(hold, [this] { return m_flag; });
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  bool m_flag = false;  // guarded by m_mutex
};

void event_pingpong_std_condition_variable(benchmark::State& state) { bench::ping_pong<CvEvent>(state); }
BENCHMARK(event_pingpong_std_condition_variable)->UseRealTime();

}  // namespace
