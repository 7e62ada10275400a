// SPDX-License-Identifier: MIT
// timeout, timeout_at, wait_for.
#include "concur/asyncio/timeouts.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;
using concur::CancelledError;
using concur::TimeoutError;

namespace {

using TimeoutsTest = asyncio::testing_support::AsyncioTest;

asyncio::Task<int> after(std::chrono::milliseconds d, int v) {
  co_await asyncio::sleep(d);
  co_return v;
}

TEST_F(TimeoutsTest, WaitForReturnsTheValueInTime) {
  auto main = []() -> asyncio::Task<int> { co_return co_await asyncio::wait_for(after(1ms, 4), 5s); };
  EXPECT_EQ(asyncio::run(main()), 4);
}

asyncio::Task<std::string> text_after(std::chrono::milliseconds d, std::string v) {
  co_await asyncio::sleep(d);
  co_return v;
}

// A Task<T> is not a block: wait_for/timeout must pick the Task overload, never the callable one.
TEST_F(TimeoutsTest, WaitForOnATaskOfStringReturnsTheStringOrRaisesTimeoutError) {
  auto main = []() -> asyncio::Task<std::string> {
    EXPECT_THROW(co_await asyncio::wait_for(text_after(1000ms * 1000, "late"), 0.05s), TimeoutError);
    auto t = asyncio::create_task(text_after(1ms, "on time"));
    co_return co_await asyncio::wait_for(t, 0.05s * 1000);
  };
  EXPECT_EQ(asyncio::run(main()), "on time");
}

TEST_F(TimeoutsTest, WaitForCancelsAndAwaitsTheInnerBeforeRaisingTimeoutError) {
  auto main = []() -> asyncio::Task<std::string> {
    std::string log;
    auto inner = [](std::string& l) -> asyncio::Task<int> {
      try {
        co_await asyncio::sleep(1000s);
      } catch (const CancelledError&) {
        l += "inner cancelled;";
        throw;
      }
      co_return 0;
    };
    try {
      co_await asyncio::wait_for(inner(log), 10ms);
    } catch (const TimeoutError&) {
      log += "timeout;";
    }
    EXPECT_EQ(asyncio::current_task()->cancelling(), 0U);
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), "inner cancelled;timeout;");
}

TEST_F(TimeoutsTest, WaitForOnATaskCancelsTheTask) {
  auto main = []() -> asyncio::Task<void> {
    auto t = asyncio::create_task(after(1000ms * 1000, 1));
    EXPECT_THROW(co_await asyncio::wait_for(t, 5ms), TimeoutError);
    EXPECT_TRUE(t.cancelled());
  };
  asyncio::run(main());
}

TEST_F(TimeoutsTest, WaitForWithAZeroTimeoutCancelsAtOnceUnlessDone) {
  auto main = []() -> asyncio::Task<void> {
    EXPECT_THROW(co_await asyncio::wait_for(after(1ms, 1), 0s), TimeoutError);
    auto done = asyncio::create_task(after(0ms, 2));
    co_await done;
    EXPECT_EQ(co_await asyncio::wait_for(done, 0s), 2);
  };
  asyncio::run(main());
}

TEST_F(TimeoutsTest, WaitForWithoutATimeoutWaitsForever) {
  auto main = []() -> asyncio::Task<int> { co_return co_await asyncio::wait_for(after(5ms, 8), std::nullopt); };
  EXPECT_EQ(asyncio::run(main()), 8);
}

TEST_F(TimeoutsTest, AnOutsideCancellationIsNotTurnedIntoTimeoutError) {
  auto main = []() -> asyncio::Task<void> {
    auto t = asyncio::create_task(asyncio::wait_for(after(1000ms * 1000, 1), 1000s));
    co_await asyncio::sleep(1ms);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_TRUE(t.cancelled());
  };
  asyncio::run(main());
}

TEST_F(TimeoutsTest, TimeoutBlockRaisesTimeoutErrorAndReportsExpired) {
  auto main = []() -> asyncio::Task<bool> {
    asyncio::TimeoutScope* seen = nullptr;
    bool expired = false;
    try {
      co_await asyncio::timeout(5ms, [&](asyncio::TimeoutScope& cm) -> asyncio::Task<void> {
        seen = &cm;
        EXPECT_TRUE(cm.when().has_value());
        try {
          co_await asyncio::sleep(1000s);
        } catch (const CancelledError&) {
          expired = cm.expired();
          throw;
        }
      });
    } catch (const TimeoutError&) {
      co_return expired && seen != nullptr;
    }
    co_return false;
  };
  EXPECT_TRUE(asyncio::run(main()));
}

TEST_F(TimeoutsTest, TimeoutBlockThatFinishesInTimeReturnsItsValue) {
  auto main = []() -> asyncio::Task<int> {
    co_return co_await asyncio::timeout(5s, [&]() -> asyncio::Task<int> { co_return co_await after(1ms, 6); });
  };
  EXPECT_EQ(asyncio::run(main()), 6);
}

TEST_F(TimeoutsTest, RescheduleMovesTheDeadline) {
  auto main = []() -> asyncio::Task<int> {
    co_return co_await asyncio::timeout(2ms, [&](asyncio::TimeoutScope& cm) -> asyncio::Task<int> {
      cm.reschedule(std::nullopt);  // no deadline any more
      co_return co_await after(20ms, 3);
    });
  };
  EXPECT_EQ(asyncio::run(main()), 3);
}

