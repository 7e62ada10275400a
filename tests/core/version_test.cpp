// SPDX-License-Identifier: MIT
// concur/version.hpp: the generated version header agrees with itself and with the build.
#include "concur/version.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

static_assert(concur::version() == CONCUR_VERSION_STRING, "version() is usable at compile time");
static_assert(CONCUR_VERSION == CONCUR_VERSION_MAJOR * 10000 + CONCUR_VERSION_MINOR * 100 + CONCUR_VERSION_PATCH);

TEST(Version, StringIsMajorMinorPatch) {
  const std::string expected = std::to_string(CONCUR_VERSION_MAJOR) + "." + std::to_string(CONCUR_VERSION_MINOR) +
                               "." + std::to_string(CONCUR_VERSION_PATCH);
  EXPECT_EQ(concur::version(), expected);
}

TEST(Version, MatchesTheProjectVersionOfTheBuild) {
  // CONCUR_TEST_PROJECT_VERSION is CMake's PROJECT_VERSION, passed by tests/CMakeLists.txt.
  EXPECT_EQ(concur::version(), CONCUR_TEST_PROJECT_VERSION);
}

}  // namespace
