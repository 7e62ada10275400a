// SPDX-License-Identifier: MIT
// bench/tls/tls_ceiling.cpp — the ceiling of run.sh's bulk workload: the same TLS connection
// (OpenSSL, the same certificates, the name verified) on 127.0.0.1 with nothing around it —
// one thread, no event loop, no buffer of its own: the client calls SSL_write with 64 KiB
// blocks until its non-blocking socket is full, then the server calls SSL_read until nothing
// is left, in turn. What remains is OpenSSL's cryptography and record layer and the kernel's
// loopback TCP: no implementation with the same cipher on the same core can move more.
//
//   bench_tls_ceiling --mode bulk --seconds S --dir CERTDIR      prints MiB/s
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "bench_tls_ceiling: %s\n", what);
  ERR_print_errors_fp(stderr);
  std::exit(1);
}

void nonblocking(int fd) {
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
}

// A connected pair of TCP sockets on 127.0.0.1: {client, server}.
std::pair<int, int> tcp_pair() {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(listener, 1) < 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) < 0)
    die("listen on 127.0.0.1");
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  if (client < 0 || ::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) die("connect");
  const int server = ::accept(listener, nullptr, nullptr);
  if (server < 0) die("accept");
  ::close(listener);
  nonblocking(client);
  nonblocking(server);
  return {client, server};
}

// Whether an SSL call that returned `rc` may simply be retried once the peer moved.
bool retry(SSL* ssl, int rc) {
  const int e = SSL_get_error(ssl, rc);
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode;
  std::string dir = ".";
  double seconds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--mode") mode = argv[i + 1];
    if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    if (flag == "--dir") dir = argv[i + 1];
  }
  if (mode != "bulk" || seconds <= 0) {
    std::fprintf(stderr, "usage: bench_tls_ceiling --mode bulk [--seconds S] [--dir CERTDIR]\n");
    return 2;
  }
  SSL_CTX* sctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  if (sctx == nullptr || cctx == nullptr) die("SSL_CTX_new");
  if (SSL_CTX_use_certificate_chain_file(sctx, (dir + "/server.pem").c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(sctx, (dir + "/server.key").c_str(), SSL_FILETYPE_PEM) != 1)
    die("loading the server certificate");
  if (SSL_CTX_load_verify_locations(cctx, (dir + "/ca.pem").c_str(), nullptr) != 1) die("loading the CA");
  SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, nullptr);

  const auto [cfd, sfd] = tcp_pair();
  SSL* c = SSL_new(cctx);
  SSL* s = SSL_new(sctx);
  if (c == nullptr || s == nullptr || SSL_set_fd(c, cfd) != 1 || SSL_set_fd(s, sfd) != 1) die("SSL_new");
  SSL_set_tlsext_host_name(c, "localhost");
  if (SSL_set1_host(c, "localhost") != 1) die("SSL_set1_host");
  SSL_set_connect_state(c);
  SSL_set_accept_state(s);
  for (bool c_done = false, s_done = false; !(c_done && s_done);) {
    if (!c_done) {
      const int rc = SSL_do_handshake(c);
      if (rc == 1) c_done = true;
      else if (!retry(c, rc)) die("client handshake");
    }
    if (!s_done) {
      const int rc = SSL_do_handshake(s);
      if (rc == 1) s_done = true;
      else if (!retry(s, rc)) die("server handshake");
    }
  }

  std::vector<unsigned char> block(64 * 1024, 'x');
  std::vector<unsigned char> into(256 * 1024);
  std::uint64_t received = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    for (;;) {  // the client writes until the socket takes no more
      const int rc = SSL_write(c, block.data(), static_cast<int>(block.size()));
      if (rc > 0) continue;
      if (!retry(c, rc)) die("SSL_write");
      break;
    }
    for (;;) {  // the server reads all there is
      const int rc = SSL_read(s, into.data(), static_cast<int>(into.size()));
      if (rc > 0) {
        received += static_cast<std::uint64_t>(rc);
        continue;
      }
      if (!retry(s, rc)) die("SSL_read");
      break;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%.1f\n", static_cast<double>(received) / (1 << 20) / elapsed);
  SSL_free(c);
  SSL_free(s);
  SSL_CTX_free(cctx);
  SSL_CTX_free(sctx);
  ::close(cfd);
  ::close(sfd);
  return 0;
}
