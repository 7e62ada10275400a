// SPDX-License-Identifier: MIT
// Tests of TLS on asyncio streams, concur against concur on 127.0.0.1 (and a Unix socket):
// handshakes, what the connection negotiated, 64 MiB both ways under flow control, every
// verification failure with its message, client certificates, peers that close or send
// garbage mid-handshake, handshake timeouts and cancellation, STARTTLS, ALPN, 1,000
// concurrent connections, close_notify and the shutdown timeout, and EventLoop::close().
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
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

class Tls : public asyncio::testing_support::AsyncioTest {};

/// Echoes every line until EOF, then closes.
Task<void> echo_lines(StreamReader reader, StreamWriter writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;
    writer.write(line);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

/// `co_await event.wait()` as a task (for wait_for).
Task<void> wait_event(asyncio::Event& event) { co_await event.wait(); }
/// `co_await writer.wait_closed()` as a task (for wait_for).
Task<void> wait_closed(StreamWriter writer) { co_await writer.wait_closed(); }

/// The exception `task` ends with (nullptr if none), as a handle for EXPECT_*.
template <class T>
Task<std::exception_ptr> failure_of(Task<T> task) {
  try {
    co_await std::move(task);
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}

TEST_F(Tls, AClientAndAServerShakeHandsAndEchoWithWhatTheyNegotiatedVisible) {
  asyncio::run([]() -> Task<void> {
    std::optional<ssl::SSLObject> server_view;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader r, StreamWriter w) -> Task<void> {
          server_view = w.ssl_object();
          co_await echo_lines(std::move(r), std::move(w));
        },
        "127.0.0.1", 0, server_tls());
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), client_tls());
    writer.write("hello over TLS\n");
    EXPECT_EQ(co_await reader.readline(), "hello over TLS\n");

    std::optional<ssl::SSLObject> tls = writer.ssl_object();
    EXPECT_TRUE(tls.has_value());
    if (tls) {
      EXPECT_EQ(tls->version(), "TLSv1.3");
      std::optional<ssl::Cipher> cipher = tls->cipher();
      EXPECT_TRUE(cipher && cipher->protocol == "TLSv1.3" && cipher->secret_bits >= 128 && !cipher->name.empty());
      EXPECT_FALSE(tls->server_side());
      EXPECT_EQ(tls->server_hostname(), "127.0.0.1");  // the host, by default
      EXPECT_EQ(tls->selected_alpn_protocol(), std::nullopt);
      std::optional<ssl::Certificate> cert = tls->getpeercert();
      EXPECT_TRUE(cert.has_value());
      if (cert) {
        EXPECT_EQ(cert->subject, (std::vector<std::pair<std::string, std::string>>{{"commonName", "localhost"}}));
        EXPECT_EQ(cert->issuer, (std::vector<std::pair<std::string, std::string>>{{"commonName", "concur test CA"}}));
        EXPECT_EQ(cert->version, 3);
        EXPECT_EQ(cert->subjectAltName,
                  (std::vector<std::pair<std::string, std::string>>{{"DNS", "localhost"}, {"IP Address", "127.0.0.1"}}));
        EXPECT_TRUE(cert->notAfter.ends_with(" GMT")) << cert->notAfter;
        EXPECT_FALSE(cert->serialNumber.empty());
      }
      EXPECT_GT(tls->getpeercert_der().value_or("").size(), 100u);
    }
    EXPECT_TRUE(server_view.has_value());
    if (server_view) {
      EXPECT_TRUE(server_view->server_side());
      EXPECT_EQ(server_view->getpeercert(), std::nullopt);  // the client sent no certificate
    }
    writer.close();
    EXPECT_EQ(co_await reader.read(), "");
    server.close();
    co_await server.wait_closed();
  }());
}

