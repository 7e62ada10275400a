// SPDX-License-Identifier: MIT
// connection.hpp: Pipe() and Connection — framing, objects, bytes, poll, EOF, errors, and
// messages across a fork.
#include <concur/multiprocessing/connection.hpp>

#include <gtest/gtest.h>

#include "memory_test_support.hpp"
#include "mp_test_environment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <chrono>
#include <map>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "../../src/multiprocessing/wire.hpp"  // FrameHeader, send_frame: private to the library

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
  a.send_bytes("");
  EXPECT_EQ(b.recv_bytes_into(std::span<std::byte>()), 0U);  // an empty message into an empty buffer
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

// ---- hostile and corrupt frames: a clear error, never a crash, a hang or an allocation
// sized by what a header declares ----------------------------------------------------------

namespace {

constexpr std::uint64_t gib = std::uint64_t{1} << 30;
constexpr std::uint64_t allowed_growth = std::uint64_t{64} << 20;  // far below any forged size

// Writes a raw frame header (and `body`) on `conn`'s socket, as a hostile peer would.
void write_raw_frame(const mp::Connection& conn, std::uint64_t length, std::string_view body = {},
                     std::uint32_t flags = 0, std::uint32_t magic = mp::detail::frame_magic) {
  mp::detail::FrameHeader h;
  h.magic = magic;
  h.flags = flags;
  h.length = length;
  concur_test::write_all(conn.fileno(), &h, sizeof h);
  if (!body.empty()) concur_test::write_all(conn.fileno(), body.data(), body.size());
}

template <class F>
std::string os_error_of(F&& f) {
  try {
    f();
  } catch (const concur::OSError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no OSError";
  return {};
}

}  // namespace

TEST(Connection, AHostileLengthIsRefusedByMaxlengthFromTheHeaderAloneWithoutGrowingMemory) {
  auto [a, b] = mp::Pipe();
  write_raw_frame(a, gib, "only ten b");  // declares 1 GiB, sends 10 bytes and keeps the socket open
  std::string what;
  const std::uint64_t growth = concur_test::peak_rss_growth([&, &b = b] { what = os_error_of([&] { (void)b.recv_bytes(1024); }); });
  EXPECT_NE(what.find("bad message length"), std::string::npos) << what;
  EXPECT_TRUE(b.closed());  // the body was not read: the stream is out of step, as in Python
  EXPECT_LT(growth, allowed_growth);
}

TEST(Connection, ASixteenGiBLengthCostsOnlyTheBytesThatArrivedAndEOFInsideItIsAnOSError) {
  auto [a, b] = mp::Pipe();
  const std::string body(std::size_t{3} << 20, 'x');  // 3 MiB of the declared 16 GiB, then EOF
  std::thread peer([&a = a, &body] {
    write_raw_frame(a, mp::detail::max_frame_length, body);
    a.close();
  });
  std::string what;
  const std::uint64_t growth = concur_test::peak_rss_growth([&, &b = b] { what = os_error_of([&] { (void)b.recv_bytes(); }); });
  peer.join();
  EXPECT_NE(what.find("end of file during message"), std::string::npos) << what;
  EXPECT_LT(growth, allowed_growth);
  EXPECT_THROW((void)b.recv_bytes(), concur::EOFError);  // and then the end of the stream
}

TEST(Connection, AnObjectMessageWithAHostileLengthIsAnOSErrorNotBadAlloc) {
  auto [a, b] = mp::Pipe();
  std::thread peer([&a = a] {
    write_raw_frame(a, mp::detail::max_frame_length, std::string(100'000, '\0'), mp::detail::frame_object);
    a.close();
  });
  std::uint64_t growth = concur_test::peak_rss_growth([&b = b] { EXPECT_THROW((void)b.recv<std::string>(), concur::OSError); });
  peer.join();
  EXPECT_LT(growth, allowed_growth);
  // Beyond the largest frame at all: refused from the header.
  auto [c, d] = mp::Pipe();
  write_raw_frame(c, mp::detail::max_frame_length + 1);
  growth = concur_test::peak_rss_growth([&, &d = d] {
    const std::string what = os_error_of([&] { (void)d.recv<int>(); });
    EXPECT_NE(what.find("bad message length"), std::string::npos) << what;
  });
  EXPECT_LT(growth, allowed_growth);
}

TEST(Connection, CorruptAndTruncatedFramesAreOSErrors) {
  {
    auto [a, b] = mp::Pipe();
    write_raw_frame(a, 4, "abcd", 0, 0xdeadbeef);  // not a frame header
    const std::string what = os_error_of([&b = b] { (void)b.recv_bytes(); });
    EXPECT_NE(what.find("corrupt message header"), std::string::npos) << what;
  }
  {
    auto [a, b] = mp::Pipe();
    write_raw_frame(a, 0, {}, mp::detail::frame_object | mp::detail::frame_has_blob);  // a blob of 0 bytes
    EXPECT_THROW((void)b.recv<int>(), concur::OSError);
  }
  {
    auto [a, b] = mp::Pipe();
    mp::detail::FrameHeader h;
    h.flags = mp::detail::frame_object | mp::detail::frame_has_blob;
    h.blob_size = 1 << 20;  // but no descriptor travels with it
    concur_test::write_all(a.fileno(), &h, sizeof h);
    const std::string what = os_error_of([&b = b] { (void)b.recv<int>(); });
    EXPECT_NE(what.find("descriptor"), std::string::npos) << what;
  }
  {
    auto [a, b] = mp::Pipe();
    const mp::detail::FrameHeader h;
    concur_test::write_all(a.fileno(), &h, sizeof h / 2);  // half a header, then EOF
    a.close();
    const std::string what = os_error_of([&b = b] { (void)b.recv_bytes(); });
    EXPECT_NE(what.find("end of file during message"), std::string::npos) << what;
  }
  {
    auto [a, b] = mp::Pipe();
    write_raw_frame(a, 100, "short");  // 5 of 100 bytes, then EOF
    a.close();
    EXPECT_THROW((void)b.recv_bytes(), concur::OSError);
  }
}

// The shared-memory path: the blob size a frame declares and the descriptor it carries are
// checked against the file before anything is sized from them.
TEST(Connection, AForgedBlobSizeOrDescriptorIsASerializationErrorWithoutAllocating) {
  const std::uint64_t forged = 2 * gib;
  // A std::string message whose 2 GiB body is "in the blob": fingerprint, blob size, length.
  std::string bytes(mp::detail::payload_header_size, '\0');
  const std::uint64_t header[2] = {mp::detail::type_fingerprint<std::string>(), forged};
  std::memcpy(bytes.data(), header, sizeof header);
  bytes.append(reinterpret_cast<const char*>(&forged), sizeof forged);

  auto send_forged = [&](const mp::Connection& to, int fd) {
    mp::detail::FrameHeader h;
    h.flags = mp::detail::frame_object | mp::detail::frame_has_blob;
    h.blob_size = forged;
    mp::detail::send_frame(to.fileno(), h, bytes, fd);
  };
  auto [a, b] = mp::Pipe();
  const mp::detail::UniqueFd small(::memfd_create("forged", MFD_CLOEXEC));  // 4 KiB, not 2 GiB
  ASSERT_TRUE(small);
  ASSERT_EQ(::ftruncate(small.get(), 4096), 0);
  send_forged(a, small.get());
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);  // a descriptor that is not a file at all
  const mp::detail::UniqueFd pr(fds[0]);
  const mp::detail::UniqueFd pw(fds[1]);
  send_forged(a, pr.get());

  const std::uint64_t growth = concur_test::peak_rss_growth([&b = b] {
    EXPECT_THROW((void)b.recv<std::string>(), mp::SerializationError);
    EXPECT_THROW((void)b.recv<std::string>(), mp::SerializationError);
  });
  EXPECT_LT(growth, allowed_growth);
  a.send(std::string("still in step"));  // each forged message was consumed whole
  EXPECT_EQ(b.recv<std::string>(), "still in step");
}
