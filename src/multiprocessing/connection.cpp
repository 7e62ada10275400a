// SPDX-License-Identifier: MIT
// Connection and Pipe over Unix stream sockets (see connection.hpp and wire.hpp).
#include <concur/multiprocessing/connection.hpp>

#include "wire.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

namespace concur::multiprocessing {

void Connection::check_writable() const {
  if (!m_fd) throw OSError(EBADF, "handle is closed");
  if (!m_writable) throw OSError(EBADF, "connection is read-only");
}

void Connection::check_readable() const {
  if (!m_fd) throw OSError(EBADF, "handle is closed");
  if (!m_readable) throw OSError(EBADF, "connection is write-only");
}

int Connection::fileno() const {
  if (!m_fd) throw OSError(EBADF, "handle is closed");
  return m_fd.get();
}

void Connection::send_payload(const Payload& payload) {
  check_writable();
  if (!payload.fds.empty())
    throw ValueError("a Connection cannot be sent over a Connection; pass it to the Process as an argument");
  detail::FrameHeader h;
  h.flags = detail::frame_object | (payload.blob ? detail::frame_has_blob : 0U);
  h.blob_size = payload.blob ? payload.blob_size : 0;
  detail::send_frame(m_fd.get(), h, payload.bytes, payload.blob.get());
}

namespace {

// One frame off the socket, with Python's errors: EOFError when the peer closed between
// messages, OSError when it closed inside one ("got end of file during message") or when the
// header declares more than `max_length` bytes ("bad message length", before any of the body
// is read).
void recv_message(int fd, detail::Frame& f, std::uint64_t max_length = detail::max_frame_length) {
  bool got = false;
  try {
    got = detail::recv_frame(fd, f, max_length);
  } catch (const EOFError&) {
    throw OSError(EPROTO, "got end of file during message");
  }
  if (!got) throw EOFError("the other end of the connection is closed");
}

}  // namespace

Payload Connection::recv_payload() {
  check_readable();
  detail::Frame f;
  recv_message(m_fd.get(), f);
  Payload p;
  p.bytes = std::move(f.bytes);
  p.blob = std::move(f.blob);
  p.blob_size = f.header.blob_size;
  return p;
}

void Connection::send_bytes(std::string_view buf, std::size_t offset, std::optional<std::size_t> size) {
  check_writable();
  if (offset > buf.size()) throw ValueError("offset is out of range");
  const std::size_t n = size.value_or(buf.size() - offset);
  if (n > buf.size() - offset) throw ValueError("buffer length < offset + size");
  detail::send_frame(m_fd.get(), detail::FrameHeader{}, buf.substr(offset, n), -1);
}

std::string Connection::recv_bytes(std::optional<std::size_t> maxlength) {
  check_readable();
  detail::Frame f;
  // The length is checked against the header, before the body is read: a hostile length costs
  // nothing. The body is left unread, so the connection is closed, as Python does.
  const std::uint64_t limit = maxlength ? std::min<std::uint64_t>(*maxlength, detail::max_frame_length) : detail::max_frame_length;
  try {
    recv_message(m_fd.get(), f, limit);
  } catch (const OSError& e) {
    if (maxlength && e.errno_value() == EMSGSIZE) close();
    throw;
  }
  return std::move(f.bytes);
}

std::size_t Connection::recv_bytes_into(std::span<std::byte> buf, std::size_t offset) {
  if (offset > buf.size()) throw ValueError("negative offset or offset beyond the buffer");
  std::string bytes = recv_bytes();
  if (bytes.size() > buf.size() - offset)
    throw BufferTooShort("a message of " + std::to_string(bytes.size()) + " bytes does not fit in the buffer");
  if (!bytes.empty()) std::memcpy(buf.data() + offset, bytes.data(), bytes.size());  // buf may be empty (null)
  return bytes.size();
}

bool Connection::poll(std::optional<Timeout> timeout) const {
  check_readable();
  const auto deadline = timeout ? concur::detail::deadline_after(*timeout) : std::chrono::steady_clock::time_point::max();
  for (;;) {
    int ms = -1;
    if (timeout) {
      const auto left = deadline - std::chrono::steady_clock::now();
      ms = left <= left.zero() ? 0
                               : static_cast<int>(std::min<double>(
                                     std::ceil(std::chrono::duration<double, std::milli>(left).count()), 1e9));
    }
    pollfd p{m_fd.get(), POLLIN, 0};
    const int r = ::poll(&p, 1, ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_os_error(errno, "poll");
    }
    if (r > 0) return true;
    if (ms == 0 || (timeout && std::chrono::steady_clock::now() >= deadline)) return false;
  }
}

std::pair<Connection, Connection> Pipe(bool duplex) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) throw_os_error(errno, "socketpair");
  detail::UniqueFd a(fds[0]);
  detail::UniqueFd b(fds[1]);
  if (duplex) return {Connection(std::move(a), true, true), Connection(std::move(b), true, true)};
  ::shutdown(fds[0], SHUT_WR);
  ::shutdown(fds[1], SHUT_RD);
  return {Connection(std::move(a), true, false), Connection(std::move(b), false, true)};
}

}  // namespace concur::multiprocessing
