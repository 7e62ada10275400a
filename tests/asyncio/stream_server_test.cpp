// SPDX-License-Identifier: MIT
// Tests of start_server()'s accepting (concur/asyncio/streams.hpp, src/asyncio/stream_server.cpp)
// when the process runs out of file descriptors: the failure is reported to the loop's
// exception handler at most once a second, the server neither spins nor stops for good, and it
// serves the waiting clients once descriptors come back. Real sockets on 127.0.0.1.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "asyncio_test_support.hpp"
#include "concur/asyncio.hpp"
#include "concur/asyncio/streams.hpp"

namespace asyncio = concur::asyncio;
using namespace std::chrono_literals;
using asyncio::StreamReader;
using asyncio::StreamWriter;
using asyncio::Task;

namespace {

class StreamServer : public asyncio::testing_support::AsyncioTest {};

Task<bool> wait_for_event(asyncio::Event& e) { co_return co_await e.wait(); }

// ASSERT_* return from the function: in a coroutine, co_return instead.
#define CO_ASSERT(condition)                              \
  do {                                                    \
    if (!(condition)) {                                   \
      ADD_FAILURE() << "assertion failed: " #condition;  \
      co_return;                                          \
    }                                                     \
  } while (false)

/// The CPU time (user + system) this process has used, in seconds.
double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

/// Takes every free file descriptor of the process: lowers the soft RLIMIT_NOFILE to a little
/// above the highest descriptor open now and opens /dev/null until open() fails with EMFILE.
/// release_one() frees one (the next socket() gets it); the destructor frees them all and
/// restores the limit.
class DescriptorHog {
 public:
  DescriptorHog() {
    ::getrlimit(RLIMIT_NOFILE, &m_saved);
    int highest = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      highest = std::max(highest, std::stoi(entry.path().filename().string()));
    }
    rlimit lowered = m_saved;
    lowered.rlim_cur = static_cast<rlim_t>(highest + 16);
    if (::setrlimit(RLIMIT_NOFILE, &lowered) != 0) throw std::system_error(errno, std::generic_category(), "setrlimit");
    for (;;) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (errno != EMFILE) throw std::system_error(errno, std::generic_category(), "open");
        break;
      }
      m_fds.push_back(fd);
    }
  }
  ~DescriptorHog() { release_all(); }
  DescriptorHog(const DescriptorHog&) = delete;
  DescriptorHog& operator=(const DescriptorHog&) = delete;

  void release_one() {
    if (m_fds.empty()) throw std::runtime_error("no descriptor left to release");
    ::close(m_fds.back());
    m_fds.pop_back();
  }
  void release_all() {
    for (int fd : m_fds) ::close(fd);
    m_fds.clear();
    if (m_saved.rlim_cur != 0) ::setrlimit(RLIMIT_NOFILE, &m_saved);
  }
  [[nodiscard]] std::size_t held() const noexcept { return m_fds.size(); }

 private:
  rlimit m_saved{};
  std::vector<int> m_fds;
};

/// A connection to 127.0.0.1:`port` from a plain non-blocking socket (the handshake completes
/// in the kernel: the server's listen backlog holds it until the server accepts).
int raw_connect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// UBSan's vptr check makes a pipe to test that a vtable is readable, and takes a failure to
// make one (every descriptor is taken here, on purpose) for an invalid object: a false report.
// The tests that run the process out of descriptors run in the other builds.
#if defined(CONCUR_SANITIZE_UNDEFINED)
#define SKIP_WITHOUT_DESCRIPTORS_UNDER_UBSAN() \
  GTEST_SKIP() << "UBSan's vptr check needs free descriptors (it makes a pipe)"
#else
#define SKIP_WITHOUT_DESCRIPTORS_UNDER_UBSAN() static_cast<void>(0)
#endif

struct AcceptReport {
  double when;          // loop time
  std::string message;
  int error;            // the errno of the exception, 0 if none
};

