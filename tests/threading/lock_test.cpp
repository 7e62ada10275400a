// SPDX-License-Identifier: MIT
// Tests for concur/threading/lock.hpp: Lock and RLock.
#include "concur/threading/lock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/threading/event.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

namespace {

TEST(Lock, StartsUnlockedAndAcquireReleaseToggleLocked) {
  th::Lock lock;
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, NonBlockingAcquireFailsWhileHeld) {
  th::Lock lock;
  ASSERT_TRUE(lock.acquire());
  EXPECT_FALSE(lock.acquire(false));
  EXPECT_FALSE(lock.try_lock());
  lock.release();
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST(Lock, IsNotReentrant) {
  th::Lock lock;
  ASSERT_TRUE(lock.acquire());
  EXPECT_FALSE(lock.acquire(true, 10ms));
  lock.release();
}

TEST(Lock, TimedAcquireGivesUpAfterTheTimeout) {
  th::Lock lock;
  lock.acquire();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(lock.acquire(true, 50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_FALSE(lock.acquire(true, 0s));
  lock.release();
  EXPECT_TRUE(lock.acquire(true, 0s));
  lock.release();
}

TEST(Lock, TimedAcquireSucceedsWhenReleasedInTime) {
  th::Lock lock;
  lock.acquire();
  th::Event waiting;
  bool acquired = false;
  std::thread waiter([&] {
    waiting.set();
    acquired = lock.acquire(true, 30s);
    if (acquired) lock.release();
  });
  waiting.wait();
  lock.release();
  waiter.join();
  EXPECT_TRUE(acquired);
}

TEST(Lock, AHugeTimeoutMeansPracticallyForever) {
  th::Lock lock;
  lock.acquire();
  std::thread releaser([&] { lock.release(); });
  EXPECT_TRUE(lock.acquire(true, concur::Timeout(1e300)));
  releaser.join();
  lock.release();
}

TEST(Lock, MayBeReleasedByAnotherThread) {
  th::Lock lock;
  lock.acquire();
  std::thread other([&] { lock.release(); });
  other.join();
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, ReleasingAnUnlockedLockThrowsRuntimeError) {
  th::Lock lock;
  EXPECT_THROW(lock.release(), concur::RuntimeError);
  lock.acquire();
  lock.release();
  EXPECT_THROW(lock.release(), concur::RuntimeError);
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, TimeoutWithNonBlockingAcquireThrowsValueError) {
  th::Lock lock;
  EXPECT_THROW(lock.acquire(false, 1s), concur::ValueError);
  EXPECT_THROW(lock.acquire(false, 0s), concur::ValueError);
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, NegativeTimeoutThrowsValueError) {
  th::Lock lock;
  EXPECT_THROW(lock.acquire(true, -1s), concur::ValueError);
  EXPECT_THROW(lock.acquire(true, concur::Timeout(std::numeric_limits<double>::quiet_NaN())), concur::ValueError);
}

TEST(Lock, WorksWithStandardLockGuards) {
  th::Lock lock;
  {
    const std::scoped_lock hold(lock);
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
  std::unique_lock hold(lock, std::try_to_lock);
  EXPECT_TRUE(hold.owns_lock());
}

TEST(Lock, EightThreadsIncrementingUnderItLoseNoUpdate) {
  th::Lock lock;
  long counter = 0;
  constexpr int threads = 8;
  constexpr int increments = 100'000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < increments; ++i) {
        const std::scoped_lock hold(lock);
        ++counter;
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(counter, long{threads} * increments);
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, ManyWaitersWithTimeoutsAllEventuallyAcquire) {
  // Timed and untimed waiters contend; every one gets the lock exactly once.
  th::Lock lock;
  int holders = 0;
  int acquired = 0;
  std::vector<std::thread> workers;
  lock.acquire();
  for (int t = 0; t < 6; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (t % 2 == 0) {
          while (!lock.acquire(true, 1ms)) {
          }
        } else {
          lock.acquire();
        }
        EXPECT_EQ(++holders, 1);
        ++acquired;
        --holders;
        lock.release();
      }
    });
  }
  lock.release();
  for (auto& w : workers) w.join();
  EXPECT_EQ(acquired, 6 * 200);
}

TEST(RLock, IsReentrantForItsOwner) {
  th::RLock lock;
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
  lock.release();
  lock.release();
  EXPECT_THROW(lock.release(), concur::RuntimeError);
}

TEST(RLock, OtherThreadsWaitUntilFullyReleased) {
  th::RLock lock;
  lock.acquire();
  lock.acquire();
  bool other_got_it = true;
  std::thread([&] { other_got_it = lock.acquire(false); }).join();
  EXPECT_FALSE(other_got_it);
  lock.release();
  std::thread([&] { other_got_it = lock.acquire(true, 10ms); }).join();
  EXPECT_FALSE(other_got_it);
  lock.release();
  std::thread([&] {
    other_got_it = lock.acquire(false);
    lock.release();
  }).join();
  EXPECT_TRUE(other_got_it);
}

TEST(RLock, ReleaseByANonOwnerThrowsRuntimeError) {
  th::RLock lock;
  lock.acquire();
  bool threw = false;
  std::thread([&] {
    try {
      lock.release();
    } catch (const concur::RuntimeError&) {
      threw = true;
    }
  }).join();
  EXPECT_TRUE(threw);
  lock.release();  // still held by this thread, so this works
}

TEST(RLock, ReleasingAnUnheldRLockThrowsRuntimeError) {
  th::RLock lock;
  EXPECT_THROW(lock.release(), concur::RuntimeError);
}

TEST(RLock, RefusesTheSameBadTimeoutsAsLock) {
  th::RLock lock;
  EXPECT_THROW(lock.acquire(false, 1s), concur::ValueError);
  EXPECT_THROW(lock.acquire(true, -0.5s), concur::ValueError);
}

TEST(RLock, TimedAcquireGivesUpWhileAnotherThreadHoldsIt) {
  th::RLock lock;
  th::Event held;
  th::Event done;
  std::thread holder([&] {
    lock.acquire();
    held.set();
    done.wait();
    lock.release();
  });
  held.wait();
  EXPECT_FALSE(lock.acquire(true, 20ms));
  done.set();
  holder.join();
  EXPECT_TRUE(lock.acquire(true, 30s));
  lock.release();
}

TEST(RLock, EightThreadsIncrementingReentrantlyLoseNoUpdate) {
  th::RLock lock;
  long counter = 0;
  constexpr int threads = 8;
  constexpr int increments = 100'000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < increments; ++i) {
        const std::scoped_lock outer(lock);
        const std::scoped_lock inner(lock);
        ++counter;
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(counter, long{threads} * increments);
}

}  // namespace