// ThreadSanitizer makes the loop's own code (copies, bookkeeping) 10 to 20 times slower: there,
// the two heavy tests move a quarter of the data and open a quarter of the connections, to stay
// within the test timeout on a loaded machine. Other builds run them in full.
#if defined(__SANITIZE_THREAD__)
constexpr int sanitizer_divisor = 4;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr int sanitizer_divisor = 4;
#else
constexpr int sanitizer_divisor = 1;
#endif
#else
constexpr int sanitizer_divisor = 1;
#endif

constexpr std::size_t total = (64u << 20) / sanitizer_divisor;  // the bulk transfer, each way
constexpr std::size_t chunk = 64u << 10;  // one write of it

TEST_F(Tls, SixtyFourMebibytesGoBothWaysUnderFlowControl) {
  asyncio::run([]() -> Task<void> {
    std::size_t server_buffer_peak = 0;
    // The server echoes what it reads, draining each write: it reads only as fast as the
    // client takes the echo back.
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader r, StreamWriter w) -> Task<void> {
          for (;;) {
            co_await r.wait_for_data();
            server_buffer_peak = std::max(server_buffer_peak, r.buffered().size());
            std::string data = co_await r.read(1 << 20);
            if (data.empty()) break;
            w.write(data);
            co_await w.drain();
          }
          w.close();
          co_await w.wait_closed();
        },
        "127.0.0.1", 0, server_tls());
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), client_tls());
    std::size_t max_queued = 0;
    auto send = [&, w = writer]() mutable -> Task<void> {
      std::string block(chunk, '\0');
      for (std::size_t sent = 0; sent < total; sent += chunk) {
        for (std::size_t i = 0; i < chunk; i += 4096) block[i] = static_cast<char>((sent + i) / 4096);
        w.write(block);
        max_queued = std::max(max_queued, w.get_write_buffer_size());
        co_await w.drain();
      }
      w.write_eof();  // close_notify: the server reads EOF, echoes the rest and closes
    };
    auto receive = [&, r = reader]() mutable -> Task<std::size_t> {
      std::size_t received = 0;
      bool intact = true;
      for (;;) {
        std::string data = co_await r.read(1 << 20);
        if (data.empty()) break;
        for (std::size_t i = 0; i < data.size(); ++i) {
          const std::size_t at = received + i;
          if (at % 4096 == 0 && data[i] != static_cast<char>(at / 4096)) intact = false;
        }
        received += data.size();
      }
      EXPECT_TRUE(intact);
      co_return received;
    };
    auto sending = asyncio::create_task(send());
    const std::size_t received = co_await receive();
    co_await sending;
    EXPECT_EQ(received, total);
    // A writer that drains holds at most the high-water mark plus one write (and its records'
    // overhead); a reader at most about 2 x limit plus one socket read.
    EXPECT_LE(max_queued, 64u * 1024 + chunk + 1024);
    EXPECT_LE(server_buffer_peak, 2 * asyncio::default_stream_limit + 64 * 1024 + 16 * 1024);
    writer.close();
    co_await writer.wait_closed();
    server.close();
    co_await server.wait_closed();
  }());
}

/// Connects to a server using `cert` and returns the client's failure.
Task<std::exception_ptr> client_failure(std::string cert, asyncio::StreamOptions options, std::vector<std::string>* reports) {
  asyncio::get_running_loop().set_debug(true);  // the server reports its failed handshakes
  asyncio::get_running_loop().set_exception_handler([reports](asyncio::EventLoop&, const asyncio::ExceptionContext& c) {
    if (c.message != "SSL handshake failed") return;  // debug mode also reports slow steps
    try {
      if (c.exception) std::rethrow_exception(c.exception);
      reports->push_back(c.message);
    } catch (const std::exception& e) {
      reports->push_back(c.message + ": " + e.what());
    }
  });
  bool served = false;
  asyncio::Server server = co_await asyncio::start_server(
      [&](StreamReader, StreamWriter) -> Task<void> {
        served = true;
        co_return;
      },
      "127.0.0.1", 0, server_tls(cert));
  std::exception_ptr e = co_await failure_of(asyncio::open_connection("127.0.0.1", server.port(), std::move(options)));
  server.close();
  co_await server.wait_closed();  // every connection is gone, failed handshakes included
  EXPECT_FALSE(served);
  co_return e;
}

