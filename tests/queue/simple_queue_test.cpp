// SPDX-License-Identifier: MIT
// Tests of concur/queue/simple_queue.hpp: SimpleQueue.
#include "concur/queue/simple_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "concur/errors.hpp"

namespace {

using namespace std::chrono_literals;
namespace q = concur::queue;

TEST(SimpleQueue, GetsItemsInTheOrderTheyWerePut) {
  q::SimpleQueue<int> queue;
  for (int i = 0; i < 5; ++i) queue.put(i);
  EXPECT_EQ(queue.qsize(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(queue.get(), i);
  EXPECT_TRUE(queue.empty());
}

TEST(SimpleQueue, PutNeverBlocksAndIgnoresItsOptions) {
  q::SimpleQueue<int> queue;
  queue.put(1, {.block = false});
  queue.put(2, {.timeout = -1s});  // ignored, as in Python
  queue.put_nowait(3);
  EXPECT_EQ(queue.qsize(), 3u);
}

TEST(SimpleQueue, GetNowaitOnAnEmptyQueueThrowsEmpty) {
  q::SimpleQueue<int> queue;
  EXPECT_THROW(queue.get_nowait(), q::Empty);
}

TEST(SimpleQueue, GetWithATimeoutThrowsEmptyAfterWaitingThatLong) {
  q::SimpleQueue<int> queue;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(queue.get({.timeout = 50ms}), q::Empty);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
}

TEST(SimpleQueue, ANegativeTimeoutIsAValueError) {
  q::SimpleQueue<int> queue;
  EXPECT_THROW(queue.get({.timeout = -1s}), concur::ValueError);
}

TEST(SimpleQueue, HoldsMoveOnlyItems) {
  q::SimpleQueue<std::unique_ptr<int>> queue;
  queue.put(std::make_unique<int>(5));
  EXPECT_EQ(*queue.get(), 5);
}

TEST(SimpleQueue, ABlockedGetReturnsTheItemPutByAnotherThread) {
  q::SimpleQueue<int> queue;
  int got = 0;
  std::thread consumer([&] { got = queue.get(); });
  queue.put(7);
  consumer.join();
  EXPECT_EQ(got, 7);
}

TEST(SimpleQueue, ManyProducersAndConsumersDeliverEveryItemExactlyOnce) {
  constexpr int threads = 4, per_thread = 5000;
  q::SimpleQueue<int> queue;
  std::vector<std::atomic<int>> seen(threads * per_thread);
  std::vector<std::thread> workers;
  for (int p = 0; p < threads; ++p)
    workers.emplace_back([&, p] {
      for (int i = 0; i < per_thread; ++i) queue.put(p * per_thread + i);
    });
  for (int c = 0; c < threads; ++c)
    workers.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) seen[static_cast<std::size_t>(queue.get())].fetch_add(1);
    });
  for (auto& t : workers) t.join();
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
  EXPECT_TRUE(queue.empty());
}

}  // namespace
