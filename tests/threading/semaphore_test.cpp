// SPDX-License-Identifier: MIT
// Tests for concur/threading/semaphore.hpp: Semaphore and BoundedSemaphore.
#include "concur/threading/semaphore.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/threading/event.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

namespace {

TEST(Semaphore, AcquireTakesTheCounterDownToZeroThenFails) {
  th::Semaphore sem(2);
  EXPECT_TRUE(sem.acquire());
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_FALSE(sem.acquire(false));
  EXPECT_FALSE(sem.try_lock());
  sem.release();
  EXPECT_TRUE(sem.acquire(false));
}

TEST(Semaphore, ZeroInitialValueIsAllowedNegativeIsAValueError) {
  th::Semaphore zero(0);
  EXPECT_FALSE(zero.acquire(false));
  EXPECT_THROW(th::Semaphore(-1), concur::ValueError);
  EXPECT_THROW(th::BoundedSemaphore(-3), concur::ValueError);
}

TEST(Semaphore, TimedAcquireGivesUpAfterTheTimeout) {
  th::Semaphore sem(0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(sem.acquire(true, 50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_FALSE(sem.acquire(true, 0s));
  EXPECT_FALSE(sem.acquire(true, -1s));
}

TEST(Semaphore, TimeoutWithNonBlockingAcquireThrowsValueError) {
  th::Semaphore sem(1);
  EXPECT_THROW(sem.acquire(false, 1s), concur::ValueError);
  EXPECT_TRUE(sem.acquire(false));  // the failed call took nothing
}

TEST(Semaphore, ReleaseWakesABlockedAcquirer) {
  th::Semaphore sem(0);
  th::Event started;
  bool acquired = false;
  std::thread waiter([&] {
    started.set();
    acquired = sem.acquire(true, 30s);
  });
  started.wait();
  sem.release();
  waiter.join();
  EXPECT_TRUE(acquired);
}

TEST(Semaphore, AHugeTimeoutMeansPracticallyForever) {
  th::Semaphore sem(0);
  std::thread releaser([&] { sem.release(); });
  EXPECT_TRUE(sem.acquire(true, concur::Timeout(1e300)));
  releaser.join();
}

TEST(Semaphore, ReleaseNAddsNAndZeroIsAValueError) {
  th::Semaphore sem(0);
  EXPECT_THROW(sem.release(0), concur::ValueError);
  sem.release(3);
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_FALSE(sem.acquire(false));
}

TEST(Semaphore, ReleaseNWakesSeveralBlockedAcquirers) {
  th::Semaphore sem(0);
  std::atomic<int> acquired{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&] {
      if (sem.acquire(true, 30s)) acquired.fetch_add(1);
    });
  }
  sem.release(3);
  for (auto& w : waiters) w.join();
  EXPECT_EQ(acquired.load(), 3);
}

TEST(Semaphore, AnUnboundedSemaphoreMayGrowAboveItsInitialValue) {
  th::Semaphore sem(1);
  sem.release();
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_TRUE(sem.acquire(false));
}

TEST(Semaphore, ConcurrentHoldersNeverExceedItsValue) {
  constexpr int limit = 3;
  th::Semaphore sem(limit);
  std::atomic<int> inside{0};
  std::atomic<int> peak{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        const std::scoped_lock hold(sem);
        const int now = inside.fetch_add(1) + 1;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        inside.fetch_sub(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_LE(peak.load(), limit);
  EXPECT_GE(peak.load(), 1);
}

TEST(BoundedSemaphore, ReleasingAboveTheInitialValueThrowsValueError) {
  th::BoundedSemaphore sem(2);
  EXPECT_THROW(sem.release(), concur::ValueError);
  sem.acquire();
  EXPECT_THROW(sem.release(2), concur::ValueError);
  sem.release();
  EXPECT_THROW(sem.release(), concur::ValueError);
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_TRUE(sem.acquire(false));
  EXPECT_FALSE(sem.acquire(false));
}

TEST(BoundedSemaphore, IsASemaphore) {
  th::BoundedSemaphore bounded(1);
  th::Semaphore& sem = bounded;
  EXPECT_TRUE(sem.acquire());
  sem.release();
  EXPECT_THROW(sem.release(), concur::ValueError);
}

}  // namespace
