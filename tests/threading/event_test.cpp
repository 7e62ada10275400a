// SPDX-License-Identifier: MIT
// Tests for concur/threading/event.hpp: Event.
#include "concur/threading/event.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "concur/threading/thread.hpp"
#include "wait_until_blocked.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

namespace {

// Polls (no sleeping) until the kernel reports thread `tid` of this process as sleeping: the
// way to know a waiter is really blocked before testing what wakes it.
using concur_test::wait_until_blocked;

TEST(Event, StartsClearAndSetClearToggleIt) {
  th::Event event;
  EXPECT_FALSE(event.is_set());
  event.set();
  EXPECT_TRUE(event.is_set());
  event.set();  // setting twice is harmless
  EXPECT_TRUE(event.is_set());
  event.clear();
  EXPECT_FALSE(event.is_set());
}

TEST(Event, WaitReturnsAtOnceWhenSet) {
  th::Event event;
  event.set();
  EXPECT_TRUE(event.wait());
  EXPECT_TRUE(event.wait(0s));
  EXPECT_TRUE(event.wait(-1s));
}

TEST(Event, WaitTimesOutAndReturnsFalse) {
  th::Event event;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(event.wait(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_FALSE(event.wait(0s));
  EXPECT_FALSE(event.wait(-1s));
}

TEST(Event, AHugeTimeoutMeansPracticallyForever) {
  th::Event event;
  std::thread setter([&] { event.set(); });
  EXPECT_TRUE(event.wait(concur::Timeout(1e300)));
  setter.join();
}

TEST(Event, SetWakesEveryWaiterAndPublishesPriorWrites) {
  th::Event event;
  int payload = 0;
  std::atomic<int> woken{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&] {
      if (event.wait(30s) && payload == 42) woken.fetch_add(1);
    });
  }
  payload = 42;
  event.set();
  for (auto& w : waiters) w.join();
  EXPECT_EQ(woken.load(), 4);
}

TEST(Event, ASetThenClearPulseStillWakesThreadsThatWereWaiting) {
  th::Event event;
  std::atomic<std::uint64_t> tid{0};
  std::atomic<bool> result{false};
  std::thread waiter([&] {
    tid = th::get_native_id();
    result = event.wait(30s);
  });
  while (tid.load() == 0) std::this_thread::yield();
  wait_until_blocked(tid.load());
  event.set();
  event.clear();
  waiter.join();
  EXPECT_TRUE(result.load());
  EXPECT_FALSE(event.is_set());
}

TEST(Event, PingPongBetweenTwoThreadsNeverLosesAWakeUp) {
  th::Event ping;
  th::Event pong;
  constexpr int rounds = 2000;
  std::thread partner([&] {
    for (int i = 0; i < rounds; ++i) {
      ping.wait();
      ping.clear();
      pong.set();
    }
  });
  for (int i = 0; i < rounds; ++i) {
    ping.set();
    pong.wait();
    pong.clear();
  }
  partner.join();
  EXPECT_FALSE(ping.is_set());
}

TEST(Event, WaitsWithDeadlinesCoexistWithSetFromManyThreads) {
  th::Event event;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      while (!event.wait(1ms)) {
      }
      done.fetch_add(1);
    });
  }
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { event.set(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), 4);
}

}  // namespace
