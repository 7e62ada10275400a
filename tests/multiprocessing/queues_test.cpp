// SPDX-License-Identifier: MIT
// multiprocessing Queue, JoinableQueue and SimpleQueue: made in the parent, used by forked
// children (fork + _exit), several producers and consumers at once.
#include "concur/multiprocessing/queues.hpp"
#include "concur/multiprocessing/process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "ipc_test_support.hpp"

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;
using concur_test::fork_child;
using concur_test::join_child;

namespace {

constexpr int kProducers = 4;
constexpr int kItemsEach = concur_test::under_tsan() ? 100 : 500;

// ---- Queue -------------------------------------------------------------------------------

mp::Queue<int>* g_queue_for_process = nullptr;  // inherited by the forked Process below

void put_numbers(int count) {
  for (int i = 0; i < count; ++i) g_queue_for_process->put(i);
}

TEST(MultiprocessingQueue, ItemsPutByAProcessTargetAreAllDeliveredAfterItReturns) {
  mp::Queue<int> q;
  g_queue_for_process = &q;
  mp::Process p(mp::ProcessOptions{.start_method = "fork"}, put_numbers, 2000);
  p.start();
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(q.get({.timeout = 30s}), i);
  p.join();
  EXPECT_EQ(p.exitcode(), std::optional<int>(0));
  g_queue_for_process = nullptr;
}

TEST(MultiprocessingQueue, ItemsPutByTheParentReachAChildInOrder) {
  mp::Queue<int> q;
  for (int i = 0; i < 100; ++i) q.put(i);
  const pid_t child = fork_child([&]() -> int {
    for (int i = 0; i < 100; ++i) {
      if (q.get({.timeout = 30s}) != i) return 1;
    }
    return 0;
  });
  EXPECT_EQ(join_child(child), 0);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0U);
}

