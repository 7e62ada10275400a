// SPDX-License-Identifier: MIT
// Tests of the connections' byte buffer (src/asyncio/byte_buffer.hpp): the bytes come out as
// they went in, whatever the sizes of the appends and consumes, and an emptied buffer holds no
// memory.
#include "../../src/asyncio/byte_buffer.hpp"  // ByteBuffer: private to the library

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

namespace {

using concur::asyncio::detail::ByteBuffer;

TEST(ByteBuffer, HoldsNoMemoryWhenEmpty) {
  ByteBuffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 0u);
  b.append("GET / HTTP/1.1\r\n\r\n", 18);
  EXPECT_EQ(b.view(), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(b.capacity(), ByteBuffer::block_size);
  b.consume(4);
  EXPECT_EQ(b.view(), "/ HTTP/1.1\r\n\r\n");
  b.consume(b.size());
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 0u);
  b.append("x", 0);
  EXPECT_EQ(b.capacity(), 0u);
}

TEST(ByteBuffer, GrowsPastABlockAndKeepsTheOrderOfTheBytes) {
  ByteBuffer b;
  const std::string big(5 * ByteBuffer::block_size + 3, 'b');
  b.append("a", 1);
  b.append(big.data(), big.size());
  b.append("c", 1);
  EXPECT_EQ(b.view(), "a" + big + "c");
  EXPECT_GE(b.capacity(), big.size() + 2);
}

TEST(ByteBuffer, MatchesAStringUnderRandomAppendsAndConsumes) {
  // The model is a std::string; sizes straddle the block size, and consumes leave a few bytes
  // behind often, so that the move-to-front and the grow paths both run.
  std::mt19937 rng(2024);
  ByteBuffer b;
  std::string model;
  std::size_t next = 0;
  std::size_t peak = 0;  // the most bytes held at once since the buffer was last empty
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 2 == 0) {
      const std::size_t n = rng() % 3 == 0 ? rng() % (3 * ByteBuffer::block_size) : rng() % 64;
      std::string bytes(n, '\0');
      for (char& c : bytes) c = static_cast<char>('a' + next++ % 26);
      b.append(bytes.data(), bytes.size());
      model += bytes;
      peak = std::max(peak, model.size());
    } else if (!model.empty()) {
      const std::size_t n = rng() % 4 == 0 ? model.size() : rng() % (model.size() + 1);
      b.consume(n);
      model.erase(0, n);
    }
    ASSERT_EQ(b.view(), model) << step;
    ASSERT_EQ(b.capacity() == 0, model.empty()) << step;
    // The block never grows without bound: a block grows only when what it holds after the
    // append is over half its size, so it stays under four times the most ever held.
    ASSERT_LE(b.capacity(), std::max(ByteBuffer::block_size, 4 * peak)) << step;
    if (model.empty()) peak = 0;
  }
}

}  // namespace
