// SPDX-License-Identifier: MIT
// concur/timeout.hpp: Python's float-seconds timeouts as a chrono duration.
#include "concur/timeout.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

TEST(Timeout, AnyChronoDurationConvertsImplicitly) {
  concur::Timeout a = 1500ms;
  concur::Timeout b = 2s;
  std::optional<concur::Timeout> c = 250us;
  EXPECT_DOUBLE_EQ(a.count(), 1.5);
  EXPECT_DOUBLE_EQ(b.count(), 2.0);
  EXPECT_DOUBLE_EQ(c->count(), 0.00025);
}

TEST(Timeout, DeadlineIsTheTimeoutFromNow) {
  auto before = clock_type::now();
  auto deadline = concur::detail::deadline_after(10s);
  auto after = clock_type::now();
  EXPECT_GE(deadline, before + 10s);
  EXPECT_LE(deadline, after + 10s);
}

TEST(Timeout, HugeTimeoutSaturatesInsteadOfOverflowing) {
  EXPECT_EQ(concur::detail::deadline_after(concur::Timeout(1e300)), clock_type::time_point::max());
}

TEST(Timeout, ZeroAndNegativeTimeoutsMeanNow) {
  auto before = clock_type::now();
  auto negative = concur::detail::deadline_after(-5s);
  auto zero = concur::detail::deadline_after(0s);
  auto after = clock_type::now();
  EXPECT_GE(negative, before);
  EXPECT_LE(negative, after);
  EXPECT_GE(zero, before);
  EXPECT_LE(zero, after);
}

}  // namespace