TEST(MultiprocessingQueue, SeveralProducerProcessesDeliverEveryItemExactlyOnce) {
  mp::Queue<int> q;
  std::vector<pid_t> children;
  for (int p = 0; p < kProducers; ++p) {
    children.push_back(fork_child([&q, p] {
      for (int i = 0; i < kItemsEach; ++i) q.put(p * 100'000 + i);
      q.close();
      q.join_thread();  // everything written before _exit
    }));
  }
  std::multiset<int> got;
  for (int n = 0; n < kProducers * kItemsEach; ++n) got.insert(q.get({.timeout = 30s}));
  for (pid_t child : children) EXPECT_EQ(join_child(child), 0);
  std::multiset<int> expected;
  for (int p = 0; p < kProducers; ++p) {
    for (int i = 0; i < kItemsEach; ++i) expected.insert(p * 100'000 + i);
  }
  EXPECT_EQ(got, expected);
  EXPECT_THROW(q.get_nowait(), concur::queue::Empty);
}

TEST(MultiprocessingQueue, SeveralConsumerProcessesShareTheItemsWithoutLosingAny) {
  constexpr int kConsumers = 3;
  constexpr int kItems = 600;
  mp::Queue<int> q;
  mp::Array<long> sums(kConsumers);
  mp::Array<long> counts(kConsumers);
  std::vector<pid_t> children;
  for (int c = 0; c < kConsumers; ++c) {
    children.push_back(fork_child([&, c] {
      for (;;) {
        const int item = q.get({.timeout = 30s});
        if (item < 0) return;
        sums.get_obj()[static_cast<std::size_t>(c)] += item;
        counts.get_obj()[static_cast<std::size_t>(c)] += 1;
      }
    }));
  }
  for (int i = 1; i <= kItems; ++i) q.put(i);
  for (int c = 0; c < kConsumers; ++c) q.put(-1);
  for (pid_t child : children) EXPECT_EQ(join_child(child), 0);
  const auto total = sums.to_vector();
  const auto n = counts.to_vector();
  EXPECT_EQ(std::accumulate(total.begin(), total.end(), 0L), long{kItems} * (kItems + 1) / 2);
  EXPECT_EQ(std::accumulate(n.begin(), n.end(), 0L), kItems);
}

TEST(MultiprocessingQueue, GetTimesOutWithEmptyAndNowaitFailsAtOnce) {
  mp::Queue<int> q;
  EXPECT_THROW(q.get_nowait(), concur::queue::Empty);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(q.get({.timeout = 50ms}), concur::queue::Empty);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_THROW(q.get({.timeout = -1s}), concur::ValueError);
  EXPECT_THROW(q.put(1, {.timeout = -1s}), concur::ValueError);
}

TEST(MultiprocessingQueue, ABoundedQueueRefusesMoreThanMaxsizeUntilAChildGets) {
  mp::Queue<int> q(2);
  q.put(1);
  q.put(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2U);
  EXPECT_THROW(q.put_nowait(3), concur::queue::Full);
  EXPECT_THROW(q.put(3, {.timeout = 30ms}), concur::queue::Full);
  const pid_t child = fork_child([&]() -> int { return q.get({.timeout = 30s}) == 1 ? 0 : 1; });
  q.put(3, {.timeout = 30s});  // room appears when the child has got one
  EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(q.get(), 2);
  EXPECT_EQ(q.get(), 3);
  EXPECT_FALSE(q.full());
  EXPECT_THROW(mp::Queue<int>(-1), concur::ValueError);
}

TEST(MultiprocessingQueue, StringsVectorsAndLargePayloadsTravelIntact) {
  mp::Queue<std::vector<std::string>> q;
  const std::vector<std::string> small{"alpha", "", "gamma"};
  const std::vector<std::string> large{std::string(300'000, 'x'), "tail"};  // beyond a socket buffer
  const pid_t child = fork_child([&] {
    q.put(small);
    q.put(large);
    q.close();
    q.join_thread();
  });
  EXPECT_EQ(q.get({.timeout = 30s}), small);
  EXPECT_EQ(q.get({.timeout = 30s}), large);
  EXPECT_EQ(join_child(child), 0);
}

TEST(MultiprocessingQueue, PutReturnsAtOnceEvenWhenTheItemExceedsTheSocketBuffer) {
  // ~1 MB of message bytes (many small strings: no shared-memory shortcut), far beyond what a
  // socket buffers: put() must hand it to the feeder and return, or this thread would never
  // reach its own get().
  mp::Queue<std::vector<std::string>> q;
  const std::vector<std::string> big(60'000, std::string("0123456789"));
  q.put(big);
  EXPECT_EQ(q.qsize(), 1U);
  EXPECT_EQ(q.get({.timeout = 30s}), big);
}

TEST(MultiprocessingQueue, AClosedQueueRefusesPutAndGet) {
  mp::Queue<int> q;
  EXPECT_THROW(q.join_thread(), concur::RuntimeError);
  q.put(1);
  q.close();
  EXPECT_THROW(q.put(2), concur::ValueError);
  EXPECT_THROW(q.get(), concur::ValueError);
  q.join_thread();
  q.join_thread();  // idempotent once joined
}

TEST(MultiprocessingQueue, DestroyingAQueueWithUnreadItemsDoesNotHang) {
  mp::Queue<int> q;
  for (int i = 0; i < 10; ++i) q.put(i);
  EXPECT_EQ(q.qsize(), 10U);
  mp::Queue<int> cancelled;
  cancelled.put(1);
  cancelled.cancel_join_thread();
}

TEST(MultiprocessingQueue, FlushQueuesWritesAChildsPendingItemsBeforeExit) {
  mp::Queue<int> a;
  mp::Queue<int> b;
  const pid_t child = fork_child([&] {
    a.put(1);
    b.put(2);
    mp::detail::flush_queues();
  });
  EXPECT_EQ(a.get({.timeout = 30s}), 1);
  EXPECT_EQ(b.get({.timeout = 30s}), 2);
  EXPECT_EQ(join_child(child), 0);
}

TEST(MultiprocessingQueue, AGetterKilledWhileWaitingDoesNotBlockTheOthers) {
  mp::Queue<int> q;
  mp::Event about_to_get;
  const pid_t child = fork_child([&]() -> int {
    about_to_get.set();
    (void)q.get();  // holds the reader lock while it waits; killed there
    return 1;
  });
  ASSERT_TRUE(about_to_get.wait(30s));
  ::kill(child, SIGKILL);
  EXPECT_EQ(join_child(child), -SIGKILL);
  q.put(5);
  EXPECT_EQ(q.get({.timeout = 30s}), 5);  // the dead holder's lock passes to us
}

// ---- JoinableQueue -----------------------------------------------------------------------

TEST(MultiprocessingJoinableQueue, JoinReturnsOnceChildWorkersMarkedEveryItemDone) {
  constexpr int kWorkers = 2;
  constexpr int kItems = 50;
  mp::JoinableQueue<int> q;
  mp::Value<int> processed(0);
  std::vector<pid_t> children;
  for (int w = 0; w < kWorkers; ++w) {
    children.push_back(fork_child([&] {
      for (;;) {
        const int item = q.get({.timeout = 30s});
        if (item >= 0) {
          std::scoped_lock hold(processed.get_lock());
          processed.set_value(processed.value() + 1);
        }
        q.task_done();
        if (item < 0) return;
      }
    }));
  }
  for (int i = 0; i < kItems; ++i) q.put(i);
  q.join();
  EXPECT_EQ(processed.value(), kItems);  // join() returned only after every task_done()
  for (int w = 0; w < kWorkers; ++w) q.put(-1);
  q.join();
  for (pid_t child : children) EXPECT_EQ(join_child(child), 0);
}

TEST(MultiprocessingJoinableQueue, TaskDoneMoreOftenThanPutIsAValueError) {
  mp::JoinableQueue<int> q;
  EXPECT_THROW(q.task_done(), concur::ValueError);
  q.put(7);
  EXPECT_EQ(q.get({.timeout = 30s}), 7);
  q.task_done();
  EXPECT_THROW(q.task_done(), concur::ValueError);
  q.join();  // nothing unfinished: returns at once
}

// ---- SimpleQueue -------------------------------------------------------------------------

TEST(MultiprocessingSimpleQueue, CarriesItemsBothWaysBetweenParentAndChild) {
  mp::SimpleQueue<std::string> to_child;
  mp::SimpleQueue<std::string> to_parent;
  EXPECT_TRUE(to_child.empty());
  const pid_t child = fork_child([&] { to_parent.put(to_child.get() + " pong"); });
  to_child.put("ping");
  EXPECT_EQ(to_parent.get(), "ping pong");
  EXPECT_EQ(join_child(child), 0);
  EXPECT_TRUE(to_parent.empty());
  to_parent.close();
  EXPECT_THROW(to_parent.put("late"), concur::ValueError);
}

}  // namespace
