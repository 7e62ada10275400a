// SPDX-License-Identifier: MIT
// Tests of concur/queue/queue.hpp: Queue, LifoQueue, PriorityQueue.
#include "concur/queue/queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "concur/errors.hpp"

namespace {

using namespace std::chrono_literals;
namespace q = concur::queue;
using clock_type = std::chrono::steady_clock;

TEST(Queue, GetsItemsInTheOrderTheyWerePut) {
  q::Queue<int> queue;
  for (int i = 0; i < 5; ++i) queue.put(i);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(queue.get(), i);
  EXPECT_TRUE(queue.empty());
}

TEST(LifoQueue, GetsTheLastItemPutFirst) {
  q::LifoQueue<int> queue;
  for (int i = 0; i < 5; ++i) queue.put(i);
  for (int i = 4; i >= 0; --i) EXPECT_EQ(queue.get(), i);
}

TEST(PriorityQueue, GetsTheSmallestItemFirst) {
  q::PriorityQueue<int> queue;
  std::vector<int> items(200);
  std::iota(items.begin(), items.end(), 0);
  std::shuffle(items.begin(), items.end(), std::mt19937(42));
  for (int x : items) queue.put(x);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(queue.get(), i);
}

TEST(PriorityQueue, OrdersByTheGivenComparator) {
  q::PriorityQueue<std::pair<int, std::string>, std::greater<>> queue;
  queue.put({1, "low"});
  queue.put({3, "high"});
  queue.put({2, "mid"});
  EXPECT_EQ(queue.get().second, "high");
  EXPECT_EQ(queue.get().second, "mid");
  EXPECT_EQ(queue.get().second, "low");
}

TEST(PriorityQueue, HoldsMoveOnlyItemsWithAComparator) {
  const auto by_value = [](const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) { return *a < *b; };
  q::PriorityQueue<std::unique_ptr<int>, decltype(by_value)> queue(0, by_value);
  queue.put(std::make_unique<int>(7));
  queue.put(std::make_unique<int>(3));
  queue.put_nowait(std::make_unique<int>(5));
  EXPECT_EQ(*queue.get(), 3);
  EXPECT_EQ(*queue.get_nowait(), 5);
  EXPECT_EQ(*queue.get({.timeout = 1s}), 7);
}

TEST(Queue, HoldsMoveOnlyItems) {
  q::Queue<std::unique_ptr<std::string>> queue(2);
  queue.put(std::make_unique<std::string>("a"));
  queue.put(std::make_unique<std::string>("b"));
  EXPECT_THROW(queue.put_nowait(std::make_unique<std::string>("c")), q::Full);
  EXPECT_EQ(*queue.get(), "a");
  EXPECT_EQ(*queue.get(), "b");
}

TEST(Queue, ReportsSizeEmptinessFullnessAndMaxsize) {
  q::Queue<int> queue(2);
  EXPECT_EQ(queue.maxsize(), 2u);
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.full());
  queue.put(1);
  EXPECT_EQ(queue.qsize(), 1u);
  EXPECT_FALSE(queue.empty());
  queue.put(2);
  EXPECT_TRUE(queue.full());
  q::Queue<int> unbounded;
  for (int i = 0; i < 1000; ++i) unbounded.put(i);
  EXPECT_FALSE(unbounded.full());
  EXPECT_EQ(unbounded.maxsize(), 0u);
}

TEST(Queue, GetNowaitOnAnEmptyQueueThrowsEmpty) {
  q::Queue<int> queue;
  EXPECT_THROW(queue.get_nowait(), q::Empty);
  EXPECT_THROW(queue.get({.block = false}), q::Empty);
}

TEST(Queue, PutNowaitOnAFullQueueThrowsFullAndDropsNothing) {
  q::Queue<int> queue(1);
  queue.put(1);
  EXPECT_THROW(queue.put_nowait(2), q::Full);
  EXPECT_THROW(queue.put(2, {.block = false}), q::Full);
  EXPECT_EQ(queue.qsize(), 1u);
  EXPECT_EQ(queue.get(), 1);
}

