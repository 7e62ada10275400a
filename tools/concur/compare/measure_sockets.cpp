// SPDX-License-Identifier: MIT
// tools/concur/compare/measure_sockets.cpp — the I/O-bound rows over real sockets: N units, each
// connecting to an echo peer on 127.0.0.1 and making kExchanges request/response round trips.
//
// The echo peer is a child process (an asyncio server of concur's) that both languages talk to,
// so its cost is the same for both: it runs for the duration of the socket steps (EchoPeer). It
// answers each request after a delay (io_wait / kExchanges, so that a unit waits as long in all
// as a unit of the timer rows), as a service across a network would: over loopback alone an
// exchange takes microseconds of CPU and nothing to wait for, and there would be no I/O-bound
// work to overlap.
// Threads and processes use blocking POSIX sockets, as a C++ programmer using threads would
// (Python's side uses the socket module); asyncio tasks use asyncio::open_connection.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <concur/asyncio.hpp>
#include <concur/multiprocessing.hpp>
#include <concur/threading.hpp>

#include "measure.hpp"

namespace asyncio = concur::asyncio;
namespace mp = concur::multiprocessing;
namespace th = concur::threading;

namespace concur::tool::compare::detail {

namespace {

constexpr Timeout kPatience{10.0};
constexpr std::size_t kMessage = 64;  // bytes of one request (and of its echo)
const mp::ProcessOptions kFork{.start_method = "fork"};

// ---- the echo peer -----------------------------------------------------------------------

double g_echo_delay = 0;  // seconds before each answer; set in the echo peer's process only

asyncio::Task<void> echo_connection(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
  try {
    for (;;) {
      std::string data = co_await reader.read(4096);
      if (data.empty()) break;
      co_await asyncio::sleep(Timeout{g_echo_delay});
      writer.write(data);
      co_await writer.drain();
    }
  } catch (const std::exception&) {
    // A client that resets its connection ends only that connection.
  }
  writer.close();
}

asyncio::Task<void> echo_serve(mp::Connection& conn) {
  asyncio::Server server = co_await asyncio::start_server(echo_connection, "127.0.0.1", 0, {.backlog = 4096});
  conn.send(static_cast<int>(server.port()));
  // Serves until the parent ends this process (EchoPeer's destructor).
  co_await server.serve_forever();
}

void echo_peer_main(mp::Connection conn, double delay) {
  g_echo_delay = delay;
  raise_fd_limit();
  asyncio::run(echo_serve(conn));
}

// ---- one unit, with blocking sockets -----------------------------------------------------

class Socket {
 public:
  Socket() : m_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (m_fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { ::close(m_fd); }
  [[nodiscard]] int fd() const noexcept { return m_fd; }

 private:
  int m_fd;
};

void check(bool ok, const char* what) {
  if (!ok) throw std::system_error(errno, std::generic_category(), what);
}

/// Connects to the echo peer and makes kExchanges round trips of kMessage bytes.
void socket_exchanges(int port) {
  Socket s;
  const int one = 1;
  timeval patience{static_cast<time_t>(kPatience.count()), 0};
  check(::setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0, "setsockopt");
  check(::setsockopt(s.fd(), SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience) == 0, "setsockopt");
  check(::setsockopt(s.fd(), SOL_SOCKET, SO_SNDTIMEO, &patience, sizeof patience) == 0, "setsockopt");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::connect(s.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0, "connect to the echo peer");
  char out[kMessage];
  char in[kMessage];
  std::memset(out, 'x', sizeof out);
  for (int i = 0; i < kExchanges; ++i) {
    check(::send(s.fd(), out, sizeof out, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof out), "send");
    std::size_t got = 0;
    while (got < sizeof in) {
      const ssize_t n = ::recv(s.fd(), in + got, sizeof in - got, 0);
      if (n == 0) throw std::runtime_error("the echo peer closed the connection");
      check(n > 0, "recv from the echo peer");
      got += static_cast<std::size_t>(n);
    }
  }
}

void socket_child(int port) { socket_exchanges(port); }

asyncio::Task<void> task_exchanges(int port) {
  auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", static_cast<std::uint16_t>(port));
  const std::string message(kMessage, 'x');
  for (int i = 0; i < kExchanges; ++i) {
    writer.write(message);
    co_await writer.drain();
    (void)co_await reader.readexactly(kMessage);
  }
  writer.close();
  co_await writer.wait_closed();
}

asyncio::Task<double> task_sockets_run(std::size_t units, int port) {
  const double start = now();
  std::vector<asyncio::Task<void>> tasks;
  tasks.reserve(units);
  for (std::size_t i = 0; i < units; ++i) tasks.push_back(asyncio::create_task(task_exchanges(port)));
  co_await asyncio::wait_for(asyncio::gather(std::move(tasks)), kPatience);
  co_return now() - start;
}

}  // namespace

void raise_fd_limit() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::size_t max_socket_units() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  // Each unit holds one descriptor here and one in the echo peer; leave room for the rest.
  return limit.rlim_cur > 256 ? static_cast<std::size_t>(limit.rlim_cur) - 256 : 0;
}

EchoPeer::EchoPeer(double delay) {
  auto [mine, theirs] = mp::Pipe();
  m_process = std::make_unique<mp::Process>(kFork, echo_peer_main, std::move(theirs), delay);
  m_process->start();
  if (!mine.poll(kPatience)) {
    m_process->kill();
    m_process->join();
    throw std::runtime_error("the echo peer did not start in time");
  }
  m_port = mine.recv<int>();
}

EchoPeer::~EchoPeer() {
  try {
    m_process->kill();
    m_process->join();
  } catch (const std::exception&) {
    // It was never started (the constructor threw before start()).
  }
}

IoPoint thread_sockets(const Context& c, std::size_t units) {
  const auto run = [&](std::size_t n) {
    std::atomic<std::size_t> failures{0};
    std::vector<th::Thread> threads;
    threads.reserve(n);
    const double start = now();
    for (std::size_t i = 0; i < n; ++i) {
      threads.emplace_back([&] {
        try {
          socket_exchanges(c.echo_port);
        } catch (const std::exception&) {
          failures.fetch_add(1, std::memory_order_relaxed);  // read after every join
        }
      });
      threads.back().start();
    }
    for (th::Thread& t : threads) t.join();
    const double took = now() - start;
    if (failures.load() != 0) throw std::runtime_error(std::to_string(failures.load()) + " socket units failed");
    return took;
  };
  return io_point(c, units, run);
}

IoPoint process_sockets(const Context& c, std::size_t units) {
  const auto run = [&](std::size_t n) {
    std::vector<mp::Process> procs;
    procs.reserve(n);
    const double start = now();
    for (std::size_t i = 0; i < n; ++i) {
      procs.emplace_back(kFork, socket_child, c.echo_port);
      procs.back().start();
    }
    bool ok = true;
    for (mp::Process& p : procs) {
      p.join(kPatience);
      if (p.is_alive()) {
        p.kill();
        p.join();
      }
      ok = ok && p.exitcode() == 0;
    }
    const double took = now() - start;
    if (!ok) throw std::runtime_error("a socket child failed");
    return took;
  };
  return io_point(c, units, run);
}

IoPoint task_sockets(const Context& c, std::size_t units) {
  return io_point(c, units, [&](std::size_t n) { return asyncio::run(task_sockets_run(n, c.echo_port)); });
}

}  // namespace concur::tool::compare::detail
