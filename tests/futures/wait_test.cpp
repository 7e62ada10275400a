// SPDX-License-Identifier: MIT
// Tests of concur/futures/wait.hpp: wait() and as_completed().
#include "concur/futures/wait.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <list>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "concur/errors.hpp"
#include "concur/futures/future.hpp"
#include "concur/futures/thread.hpp"
#include "concur/threading/event.hpp"

namespace {

using namespace std::chrono_literals;
namespace futures = concur::futures;
using futures::Future;

std::vector<int> values(const std::vector<Future<int>>& fs) {
  std::vector<int> out;
  for (const auto& f : fs) out.push_back(f.result());
  return out;
}

TEST(Wait, AllCompletedReturnsAtOnceWhenEveryFutureIsDone) {
  std::vector<Future<int>> fs(3);
  for (int i = 0; i < 3; ++i) fs[static_cast<std::size_t>(i)].set_result(i);
  auto [done, not_done] = futures::wait(fs);
  EXPECT_EQ(values(done), (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(not_done.empty());
}

TEST(Wait, AnEmptySetOfFuturesIsDoneAtOnce) {
  std::vector<Future<int>> none;
  auto result = futures::wait(none, std::nullopt, futures::FIRST_COMPLETED);
  EXPECT_TRUE(result.done.empty());
  EXPECT_TRUE(result.not_done.empty());
}

TEST(Wait, AllCompletedWaitsForTheLastFuture) {
  std::vector<Future<int>> fs(4);
  std::thread completer([fs] {
    for (int i = 3; i >= 0; --i) fs[static_cast<std::size_t>(i)].set_result(i);
  });
  auto [done, not_done] = futures::wait(fs, std::nullopt, futures::ALL_COMPLETED);
  completer.join();
  EXPECT_EQ(done.size(), 4u);
  EXPECT_TRUE(not_done.empty());
}

TEST(Wait, FirstCompletedReturnsAtOnceWhenOneIsDone) {
  Future<int> a, b, c;
  b.set_result(2);
  auto [done, not_done] = futures::wait({a, b, c}, std::nullopt, futures::FIRST_COMPLETED);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0] == b);
  ASSERT_EQ(not_done.size(), 2u);
  EXPECT_TRUE(not_done[0] == a);
  EXPECT_TRUE(not_done[1] == c);
}

TEST(Wait, FirstCompletedWakesWhenAnotherThreadCompletesOne) {
  Future<int> a, b;
  std::thread completer([b] { b.set_result(1); });
  auto [done, not_done] = futures::wait({a, b}, std::nullopt, futures::FIRST_COMPLETED);
  completer.join();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0] == b);
  EXPECT_EQ(not_done.size(), 1u);
}

TEST(Wait, FirstCompletedWakesWhenAFutureIsCancelled) {
  Future<int> a, b;
  std::thread canceller([a] { a.cancel(); });
  auto [done, not_done] = futures::wait({a, b}, std::nullopt, futures::FIRST_COMPLETED);
  canceller.join();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].cancelled());
}

TEST(Wait, FirstExceptionReturnsWhenAFutureFails) {
  Future<int> ok, failing, pending;
  ok.set_result(1);
  std::thread completer([failing] { failing.set_exception(std::make_exception_ptr(std::runtime_error("x"))); });
  auto [done, not_done] = futures::wait({ok, failing, pending}, std::nullopt, futures::FIRST_EXCEPTION);
  completer.join();
  EXPECT_EQ(done.size(), 2u);
  ASSERT_EQ(not_done.size(), 1u);
  EXPECT_TRUE(not_done[0] == pending);
}

TEST(Wait, FirstExceptionReturnsAtOnceIfAFutureAlreadyFailed) {
  Future<int> failed, pending;
  failed.set_exception(std::make_exception_ptr(std::runtime_error("x")));
  auto result = futures::wait({failed, pending}, 10s, futures::FIRST_EXCEPTION);
  EXPECT_EQ(result.done.size(), 1u);
  EXPECT_EQ(result.not_done.size(), 1u);
}

TEST(Wait, FirstExceptionWithoutFailuresWaitsForAllAndIgnoresCancellation) {
  Future<int> a, b;
  a.cancel();  // cancelled is not an exception
  std::thread completer([b] { b.set_result(2); });
  auto [done, not_done] = futures::wait({a, b}, std::nullopt, futures::FIRST_EXCEPTION);
  completer.join();
  EXPECT_EQ(done.size(), 2u);
  EXPECT_TRUE(not_done.empty());
}

