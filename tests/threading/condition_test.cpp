// SPDX-License-Identifier: MIT
// Tests for concur/threading/condition.hpp: Condition.
#include "concur/threading/condition.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "wait_until_blocked.hpp"
#include "concur/threading/thread.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

namespace {

using concur_test::wait_until_blocked;

TEST(Condition, WaitWithoutHoldingTheLockThrowsRuntimeError) {
  th::Condition cond;
  EXPECT_THROW(cond.wait(1ms), concur::RuntimeError);
  EXPECT_THROW(cond.wait_for([] { return false; }, 1ms), concur::RuntimeError);
  th::Lock lock;
  th::Condition over_lock(lock);
  EXPECT_THROW(over_lock.wait(1ms), concur::RuntimeError);
}

TEST(Condition, NotifyWithoutHoldingTheLockThrowsRuntimeError) {
  th::Condition cond;
  EXPECT_THROW(cond.notify(), concur::RuntimeError);
  EXPECT_THROW(cond.notify_all(), concur::RuntimeError);
  th::RLock rlock;
  th::Condition over_rlock(rlock);
  bool threw = false;
  rlock.acquire();
  std::thread([&] {  // held, but by another thread: RLock knows its owner
    try {
      over_rlock.notify();
    } catch (const concur::RuntimeError&) {
      threw = true;
    }
  }).join();
  rlock.release();
  EXPECT_TRUE(threw);
}

TEST(Condition, WaitTimesOutReturningFalseWithTheLockHeldAgain) {
  th::RLock rlock;
  th::Condition cond(rlock);
  std::scoped_lock hold(cond);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(cond.wait(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_FALSE(cond.wait(0s));
  EXPECT_FALSE(cond.wait(-1s));
  bool other_got_it = true;
  std::thread([&] { other_got_it = rlock.acquire(false); }).join();
  EXPECT_FALSE(other_got_it);
}

TEST(Condition, WaitReleasesAnRLockAtAnyDepthAndRestoresIt) {
  th::Condition cond;  // its own RLock
  std::atomic<std::uint64_t> tid{0};
  bool notified = false;
  std::thread waiter([&] {
    cond.acquire();
    cond.acquire();
    cond.acquire();
    tid = th::get_native_id();
    notified = cond.wait(30s);
    cond.release();
    cond.release();
    cond.release();  // exactly three releases after the wait: the depth was restored
  });
  while (tid.load() == 0) std::this_thread::yield();
  {
    std::scoped_lock hold(cond);  // possible only because wait() released all three levels
    cond.notify();
  }
  waiter.join();
  EXPECT_TRUE(notified);
  EXPECT_TRUE(cond.acquire(false));
  cond.release();
}

TEST(Condition, WorksOverAPlainLock) {
  th::Lock lock;
  th::Condition cond(lock);
  bool ready = false;
  std::thread waiter([&] {
    std::scoped_lock hold(cond);
    EXPECT_TRUE(cond.wait_for([&] { return ready; }, 30s));
  });
  {
    std::scoped_lock hold(lock);
    ready = true;
    cond.notify_all();
  }
  waiter.join();
  EXPECT_FALSE(lock.locked());
}

TEST(Condition, WaitForReturnsThePredicatesValueAfterTheTimeout) {
  th::Condition cond;
  std::scoped_lock hold(cond);
  int calls = 0;
  EXPECT_FALSE(cond.wait_for([&] { return ++calls < 0; }, 30ms));
  EXPECT_GE(calls, 2);
  EXPECT_TRUE(cond.wait_for([] { return true; }, 0s));
}

TEST(Condition, NotifyWakesWaitersOneAtATimeInFifoOrder) {
  th::Condition cond;
  std::vector<int> order;  // guarded by cond
  std::atomic<std::size_t> done{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) {
    std::atomic<std::uint64_t> tid{0};
    waiters.emplace_back([&, i] {
      std::scoped_lock hold(cond);
      tid = th::get_native_id();
      EXPECT_TRUE(cond.wait(30s));
      order.push_back(i);
      done.fetch_add(1);
    });
    // Waiter i must be queued before waiter i+1 starts: it released the lock inside wait().
    while (tid.load() == 0) std::this_thread::yield();
    wait_until_blocked(tid.load());
  }
  for (std::size_t i = 0; i < 4; ++i) {
    {
      std::scoped_lock hold(cond);
      cond.notify();
    }
    while (done.load() == i) std::this_thread::yield();  // the woken one has recorded itself
  }
  for (auto& w : waiters) w.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(Condition, NotifyNWakesExactlyNWaiters) {
  th::Condition cond;
  std::atomic<int> woken{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i) {
    std::atomic<std::uint64_t> tid{0};
    waiters.emplace_back([&] {
      std::scoped_lock hold(cond);
      tid = th::get_native_id();
      if (cond.wait(30s)) woken.fetch_add(1);
    });
    while (tid.load() == 0) std::this_thread::yield();
    wait_until_blocked(tid.load());
  }
  {
    std::scoped_lock hold(cond);
    cond.notify(2);
  }
  // The third one is still waiting until notify_all.
  while (woken.load() < 2) std::this_thread::yield();
  {
    std::scoped_lock hold(cond);
    EXPECT_EQ(woken.load(), 2);
    cond.notify_all();
  }
  for (auto& w : waiters) w.join();
  EXPECT_EQ(woken.load(), 3);
}

TEST(Condition, ProducerConsumerDeliversEveryItemExactlyOnce) {
  th::Condition cond;
  std::deque<int> items;
  bool done = false;
  constexpr int producers = 2, consumers = 3, per_producer = 5000;
  std::vector<int> seen(producers * per_producer, 0);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        std::scoped_lock hold(cond);
        items.push_back(p * per_producer + i);
        cond.notify();
      }
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&] {
      for (;;) {
        std::scoped_lock hold(cond);
        cond.wait_for([&] { return !items.empty() || done; });
        if (items.empty()) return;
        ++seen[static_cast<std::size_t>(items.front())];
        items.pop_front();
      }
    });
  }
  for (int p = 0; p < producers; ++p) threads[static_cast<std::size_t>(p)].join();
  {
    std::scoped_lock hold(cond);
    done = true;
    cond.notify_all();
  }
  for (std::size_t c = producers; c < threads.size(); ++c) threads[c].join();
  for (int count : seen) ASSERT_EQ(count, 1);
}

TEST(Condition, TimedOutWaitersLeaveTheQueueSoNotifyReachesTheRest) {
  th::Condition cond;
  {
    std::scoped_lock hold(cond);
    EXPECT_FALSE(cond.wait(1ms));  // leaves no stale entry behind
  }
  std::atomic<std::uint64_t> tid{0};
  bool notified = false;
  std::thread waiter([&] {
    std::scoped_lock hold(cond);
    tid = th::get_native_id();
    notified = cond.wait(30s);
  });
  while (tid.load() == 0) std::this_thread::yield();
  wait_until_blocked(tid.load());
  {
    std::scoped_lock hold(cond);
    cond.notify();  // one notification: must go to the live waiter
  }
  waiter.join();
  EXPECT_TRUE(notified);
}

}  // namespace
