// SPDX-License-Identifier: MIT
// Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier.
#include "concur/asyncio/locks.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;
using concur::CancelledError;

namespace {

using LocksTest = asyncio::testing_support::AsyncioTest;

TEST_F(LocksTest, LockWakesWaitersInFifoOrder) {
  auto main = []() -> asyncio::Task<std::vector<int>> {
    asyncio::Lock lock;
    std::vector<int> order;
    co_await lock.acquire();
    std::vector<asyncio::Task<void>> tasks;
    for (int i = 0; i < 4; ++i) {
      tasks.push_back(asyncio::create_task([](asyncio::Lock& l, std::vector<int>& o, int id) -> asyncio::Task<void> {
        auto held = co_await l.scoped();
        o.push_back(id);
        co_await asyncio::sleep(0s);
      }(lock, order, i)));
    }
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(lock.locked());
    lock.release();
    co_await asyncio::gather(tasks);
    EXPECT_FALSE(lock.locked());
    co_return order;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<int>{0, 1, 2, 3}));
}

TEST_F(LocksTest, ReleasingAnUnlockedLockIsARuntimeError) {
  asyncio::Lock lock;
  EXPECT_THROW(lock.release(), concur::RuntimeError);
}

TEST_F(LocksTest, AWaiterCancelledAfterBeingWokenPassesTheLockOn) {
  auto main = []() -> asyncio::Task<std::string> {
    asyncio::Lock lock;
    std::string log;
    co_await lock.acquire();
    auto waiter = [](asyncio::Lock& l, std::string& lg, std::string name) -> asyncio::Task<void> {
      try {
        auto held = co_await l.scoped();
        lg += name + " got it;";
      } catch (const CancelledError&) {
        lg += name + " cancelled;";
        throw;
      }
    };
    auto a = asyncio::create_task(waiter(lock, log, "a"));
    auto b = asyncio::create_task(waiter(lock, log, "b"));
    co_await asyncio::sleep(0s);
    lock.release();  // wakes a...
    a.cancel();      // ...which is cancelled before it runs: b must get the lock
    co_await asyncio::gather(asyncio::return_exceptions, a, b);
    EXPECT_FALSE(lock.locked());
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), "a cancelled;b got it;");
}

TEST_F(LocksTest, EventWakesEveryWaiter) {
  auto main = []() -> asyncio::Task<int> {
    asyncio::Event event;
    int woken = 0;
    std::vector<asyncio::Task<void>> tasks;
    for (int i = 0; i < 3; ++i) {
      tasks.push_back(asyncio::create_task([](asyncio::Event& e, int& w) -> asyncio::Task<void> {
        EXPECT_TRUE(co_await e.wait());
        ++w;
      }(event, woken)));
    }
    co_await asyncio::sleep(0s);
    EXPECT_EQ(woken, 0);
    event.set();
    EXPECT_TRUE(event.is_set());
    co_await asyncio::gather(tasks);
    event.clear();
    EXPECT_FALSE(event.is_set());
    co_return woken;
  };
  EXPECT_EQ(asyncio::run(main()), 3);
}

TEST_F(LocksTest, CancellingAnEventWaiterRaisesCancelledError) {
  auto main = []() -> asyncio::Task<void> {
    asyncio::Event event;
    auto t = asyncio::create_task([](asyncio::Event& e) -> asyncio::Task<void> { co_await e.wait(); }(event));
    co_await asyncio::sleep(0s);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
  };
  asyncio::run(main());
}

TEST_F(LocksTest, ConditionNotifyWakesWaitersWithTheLockReacquired) {
  auto main = []() -> asyncio::Task<std::vector<std::string>> {
    asyncio::Condition cond;
    std::vector<std::string> log;
    int items = 0;
    auto consumer = [](asyncio::Condition& c, int& n, std::vector<std::string>& l, std::string name) -> asyncio::Task<void> {
      auto held = co_await c.scoped();
      co_await c.wait_for([&] { return n > 0; });
      EXPECT_TRUE(c.locked());
      --n;
      l.push_back(name);
    };
    auto a = asyncio::create_task(consumer(cond, items, log, "a"));
    auto b = asyncio::create_task(consumer(cond, items, log, "b"));
    co_await asyncio::sleep(0s);
    {
      auto held = co_await cond.scoped();
      items = 1;
      cond.notify();
    }
    co_await a;  // notify() woke a alone: it takes the item and ends
    EXPECT_EQ(log, (std::vector<std::string>{"a"}));
    EXPECT_FALSE(b.done());
    {
      auto held = co_await cond.scoped();
      items = 1;
      cond.notify_all();
    }
    co_await asyncio::gather(a, b);
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<std::string>{"a", "b"}));
}

TEST_F(LocksTest, ConditionWaitAndNotifyWithoutTheLockAreRuntimeErrors) {
  auto main = []() -> asyncio::Task<void> {
    asyncio::Condition cond;
    EXPECT_THROW(co_await cond.wait(), concur::RuntimeError);
    EXPECT_THROW(cond.notify(), concur::RuntimeError);
  };
  asyncio::run(main());
}

