// SPDX-License-Identifier: MIT
// The state behind ssl::SSLContext (private to src/): OpenSSL's SSL_CTX and the settings
// OpenSSL does not keep in a form it can give back (check_hostname, the ALPN list a server
// selects from). Also the helpers that turn OpenSSL's error queue into Python's exceptions.
#pragma once

#include <openssl/ssl.h>

#include <exception>
#include <string>

#include "concur/ssl.hpp"

namespace concur::ssl::detail {

struct ContextImpl {
  explicit ContextImpl(Protocol p);
  ~ContextImpl();
  ContextImpl(const ContextImpl&) = delete;
  ContextImpl& operator=(const ContextImpl&) = delete;

  SSL_CTX* ctx = nullptr;        // owned (SSL_CTX_free); each SSL made from it holds a reference
  Protocol protocol;
  bool check_hostname = false;   // clients: checked against server_hostname at the handshake
  std::string alpn_wire;         // set_alpn_protocols() in ALPN's wire form (length-prefixed)
};

/// Throws the SSLError for the first error in OpenSSL's queue (which is then cleared), or an
/// SSLError with `fallback` if the queue is empty.
[[noreturn]] void throw_ssl_error(const char* fallback);
/// The SSLError of the first error in OpenSSL's queue (cleared), or nullptr if it is empty.
std::exception_ptr ssl_error_from_queue();

}  // namespace concur::ssl::detail
