// SPDX-License-Identifier: MIT
// connection.hpp: Pipe() and Connection — framing, objects, bytes, poll, EOF, errors, and
// messages across a fork.
#include <concur/multiprocessing/connection.hpp>

#include <gtest/gtest.h>

#include "mp_test_environment.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;

TEST(Connection, ObjectsSentOnOneEndArriveWholeAndInOrderOnTheOther) {
  auto [a, b] = mp::Pipe();
  a.send(std::string("first"));
  a.send(std::map<std::string, int>{{"x", 1}});
  a.send(42);
  EXPECT_EQ(b.recv<std::string>(), "first");
  EXPECT_EQ((b.recv<std::map<std::string, int>>()), (std::map<std::string, int>{{"x", 1}}));
  EXPECT_EQ(b.recv<int>(), 42);
  b.send(std::vector<int>{1, 2});  // duplex: the other way too
  EXPECT_EQ(a.recv<std::vector<int>>(), (std::vector<int>{1, 2}));
}

TEST(Connection, BytesKeepTheirMessageBoundaries) {
  auto [a, b] = mp::Pipe();
  a.send_bytes("hello");
  a.send_bytes("");
  a.send_bytes("0123456789", 2, 3);
  EXPECT_EQ(b.recv_bytes(), "hello");
  EXPECT_EQ(b.recv_bytes(), "");
  EXPECT_EQ(b.recv_bytes(), "234");
  EXPECT_THROW(a.send_bytes("abc", 2, 5), concur::ValueError);
  EXPECT_THROW(a.send_bytes("abc", 4), concur::ValueError);
}

TEST(Connection, RecvBytesIntoReportsTheLengthAndRefusesAShortBuffer) {
  auto [a, b] = mp::Pipe();
  a.send_bytes("abcd");
  std::vector<std::byte> buf(6);
  EXPECT_EQ(b.recv_bytes_into(buf, 2), 4U);
  EXPECT_EQ(static_cast<char>(buf[2]), 'a');
  a.send_bytes("too long for it");
  std::vector<std::byte> small(3);
  EXPECT_THROW(b.recv_bytes_into(small), mp::BufferTooShort);
}

TEST(Connection, RecvBytesLongerThanMaxlengthIsAnOSErrorAndClosesTheConnection) {
  auto [a, b] = mp::Pipe();
  a.send_bytes("0123456789");
  EXPECT_THROW(b.recv_bytes(4), concur::OSError);
  EXPECT_TRUE(b.closed());
}

TEST(Connection, PollSaysWhetherAMessageIsWaitingAndHonoursItsTimeout) {
  auto [a, b] = mp::Pipe();
  EXPECT_FALSE(b.poll());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(b.poll(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  a.send(1);
  EXPECT_TRUE(b.poll());
  EXPECT_TRUE(b.poll(std::nullopt));
  EXPECT_EQ(b.recv<int>(), 1);
}

TEST(Connection, RecvAfterThePeerClosedIsEOFErrorOnceTheQueuedMessagesAreRead) {
  auto [a, b] = mp::Pipe();
  a.send(7);
  a.close();
  EXPECT_TRUE(a.closed());
  EXPECT_TRUE(b.poll());
  EXPECT_EQ(b.recv<int>(), 7);
  EXPECT_THROW(b.recv<int>(), concur::EOFError);
  EXPECT_THROW(b.recv_bytes(), concur::EOFError);
}

TEST(Connection, SendToAClosedPeerIsBrokenPipeError) {
  auto [a, b] = mp::Pipe();
  b.close();
  EXPECT_THROW(a.send(1), concur::BrokenPipeError);
}

TEST(Connection, UsingAClosedOrOneWayEndIsAnOSError) {
  auto [r, w] = mp::Pipe(false);
  EXPECT_TRUE(r.readable());
  EXPECT_FALSE(r.writable());
  EXPECT_FALSE(w.readable());
  EXPECT_TRUE(w.writable());
  EXPECT_THROW(r.send(1), concur::OSError);
  EXPECT_THROW((void)w.recv<int>(), concur::OSError);
  w.send(std::string("one way"));
  EXPECT_EQ(r.recv<std::string>(), "one way");
  r.close();
  EXPECT_THROW((void)r.recv<int>(), concur::OSError);
  EXPECT_THROW((void)r.poll(), concur::OSError);
  EXPECT_THROW((void)r.fileno(), concur::OSError);
}

TEST(Connection, AMessageOfAnotherTypeIsASerializationError) {
  auto [a, b] = mp::Pipe();
  a.send(std::string("text"));
  EXPECT_THROW(b.recv<double>(), mp::SerializationError);
  a.send_bytes("raw");
  EXPECT_THROW(b.recv<int>(), mp::SerializationError);
}

TEST(Connection, LargePayloadsArriveIntactThroughSharedMemory) {
  auto [a, b] = mp::Pipe();
  std::vector<std::uint32_t> big(1 << 20);
  std::iota(big.begin(), big.end(), 0U);
  // Another thread receives so that a payload larger than the socket buffer cannot block.
  std::vector<std::uint32_t> got;
  std::thread reader([&b = b, &got] { got = b.recv<std::vector<std::uint32_t>>(); });
  a.send(big);
  reader.join();
  EXPECT_EQ(got, big);
}

TEST(Connection, MessagesCrossAFork) {
  auto [parent, child] = mp::Pipe();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    parent.close();
    int status = 0;
    try {
      auto v = child.recv<std::vector<double>>();
      child.send(std::accumulate(v.begin(), v.end(), 0.0));
      child.send(std::vector<double>(100'000, 2.0));  // through shared memory
    } catch (...) {
      status = 1;
    }
    ::_exit(status);
  }
  child.close();
  parent.send(std::vector<double>{1.5, 2.5, 3.0});
  EXPECT_DOUBLE_EQ(parent.recv<double>(), 7.0);
  EXPECT_EQ(parent.recv<std::vector<double>>(), std::vector<double>(100'000, 2.0));
  EXPECT_THROW(parent.recv<int>(), concur::EOFError);  // the child exited
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