TEST(Queue, GetWithATimeoutThrowsEmptyAfterWaitingThatLong) {
  q::Queue<int> queue;
  const auto start = clock_type::now();
  EXPECT_THROW(queue.get({.timeout = 50ms}), q::Empty);
  EXPECT_GE(clock_type::now() - start, 45ms);
}

TEST(Queue, PutWithATimeoutOnAFullQueueThrowsFullAfterWaitingThatLong) {
  q::Queue<int> queue(1);
  queue.put(1);
  const auto start = clock_type::now();
  EXPECT_THROW(queue.put(2, {.timeout = 50ms}), q::Full);
  EXPECT_GE(clock_type::now() - start, 45ms);
}

TEST(Queue, AZeroTimeoutDoesNotWait) {
  q::Queue<int> queue(1);
  EXPECT_THROW(queue.get({.timeout = 0s}), q::Empty);
  queue.put(1);
  EXPECT_THROW(queue.put(2, {.timeout = 0s}), q::Full);
}

TEST(Queue, ANegativeTimeoutIsAValueErrorUnlessNotBlocking) {
  q::Queue<int> queue(1);
  EXPECT_THROW(queue.get({.timeout = -1s}), concur::ValueError);
  EXPECT_THROW(queue.put(1, {.timeout = -1s}), concur::ValueError);
  EXPECT_TRUE(queue.empty());
  // As in Python, the timeout is ignored when block is false.
  queue.put(1, {.block = false, .timeout = -1s});
  EXPECT_EQ(queue.get({.block = false, .timeout = -1s}), 1);
}

TEST(Queue, ABlockedGetReturnsTheItemPutByAnotherThread) {
  q::Queue<int> queue;
  int got = 0;
  std::thread consumer([&] { got = queue.get(); });
  queue.put(42);
  consumer.join();
  EXPECT_EQ(got, 42);
}

TEST(Queue, ABlockedPutProceedsWhenAnotherThreadGets) {
  q::Queue<int> queue(1);
  queue.put(1);
  std::thread producer([&] { queue.put(2); });
  EXPECT_EQ(queue.get(), 1);
  EXPECT_EQ(queue.get(), 2);
  producer.join();
}

TEST(Queue, JoinReturnsAtOnceWhenNothingWasPut) {
  q::Queue<int> queue;
  queue.join();
}

TEST(Queue, JoinReturnsOnceEveryItemIsMarkedDone) {
  q::Queue<int> queue;
  for (int i = 0; i < 10; ++i) queue.put(i);
  std::atomic<int> processed{0};
  std::thread worker([&] {
    for (int i = 0; i < 10; ++i) {
      (void)queue.get();
      processed.fetch_add(1);
      queue.task_done();
    }
  });
  queue.join();
  EXPECT_EQ(processed.load(), 10);
  worker.join();
}

TEST(Queue, TaskDoneCalledTooOftenIsAValueError) {
  q::Queue<int> queue;
  EXPECT_THROW(queue.task_done(), concur::ValueError);
  queue.put(1);
  (void)queue.get();
  queue.task_done();
  EXPECT_THROW(queue.task_done(), concur::ValueError);
}

TEST(Queue, PutAfterShutdownThrowsShutDown) {
  q::Queue<int> queue;
  queue.shutdown();
  EXPECT_TRUE(queue.is_shutdown());
  EXPECT_THROW(queue.put(1), q::ShutDown);
  EXPECT_THROW(queue.put_nowait(1), q::ShutDown);
}