void expect_verification_failure(std::exception_ptr e, long code, const std::string& message) {
  ASSERT_TRUE(e);
  try {
    std::rethrow_exception(e);
  } catch (const ssl::SSLCertVerificationError& v) {
    EXPECT_EQ(v.verify_code(), code);
    EXPECT_EQ(v.verify_message(), message);
    EXPECT_EQ(std::string(v.what()), "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: " + message);
  } catch (const std::exception& other) {
    ADD_FAILURE() << "not an SSLCertVerificationError: " << other.what();
  }
}

TEST_F(Tls, LimitsAndCancelledReadsBehaveAsOnPlaintext) {
  asyncio::run([]() -> Task<void> {
    asyncio::Event send_rest;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader, StreamWriter w) -> Task<void> {
          w.write(std::string(100, 'a') + "\nshort\n");
          co_await send_rest.wait();
          w.write("next line\n");  // within the limit
          co_await w.drain();
          w.close();
          co_await w.wait_closed();
        },
        "127.0.0.1", 0, server_tls());
    asyncio::StreamOptions options = client_tls();
    options.limit = 16;
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), options);
    std::exception_ptr too_long = co_await failure_of(reader.readline());
    try {
      if (too_long) std::rethrow_exception(too_long);
      ADD_FAILURE() << "a line over the limit was returned";
    } catch (const concur::ValueError&) {  // readline() drops the over-long line, as Python's does
    }
    while (reader.buffered().empty() || reader.buffered()[0] == 'a') {
      if (!reader.buffered().empty()) reader.consume(reader.buffered().size());  // the rest of the long line
      co_await reader.wait_for_data();
    }
    EXPECT_EQ(co_await reader.readline(), "short\n");
    // A read cancelled while it waits leaves the connection usable.
    auto waiting = asyncio::create_task(reader.readline());
    co_await asyncio::sleep(0s);
    waiting.cancel();
    EXPECT_TRUE(co_await failure_of(std::move(waiting)));
    send_rest.set();
    EXPECT_EQ(co_await reader.readline(), "next line\n");
    EXPECT_EQ(co_await reader.read(), "");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Tls, AnExpiredCertificateFailsWithPythonsMessage) {
  std::vector<std::string> reports;
  std::exception_ptr e = asyncio::run(client_failure("expired", client_tls(), &reports));
  expect_verification_failure(e, 10, "certificate has expired");
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].rfind("SSL handshake failed: [SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED]", 0), 0u) << reports[0];
}

TEST_F(Tls, ACertificateForAnotherNameFailsWithPythonsMessage) {
  std::vector<std::string> reports;
  expect_verification_failure(
      asyncio::run(client_failure("wrong", client_tls("localhost"), &reports)), 62,
      "Hostname mismatch, certificate is not valid for 'localhost'.");
  expect_verification_failure(asyncio::run(client_failure("wrong", client_tls(), &reports)), 64,
                              "IP address mismatch, certificate is not valid for '127.0.0.1'.");
}

TEST_F(Tls, ACertificateFromAnUnknownAuthorityFails) {
  std::vector<std::string> reports;
  ssl::SSLContext untrusting(ssl::PROTOCOL_TLS_CLIENT);  // trusts no CA at all
  expect_verification_failure(asyncio::run(client_failure("server", client_tls_with(untrusting), &reports)), 20,
                              "unable to get local issuer certificate");
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("TLSV1_ALERT_UNKNOWN_CA"), std::string::npos) << reports[0];
}

