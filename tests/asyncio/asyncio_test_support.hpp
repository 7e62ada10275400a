// SPDX-License-Identifier: MIT
// Shared by the asyncio tests: a fixture proving that every test leaves its loops closed with
// no live libuv handle, no task frame alive and no task destroyed while pending, and a sink
// that captures what loops report.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "concur/asyncio.hpp"

namespace concur::asyncio::testing_support {

// libuv opens a process-wide pipe (its signal lock) the first time a loop is created and keeps
// it until exit. Creating one loop before any test keeps the leak check from counting it. It is
// done by a test environment, not at static initialisation, so that a binary that also starts
// the fork server (tests/multiprocessing/mp_test_environment.hpp, included first) starts it
// before libuv exists: libuv re-creates that pipe in every forked child (pthread_atfork),
// closing whatever the fork server's children hold under the inherited descriptor numbers.
class LibuvWarmUp : public ::testing::Environment {
 public:
  void SetUp() override {
    EventLoop loop;
    loop.close();
  }
};
inline ::testing::Environment* const g_libuv_warm_up = ::testing::AddGlobalTestEnvironment(new LibuvWarmUp);

class AsyncioTest : public ::testing::Test {
 protected:
  void SetUp() override { m_before = detail::loop_stats(); }
  void TearDown() override {
    const detail::LoopStats after = detail::loop_stats();
    EXPECT_EQ(after.open_loops, 0) << "an event loop was left open";
    EXPECT_EQ(after.unclean_closes, m_before.unclean_closes) << "a loop closed with a live libuv handle";
    EXPECT_EQ(after.live_frames, 0) << "a task or coroutine frame is still alive";
    EXPECT_EQ(after.destroyed_pending - m_before.destroyed_pending, m_expected_destroyed_pending)
        << "tasks destroyed while pending";
  }
  /// RunnerOptions whose exception handler records every report in `reports`.
  RunnerOptions capturing() {
    return {.exception_handler = [this](EventLoop&, const ExceptionContext& c) {
      reports.push_back(c.message + (c.task_name.empty() ? "" : " [" + c.task_name + "]"));
    }};
  }
  std::vector<std::string> reports;
  std::int64_t m_expected_destroyed_pending = 0;

 private:
  detail::LoopStats m_before;
};

}  // namespace concur::asyncio::testing_support
