// SPDX-License-Identifier: MIT
// Queue, PriorityQueue, LifoQueue.
#include "concur/asyncio/queues.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;
using concur::CancelledError;

namespace {

using QueuesTest = asyncio::testing_support::AsyncioTest;

TEST_F(QueuesTest, QueueIsFirstInFirstOut) {
  auto main = []() -> asyncio::Task<std::vector<int>> {
    asyncio::Queue<int> q;
    for (int i = 0; i < 3; ++i) co_await q.put(i);
    EXPECT_EQ(q.qsize(), 3U);
    std::vector<int> out;
    for (int i = 0; i < 3; ++i) out.push_back(co_await q.get());
    co_return out;
  };
  EXPECT_EQ(asyncio::run(main()), (std::vector<int>{0, 1, 2}));
}

TEST_F(QueuesTest, PriorityQueueYieldsTheSmallestAndLifoQueueTheLast) {
  auto main = []() -> asyncio::Task<void> {
    asyncio::PriorityQueue<int> pq;
    for (int v : {5, 1, 4, 2}) pq.put_nowait(v);
    std::vector<int> got;
    while (!pq.empty()) got.push_back(co_await pq.get());
    EXPECT_EQ(got, (std::vector<int>{1, 2, 4, 5}));
    asyncio::LifoQueue<std::string> lq;
    lq.put_nowait("a");
    lq.put_nowait("b");
    EXPECT_EQ(lq.get_nowait(), "b");
    EXPECT_EQ(lq.get_nowait(), "a");
  };
  asyncio::run(main());
}

TEST_F(QueuesTest, NowaitOperationsRaiseQueueFullAndQueueEmpty) {
  asyncio::Queue<int> q(1);
  EXPECT_THROW((void)q.get_nowait(), asyncio::QueueEmpty);
  q.put_nowait(1);
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put_nowait(2), asyncio::QueueFull);
  EXPECT_EQ(q.get_nowait(), 1);
}

TEST_F(QueuesTest, GetWaitsForAPutAndPutWaitsForRoom) {
  auto main = []() -> asyncio::Task<std::vector<std::string>> {
    asyncio::Queue<int> q(1);
    std::vector<std::string> log;
    auto consumer = asyncio::create_task([](asyncio::Queue<int>& qq, std::vector<std::string>& l) -> asyncio::Task<void> {
      for (int i = 0; i < 3; ++i) {
        int v = co_await qq.get();
        l.push_back("got " + std::to_string(v));
      }
    }(q, log));
    for (int i = 0; i < 3; ++i) {
      co_await q.put(i);
      log.push_back("put " + std::to_string(i));
    }
    co_await consumer;
    co_return log;
  };
  const auto log = asyncio::run(main());
  EXPECT_EQ(log.size(), 6U);
  EXPECT_EQ(log.back(), "got 2");
}

TEST_F(QueuesTest, JoinWaitsUntilEveryItemIsMarkedDone) {
  auto main = []() -> asyncio::Task<int> {
    asyncio::Queue<int> q;
    int processed = 0;
    for (int i = 0; i < 5; ++i) q.put_nowait(i);
    auto worker = asyncio::create_task([](asyncio::Queue<int>& qq, int& p) -> asyncio::Task<void> {
      for (;;) {
        (void)co_await qq.get();
        co_await asyncio::sleep(0s);
        ++p;
        qq.task_done();
      }
    }(q, processed));
    co_await q.join();
    const int seen = processed;
    worker.cancel();
    try {
      co_await worker;
    } catch (const CancelledError&) {
    }
    EXPECT_THROW(q.task_done(), concur::ValueError);
    co_return seen;
  };
  EXPECT_EQ(asyncio::run(main()), 5);
}

TEST_F(QueuesTest, ACancelledGetterLeavesTheQueueUsable) {
  auto main = []() -> asyncio::Task<int> {
    asyncio::Queue<int> q;
    auto a = asyncio::create_task(q.get());
    auto b = asyncio::create_task([](asyncio::Queue<int>& qq) -> asyncio::Task<int> { co_return co_await qq.get(); }(q));
    co_await asyncio::sleep(0s);
    q.put_nowait(7);  // wakes a...
    a.cancel();       // ...cancelled before it runs: b must get the item
    EXPECT_THROW(co_await a, CancelledError);
    co_return co_await b;
  };
  EXPECT_EQ(asyncio::run(main()), 7);
}

TEST_F(QueuesTest, AWokenGetterWhoseItemWasTakenWaitsAgain) {
  auto main = []() -> asyncio::Task<int> {
    asyncio::Queue<int> q;
    auto getter = asyncio::create_task([](asyncio::Queue<int>& qq) -> asyncio::Task<int> { co_return co_await qq.get(); }(q));
    co_await asyncio::sleep(0s);
    q.put_nowait(1);                  // wakes the getter...
    EXPECT_EQ(q.get_nowait(), 1);     // ...but the item is taken before it runs
    co_await asyncio::sleep(0s);
    EXPECT_FALSE(getter.done());      // it waits again
    q.put_nowait(2);
    co_return co_await getter;
  };
  EXPECT_EQ(asyncio::run(main()), 2);
}

TEST_F(QueuesTest, ShutdownWakesWaitersWithQueueShutDown) {
  auto main = []() -> asyncio::Task<void> {
    asyncio::Queue<int> q(1);
    auto getter = asyncio::create_task(q.get());
    co_await asyncio::sleep(0s);
    q.shutdown();
    EXPECT_THROW(co_await getter, asyncio::QueueShutDown);
    EXPECT_THROW(q.put_nowait(1), asyncio::QueueShutDown);
    EXPECT_THROW(co_await q.put(1), asyncio::QueueShutDown);

    asyncio::Queue<int> r(1);
    r.put_nowait(1);
    auto putter = asyncio::create_task(r.put(2));
    co_await asyncio::sleep(0s);
    r.shutdown();
    EXPECT_THROW(co_await putter, asyncio::QueueShutDown);
    EXPECT_EQ(co_await r.get(), 1);  // items left are still delivered
    EXPECT_THROW(co_await r.get(), asyncio::QueueShutDown);
  };
  asyncio::run(main());
}

TEST_F(QueuesTest, ImmediateShutdownDropsTheItemsAndReleasesJoin) {
  auto main = []() -> asyncio::Task<void> {
    asyncio::Queue<int> q;
    q.put_nowait(1);
    q.put_nowait(2);
    auto joiner = asyncio::create_task([](asyncio::Queue<int>& qq) -> asyncio::Task<void> { co_await qq.join(); }(q));
    co_await asyncio::sleep(0s);
    EXPECT_FALSE(joiner.done());
    q.shutdown(true);
    EXPECT_EQ(q.qsize(), 0U);
    co_await joiner;
    EXPECT_THROW((void)q.get_nowait(), asyncio::QueueShutDown);
  };
  asyncio::run(main());
}

TEST_F(QueuesTest, MoveOnlyItemsTravelThroughTheQueue) {
  auto main = []() -> asyncio::Task<int> {
    asyncio::Queue<std::unique_ptr<int>> q;
    co_await q.put(std::make_unique<int>(3));
    auto p = co_await q.get();
    co_return *p;
  };
  EXPECT_EQ(asyncio::run(main()), 3);
}

}  // namespace
