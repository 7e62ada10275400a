// SPDX-License-Identifier: MIT
// concur/asyncio/datagram.hpp — UDP endpoints with awaitable receive and non-blocking send
// (Python's loop.create_datagram_endpoint, with the protocol callbacks turned into awaits).
//
//   asyncio::DatagramEndpoint server = co_await asyncio::create_datagram_endpoint(
//       {.local_addr = {{"127.0.0.1", 9999}}});
//   auto [data, from] = co_await server.recvfrom();
//   server.sendto(data, from);
//
//   auto client = co_await asyncio::create_datagram_endpoint({.remote_addr = {{"127.0.0.1", 9999}}});
//   client.sendto("ping");                      // to remote_addr
//
// Python hands each datagram to protocol.datagram_received(); here datagrams queue in the
// endpoint until recvfrom() takes them. The queue is bounded (max_queued datagrams): when it is
// full the endpoint stops reading the socket and the kernel drops what arrives, as UDP allows —
// a slow receiver never makes the program buffer without bound. sendto() never blocks: what the
// socket does not take now is queued and sent in order. Errors the kernel reports for the socket
// (e.g. ECONNREFUSED from an ICMP port-unreachable on a connected endpoint; Python's
// error_received) are raised by the next recvfrom().
//
// Thread safety: loop thread only. Lifetime: a handle; the socket closes with close(), when
// the last handle goes, or when its loop closes (EventLoop::close(), the end of asyncio::run()):
// an endpoint may outlive its loop, closed (is_closing() is true, sendto() raises RuntimeError,
// recvfrom() OSError(EBADF)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "concur/asyncio/task.hpp"
#include "concur/asyncio/transports.hpp"
#include "concur/export.hpp"

namespace concur::asyncio {

/// Keyword arguments of create_datagram_endpoint().
struct DatagramOptions {
  /// Bind to (host, port): a numeric IPv4/IPv6 address or a name; port 0 picks one.
  std::optional<std::pair<std::string, std::uint16_t>> local_addr = std::nullopt;
  /// Connect to (host, port): sendto() without an address goes there; only its datagrams arrive.
  std::optional<std::pair<std::string, std::uint16_t>> remote_addr = std::nullopt;
  bool reuse_port = false;       ///< SO_REUSEPORT
  bool allow_broadcast = false;  ///< SO_BROADCAST
  std::size_t max_queued = 1024; ///< datagrams kept for recvfrom() before reading pauses
};

namespace detail {
class DatagramState;
/// co_await endpoint.recvfrom().
class [[nodiscard]] CONCUR_API RecvAwaiter {
 public:
  explicit RecvAwaiter(std::shared_ptr<DatagramState> s) noexcept : m_state(std::move(s)) {}
  bool await_ready() const noexcept;
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    register_wait();
    m_wait.suspend(h);
  }
  std::pair<std::string, Address> await_resume();

  // Filled by the endpoint when it hands a datagram (or an error) to this waiter.
  std::optional<std::pair<std::string, Address>> m_result;
  int m_error = 0;
  IoWait m_wait;

 private:
  void register_wait();
  std::shared_ptr<DatagramState> m_state;
};
}  // namespace detail

/// A UDP socket on the loop (Python's DatagramTransport plus an awaitable receive).
class CONCUR_API DatagramEndpoint {
 public:
  DatagramEndpoint() = default;
  /// A handle on the endpoint `s` (internal: create_datagram_endpoint() makes it).
  explicit DatagramEndpoint(std::shared_ptr<detail::DatagramState> s) noexcept : m_state(std::move(s)) {}

  /// The next datagram and its sender. Several tasks may wait; they are served in order.
  /// Throws the socket's pending error (OSError, ConnectionRefusedError, ...) or
  /// OSError(EBADF) once closed.
  detail::RecvAwaiter recvfrom() const { return detail::RecvAwaiter(state()); }
  /// Sends `data` to `addr` (a numeric address), or to remote_addr when not given.
  /// ValueError without either; dropped after close(), as Python's transport does;
  /// RuntimeError once the endpoint's loop closed it.
  void sendto(std::string_view data, std::optional<Address> addr = std::nullopt);
  /// The bound address. OSError(EBADF) once closed.
  [[nodiscard]] Address sockname() const;
  /// remote_addr once connected, else nullopt.
  [[nodiscard]] std::optional<Address> peername() const;
  /// Bytes waiting to be sent.
  [[nodiscard]] std::size_t get_write_buffer_size() const noexcept;
  /// Closes the socket (queued datagrams are dropped); waiting receivers get OSError(EBADF).
  void close();
  /// True once close() was called or the endpoint's loop closed it (Python's
  /// transport.is_closing()); true for an empty handle.
  [[nodiscard]] bool is_closing() const noexcept;
  /// The endpoint (internal).
  [[nodiscard]] const std::shared_ptr<detail::DatagramState>& state() const;

 private:
  std::shared_ptr<detail::DatagramState> m_state;
};

/// Creates a UDP endpoint (see DatagramOptions). ValueError without local_addr or remote_addr;
/// OSError if it cannot bind or connect.
CONCUR_API Task<DatagramEndpoint> create_datagram_endpoint(DatagramOptions options);

}  // namespace concur::asyncio
