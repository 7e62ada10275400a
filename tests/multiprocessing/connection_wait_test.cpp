// SPDX-License-Identifier: MIT
// connection_wait.hpp: connection::wait over Connections, processes and plain descriptors —
// what is ready is returned, a timeout returns nothing, a dead worker is noticed, misuse is an
// error.
#include <concur/multiprocessing/connection_wait.hpp>

#include <concur/multiprocessing/context.hpp>

#include <gtest/gtest.h>

#include "mp_test_environment.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace mp = concur::multiprocessing;
namespace connection = concur::multiprocessing::connection;
using connection::Waitable;
using namespace std::chrono_literals;

namespace {

void send_and_return(mp::Connection out, int value) { out.send(value); }
void die_silently(mp::Connection) {
  ::signal(SIGKILL, SIG_DFL);
  ::raise(SIGKILL);
}

bool contains(const std::vector<Waitable>& ready, const Waitable& w) {
  return std::find(ready.begin(), ready.end(), w) != ready.end();
}

// A plain pipe(2), closed on destruction.
struct RawPipe {
  int fds[2] = {-1, -1};
  RawPipe() { EXPECT_EQ(::pipe(fds), 0); }
  ~RawPipe() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
};

class ConnectionWaitWithProcesses : public testing::TestWithParam<std::string> {};

TEST(ConnectionWait, NothingReadyReturnsNothingAfterTheTimeout) {
  auto [a, b] = mp::Pipe();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(connection::wait({a, b}, 50ms).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_TRUE(connection::wait({a, b}, 0s).empty());  // a zero timeout only looks
  EXPECT_TRUE(connection::wait({a, b}, -1s).empty());
}

TEST(ConnectionWait, ReturnsTheConnectionsWithAMessageInTheOrderGiven) {
  auto [a1, b1] = mp::Pipe();
  auto [a2, b2] = mp::Pipe();
  auto [a3, b3] = mp::Pipe();
  a3.send(3);
  a1.send(1);
  const auto ready = connection::wait({b1, b2, b3});
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].connection(), &b1);
  EXPECT_EQ(ready[1].connection(), &b3);
  EXPECT_EQ(ready[0].connection()->recv<int>(), 1);
  EXPECT_EQ(ready[1].connection()->recv<int>(), 3);
  EXPECT_TRUE(connection::wait({b1, b2, b3}, 0s).empty());
}

TEST(ConnectionWait, AClosedPeerMakesAConnectionReadyForItsEOF) {
  auto [a, b] = mp::Pipe();
  a.close();
  const auto ready = connection::wait({b}, 30s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_THROW((void)ready[0].connection()->recv<int>(), concur::EOFError);
}

TEST(ConnectionWait, AcceptsAnyRangeOfConnectionsOrDescriptors) {
  std::vector<mp::Connection> readers;
  std::vector<mp::Connection> writers;
  for (int i = 0; i < 4; ++i) {
    auto [r, w] = mp::Pipe(false);
    readers.push_back(std::move(r));
    writers.push_back(std::move(w));
  }
  writers[2].send(std::string("two"));
  auto ready = connection::wait(readers, 30s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].connection(), &readers[2]);
  EXPECT_EQ(readers[2].recv<std::string>(), "two");

  RawPipe p1, p2;
  ASSERT_EQ(::write(p2.fds[1], "x", 1), 1);
  const std::vector<int> fds{p1.fds[0], p2.fds[0]};
  ready = connection::wait(fds, 30s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_TRUE(ready[0] == p2.fds[0]);
  EXPECT_EQ(ready[0].connection(), nullptr);
  EXPECT_EQ(ready[0].fileno(), p2.fds[0]);
}

TEST_P(ConnectionWaitWithProcesses, AMixOfConnectionProcessAndDescriptor) {
  auto [r, w] = mp::Pipe(false);
  RawPipe raw;
  mp::Process p = mp::get_context(GetParam()).Process(send_and_return, std::move(w), 7);
  p.start();
  bool got_message = false;
  bool saw_end = false;
  while (!got_message || !saw_end) {
    const auto ready = connection::wait({r, p, raw.fds[0]}, 30s);
    ASSERT_FALSE(ready.empty()) << "nothing happened within 30 s";
    EXPECT_FALSE(contains(ready, raw.fds[0]));
    if (contains(ready, r) && !got_message) {
      EXPECT_EQ(r.recv<int>(), 7);
      got_message = true;
    }
    if (contains(ready, p)) {
      EXPECT_TRUE(contains(ready, p.sentinel()));  // Python's way: the sentinel descriptor
      saw_end = true;
    }
    if (saw_end && !got_message) {
      ASSERT_TRUE(r.poll(30s)) << "the process ended without its message";
    }
  }
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  ASSERT_EQ(::write(raw.fds[1], "x", 1), 1);
  // An ended process is ready (for good: under forkserver, once the server has closed the
  // status pipe, a moment after it reported the exit that join() read).
  std::vector<Waitable> ready;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  do {
    ready = connection::wait({raw.fds[0], p}, 30s);
  } while (ready.size() < 2 && std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_TRUE(ready[0] == raw.fds[0]);
  EXPECT_TRUE(ready[1] == p);
}

// The standard way to notice a dead worker: wait on its connection and its process together.
TEST_P(ConnectionWaitWithProcesses, AWorkerThatDiesWithoutAnsweringIsNoticed) {
  auto [r, w] = mp::Pipe(false);
  mp::Process p = mp::get_context(GetParam()).Process(die_silently, std::move(w));
  p.start();
  std::vector<Waitable> ready;
  while (!contains(ready, p)) {
    ready = connection::wait({r, p}, 30s);
    ASSERT_FALSE(ready.empty()) << "the worker's death went unnoticed for 30 s";
  }
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, ConnectionWaitWithProcesses, testing::Values("fork", "forkserver"));

TEST(ConnectionWait, MisuseIsAClearError) {
  auto [a, b] = mp::Pipe();
  a.close();
  EXPECT_THROW(connection::wait({a}, 0s), concur::OSError);  // closed
  auto [r, w] = mp::Pipe(false);
  EXPECT_THROW(connection::wait({w}, 0s), concur::OSError);  // write-only
  EXPECT_THROW(connection::wait({-1}, 0s), concur::ValueError);
  // A descriptor number far above the ones in use, open a moment ago and closed now.
  int closed_fd = -1;
  {
    RawPipe p;
    closed_fd = ::fcntl(p.fds[0], F_DUPFD_CLOEXEC, 900);
    ASSERT_GE(closed_fd, 900);
    ::close(closed_fd);
  }
  try {
    (void)connection::wait({b, closed_fd}, 0s);
    ADD_FAILURE() << "a closed descriptor was accepted";
  } catch (const concur::OSError& e) {
    EXPECT_EQ(e.errno_value(), EBADF);
  }
  mp::Process never_started(send_and_return, std::move(w), 1);
  EXPECT_THROW(Waitable{never_started}, concur::ValueError);
}

}  // namespace