TEST_F(TimeoutsTest, TimeoutAtInThePastExpiresAtTheNextIteration) {
  auto main = []() -> asyncio::Task<bool> {
    const double past = asyncio::get_running_loop().time() - 1;
    try {
      co_await asyncio::timeout_at(past, [&]() -> asyncio::Task<void> { co_await asyncio::sleep(1000s); });
    } catch (const TimeoutError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(asyncio::run(main()));
}

// Python reschedules a deadline that is already due with call_soon: the block's next
// suspension, even a bare yield, is cancelled, whatever the timers' resolution.
TEST_F(TimeoutsTest, ADeadlineAlreadyDueExpiresBeforeTheBlocksNextStep) {
  auto yields_once = []() -> asyncio::Task<void> { co_await asyncio::sleep(0s); };
  auto main = [&]() -> asyncio::Task<std::string> {
    std::string log;
    auto& loop = asyncio::get_running_loop();
    try {
      co_await asyncio::timeout(0s, yields_once);
      log += "zero finished;";
    } catch (const TimeoutError&) {
      log += "zero;";
    }
    try {
      co_await asyncio::timeout(-11s, yields_once);
      log += "negative finished;";
    } catch (const TimeoutError&) {
      log += "negative;";
    }
    try {
      co_await asyncio::timeout_at(loop.time(), yields_once);
      log += "now finished;";
    } catch (const TimeoutError&) {
      log += "now;";
    }
    try {
      co_await asyncio::timeout_at(loop.time() - 1, yields_once);
      log += "past finished;";
    } catch (const TimeoutError&) {
      log += "past;";
    }
    try {
      co_await asyncio::timeout(1000s, [&](asyncio::TimeoutScope& cm) -> asyncio::Task<void> {
        cm.reschedule(loop.time() - 1);
        co_await asyncio::sleep(0s);
      });
      log += "rescheduled finished;";
    } catch (const TimeoutError&) {
      log += "rescheduled;";
    }
    EXPECT_EQ(asyncio::current_task()->cancelling(), 0U);
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), "zero;negative;now;past;rescheduled;");
}

TEST_F(TimeoutsTest, ABlockThatDoesNotSuspendFinishesUnderADeadlineAlreadyDue) {
  auto main = []() -> asyncio::Task<int> {
    const int v = co_await asyncio::timeout(0s, []() -> asyncio::Task<int> { co_return 7; });
    co_await asyncio::sleep(0s);  // the expiry was withdrawn when the block ended: no cancellation
    co_return v;
  };
  EXPECT_EQ(asyncio::run(main()), 7);
}

TEST_F(TimeoutsTest, WaitForWithANegativeTimeoutCancelsAtOnce) {
  auto main = []() -> asyncio::Task<void> {
    auto yields = []() -> asyncio::Task<int> {
      co_await asyncio::sleep(0s);
      co_return 1;
    };
    EXPECT_THROW(co_await asyncio::wait_for(yields(), -1s), TimeoutError);
  };
  asyncio::run(main());
}

// Python's messages name the state: "Cannot change state of expiring/expired/finished Timeout".
TEST_F(TimeoutsTest, RescheduleAfterTheBlockSaysTheScopeIsFinishedOrExpired) {
  auto main = []() -> asyncio::Task<std::vector<std::string>> {
    std::vector<std::string> messages;
    // The explicit form (enter/exit), whose scope outlives its block.
    asyncio::TimeoutScope scope(std::nullopt);
    scope.enter();
    scope.exit(nullptr);
    EXPECT_EQ(scope.state(), asyncio::TimeoutScope::State::exited);
    try {
      scope.reschedule(1.0);
    } catch (const concur::RuntimeError& e) {
      messages.emplace_back(e.what());
    }
    asyncio::TimeoutScope expired(asyncio::get_running_loop().time());
    expired.enter();
    try {
      co_await asyncio::sleep(1000s);
    } catch (const CancelledError&) {
      try {
        expired.reschedule(1.0);
      } catch (const concur::RuntimeError& e) {
        messages.emplace_back(e.what());
      }
      EXPECT_THROW(expired.exit(std::current_exception()), TimeoutError);
    }
    try {
      expired.reschedule(1.0);
    } catch (const concur::RuntimeError& e) {
      messages.emplace_back(e.what());
    }
    co_return messages;
  };
  EXPECT_EQ(asyncio::run(main()),
            (std::vector<std::string>{"Cannot change state of finished Timeout", "Cannot change state of expiring Timeout",
                                      "Cannot change state of expired Timeout"}));
}

TEST_F(TimeoutsTest, RescheduleOutsideTheBlockIsARuntimeError) {
  asyncio::TimeoutScope scope(1.0);
  EXPECT_THROW(scope.reschedule(2.0), concur::RuntimeError);
  EXPECT_FALSE(scope.expired());
}

TEST_F(TimeoutsTest, NestedTimeoutsRaiseOnlyInTheOneThatExpired) {
  auto main = []() -> asyncio::Task<std::string> {
    std::string log;
    try {
      co_await asyncio::timeout(1000s, [&]() -> asyncio::Task<void> {
        try {
          co_await asyncio::timeout(5ms, [&]() -> asyncio::Task<void> { co_await asyncio::sleep(1000s); });
        } catch (const TimeoutError&) {
          log += "inner;";
        }
        co_await asyncio::sleep(1ms);
        log += "outer continued;";
      });
    } catch (const TimeoutError&) {
      log += "outer;";
    }
    co_return log;
  };
  EXPECT_EQ(asyncio::run(main()), "inner;outer continued;");
}

}  // namespace
