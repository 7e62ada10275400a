// SPDX-License-Identifier: MIT
// pool.hpp: task functions that take views (std::span, std::string_view) of their arguments,
// read where the arguments arrived; and a map's chunks going to the workers while the calling
// thread still encodes the rest — with close(), terminate() or a failing encoding in between.
#include <concur/multiprocessing/pool.hpp>

#include <gtest/gtest.h>

#include "mp_test_environment.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace mp = concur::multiprocessing;

namespace pool_views_test {

double sum_view(std::span<const double> v) { return std::accumulate(v.begin(), v.end(), 0.0); }
double weighted(std::span<const double> v, double w) { return w * sum_view(v); }
double after_a_char(char c, std::span<const double> v) { return c + sum_view(v); }
std::size_t count_x(std::string_view s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), 'x')); }

/// The name of the mapping of this process that holds `p` (/proc/self/maps), or "".
std::string mapping_of(const void* p) {
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::uintptr_t lo = 0;
    std::uintptr_t hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) != 2 || at < lo || at >= hi) continue;
    std::istringstream fields(line);
    std::string skip;
    for (int i = 0; i < 5; ++i) fields >> skip;  // range, perms, offset, device, inode
    std::string name;
    std::getline(fields >> std::ws, name);
    return name;
  }
  return "";
}
std::string where_the_view_is(std::span<const std::uint8_t> v) { return mapping_of(v.data()); }

std::vector<double> ramp(std::size_t n, double start) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = start + static_cast<double>(i % 1000) * 0.25;
  return v;
}

// ---- encodings that act in the calling thread while a map is being submitted ----

mp::Pool* g_pool = nullptr;  // the pool the items below act on
enum class Act { nothing, close, terminate, fail };

/// An argument of ~300 KB (so that each chunk of one goes to the pool on its own); encoding
/// the one with `act` set does it.
struct Item {
  int value = 0;
  Act act = Act::nothing;
  std::vector<std::uint8_t> padding = std::vector<std::uint8_t>(300000, 1);
  template <class Archive>
  void save(Archive& ar) const {
    if (act == Act::close) g_pool->close();
    if (act == Act::terminate) g_pool->terminate();
    if (act == Act::fail) throw std::runtime_error("item " + std::to_string(value) + " cannot be encoded");
    ar(value, padding);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(value, padding);
  }
};
int value_of(const Item& item) { return item.value + static_cast<int>(item.padding.size() / 300000); }

std::vector<Item> items(int n, int acting_at, Act act) {
  std::vector<Item> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)].value = i;
  v[static_cast<std::size_t>(acting_at)].act = act;
  return v;
}

TEST(PoolViews, SpanAndStringViewParametersGetTheArgumentsBytes) {
  mp::Pool pool({.processes = 2, .start_method = "forkserver"});
  // Empty, inline (small) and shared-memory (large) blocks, alone and several in a chunk.
  std::vector<std::vector<double>> vectors;
  for (std::size_t n : {0, 1, 10, 5000, 200000, 131072, 3}) vectors.push_back(ramp(n, static_cast<double>(n)));
  std::vector<double> expected;
  for (const auto& v : vectors) expected.push_back(std::accumulate(v.begin(), v.end(), 0.0));
  EXPECT_EQ(pool.map(sum_view, vectors, 1), expected);
  EXPECT_EQ(pool.map(sum_view, vectors, 3), expected);
  std::vector<std::tuple<std::vector<double>, double>> pairs;
  for (const auto& v : vectors) pairs.emplace_back(v, 2.0);
  const auto doubled = pool.starmap(weighted, pairs, 2);
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_DOUBLE_EQ(doubled[i], 2.0 * expected[i]);
  const std::vector<std::string> strings{"", "x", std::string(100, 'x') + "y", std::string(400000, 'x')};
  EXPECT_EQ(pool.map(count_x, strings, 1), (std::vector<std::size_t>{0, 1, 100, 400000}));
  EXPECT_EQ(pool.apply(count_x, std::string(70000, 'x')), 70000U);
  pool.close();
  pool.join();
}

TEST(PoolViews, AViewOfALargeBlockIsTheSharedMemoryItself) {
  mp::Pool pool({.processes = 1, .start_method = "forkserver"});
  const std::vector<std::vector<std::uint8_t>> blocks(3, std::vector<std::uint8_t>(1 << 20, 7));
  for (const auto& where : pool.map(where_the_view_is, blocks, 1)) EXPECT_NE(where.find("memfd:concur-blob"), std::string::npos) << where;
  pool.close();
  pool.join();
}

TEST(PoolViews, AMisalignedBlockIsCopiedForTheFunctionInstead) {
  mp::Pool pool({.processes = 1, .start_method = "forkserver"});
  // A char before a small vector of doubles puts its elements at an odd offset of the message.
  std::vector<std::tuple<char, std::vector<double>>> args;
  std::vector<double> expected;
  for (std::size_t n : {1, 7, 100}) {
    args.emplace_back('a', ramp(n, 1.5));
    expected.push_back('a' + sum_view(std::get<1>(args.back())));
  }
  EXPECT_EQ(pool.starmap(after_a_char, args, 1), expected);
  EXPECT_EQ(pool.starmap(after_a_char, args, 3), expected);
  pool.close();
  pool.join();
}

TEST(PoolViews, AMapStillBeingEncodedWhenThePoolClosesRunsToTheEnd) {
  mp::Pool pool({.processes = 2, .start_method = "forkserver"});
  g_pool = &pool;
  const auto results = pool.map(value_of, items(12, 5, Act::close), 1);
  ASSERT_EQ(results.size(), 12U);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)], i + 1);
  EXPECT_THROW(pool.map(value_of, items(2, 0, Act::nothing)), concur::ValueError);
  pool.join();  // returns once every part of the map ran
}

TEST(PoolViews, TerminatingWhileAMapIsEncodedFailsItInsteadOfHanging) {
  mp::Pool pool({.processes = 2, .start_method = "forkserver"});
  g_pool = &pool;
  EXPECT_THROW(pool.map(value_of, items(12, 5, Act::terminate), 1), concur::ProcessError);
  pool.join();
}

TEST(PoolViews, AnEncodingFailureReachesTheCallerAndThePoolGoesOn) {
  mp::Pool pool({.processes = 2, .start_method = "forkserver"});
  g_pool = &pool;
  try {
    (void)pool.map(value_of, items(12, 6, Act::fail), 1);
    ADD_FAILURE() << "the map did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "item 6 cannot be encoded");
  }
  EXPECT_THROW((void)pool.imap(value_of, items(8, 3, Act::fail)), std::runtime_error);
  // What went out before each failure ran; the pool serves the next map and closes.
  EXPECT_EQ(pool.map(value_of, items(4, 0, Act::nothing), 1), (std::vector<int>{1, 2, 3, 4}));
  pool.close();
  pool.join();
}

}  // namespace pool_views_test
