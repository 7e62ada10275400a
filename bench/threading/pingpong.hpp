// SPDX-License-Identifier: MIT
// The ping-pong round trip both event_pingpong_*.cpp measure, written once for any Event-like
// type (set, clear, wait): the benchmark's thread sets `ping` and waits for `pong`; a partner
// thread waits for `ping`, clears it, and sets `pong`. One iteration is one round trip, that is
// two hand-offs, each of which wakes a thread that is (usually) asleep.
#pragma once

#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

namespace bench {

template <class EventLike>
void ping_pong(benchmark::State& state) {
  EventLike ping;
  EventLike pong;
  // Read by the partner after it wakes for a ping; set before the last ping. relaxed is
  // enough: the ping's set() and wait() order it.
  std::atomic<bool> done{false};
  std::thread partner([&] {
    for (;;) {
      ping.wait();
      ping.clear();  // before answering, so the next ping cannot be lost
      if (done.load(std::memory_order_relaxed)) return;
      pong.set();
    }
  });
  for (auto _ : state) {
    ping.set();
    pong.wait();
    pong.clear();
  }
  done.store(true, std::memory_order_relaxed);
  ping.set();
  partner.join();
}

}  // namespace bench
