// SPDX-License-Identifier: MIT
// One TLS connection's OpenSSL state (private to src/): the SSL object, the ciphertext that
// came from the peer (a memory BIO) and the ciphertext to send to it (a BIO appending to a
// string). It never touches a socket: the asyncio transport (src/asyncio/stream_tls.cpp)
// feeds it what the socket read, sends what it produced and hands the plaintext to the
// StreamReader — Python's ssl.SSLObject with its two MemoryBIOs, as asyncio's sslproto uses it.
//
// Every call that can fail returns Result::failed and keeps the exception (error()): the
// transport reports it to whoever waits on the connection.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "concur/ssl.hpp"

namespace concur::ssl::detail {

class SSLSession {
 public:
  enum class Result : std::uint8_t {
    ok,         // done (the handshake completed; everything fed was decrypted)
    want_read,  // more ciphertext from the peer is needed
    closed,     // the peer sent close_notify
    failed,     // error() says why; the connection is unusable
  };

  /// A client (server_side false) or server session of `ctx`. ValueError("check_hostname
  /// requires server_hostname") for a client whose context checks hostnames and no name.
  SSLSession(const SSLContext& ctx, bool server_side, std::optional<std::string> server_hostname);
  ~SSLSession();
  SSLSession(const SSLSession&) = delete;
  SSLSession& operator=(const SSLSession&) = delete;

  /// Ciphertext received from the peer. std::bad_alloc if it cannot be buffered.
  void feed(const char* data, std::size_t n);
  /// Advances the handshake with what was fed; its messages go to output().
  Result do_handshake();
  [[nodiscard]] bool handshake_done() const noexcept { return m_handshake_done; }
  /// Decrypts what was fed, handing each piece of plaintext to sink(const char*, size_t):
  /// want_read once everything fed is consumed, closed at the peer's close_notify.
  template <class Sink>
  Result read(Sink&& sink) {
    char buf[16 * 1024];
    for (;;) {
      std::size_t n = 0;
      const int r = SSL_read_ex(m_ssl, buf, sizeof buf, &n);
      if (r == 1) {
        sink(static_cast<const char*>(buf), n);
        continue;
      }
      return status(r);
    }
  }
  /// Encrypts `n` bytes into output(). false (error()) if OpenSSL fails.
  bool write(const char* data, std::size_t n);
  /// Queues close_notify into output() (the first call only).
  void shutdown();
  [[nodiscard]] bool shutdown_sent() const noexcept { return m_shutdown_sent; }

  /// The ciphertext produced so far and not yet taken.
  [[nodiscard]] std::string_view output() const noexcept { return m_out; }
  /// Drops output() (the caller sent or copied it).
  void clear_output() noexcept;
  /// Why the last call failed.
  [[nodiscard]] std::exception_ptr error() const noexcept { return m_error; }

  [[nodiscard]] SSL* ssl() const noexcept { return m_ssl; }
  [[nodiscard]] bool server_side() const noexcept { return m_server_side; }
  [[nodiscard]] const std::optional<std::string>& server_hostname() const noexcept { return m_server_hostname; }

 private:
  Result status(int ret);  // the Result of an SSL_* call that returned `ret` (<= 0)

  std::shared_ptr<ContextImpl> m_context;  // the SSL_CTX outlives the SSL (it also holds a reference)
  SSL* m_ssl = nullptr;
  BIO* m_in = nullptr;                     // owned by m_ssl
  std::string m_out;                       // appended to by m_ssl's write BIO
  std::exception_ptr m_error;
  std::optional<std::string> m_server_hostname;
  bool m_server_side;
  bool m_handshake_done = false;
  bool m_shutdown_sent = false;
};

}  // namespace concur::ssl::detail