TEST_F(LocksTest, ACancelledConditionWaitStillReacquiresTheLock) {
  auto main = []() -> asyncio::Task<bool> {
    asyncio::Lock lock;
    asyncio::Condition cond(lock);
    bool held_after_cancel = false;
    auto t = asyncio::create_task([](asyncio::Condition& c, bool& held) -> asyncio::Task<void> {
      co_await c.acquire();
      try {
        co_await c.wait();
      } catch (const CancelledError&) {
        held = c.locked();
        c.release();
        throw;
      }
    }(cond, held_after_cancel));
    co_await asyncio::sleep(0s);
    co_await lock.acquire();  // the waiter released it in wait()
    t.cancel();
    co_await asyncio::sleep(0s);
    lock.release();  // now the cancelled waiter can re-acquire it
    try {
      co_await t;
    } catch (const CancelledError&) {
    }
    co_return held_after_cancel && !lock.locked();
  };
  EXPECT_TRUE(asyncio::run(main()));
}

TEST_F(LocksTest, SemaphoreLetsValueTasksInAtOnce) {
  auto main = []() -> asyncio::Task<int> {
    asyncio::Semaphore sem(2);
    int inside = 0, peak = 0;
    std::vector<asyncio::Task<void>> tasks;
    for (int i = 0; i < 6; ++i) {
      tasks.push_back(asyncio::create_task([](asyncio::Semaphore& s, int& in, int& pk) -> asyncio::Task<void> {
        auto held = co_await s.scoped();
        pk = std::max(pk, ++in);
        co_await asyncio::sleep(1ms);
        --in;
      }(sem, inside, peak)));
    }
    co_await asyncio::gather(tasks);
    EXPECT_EQ(sem.value(), 2);
    co_return peak;
  };
  EXPECT_EQ(asyncio::run(main()), 2);
}

TEST_F(LocksTest, ASemaphoreWaiterCancelledAfterBeingWokenGivesThePermitBack) {
  auto main = []() -> asyncio::Task<std::string> {
    asyncio::Semaphore sem(0);
    std::string log;
    auto waiter = [](asyncio::Semaphore& s, std::string& l, std::string n) -> asyncio::Task<void> {
      co_await s.acquire();
      l += n + ";";
    };
    auto a = asyncio::create_task(waiter(sem, log, "a"));
    auto b = asyncio::create_task(waiter(sem, log, "b"));
    co_await asyncio::sleep(0s);
    sem.release();  // hands the permit to a...
    a.cancel();     // ...cancelled before it runs: b gets it
    co_await asyncio::gather(asyncio::return_exceptions, a, b);
    EXPECT_TRUE(a.cancelled());
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), "b;");
}

TEST_F(LocksTest, SemaphoreMisuseRaisesValueError) {
  EXPECT_THROW(asyncio::Semaphore(-1), concur::ValueError);
  asyncio::BoundedSemaphore bounded(1);
  EXPECT_THROW(bounded.release(), concur::ValueError);
  asyncio::Semaphore plain(1);
  plain.release();  // an unbounded semaphore may grow
  EXPECT_EQ(plain.value(), 2);
}

TEST_F(LocksTest, BarrierReleasesThePartiesTogetherWithDistinctIndexes) {
  auto main = []() -> asyncio::Task<std::vector<std::size_t>> {
    asyncio::Barrier barrier(3);
    std::vector<asyncio::Task<std::size_t>> tasks;
    for (int i = 0; i < 3; ++i) tasks.push_back(asyncio::create_task(barrier.wait()));
    std::vector<std::size_t> idx = co_await asyncio::gather(tasks);
    std::sort(idx.begin(), idx.end());
    EXPECT_EQ(barrier.n_waiting(), 0U);
    // reusable: a second round
    std::vector<asyncio::Task<std::size_t>> again;
    for (int i = 0; i < 3; ++i) again.push_back(asyncio::create_task(barrier.wait()));
    co_await asyncio::gather(again);
    co_return idx;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<std::size_t>{0, 1, 2}));
}

TEST_F(LocksTest, AbortingABarrierBreaksItsWaiters) {
  auto main = []() -> asyncio::Task<void> {
    asyncio::Barrier barrier(3);
    auto t = asyncio::create_task(barrier.wait());
    co_await asyncio::sleep(0s);
    EXPECT_EQ(barrier.n_waiting(), 1U);
    co_await barrier.abort();
    EXPECT_THROW(co_await t, concur::BrokenBarrierError);
    EXPECT_TRUE(barrier.broken());
    EXPECT_THROW(co_await barrier.wait(), concur::BrokenBarrierError);
    co_await barrier.reset();
    EXPECT_FALSE(barrier.broken());
  };
  asyncio::run(main());
  EXPECT_THROW(asyncio::Barrier(0), concur::ValueError);
}

}  // namespace
