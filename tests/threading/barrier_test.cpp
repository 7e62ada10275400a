// SPDX-License-Identifier: MIT
// Tests for concur/threading/barrier.hpp: Barrier.
#include "concur/threading/barrier.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/threading/thread.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

namespace {

// Runs `body(i)` in `n` threads and joins them.
template <class Body>
void run_parties(int n, Body body) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back([&body, i] { body(i); });
  for (auto& t : threads) t.join();
}

// Polls (no sleeping) until `barrier` has `n` waiters.
void wait_for_waiters(const th::Barrier& barrier, std::size_t n) {
  while (barrier.n_waiting() < n) std::this_thread::yield();
}

TEST(Barrier, ZeroPartiesIsAValueError) { EXPECT_THROW(th::Barrier(0), concur::ValueError); }

TEST(Barrier, ReleasesAllPartiesWithDistinctIndices) {
  th::Barrier barrier(4);
  EXPECT_EQ(barrier.parties(), 4u);
  std::vector<std::size_t> indices(4);
  run_parties(4, [&](int i) { indices[static_cast<std::size_t>(i)] = barrier.wait(30s); });
  std::sort(indices.begin(), indices.end());
  EXPECT_EQ(indices, (std::vector<std::size_t>{0, 1, 2, 3}));
  EXPECT_EQ(barrier.n_waiting(), 0u);
  EXPECT_FALSE(barrier.broken());
}

TEST(Barrier, ASinglePartyPassesAtOnce) {
  th::Barrier barrier(1);
  EXPECT_EQ(barrier.wait(), 0u);
  EXPECT_EQ(barrier.wait(), 0u);
}

TEST(Barrier, AHugeTimeoutMeansPracticallyForever) {
  th::Barrier barrier(2, {.timeout = concur::Timeout(1e300)});
  run_parties(2, [&](int) { barrier.wait(); });
  EXPECT_FALSE(barrier.broken());
}

TEST(Barrier, RunsTheActionOnceBeforeReleasingAndItsWritesAreVisible) {
  int actions = 0;
  th::Barrier barrier(3, {.action = [&] { ++actions; }});
  std::atomic<int> saw_one{0};
  run_parties(3, [&](int) {
    barrier.wait(30s);
    if (actions == 1) saw_one.fetch_add(1);
  });
  EXPECT_EQ(actions, 1);
  EXPECT_EQ(saw_one.load(), 3);
}

TEST(Barrier, NWaitingCountsThreadsInside) {
  th::Barrier barrier(3);
  std::thread a([&] { barrier.wait(30s); });
  wait_for_waiters(barrier, 1);
  EXPECT_EQ(barrier.n_waiting(), 1u);
  std::thread b([&] { barrier.wait(30s); });
  wait_for_waiters(barrier, 2);
  EXPECT_EQ(barrier.n_waiting(), 2u);
  barrier.wait(30s);
  a.join();
  b.join();
  EXPECT_EQ(barrier.n_waiting(), 0u);
}

TEST(Barrier, ATimeoutBreaksItForEveryWaiter) {
  th::Barrier barrier(3);
  std::atomic<int> broken{0};
  std::thread patient([&] {
    try {
      barrier.wait(30s);
    } catch (const concur::BrokenBarrierError&) {
      broken.fetch_add(1);
    }
  });
  wait_for_waiters(barrier, 1);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(barrier.wait(50ms), concur::BrokenBarrierError);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  patient.join();
  EXPECT_EQ(broken.load(), 1);
  EXPECT_TRUE(barrier.broken());
  EXPECT_THROW(barrier.wait(30s), concur::BrokenBarrierError);  // stays broken until reset
}

TEST(Barrier, TheDefaultTimeoutAppliesWhenWaitGivesNone) {
  th::Barrier barrier(2, {.timeout = 30ms});
  EXPECT_THROW(barrier.wait(), concur::BrokenBarrierError);
  EXPECT_TRUE(barrier.broken());
}

TEST(Barrier, AbortBreaksItForCurrentAndFutureWaiters) {
  th::Barrier barrier(3);
  std::atomic<int> broken{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 2; ++i) {
    waiters.emplace_back([&] {
      try {
        barrier.wait(30s);
      } catch (const concur::BrokenBarrierError&) {
        broken.fetch_add(1);
      }
    });
  }
  wait_for_waiters(barrier, 2);
  barrier.abort();
  for (auto& w : waiters) w.join();
  EXPECT_EQ(broken.load(), 2);
  EXPECT_TRUE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0u);
  EXPECT_THROW(barrier.wait(30s), concur::BrokenBarrierError);
}

TEST(Barrier, AFailingActionBreaksItAndItsThreadGetsTheActionsException) {
  th::Barrier barrier(3, {.action = [] { throw std::logic_error("action failed"); }});
  std::atomic<int> broken{0};
  std::atomic<int> action_error{0};
  run_parties(3, [&](int) {
    try {
      barrier.wait(30s);
    } catch (const concur::BrokenBarrierError&) {
      broken.fetch_add(1);
    } catch (const std::logic_error&) {
      action_error.fetch_add(1);
    }
  });
  EXPECT_EQ(broken.load(), 2);
  EXPECT_EQ(action_error.load(), 1);
  EXPECT_TRUE(barrier.broken());
}

TEST(Barrier, ResetRepairsABrokenBarrier) {
  th::Barrier barrier(2);
  barrier.abort();
  EXPECT_TRUE(barrier.broken());
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  run_parties(2, [&](int) { barrier.wait(30s); });
}

TEST(Barrier, ResetWhileThreadsWaitBreaksThemAndReopens) {
  th::Barrier barrier(3);
  std::atomic<int> broken{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 2; ++i) {
    waiters.emplace_back([&] {
      try {
        barrier.wait(30s);
      } catch (const concur::BrokenBarrierError&) {
        broken.fetch_add(1);
      }
    });
  }
  wait_for_waiters(barrier, 2);
  barrier.reset();
  for (auto& w : waiters) w.join();
  EXPECT_EQ(broken.load(), 2);
  EXPECT_FALSE(barrier.broken());
  run_parties(3, [&](int) { barrier.wait(30s); });  // usable again
}

TEST(Barrier, IsReusableAcrossManyGenerations) {
  constexpr int parties = 4;
  constexpr int generations = 1000;
  int completed = 0;  // written by the action only
  th::Barrier barrier(parties, {.action = [&] { ++completed; }});
  std::atomic<bool> out_of_step{false};
  run_parties(parties, [&](int) {
    for (int g = 0; g < generations; ++g) {
      barrier.wait(30s);
      // Between the two waits of round g exactly 2g+1 generations have completed: the next
      // action cannot run before this thread arrives at the second wait.
      if (completed != 2 * g + 1) out_of_step = true;
      barrier.wait(30s);
    }
  });
  EXPECT_FALSE(out_of_step.load());
  EXPECT_EQ(completed, 2 * generations);
}

}  // namespace