TEST_F(StreamServer, OutOfDescriptorsIsReportedAtMostOnceASecondWithoutSpinningAndServingResumesWhenTheyComeBack) {
  SKIP_WITHOUT_DESCRIPTORS_UNDER_UBSAN();
  std::vector<AcceptReport> accept_reports;
  std::vector<std::string> other_reports;
  // Declared out here so that they outlive the loop: when a check fails, the loop closes with
  // handlers still waiting on them.
  asyncio::Event report_arrived, first_accepted, close_first, served, release_clients;
  int accepted = 0;
  std::vector<double> served_at;  // loop time at which each client after the first was served
  asyncio::RunnerOptions options{.exception_handler = [&](asyncio::EventLoop& loop, const asyncio::ExceptionContext& c) {
    if (c.message.rfind("socket.accept()", 0) != 0) {
      other_reports.push_back(c.message);
      return;
    }
    int error = 0;
    try {
      if (c.exception) std::rethrow_exception(c.exception);
    } catch (const std::system_error& e) {
      error = e.code().value();
    } catch (...) {
    }
    accept_reports.push_back({loop.time(), c.message, error});
    report_arrived.set();
  }};
  asyncio::run(
      [&]() -> Task<void> {
        asyncio::EventLoop& loop = asyncio::get_running_loop();
        asyncio::Server server = co_await asyncio::start_server(
            [&](StreamReader, StreamWriter writer) -> Task<void> {
              if (++accepted == 1) {  // held open until the test lets its descriptor go
                first_accepted.set();
                co_await close_first.wait();
                writer.close();
                co_return;
              }
              served_at.push_back(asyncio::get_running_loop().time());
              served.set();
              writer.write("hello\n");
              co_await release_clients.wait();  // each holds its descriptor until then
              writer.close();
            },
            "127.0.0.1", 0);
        const std::uint16_t port = server.port();
        auto [first_reader, first_writer] = co_await asyncio::open_connection("127.0.0.1", port);
        co_await asyncio::wait_for(wait_for_event(first_accepted), 30s);  // the server holds it

        std::vector<int> clients;
        {
          DescriptorHog hog;
          CO_ASSERT(hog.held() > 2u);
          // Two clients wait in the backlog; the server cannot accept them: no descriptor left.
          for (int i = 0; i < 2; ++i) {
            hog.release_one();
            const int fd = raw_connect(port);
            CO_ASSERT(fd >= 0);
            clients.push_back(fd);
          }
          const double cpu_before = cpu_seconds();
          const double wall_before = loop.time();
          co_await asyncio::wait_for(wait_for_event(report_arrived), 30s);
          CO_ASSERT(accept_reports.size() == 1u);
          EXPECT_EQ(accept_reports[0].message, "socket.accept() out of system resource");
          EXPECT_EQ(accept_reports[0].error, EMFILE);
          EXPECT_EQ(accepted, 1);
          const double first_report = accept_reports[0].when;

          // The first connection closes: its descriptor comes back and the server tries again
          // at once. One client gets it (and keeps it); accepting the other fails again. That failure is
          // counted, and reported only once a second has passed since the first report.
          report_arrived.clear();
          close_first.set();
          co_await asyncio::wait_for(wait_for_event(served), 30s);
          EXPECT_EQ(accepted, 2);
          served.clear();
          CO_ASSERT(served_at.size() == 1u);
          // (The second failure happened before the client above was served.)
          const bool second_failure_was_within_a_second = served_at[0] - first_report < 1.0;
          co_await asyncio::wait_for(wait_for_event(report_arrived), 30s);
          CO_ASSERT(accept_reports.size() == 2u);
          EXPECT_GE(accept_reports[1].when - first_report, 1.0 - 1e-6) << "reports must be a second apart";
          EXPECT_EQ(accept_reports[1].error, EMFILE);
          if (second_failure_was_within_a_second) {
            EXPECT_EQ(accept_reports[1].message, "socket.accept() out of system resource (1 more since the last report)");
          }
          // Paused between attempts, not spinning: the process was mostly idle meanwhile.
          const double cpu = cpu_seconds() - cpu_before;
          const double wall = loop.time() - wall_before;
          EXPECT_LT(cpu, 0.5 * wall) << "accepting spun: " << cpu << " s of CPU in " << wall << " s";
          EXPECT_EQ(accepted, 2);
        }  // every descriptor comes back
        release_clients.set();

        // The waiting client is served at the next attempt (within a second), and so is a new one.
        co_await asyncio::wait_for(wait_for_event(served), 30s);
        EXPECT_EQ(accepted, 3);
        auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
        EXPECT_EQ(co_await asyncio::wait_for(reader.readline(), 30s), "hello\n");
        EXPECT_EQ(accepted, 4);
        writer.close();
        first_writer.close();
        for (int fd : clients) ::close(fd);
        server.close();
        co_await server.wait_closed();
        EXPECT_TRUE(server.sockets().empty());
      }(),
      std::move(options));
  EXPECT_TRUE(other_reports.empty()) << other_reports.front();
}

TEST_F(StreamServer, AServerClosedWhileAcceptingIsPausedLeavesNoTimerOrHandleBehind) {
  SKIP_WITHOUT_DESCRIPTORS_UNDER_UBSAN();
  int reports = 0;
  asyncio::Event reported;  // outlives the loop
  asyncio::RunnerOptions options{.exception_handler = [&](asyncio::EventLoop&, const asyncio::ExceptionContext& c) {
    if (c.message.rfind("socket.accept()", 0) == 0) ++reports;
    reported.set();
  }};
  asyncio::run(
      [&]() -> Task<void> {
        asyncio::Server server = co_await asyncio::start_server(
            [](StreamReader, StreamWriter writer) -> Task<void> {
              writer.close();
              co_return;
            },
            "127.0.0.1", 0);
        int client = -1;
        {
          DescriptorHog hog;
          hog.release_one();
          client = raw_connect(server.port());
          CO_ASSERT(client >= 0);
          co_await asyncio::wait_for(wait_for_event(reported), 30s);
          server.close();  // the retry timer goes with it
        }
        co_await server.wait_closed();
        ::close(client);
      }(),
      std::move(options));
  EXPECT_EQ(reports, 1);
}

TEST_F(StreamServer, AUnixSocketPathTooLongForSunPathIsAnErrorNotATruncation) {
  asyncio::run([]() -> Task<void> {
    const std::string path = "/tmp/" + std::string(200, 'x') + ".sock";
    try {
      co_await asyncio::start_unix_server([](StreamReader, StreamWriter) -> Task<void> { co_return; }, path);
      ADD_FAILURE() << "a path longer than sun_path must be refused";
    } catch (const concur::OSError& e) {
      EXPECT_EQ(e.code().value(), ENAMETOOLONG);
    }
  }());
}

}  // namespace
