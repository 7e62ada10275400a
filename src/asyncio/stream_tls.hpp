// SPDX-License-Identifier: MIT
// TLS on stream connections (private to src/asyncio/): the state a StreamTransport keeps once
// it speaks TLS, and the handshake as open_connection, start_server and start_tls run it.
// See concur/asyncio/streams.hpp for the contract and stream_transport.hpp for the transport.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "../ssl/session.hpp"
#include "concur/asyncio/events.hpp"
#include "concur/ssl.hpp"
#include "concur/timeout.hpp"
#include "stream_transport.hpp"

namespace concur::asyncio::detail {

/// Python's defaults (asyncio.constants): SSL_HANDSHAKE_TIMEOUT, SSL_SHUTDOWN_TIMEOUT.
inline constexpr Timeout default_ssl_handshake_timeout{60.0};
inline constexpr Timeout default_ssl_shutdown_timeout{30.0};

struct TlsState {
  std::shared_ptr<ssl::detail::SSLSession> session;
  std::exception_ptr error;  // the TLS failure that lost the connection (m_error is UV_EPROTO then)
  std::string pending;       // plaintext written before the handshake completed
  Timeout shutdown_timeout = default_ssl_shutdown_timeout;
  TimerHandle shutdown_timer;  // armed by close() while queued data remains; cancelled at on_close
};

/// Starts TLS on `t` with `session` and waits for the handshake, at most `handshake_timeout`.
/// On failure, timeout (TimeoutError) or cancellation the connection is aborted and the
/// exception propagates.
Task<void> tls_handshake(std::shared_ptr<StreamTransport> t, std::shared_ptr<ssl::detail::SSLSession> session,
                         Timeout handshake_timeout, Timeout shutdown_timeout);

/// The task of a connection a TLS server accepted: the handshake, then `cb`. A failed handshake
/// closes the connection; it is reported to the loop's exception handler in debug mode only
/// (as Python logs it only then).
Task<void> serve_tls_connection(std::shared_ptr<StreamTransport> t, std::shared_ptr<const ClientConnected> cb,
                                ssl::SSLContext ctx, Timeout handshake_timeout, Timeout shutdown_timeout);

}  // namespace concur::asyncio::detail