TEST_F(Tls, AServerRequiringAClientCertificateRefusesAClientWithoutOne) {
  asyncio::run([]() -> Task<void> {
    ssl::SSLContext ctx = server_context();
    ctx.set_verify_mode(ssl::CERT_REQUIRED);
    ctx.load_verify_locations({.cafile = cert_path("ca.pem")});
    std::optional<ssl::Certificate> seen;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader r, StreamWriter w) -> Task<void> {
          seen = w.ssl_object()->getpeercert();
          co_await echo_lines(std::move(r), std::move(w));
        },
        "127.0.0.1", 0, server_tls_with(ctx));
    {
      // Under TLS 1.3 the client's handshake completes before the server has checked it:
      // the refusal arrives as an alert on the first read, as it does in Python.
      auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), client_tls());
      std::exception_ptr e = co_await failure_of(reader.read());
      EXPECT_TRUE(e);
      try {
        if (e) std::rethrow_exception(e);
      } catch (const ssl::SSLError& s) {
        EXPECT_EQ(s.reason(), "TLSV13_ALERT_CERTIFICATE_REQUIRED");
        EXPECT_STREQ(s.what(), "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required");
      } catch (const std::exception& other) {
        ADD_FAILURE() << other.what();
      }
      EXPECT_TRUE(writer.is_closing());
      EXPECT_TRUE(reader.exception());
    }
    EXPECT_FALSE(seen.has_value());
    // With its certificate, the client gets in, and the server sees who it is.
    ssl::SSLContext with_cert = client_context();
    with_cert.load_cert_chain(cert_path("client.pem"), cert_path("client.key"));
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), client_tls_with(with_cert));
    writer.write("me\n");
    EXPECT_EQ(co_await reader.readline(), "me\n");
    EXPECT_TRUE(seen.has_value());
    if (seen) {
      EXPECT_EQ(seen->subject, (std::vector<std::pair<std::string, std::string>>{{"commonName", "concur client"}}));
    }
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Tls, APeerThatClosesMidHandshakeIsAConnectionResetError) {
  asyncio::run([]() -> Task<void> {
    // A plaintext server that reads the ClientHello and hangs up.
    asyncio::Server server = co_await asyncio::start_server(
        [](StreamReader r, StreamWriter w) -> Task<void> {
          (void)co_await r.read(5);
          w.close();
        },
        "127.0.0.1", 0);
    std::exception_ptr e =
        co_await failure_of(asyncio::open_connection("127.0.0.1", server.port(), client_tls()));
    EXPECT_TRUE(e);
    try {
      if (e) std::rethrow_exception(e);
    } catch (const concur::ConnectionResetError&) {
    } catch (const std::exception& other) {
      ADD_FAILURE() << other.what();
    }
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Tls, GarbageInsteadOfAClientHelloClosesThatConnectionOnly) {
  asyncio::run([]() -> Task<void> {
    std::vector<std::string> reports;
    asyncio::get_running_loop().set_debug(true);
    asyncio::get_running_loop().set_exception_handler([&](asyncio::EventLoop&, const asyncio::ExceptionContext& c) {
      if (c.message != "SSL handshake failed") return;  // debug mode also reports slow steps
      try {
        if (c.exception) std::rethrow_exception(c.exception);
      } catch (const ssl::SSLError& e) {
        reports.push_back(c.message + ": " + e.reason());
      } catch (...) {
        reports.push_back(c.message + ": not an SSLError");
      }
    });
    asyncio::Server server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, server_tls());
    {
      auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
      writer.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      std::string got;
      try {
        got = co_await reader.read();  // the server drops the connection
      } catch (const concur::ConnectionResetError&) {
      }
      EXPECT_EQ(got.find("GET"), std::string::npos);
    }
    EXPECT_EQ(reports, (std::vector<std::string>{"SSL handshake failed: HTTP_REQUEST"}));
    // The server serves the next client as usual.
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), client_tls());
    writer.write("still here\n");
    EXPECT_EQ(co_await reader.readline(), "still here\n");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Tls, AHandshakeThatTakesTooLongIsATimeoutErrorOnBothSides) {
  asyncio::run([]() -> Task<void> {
    // A plaintext server that never answers the ClientHello.
    asyncio::Event release;
    asyncio::Server silent = co_await asyncio::start_server(
        [&](StreamReader, StreamWriter) -> Task<void> { co_await release.wait(); }, "127.0.0.1", 0);
    asyncio::StreamOptions impatient = client_tls();
    impatient.ssl_handshake_timeout = 0.2s;
    std::exception_ptr e = co_await failure_of(asyncio::open_connection("127.0.0.1", silent.port(), impatient));
    try {
      if (e) std::rethrow_exception(e);
      ADD_FAILURE() << "no timeout";
    } catch (const concur::TimeoutError& t) {
      EXPECT_STREQ(t.what(), "SSL handshake is taking longer than 0.2 seconds: aborting the connection");
    } catch (const std::exception& other) {
      ADD_FAILURE() << other.what();
    }
    release.set();
    silent.close();
    co_await silent.wait_closed();

    // A TLS server whose client never starts the handshake drops it after its timeout.
    asyncio::ServerOptions impatient_server = server_tls();
    impatient_server.ssl_handshake_timeout = 0.2s;
    bool served = false;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader, StreamWriter) -> Task<void> {
          served = true;
          co_return;
        },
        "127.0.0.1", 0, impatient_server);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    EXPECT_EQ(co_await asyncio::wait_for(reader.read(), 30s), "");  // closed by the server
    EXPECT_FALSE(served);
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Tls, ACancelledHandshakeLeavesNothingBehind) {
  asyncio::run([]() -> Task<void> {
    asyncio::Event accepted;
    asyncio::Event peer_gone;
    asyncio::Server silent = co_await asyncio::start_server(
        [&](StreamReader r, StreamWriter) -> Task<void> {
          accepted.set();
          try {
            (void)co_await r.read();  // until the client's side closes
          } catch (const concur::ConnectionResetError&) {
          }
          peer_gone.set();
        },
        "127.0.0.1", 0);
    auto connecting = asyncio::create_task(asyncio::open_connection("127.0.0.1", silent.port(), client_tls()));
    co_await accepted.wait();
    EXPECT_FALSE(connecting.done());
    connecting.cancel();
    std::exception_ptr e = co_await failure_of(std::move(connecting));
    try {
      if (e) std::rethrow_exception(e);
      ADD_FAILURE() << "the handshake was not cancelled";
    } catch (const concur::CancelledError&) {
    }
    co_await asyncio::wait_for(wait_event(peer_gone), 30s);  // the socket was closed at once
    silent.close();
    co_await silent.wait_closed();
  }());
  // The fixture and the leak check prove that no handle, frame or descriptor is left.
}

TEST_F(Tls, StartTlsUpgradesAPlaintextConnectionOnBothSides) {
  asyncio::run([]() -> Task<void> {
    const ssl::SSLContext sctx = server_context();
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader r, StreamWriter w) -> Task<void> {
          EXPECT_EQ(co_await r.readline(), "STARTTLS\n");
          w.write("GO\n");
          co_await w.start_tls(sctx);
          EXPECT_TRUE(w.ssl_object() && w.ssl_object()->server_side());
          co_await echo_lines(std::move(r), std::move(w));
        },
        "127.0.0.1", 0);
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port());
    writer.write("STARTTLS\n");
    EXPECT_EQ(co_await reader.readline(), "GO\n");
    EXPECT_FALSE(writer.ssl_object().has_value());
    std::exception_ptr no_name = co_await failure_of(writer.start_tls(client_context()));
    EXPECT_TRUE(no_name);  // ValueError: check_hostname requires server_hostname
    const asyncio::StartTlsOptions to_localhost{.server_hostname = "localhost"};
    co_await writer.start_tls(client_context(), to_localhost);
    EXPECT_EQ(writer.ssl_object()->version(), "TLSv1.3");
    writer.write("secret\n");
    EXPECT_EQ(co_await reader.readline(), "secret\n");
    EXPECT_TRUE(co_await failure_of(writer.start_tls(client_context(), to_localhost)));
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Tls, AlpnSelectsTheServersFirstProtocolTheClientOffers) {
  asyncio::run([]() -> Task<void> {
    ssl::SSLContext sctx = server_context();
    sctx.set_alpn_protocols({"h2", "http/1.1"});
    std::optional<std::string> server_selected;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader r, StreamWriter w) -> Task<void> {
          server_selected = w.ssl_object()->selected_alpn_protocol();
          co_await echo_lines(std::move(r), std::move(w));
        },
        "127.0.0.1", 0, server_tls_with(sctx));
    const std::vector<std::pair<std::vector<std::string>, std::optional<std::string>>> cases{
        {{"spdy/1", "http/1.1"}, "http/1.1"}, {{"http/1.1", "h2"}, "h2"}, {{"imap"}, std::nullopt}};
    for (const auto& [offer, expected] : cases) {
      ssl::SSLContext cctx = client_context();
      cctx.set_alpn_protocols(offer);
      auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), client_tls_with(cctx));
      writer.write("x\n");
      EXPECT_EQ(co_await reader.readline(), "x\n");
      EXPECT_EQ(writer.ssl_object()->selected_alpn_protocol(), expected);
      EXPECT_EQ(server_selected, expected);
      writer.close();
    }
    server.close();
    co_await server.wait_closed();
  }());
}