TEST(Wait, ATimeoutReturnsWhatIsNotDone) {
  Future<int> a, b;
  a.set_result(1);
  const auto start = std::chrono::steady_clock::now();
  auto [done, not_done] = futures::wait({a, b}, 50ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  ASSERT_EQ(done.size(), 1u);
  ASSERT_EQ(not_done.size(), 1u);
  EXPECT_TRUE(not_done[0] == b);
  b.set_result(2);  // the waiter was unregistered: completing later is fine
}

TEST(Wait, AZeroTimeoutOnlyLooks) {
  Future<int> a;
  auto result = futures::wait({a}, 0s);
  EXPECT_EQ(result.not_done.size(), 1u);
}

TEST(Wait, TheSameFutureTwiceCountsOnce) {
  Future<int> a;
  a.set_result(1);
  auto result = futures::wait({a, a, a});
  EXPECT_EQ(result.done.size(), 1u);
}

TEST(Wait, WaitsForAPoolsFutures) {
  futures::ThreadPoolExecutor pool({.max_workers = 3});
  std::vector<Future<int>> fs;
  for (int i = 0; i < 100; ++i) fs.push_back(pool.submit([i] { return i; }));
  auto [done, not_done] = futures::wait(fs);
  EXPECT_EQ(done.size(), 100u);
  EXPECT_TRUE(not_done.empty());
}

TEST(AsCompleted, YieldsTheFuturesAlreadyDoneInTheGivenOrder) {
  std::vector<Future<int>> fs(3);
  for (int i = 0; i < 3; ++i) fs[static_cast<std::size_t>(i)].set_result(i);
  std::vector<int> out;
  for (const auto& f : futures::as_completed(fs)) out.push_back(f.result());
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2}));
}

TEST(AsCompleted, YieldsTheOthersInCompletionOrder) {
  std::vector<Future<int>> fs(4);
  fs[1].set_result(1);  // already done: first
  auto completed = futures::as_completed(fs);
  fs[3].set_result(3);
  fs[0].set_result(0);
  fs[2].set_result(2);
  std::vector<int> out;
  for (const auto& f : completed) out.push_back(f.result());
  EXPECT_EQ(out, (std::vector<int>{1, 3, 0, 2}));
}

TEST(AsCompleted, WaitsForFuturesCompletedByAnotherThread) {
  std::vector<Future<int>> fs(3);
  std::thread completer([fs] {
    fs[2].set_result(2);
    fs[0].cancel();
    fs[1].set_exception(std::make_exception_ptr(std::runtime_error("boom")));
  });
  int n = 0;
  for (const auto& f : futures::as_completed(fs)) {
    EXPECT_TRUE(f.done());
    ++n;
  }
  completer.join();
  EXPECT_EQ(n, 3);
}

TEST(AsCompleted, ThrowsTimeoutErrorWhenFuturesAreStillPending) {
  Future<int> done, pending;
  done.set_result(1);
  std::vector<int> out;
  const auto start = std::chrono::steady_clock::now();
  try {
    for (const auto& f : futures::as_completed({done, pending}, 50ms)) out.push_back(f.result());
    FAIL() << "expected TimeoutError";
  } catch (const concur::TimeoutError& e) {
    EXPECT_STREQ(e.what(), "1 (of 2) futures unfinished");
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_EQ(out, std::vector<int>{1});  // what was done is yielded before the timeout
}

TEST(AsCompleted, AZeroTimeoutYieldsWhatIsDoneWithoutError) {
  Future<int> a, b;
  a.set_result(1);
  b.set_result(2);
  int n = 0;
  for ([[maybe_unused]] const auto& f : futures::as_completed({a, b}, 0s)) ++n;
  EXPECT_EQ(n, 2);
}

TEST(AsCompleted, TheSameFutureTwiceIsYieldedOnce) {
  Future<int> a;
  a.set_result(1);
  int n = 0;
  for ([[maybe_unused]] const auto& f : futures::as_completed({a, a})) ++n;
  EXPECT_EQ(n, 1);
}

TEST(AsCompleted, AbandoningTheIterationUnregistersFromTheFutures) {
  Future<int> a, b;
  {
    auto completed = futures::as_completed({a, b});
    a.set_result(1);
    auto it = completed.begin();
    EXPECT_TRUE(*it == a);
  }
  b.set_result(2);  // the range is gone; completing must not touch it
  EXPECT_EQ(b.result(), 2);
}

TEST(AsCompleted, YieldsEveryFutureOfABusyPoolExactlyOnce) {
  futures::ThreadPoolExecutor pool({.max_workers = 4});
  std::vector<Future<int>> fs;
  for (int i = 0; i < 500; ++i) fs.push_back(pool.submit([i] { return i; }));
  std::vector<int> seen;
  for (const auto& f : futures::as_completed(fs)) seen.push_back(f.result());
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), 500u);
  for (int i = 0; i < 500; ++i) ASSERT_EQ(seen[static_cast<std::size_t>(i)], i);
}