TEST(Queue, GetAfterShutdownDrainsTheQueueThenThrowsShutDown) {
  q::Queue<int> queue;
  queue.put(1);
  queue.put(2);
  queue.shutdown();
  EXPECT_EQ(queue.get(), 1);
  EXPECT_EQ(queue.get_nowait(), 2);
  EXPECT_THROW(queue.get(), q::ShutDown);
  EXPECT_THROW(queue.get_nowait(), q::ShutDown);
  EXPECT_THROW(queue.get({.timeout = 1s}), q::ShutDown);
}

TEST(Queue, ImmediateShutdownDropsTheItemsAndGetThrowsAtOnce) {
  q::Queue<int> queue;
  queue.put(1);
  queue.put(2);
  queue.shutdown(true);
  EXPECT_TRUE(queue.empty());
  EXPECT_THROW(queue.get(), q::ShutDown);
  queue.join();  // the dropped items count as done
}

TEST(Queue, ImmediateShutdownReleasesABlockedJoin) {
  q::Queue<int> queue;
  queue.put(1);
  queue.put(2);
  std::thread joiner([&] { queue.join(); });
  queue.shutdown(true);
  joiner.join();
}

TEST(Queue, ImmediateShutdownStillWaitsForItemsGotButNotMarkedDone) {
  q::Queue<int> queue;
  queue.put(1);
  queue.put(2);
  EXPECT_EQ(queue.get(), 1);  // in flight: not marked done
  queue.shutdown(true);       // drops 2 and counts it done
  std::thread joiner([&] { queue.join(); });
  queue.task_done();  // for item 1: releases join()
  joiner.join();
  EXPECT_THROW(queue.task_done(), concur::ValueError);
}

TEST(Queue, ShutdownWakesABlockedGetterWithShutDown) {
  q::Queue<int> queue;
  bool shut_down = false;
  std::thread consumer([&] {
    try {
      (void)queue.get();
    } catch (const q::ShutDown&) {
      shut_down = true;
    }
  });
  queue.shutdown();
  consumer.join();
  EXPECT_TRUE(shut_down);
}

TEST(Queue, ShutdownWakesABlockedPutterWithShutDown) {
  q::Queue<int> queue(1);
  queue.put(1);
  bool shut_down = false;
  std::thread producer([&] {
    try {
      queue.put(2);
    } catch (const q::ShutDown&) {
      shut_down = true;
    }
  });
  queue.shutdown();
  producer.join();
  EXPECT_TRUE(shut_down);
  EXPECT_EQ(queue.get(), 1);  // what was in the queue before shutdown() is still there
}

TEST(Queue, ShuttingDownTwiceIsHarmless) {
  q::Queue<int> queue;
  queue.put(1);
  queue.shutdown();
  queue.shutdown();
  EXPECT_EQ(queue.get(), 1);
  queue.shutdown(true);
  EXPECT_THROW(queue.get(), q::ShutDown);
}

TEST(Queue, FourProducersAndFourConsumersDeliverEveryItemExactlyOnce) {
  constexpr int producers = 4, consumers = 4, per_producer = 5000;
  q::Queue<int> queue(16);  // bounded: producers block too
  std::vector<std::atomic<int>> seen(producers * per_producer);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) queue.put(p * per_producer + i);
    });
  std::vector<std::thread> readers;
  for (int c = 0; c < consumers; ++c)
    readers.emplace_back([&] {
      for (;;) {
        int item;
        try {
          item = queue.get();
        } catch (const q::ShutDown&) {
          return;
        }
        seen[static_cast<std::size_t>(item)].fetch_add(1, std::memory_order_relaxed);
        queue.task_done();
      }
    });
  for (auto& t : threads) t.join();
  queue.join();      // every item got and marked done
  queue.shutdown();  // releases the consumers
  for (auto& t : readers) t.join();
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
}

TEST(PriorityQueue, ConcurrentProducersStillYieldSortedOrder) {
  q::PriorityQueue<int> queue;
  std::vector<std::thread> threads;
  for (int p = 0; p < 4; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < 500; ++i) queue.put(i * 4 + p);
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(queue.get_nowait(), i);
}

}  // namespace
