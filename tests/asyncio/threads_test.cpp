// SPDX-License-Identifier: MIT
// to_thread, run_in_executor, wrap_future, run_coroutine_threadsafe, call_soon_threadsafe.
#include "concur/asyncio/threads.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"
#include "concur/futures/thread.hpp"

namespace asyncio = concur::asyncio;
namespace futures = concur::futures;
using namespace std::chrono_literals;
using concur::CancelledError;

namespace {

using ThreadsTest = asyncio::testing_support::AsyncioTest;

TEST_F(ThreadsTest, ToThreadRunsTheFunctionInAnotherThreadWhileTheLoopRuns) {
  std::latch release(1);
  auto main = [&release]() -> asyncio::Task<bool> {
    const auto loop_thread = std::this_thread::get_id();
    auto call = asyncio::create_task(asyncio::to_thread([&release, loop_thread](int x) {
      release.wait();  // blocks until the loop, still running, lets it go
      EXPECT_NE(std::this_thread::get_id(), loop_thread);
      return x * 2;
    }, 21));
    co_await asyncio::sleep(1ms);
    EXPECT_FALSE(call.done());
    release.count_down();
    co_return co_await call == 42;
  };
  EXPECT_TRUE(asyncio::run(main()));
}

TEST_F(ThreadsTest, ExceptionsFromTheThreadReachTheTaskWithTheirType) {
  auto main = []() -> asyncio::Task<std::string> {
    try {
      co_await asyncio::to_thread([] { throw std::domain_error("in thread"); });
    } catch (const std::domain_error& e) {
      co_return e.what();
    }
    co_return "";
  };
  EXPECT_EQ(asyncio::run(main()), "in thread");
}

TEST_F(ThreadsTest, MoveOnlyResultsComeBackFromTheThread) {
  auto main = []() -> asyncio::Task<int> {
    std::unique_ptr<int> p = co_await asyncio::to_thread([] { return std::make_unique<int>(5); });
    co_return *p;
  };
  EXPECT_EQ(asyncio::run(main()), 5);
}

TEST_F(ThreadsTest, RunInExecutorUsesTheGivenExecutor) {
  futures::ThreadPoolExecutor pool({.max_workers = 2});
  auto main = [&]() -> asyncio::Task<int> {
    std::vector<asyncio::Task<int>> calls;
    for (int i = 0; i < 4; ++i) calls.push_back(asyncio::run_in_executor(pool, [](int v) { return v * v; }, i));
    auto squares = co_await asyncio::gather(calls);
    co_return squares[0] + squares[1] + squares[2] + squares[3];
  };
  EXPECT_EQ(asyncio::run(main()), 14);
  pool.shutdown();
}

TEST_F(ThreadsTest, CancellingATaskWaitingForAThreadThrowsCancelledErrorAtOnce) {
  std::latch release(1);  // outlives the worker, which run() joins after main returns
  auto main = [&release]() -> asyncio::Task<void> {
    auto call = asyncio::create_task(asyncio::to_thread([&release] { release.wait(); }));
    co_await asyncio::sleep(1ms);
    call.cancel();
    EXPECT_THROW(co_await call, CancelledError);
    release.count_down();  // the running call ends; run() joins the executor
  };
  asyncio::run(main());
}

TEST_F(ThreadsTest, WrapFutureAwaitsAConcurrentFuture) {
  futures::ThreadPoolExecutor pool({.max_workers = 1});
  auto main = [&]() -> asyncio::Task<int> { co_return co_await asyncio::wrap_future(pool.submit([] { return 11; })); };
  EXPECT_EQ(asyncio::run(main()), 11);
  auto cancelled = []() -> asyncio::Task<bool> {
    futures::Future<int> f;
    f.cancel();
    try {
      co_await asyncio::wrap_future(f);
    } catch (const CancelledError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(asyncio::run(cancelled()));
  pool.shutdown();
}

TEST_F(ThreadsTest, RunCoroutineThreadsafeReturnsAFutureForTheTask) {
  asyncio::EventLoop loop;
  std::thread runner([&] { loop.run_forever(); });
  auto work = [](int x) -> asyncio::Task<int> {
    co_await asyncio::sleep(1ms);
    co_return x + 1;
  };
  futures::Future<int> f = asyncio::run_coroutine_threadsafe(work(41), loop);
  EXPECT_EQ(f.result(5s), 42);
  auto boom = []() -> asyncio::Task<int> {
    co_await asyncio::sleep(0s);
    throw std::length_error("remote");
  };
  futures::Future<int> g = asyncio::run_coroutine_threadsafe(boom(), loop);
  EXPECT_THROW((void)g.result(5s), std::length_error);
  loop.call_soon_threadsafe([&] { loop.stop(); });
  runner.join();
  loop.close();
}

TEST_F(ThreadsTest, CancellingTheFutureOfRunCoroutineThreadsafeCancelsTheTask) {
  asyncio::EventLoop loop;
  std::thread runner([&] { loop.run_forever(); });
  std::atomic<bool> started{false};
  std::atomic<bool> saw_cancel{false};
  auto forever = [](std::atomic<bool>& s, std::atomic<bool>& c) -> asyncio::Task<void> {
    s = true;
    s.notify_all();
    try {
      co_await asyncio::sleep(1000s);
    } catch (const CancelledError&) {
      c = true;
      throw;
    }
  };
  futures::Future<void> f = asyncio::run_coroutine_threadsafe(forever(started, saw_cancel), loop);
  started.wait(false);  // until the task runs
  EXPECT_TRUE(f.cancel());
  // The cancellation reaches the task on the loop thread.
  auto fence = asyncio::run_coroutine_threadsafe([]() -> asyncio::Task<void> {
    co_await asyncio::sleep(1ms);
  }(), loop);
  fence.result(5s);
  EXPECT_TRUE(saw_cancel.load());
  loop.call_soon_threadsafe([&] { loop.stop(); });
  runner.join();
  loop.close();
}

TEST_F(ThreadsTest, CallSoonThreadsafeFromManyThreadsRunsEveryCallback) {
  asyncio::EventLoop loop;
  int count = 0;  // loop thread only
  constexpr int threads = 4, per_thread = 250;
  std::vector<std::thread> posters;
  loop.call_soon([&] {
    for (int t = 0; t < threads; ++t) {
      posters.emplace_back([&] {
        for (int i = 0; i < per_thread; ++i) {
          loop.call_soon_threadsafe([&] {
            if (++count == threads * per_thread) loop.stop();
          });
        }
      });
    }
  });
  loop.run_forever();
  for (auto& t : posters) t.join();
  EXPECT_EQ(count, threads * per_thread);
  loop.close();
}

TEST_F(ThreadsTest, CallSoonThreadsafeOnAClosedLoopRaisesRuntimeError) {
  asyncio::EventLoop loop;
  loop.close();
  auto coro = []() -> asyncio::Task<void> { co_return; };
  EXPECT_THROW(loop.call_soon_threadsafe([] {}), concur::RuntimeError);
  EXPECT_THROW((void)asyncio::run_coroutine_threadsafe(coro(), loop), concur::RuntimeError);
}

}  // namespace