// Python's idiom: {executor.submit(fn, x): x for x in xs}, then as_completed over the dict.
TEST(AsCompleted, IteratesTheKeysOfAMapKeyedByFutures) {
  futures::ThreadPoolExecutor pool({.max_workers = 4});
  std::map<Future<std::string>, int> jobs;
  for (int i = 0; i < 50; ++i) jobs.emplace(pool.submit([i] { return std::to_string(i); }), i);
  ASSERT_EQ(jobs.size(), 50u);
  std::vector<int> seen;
  for (const auto& f : futures::as_completed(jobs)) {
    EXPECT_EQ(f.result(), std::to_string(jobs.at(f)));  // the future finds its input again
    seen.push_back(jobs.at(f));
  }
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], i);
}

TEST(AsCompleted, AcceptsAnUnorderedMapKeyedByFuturesAndTimesOut) {
  Future<int> done;
  Future<int> pending;
  done.set_result(7);
  std::unordered_map<Future<int>, std::string> jobs{{done, "done"}, {pending, "pending"}};
  auto completed = futures::as_completed(jobs, 20ms);
  auto it = completed.begin();
  EXPECT_EQ(jobs.at(*it), "done");
  EXPECT_THROW(++it, concur::TimeoutError);
}

TEST(Wait, AcceptsAMapKeyedByFutures) {
  Future<int> a, b, c;
  std::map<Future<int>, std::string> jobs{{a, "a"}, {b, "b"}, {c, "c"}};
  std::thread completer([b] { b.set_result(2); });
  auto [done, not_done] = futures::wait(jobs, std::nullopt, futures::FIRST_COMPLETED);
  completer.join();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(jobs.at(done.front()), "b");
  EXPECT_EQ(not_done.size(), 2u);
  a.set_result(1);
  c.set_exception(std::make_exception_ptr(std::runtime_error("c failed")));
  auto all = futures::wait(jobs);  // ALL_COMPLETED
  EXPECT_EQ(all.done.size(), 3u);
  EXPECT_TRUE(all.not_done.empty());
}

TEST(Wait, AcceptsAnyRangeOfFutures) {
  Future<int> a, b;
  a.set_result(1);
  b.set_result(2);
  const std::list<Future<int>> fs{a, b};
  EXPECT_EQ(futures::wait(fs).done.size(), 2u);
  const std::set<Future<int>> set{a, b, a};  // futures order by identity: a set works too
  EXPECT_EQ(futures::wait(set).done.size(), 2u);
  auto completed = futures::as_completed(set);
  EXPECT_TRUE(*completed.begin() == *set.begin());  // done already: yielded in the set's order
}

TEST(Future, HandlesOrderAndHashByTheirSharedState) {
  Future<int> a, b;
  const Future<int> a2 = a;
  EXPECT_TRUE(a == a2);
  EXPECT_FALSE(a < a2 || a2 < a);
  EXPECT_TRUE(a < b || b < a);
  EXPECT_EQ(std::hash<Future<int>>()(a), std::hash<Future<int>>()(a2));
  std::map<Future<int>, int> m{{a, 1}};
  EXPECT_EQ(m.count(a2), 1u);
  EXPECT_EQ(m.count(b), 0u);
}

TEST(AsCompleted, SupportsTheRangeConcepts) {
  using Range = futures::AsCompleted<int>;
  static_assert(std::ranges::input_range<Range>);
  static_assert(std::input_iterator<Range::iterator>);
  static_assert(std::ranges::input_range<futures::MapResults<int>>);
}

}  // namespace
