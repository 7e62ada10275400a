// SPDX-License-Identifier: MIT
// Tests of concur/futures/future.hpp: Future<T>.
#include "concur/futures/future.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "concur/errors.hpp"

namespace {

using namespace std::chrono_literals;
using concur::futures::Future;

TEST(Future, StartsPending) {
  Future<int> f;
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.running());
  EXPECT_FALSE(f.cancelled());
}

TEST(Future, ResultReturnsTheValueSet) {
  Future<std::string> f;
  f.set_result("hello");
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), "hello");
  EXPECT_EQ(f.result(0s), "hello");
  EXPECT_EQ(f.exception(), nullptr);
}

TEST(Future, HoldsAMoveOnlyValue) {
  Future<std::unique_ptr<int>> f;
  f.set_result(std::make_unique<int>(3));
  EXPECT_EQ(*f.result(), 3);
}

TEST(Future, OfVoidCompletesWithoutAValue) {
  Future<void> f;
  f.set_result();
  EXPECT_TRUE(f.done());
  f.result();
  EXPECT_EQ(f.exception(), nullptr);
}

TEST(Future, ResultRethrowsTheExceptionWithItsOwnType) {
  Future<int> f;
  f.set_exception(std::make_exception_ptr(std::out_of_range("index 9")));
  EXPECT_TRUE(f.done());
  EXPECT_THROW(f.result(), std::out_of_range);
  const auto e = f.exception();
  ASSERT_NE(e, nullptr);
  EXPECT_THROW(std::rethrow_exception(e), std::out_of_range);
}

TEST(Future, ResultOfAPendingFutureTimesOut) {
  Future<int> f;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(f.result(50ms), concur::TimeoutError);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_THROW(f.result(0s), concur::TimeoutError);
  EXPECT_THROW(f.result(-1s), concur::TimeoutError);
  EXPECT_THROW(f.exception(10ms), concur::TimeoutError);
}

TEST(Future, SettingTheOutcomeTwiceIsAnInvalidStateError) {
  Future<int> f;
  f.set_result(1);
  EXPECT_THROW(f.set_result(2), concur::InvalidStateError);
  EXPECT_THROW(f.set_exception(std::make_exception_ptr(std::runtime_error("x"))), concur::InvalidStateError);
  EXPECT_EQ(f.result(), 1);
}

TEST(Future, SetExceptionWithoutAnExceptionIsAValueError) {
  Future<int> f;
  EXPECT_THROW(f.set_exception(nullptr), concur::ValueError);
  EXPECT_FALSE(f.done());
}

TEST(Future, CancellingAPendingFutureMakesResultThrowCancelledError) {
  Future<int> f;
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(f.cancel());  // again: still true
  EXPECT_THROW(f.result(), concur::CancelledError);
  EXPECT_THROW(f.exception(), concur::CancelledError);
  EXPECT_THROW(f.set_result(1), concur::InvalidStateError);
}

TEST(Future, CancelledErrorIsNotCaughtAsAStdException) {
  Future<int> f;
  f.cancel();
  bool caught_by_name = false;
  try {
    try {
      (void)f.result();
    } catch (const std::exception&) {
      FAIL() << "CancelledError must not be a std::exception";
    }
  } catch (const concur::CancelledError&) {
    caught_by_name = true;
  }
  EXPECT_TRUE(caught_by_name);
}

TEST(Future, ARunningOrFinishedFutureCannotBeCancelled) {
  Future<int> running;
  EXPECT_TRUE(running.set_running_or_notify_cancel());
  EXPECT_TRUE(running.running());
  EXPECT_FALSE(running.cancel());
  running.set_result(5);
  EXPECT_FALSE(running.running());
  EXPECT_FALSE(running.cancel());
  EXPECT_EQ(running.result(), 5);
}

TEST(Future, SetRunningOrNotifyCancelReportsACancellation) {
  Future<int> f;
  f.cancel();
  EXPECT_FALSE(f.set_running_or_notify_cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_FALSE(f.running());
}

TEST(Future, SetRunningTwiceIsARuntimeError) {
  Future<int> f;
  EXPECT_TRUE(f.set_running_or_notify_cancel());
  EXPECT_THROW(f.set_running_or_notify_cancel(), concur::RuntimeError);
  f.set_result(1);
  EXPECT_THROW(f.set_running_or_notify_cancel(), concur::RuntimeError);
}

TEST(Future, CopiesShareOneState) {
  Future<int> a;
  Future<int> b = a;
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == Future<int>());
  EXPECT_EQ(std::hash<Future<int>>()(a), std::hash<Future<int>>()(b));
  std::unordered_set<Future<int>> set{a, b};
  EXPECT_EQ(set.size(), 1u);
  b.set_result(9);
  EXPECT_EQ(a.result(), 9);
  Future<int> c = std::move(b);
  EXPECT_TRUE(c == a);
  b = c;  // a moved-from handle can be assigned again
  EXPECT_EQ(b.result(), 9);
}