constexpr int clients = 1000 / sanitizer_divisor;  // concurrent TLS connections

TEST_F(Tls, AThousandConcurrentConnectionsAreServed) {
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < 2 * clients + 200) {
    nofile.rlim_cur = std::min<rlim_t>(nofile.rlim_max, 2 * clients + 200);
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  if (nofile.rlim_cur < 2 * clients + 200) GTEST_SKIP() << "needs " << 2 * clients + 200 << " file descriptors";
  asyncio::run([]() -> Task<void> {
    asyncio::ServerOptions options = server_tls();
    options.backlog = 1024;
    asyncio::Server server = co_await asyncio::start_server(echo_lines, "127.0.0.1", 0, options);
    const ssl::SSLContext cctx = client_context();
    asyncio::Event go;
    int connected = 0;
    auto client = [&](int i) -> Task<bool> {
      auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), client_tls_with(cctx));
      if (++connected == clients) go.set();
      co_await go.wait();  // all of them are open at once
      const std::string line = "client " + std::to_string(i) + "\n";
      writer.write(line);
      const bool ok = co_await reader.readline() == line;
      writer.close();
      co_await writer.wait_closed();
      co_return ok;
    };
    std::vector<Task<bool>> tasks;
    for (int i = 0; i < clients; ++i) tasks.push_back(client(i));
    std::vector<bool> ok = co_await asyncio::wait_for(asyncio::gather(std::move(tasks)), 50s);
    EXPECT_EQ(std::count(ok.begin(), ok.end(), true), clients);
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Tls, ClosingSendsCloseNotifyWhichThePeerReadsAsEof) {
  asyncio::run([]() -> Task<void> {
    asyncio::Event got_eof;
    bool clean = false;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader r, StreamWriter w) -> Task<void> {
          const std::string all = co_await r.read();
          clean = all == "last words" && r.at_eof() && !r.exception();
          // TLS 1.3 lets this side write after the peer's close_notify; its socket is still open.
          EXPECT_FALSE(w.is_closing());
          got_eof.set();
        },
        "127.0.0.1", 0, server_tls());
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), client_tls());
    writer.write("last words");
    writer.close();
    co_await writer.wait_closed();
    co_await asyncio::wait_for(wait_event(got_eof), 30s);
    EXPECT_TRUE(clean);
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Tls, CloseGivesUpAfterTheShutdownTimeoutWhenThePeerReadsNothing) {
  asyncio::run([]() -> Task<void> {
    asyncio::Event release;
    asyncio::Server server = co_await asyncio::start_server(
        [&](StreamReader, StreamWriter) -> Task<void> { co_await release.wait(); },  // never reads
        "127.0.0.1", 0, server_tls());
    asyncio::StreamOptions options = client_tls();
    options.ssl_shutdown_timeout = 0.2s;
    auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", server.port(), options);
    writer.write(std::string(16 << 20, 'x'));  // far more than the sockets' buffers take
    EXPECT_GT(writer.get_write_buffer_size(), 0u);
    writer.close();
    co_await asyncio::wait_for(wait_closed(writer), 30s);  // aborted after 0.2 s
    EXPECT_EQ(writer.get_write_buffer_size(), 0u);
    release.set();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Tls, UnixSocketsSpeakTlsToo) {
  const std::string path = (std::filesystem::temp_directory_path() / ("concur-tls-" + std::to_string(::getpid()))).string();
  asyncio::run([&]() -> Task<void> {
    asyncio::Server server = co_await asyncio::start_unix_server(echo_lines, path, server_tls());
    std::exception_ptr no_name = co_await failure_of(asyncio::open_unix_connection(path, client_tls()));
    EXPECT_TRUE(no_name);  // ValueError: you have to pass server_hostname when using ssl
    auto [reader, writer] =
        co_await asyncio::open_unix_connection(path, client_tls("localhost"));
    writer.write("over a unix socket\n");
    EXPECT_EQ(co_await reader.readline(), "over a unix socket\n");
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

TEST_F(Tls, OptionsThatNeedTlsOrTheRightContextAreValueErrors) {
  asyncio::run([]() -> Task<void> {
    const asyncio::StreamOptions name_only{.server_hostname = "x"};
    EXPECT_TRUE(co_await failure_of(asyncio::open_connection("127.0.0.1", 9, name_only)));
    EXPECT_TRUE(co_await failure_of(asyncio::open_connection("127.0.0.1", 9, {.ssl_handshake_timeout = 1s})));
    EXPECT_TRUE(co_await failure_of(asyncio::open_connection("127.0.0.1", 9, client_tls_with(server_context()))));
    EXPECT_TRUE(co_await failure_of(asyncio::start_server(echo_lines, "127.0.0.1", 0, server_tls_with(client_context()))));
    EXPECT_TRUE(co_await failure_of(asyncio::start_server(echo_lines, "127.0.0.1", 0, {.ssl_shutdown_timeout = 1s})));
    try {
      co_await asyncio::open_connection("127.0.0.1", 9, name_only);
    } catch (const concur::ValueError& e) {
      EXPECT_STREQ(e.what(), "server_hostname is only meaningful with ssl");
    }
  }());
}

TEST_F(Tls, ClosingTheLoopClosesItsTlsConnections) {
  StreamWriter client_side;
  StreamWriter server_side;
  {
    asyncio::EventLoop loop;
    loop.run_until_complete([&]() -> Task<void> {
      asyncio::Event connected;
      asyncio::Server server = co_await asyncio::start_server(
          [&](StreamReader, StreamWriter w) -> Task<void> {
            server_side = w;
            connected.set();
            co_return;
          },
          "127.0.0.1", 0, server_tls());
      auto [r, w] = co_await asyncio::open_connection("127.0.0.1", server.port(), client_tls());
      co_await connected.wait();
      w.write(std::string(4 << 20, 'x'));  // queued: the server does not read
      client_side = w;
    }());
    EXPECT_FALSE(client_side.is_closing());
    loop.close();
  }
  EXPECT_TRUE(client_side.is_closing());
  EXPECT_TRUE(server_side.is_closing());
  EXPECT_EQ(client_side.get_write_buffer_size(), 0u);
  EXPECT_THROW(client_side.write("x"), concur::RuntimeError);
  EXPECT_TRUE(client_side.ssl_object().has_value());  // what was negotiated stays readable
}

}  // namespace
