// SPDX-License-Identifier: MIT
// bench/http/epoll_server.cpp — the practical ceiling: a raw single-threaded epoll HTTP/1.1
// keep-alive hello-world server, written the way a C programmer would (level-triggered epoll,
// non-blocking sockets, one read buffer per connection, every complete request in a read
// answered with one write). It does no real HTTP parsing: it counts the "\r\n\r\n" that end
// the requests, which is all a keep-alive GET benchmark needs. Nothing else can be faster on
// one core; concur's http_server is measured against it.
//
//   epoll_server [--port N] [--host 127.0.0.1]      prints "listening on PORT" when ready
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view k_response =
    "HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

struct Conn {
  std::string in;   // bytes of an incomplete request
  std::string out;  // responses the socket did not take yet
  bool open = false;
};

volatile sig_atomic_t g_stop = 0;

void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 8080;
  const char* host = "127.0.0.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--host") == 0) host = argv[i + 1];
  }
  raise_fd_limit();
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = [](int) { g_stop = 1; };
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host, &addr.sin_addr);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 4096) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening on %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::vector<Conn> conns(1024);
  std::vector<epoll_event> events(512);
  char buf[65536];

  auto close_conn = [&](int fd) {
    ::close(fd);
    conns[fd] = Conn{};
  };
  while (g_stop == 0) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (static_cast<size_t>(cfd) >= conns.size()) conns.resize(static_cast<size_t>(cfd) * 2);
          conns[cfd].open = true;
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = cfd;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
        }
        continue;
      }
      Conn& c = conns[fd];
      if (events[i].events & EPOLLOUT) {
        ssize_t w = ::write(fd, c.out.data(), c.out.size());
        if (w < 0 && errno != EAGAIN) { close_conn(fd); continue; }
        if (w > 0) c.out.erase(0, static_cast<size_t>(w));
        if (c.out.empty()) {
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = fd;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
        }
        continue;
      }
      ssize_t r = ::read(fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        close_conn(fd);
        continue;
      }
      // Count complete requests (a request ends with an empty line; GETs have no body).
      std::string_view data(buf, static_cast<size_t>(r));
      if (!c.in.empty()) {
        c.in.append(data);
        data = c.in;
      }
      size_t complete = 0, pos = 0, end = 0;
      while ((pos = data.find("\r\n\r\n", pos)) != std::string_view::npos) {
        ++complete;
        pos += 4;
        end = pos;
      }
      std::string rest(data.substr(end));
      c.in = std::move(rest);
      if (complete == 0) continue;
      std::string reply;
      reply.reserve(complete * k_response.size());
      for (size_t k = 0; k < complete; ++k) reply.append(k_response);
      if (!c.out.empty()) { c.out.append(reply); continue; }
      ssize_t w = ::write(fd, reply.data(), reply.size());
      if (w < 0 && errno != EAGAIN) { close_conn(fd); continue; }
      size_t sent = w < 0 ? 0 : static_cast<size_t>(w);
      if (sent < reply.size()) {
        c.out = reply.substr(sent);
        epoll_event cev{};
        cev.events = EPOLLOUT;
        cev.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
      }
    }
  }
  ::close(ep);
  ::close(lfd);
  return 0;
}