TEST(Future, ResultWaitsForAnotherThreadToSetIt) {
  Future<int> f;
  std::thread producer([f] { f.set_result(11); });
  EXPECT_EQ(f.result(), 11);
  producer.join();
}

TEST(Future, ABlockedResultWakesWithTheException) {
  Future<int> f;
  std::thread waiter([f] { EXPECT_THROW((void)f.result(), std::length_error); });
  f.set_exception(std::make_exception_ptr(std::length_error("too long")));
  waiter.join();
}

TEST(Future, ABlockedResultWakesWhenTheFutureIsCancelled) {
  Future<int> f;
  std::thread waiter([f] { EXPECT_THROW((void)f.result(), concur::CancelledError); });
  EXPECT_TRUE(f.cancel());
  waiter.join();
}

TEST(Future, ADoneCallbackRunsAtOnceWhenAlreadyDone) {
  Future<int> f;
  f.set_result(4);
  int seen = 0;
  f.add_done_callback([&](const Future<int>& done) { seen = done.result(); });
  EXPECT_EQ(seen, 4);
}

TEST(Future, DoneCallbacksRunInOrderWhenTheFutureCompletes) {
  Future<int> f;
  std::vector<int> calls;
  f.add_done_callback([&](const Future<int>& done) { calls.push_back(done.result()); });
  f.add_done_callback([&](const Future<int>&) { calls.push_back(-1); });
  EXPECT_TRUE(calls.empty());
  f.set_result(8);
  EXPECT_EQ(calls, (std::vector<int>{8, -1}));
}

TEST(Future, DoneCallbacksRunWhenTheFutureIsCancelled) {
  Future<int> f;
  bool cancelled = false;
  f.add_done_callback([&](const Future<int>& done) { cancelled = done.cancelled(); });
  f.cancel();
  EXPECT_TRUE(cancelled);
}

TEST(Future, ACallbackExceptionIsReportedAndDoesNotPropagate) {
  Future<int> f;
  bool second_ran = false;
  f.add_done_callback([](const Future<int>&) { throw std::runtime_error("callback broke"); });
  f.add_done_callback([&](const Future<int>&) { second_ran = true; });
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(f.set_result(1));
  f.add_done_callback([](const Future<int>&) { throw concur::CancelledError("late"); });
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(second_ran);
  EXPECT_NE(err.find("callback broke"), std::string::npos) << err;
  EXPECT_NE(err.find("std::runtime_error"), std::string::npos) << err;
  EXPECT_NE(err.find("CancelledError"), std::string::npos) << err;
}

TEST(Future, ACallbackOutlivingAnUnfinishedFutureLeaksNothing) {
  Future<int> f;
  auto owned = std::make_shared<int>(1);
  f.add_done_callback([owned](const Future<int>&) {});
  EXPECT_EQ(owned.use_count(), 2);
}  // LeakSanitizer would report a cycle between the state and its callbacks

TEST(Future, ManyFuturesCompletedConcurrentlyWakeEveryWaiterAndCallbackOnce) {
  constexpr int count = 2000, threads = 4;
  std::vector<Future<int>> fs(count);
  std::atomic<int> callbacks{0};
  for (auto& f : fs) f.add_done_callback([&](const Future<int>&) { callbacks.fetch_add(1); });
  std::vector<std::thread> waiters;
  for (int w = 0; w < 2; ++w)
    waiters.emplace_back([&] {
      long sum = 0;
      for (const auto& f : fs) sum += f.result();
      EXPECT_EQ(sum, static_cast<long>(count) * (count - 1) / 2);
    });
  std::vector<std::thread> completers;
  for (int t = 0; t < threads; ++t)
    completers.emplace_back([&, t] {
      for (int i = t; i < count; i += threads) fs[static_cast<std::size_t>(i)].set_result(i);
    });
  for (auto& t : completers) t.join();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(callbacks.load(), count);
}

TEST(Future, ConcurrentSetAndCancelHaveExactlyOneWinner) {
  for (int round = 0; round < 200; ++round) {
    Future<int> f;
    std::atomic<int> wins{0};
    std::thread setter([&] {
      try {
        f.set_result(1);
        wins.fetch_add(1);
      } catch (const concur::InvalidStateError&) {
      }
    });
    if (f.cancel()) wins.fetch_add(1);
    setter.join();
    ASSERT_EQ(wins.load(), 1);
    ASSERT_TRUE(f.done());
  }
}

}  // namespace
