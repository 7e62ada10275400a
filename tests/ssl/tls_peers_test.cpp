// SPDX-License-Identifier: MIT
// TLS on asyncio streams against real TLS peers on 127.0.0.1: concur's client against
// `openssl s_server`, concur's server against `openssl s_client` and `curl`. Every peer runs
// as a child process under a deadline and is killed and reaped at the end of its test.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../asyncio/asyncio_test_support.hpp"
#include "concur/asyncio.hpp"
#include "concur/ssl.hpp"
#include "tls_test_support.hpp"

namespace asyncio = concur::asyncio;
namespace ssl = concur::ssl;
using namespace std::chrono_literals;
using asyncio::StreamReader;
using asyncio::StreamWriter;
using asyncio::Task;
using namespace ssl::testing_support;  // the certificates, contexts and TLS options of the tests

namespace {

class TlsPeers : public asyncio::testing_support::AsyncioTest {
 protected:
  void SetUp() override {
    AsyncioTest::SetUp();
    for (const char* program : {"openssl", "curl", "timeout"}) {
      if (!ssl::testing_support::have_program(program)) GTEST_SKIP() << program << " is not installed";
    }
  }
};

/// `openssl s_server` answering one connection with its status page (-www) using the
/// certificate `cert`; returns the process and its port once it listens.
Task<std::pair<asyncio::Process, std::uint16_t>> start_s_server(std::string cert) {
  std::vector<std::string> args{"30", "openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
                                "-cert", cert_path(cert + ".pem"), "-key", cert_path(cert + ".key"), "-www"};
  asyncio::Process p = co_await asyncio::create_subprocess_exec(
      "timeout", args, {.stdin_ = asyncio::DEVNULL, .stdout_ = asyncio::PIPE, .stderr_ = asyncio::STDOUT});
  for (;;) {
    const std::string line = co_await asyncio::wait_for(p.stdout_->readline(), 20s);
    if (line.empty()) throw concur::RuntimeError("openssl s_server exited before it listened");
    if (line.rfind("ACCEPT 127.0.0.1:", 0) == 0) {
      co_return std::pair{p, static_cast<std::uint16_t>(std::stoi(line.substr(17)))};
    }
  }
}

/// `co_await p.wait()` as a task (for wait_for).
Task<int> wait_exit(asyncio::Process p) { co_return co_await p.wait(); }

/// Ends `p` (if it still runs) and reaps it.
Task<void> finish(asyncio::Process p) {
  p.kill();
  co_await p.wait();
}

TEST_F(TlsPeers, ConcursClientTalksToOpensslSServer) {
  asyncio::run([]() -> Task<void> {
    auto [server, port] = co_await start_s_server("server");
    auto [reader, writer] =
        co_await asyncio::open_connection("127.0.0.1", port, client_tls("localhost"));
    writer.write("GET / HTTP/1.0\r\n\r\n");
    const std::string page = co_await asyncio::wait_for(reader.read(), 20s);
    EXPECT_EQ(page.rfind("HTTP/1.0 200 ok\r\n", 0), 0u) << page.substr(0, 200);
    EXPECT_NE(page.find("TLSv1.3"), std::string::npos);
    EXPECT_EQ(writer.ssl_object()->getpeercert()->subject,
              (std::vector<std::pair<std::string, std::string>>{{"commonName", "localhost"}}));
    writer.close();
    co_await asyncio::wait_for(wait_exit(server), 20s);  // -naccept 1: it exits after the connection
    co_await finish(server);
  }());
}

TEST_F(TlsPeers, ConcursClientRefusesOpensslSServersExpiredCertificate) {
  asyncio::run([]() -> Task<void> {
    auto [server, port] = co_await start_s_server("expired");
    try {
      co_await asyncio::open_connection("127.0.0.1", port, client_tls("localhost"));
      ADD_FAILURE() << "the expired certificate was accepted";
    } catch (const ssl::SSLCertVerificationError& e) {
      EXPECT_EQ(e.verify_message(), "certificate has expired");
    }
    co_await finish(server);
  }());
}

TEST_F(TlsPeers, OpensslSClientVerifiesConcursServerAndReadsItsCloseNotify) {
  asyncio::run([]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_server(
        [](StreamReader r, StreamWriter w) -> Task<void> {
          const std::string line = co_await r.readline();
          w.write("echo: " + line);
          w.close();  // close_notify, then the socket closes
          co_await w.wait_closed();
        },
        "127.0.0.1", 0, server_tls());
    std::vector<std::string> args{"30", "openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.port()),
                                  "-CAfile", cert_path("ca.pem"), "-verify_return_error", "-verify_hostname",
                                  "localhost", "-servername", "localhost", "-ign_eof"};
    asyncio::Process client = co_await asyncio::create_subprocess_exec(
        "timeout", args, {.stdin_ = asyncio::PIPE, .stdout_ = asyncio::PIPE, .stderr_ = asyncio::STDOUT});
    auto [out, err] = co_await asyncio::wait_for(client.communicate("hello from s_client\n"), 30s);
    EXPECT_EQ(client.returncode(), 0) << out;
    EXPECT_NE(out.find("echo: hello from s_client\n"), std::string::npos) << out;
    EXPECT_NE(out.find("Verify return code: 0 (ok)"), std::string::npos) << out;
    EXPECT_NE(out.find("closed"), std::string::npos) << out;  // s_client's word for close_notify
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(TlsPeers, CurlFetchesAPageOverHttpsFromConcursServer) {
  asyncio::run([]() -> Task<void> {
    ssl::SSLContext ctx = server_context();
    ctx.set_alpn_protocols({"http/1.1"});
    std::optional<std::string> alpn;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader r, StreamWriter w) -> Task<void> {
          alpn = w.ssl_object()->selected_alpn_protocol();
          (void)co_await r.readuntil("\r\n\r\n");
          w.write("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello, curl\n");
          w.close();
          co_await w.wait_closed();
        },
        "127.0.0.1", 0, server_tls_with(ctx));
    const std::string port = std::to_string(server.port());
    std::vector<std::string> args{"--max-time", "20", "-sS", "--cacert", cert_path("ca.pem"), "--resolve",
                                  "localhost:" + port + ":127.0.0.1", "-w", "|%{http_version}",
                                  "https://localhost:" + port + "/"};
    asyncio::Process curl = co_await asyncio::create_subprocess_exec(
        "curl", args, {.stdin_ = asyncio::DEVNULL, .stdout_ = asyncio::PIPE, .stderr_ = asyncio::PIPE});
    auto [out, err] = co_await asyncio::wait_for(curl.communicate(), 30s);
    EXPECT_EQ(curl.returncode(), 0) << err;
    EXPECT_EQ(out, "hello, curl\n|1.1");
    EXPECT_EQ(alpn, "http/1.1");

    // Without the test CA, curl refuses the certificate (exit 60): the check above was real.
    std::vector<std::string> untrusting{"--max-time", "20", "-sS", "--resolve", "localhost:" + port + ":127.0.0.1",
                                        "https://localhost:" + port + "/"};
    asyncio::Process refused = co_await asyncio::create_subprocess_exec(
        "curl", untrusting, {.stdin_ = asyncio::DEVNULL, .stdout_ = asyncio::DEVNULL, .stderr_ = asyncio::DEVNULL});
    EXPECT_EQ(co_await asyncio::wait_for(wait_exit(refused), 30s), 60);
    server.close();
    co_await server.wait_closed();
  }());
}

}  // namespace
