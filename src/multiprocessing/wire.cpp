// SPDX-License-Identifier: MIT
// Frames over Unix stream sockets, with memfd descriptors passed as SCM_RIGHTS.
#include "wire.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace concur::multiprocessing::detail {
namespace {

constexpr std::size_t max_fds_per_read = max_fds_per_message;

[[noreturn]] void throw_send_error(int err) {
  if (err == EPIPE || err == ECONNRESET) throw BrokenPipeError("the other end of the connection is closed");
  throw_os_error(err, "sending on a connection");
}

void check_header(const FrameHeader& h) {
  if (h.magic != frame_magic) throw OSError(EPROTO, "corrupt message header");
  if (h.length > max_frame_length) throw OSError(EMSGSIZE, "bad message length");
  if (((h.flags & frame_has_blob) != 0) != (h.blob_size != 0)) throw OSError(EPROTO, "corrupt message header");
}

// recvmsg into [data, data + size), appending received descriptors to `fds`. Returns bytes
// read (0 on EOF) or -1 with errno.
ssize_t recv_with_fds(int sock, char* data, std::size_t size, std::deque<UniqueFd>& fds, int flags) {
  iovec iov{data, size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds_per_read)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0) throw OSError(EPROTO, "too many descriptors in one message");
  return n;
}

}  // namespace

// sendmsg of [data, data + size) with `fd` attached when >= 0. Returns bytes sent, or -1 with
// errno (EAGAIN included).
ssize_t send_with_fd(int sock, const char* data, std::size_t size, int fd) {
  iovec iov{const_cast<char*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

void set_nonblocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) throw_os_error(errno, "fcntl");
  const int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) < 0) throw_os_error(errno, "fcntl");
}

void send_frame(int fd, FrameHeader header, std::string_view bytes, int blob_fd) {
  header.length = bytes.size();
  // Small frames go out in one sendmsg (header + body copied together); large ones as the
  // header (with the descriptor) and then the body.
  std::string small;
  std::string_view first;
  std::string_view rest;
  if (bytes.size() <= 4096) {
    small.resize(sizeof header + bytes.size());
    std::memcpy(small.data(), &header, sizeof header);
    std::memcpy(small.data() + sizeof header, bytes.data(), bytes.size());
    first = small;
  } else {
    small.assign(reinterpret_cast<const char*>(&header), sizeof header);
    first = small;
    rest = bytes;
  }
  int attach = blob_fd;
  for (std::string_view part : {first, rest}) {
    while (!part.empty()) {
      const ssize_t n = send_with_fd(fd, part.data(), part.size(), attach);
      if (n < 0) throw_send_error(errno);
      attach = -1;
      part.remove_prefix(static_cast<std::size_t>(n));
    }
  }
}

bool recv_frame(int fd, Frame& out, std::uint64_t max_length) {
  std::deque<UniqueFd> fds;
  char* h = reinterpret_cast<char*>(&out.header);
  std::size_t got = 0;
  while (got < sizeof(FrameHeader)) {
    const ssize_t n = recv_with_fds(fd, h + got, sizeof(FrameHeader) - got, fds, MSG_WAITALL);
    if (n < 0) throw_os_error(errno, "receiving on a connection");
    if (n == 0) {
      if (got == 0) return false;
      throw EOFError("the connection closed in the middle of a message");
    }
    got += static_cast<std::size_t>(n);
  }
  check_header(out.header);
  if (out.header.length > max_length) throw OSError(EMSGSIZE, "bad message length");
  if ((out.header.flags & frame_has_blob) != 0) {
    if (fds.empty()) throw OSError(EPROTO, "a message lost its shared-memory descriptor");
    out.blob = std::move(fds.front());
  } else {
    out.blob.reset();
  }
  // The body's buffer follows the bytes that arrived, not the length the header declares: a
  // header that says 16 GiB followed by 10 bytes and EOF costs 64 KiB, not a bad_alloc.
  constexpr std::size_t first_step = 64 * 1024;
  const auto length = static_cast<std::size_t>(out.header.length);
  out.bytes.clear();
  got = 0;
  while (got < length) {
    if (got == out.bytes.size()) out.bytes.resize(got + std::min(length - got, std::max(first_step, got)));
    ssize_t n;
    do {
      n = ::recv(fd, out.bytes.data() + got, out.bytes.size() - got, MSG_WAITALL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw_os_error(errno, "receiving on a connection");
    if (n == 0) throw EOFError("the connection closed in the middle of a message");
    got += static_cast<std::size_t>(n);
  }
  return true;
}

void send_fds(int sock, std::span<const int> fds) {
  // One message per max_fds_per_message descriptors (at least one message): recv_fds reads
  // them back the same way.
  std::size_t sent = 0;
  do {
    const std::span<const int> chunk = fds.subspan(sent, std::min(max_fds_per_message, fds.size() - sent));
    char byte = 'F';
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds_per_message)];
    if (!chunk.empty()) {
      std::memset(control, 0, sizeof control);
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * chunk.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * chunk.size());
      std::memcpy(CMSG_DATA(c), chunk.data(), sizeof(int) * chunk.size());
    }
    ssize_t n;
    do {
      n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw_send_error(errno);
    sent += chunk.size();
  } while (sent < fds.size());
}

std::vector<UniqueFd> recv_fds(int sock, std::size_t count) {
  std::deque<UniqueFd> got;
  do {
    const std::size_t before = got.size();
    char byte = 0;
    const ssize_t n = recv_with_fds(sock, &byte, 1, got, MSG_WAITALL);
    if (n < 0) throw_os_error(errno, "receiving descriptors");
    if (n == 0) throw EOFError("the connection closed before the descriptors arrived");
    const std::size_t expected = std::min(max_fds_per_message, count - before);
    if (got.size() - before != expected)
      throw OSError(EPROTO, "expected " + std::to_string(count) + " descriptors, got " + std::to_string(got.size()));
  } while (got.size() < count);
  return {std::make_move_iterator(got.begin()), std::make_move_iterator(got.end())};
}

bool FrameReader::read_some(int fd) {
  constexpr std::size_t chunk = 256 * 1024;
  if (m_pos == m_end) {
    m_pos = 0;
    m_end = 0;
  } else if (m_pos > m_end / 2 && m_pos > chunk) {
    std::memmove(m_buf.data(), m_buf.data() + m_pos, m_end - m_pos);
    m_end -= m_pos;
    m_pos = 0;
  }
  // The buffer only grows (zero-filled then, once): a read into it must not clear a chunk
  // each time, which cost a 256 KiB memset per task in a pool worker.
  if (m_buf.size() < m_end + chunk) m_buf.resize(m_end + chunk);
  const ssize_t n = recv_with_fds(fd, m_buf.data() + m_end, chunk, m_fds, MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    if (errno == ECONNRESET) return false;
    throw_os_error(errno, "receiving on a channel");
  }
  m_end += static_cast<std::size_t>(n);
  return n > 0;
}

std::optional<Frame> FrameReader::next() {
  Frame f;
  if (!next(f)) return std::nullopt;
  return f;
}

bool FrameReader::next(Frame& f) {
  if (m_end - m_pos < sizeof(FrameHeader)) return false;
  FrameHeader header;
  std::memcpy(&header, m_buf.data() + m_pos, sizeof(FrameHeader));
  check_header(header);
  if (m_end - m_pos - sizeof(FrameHeader) < header.length) return false;
  f.header = header;
  f.blob.reset();
  if ((header.flags & frame_has_blob) != 0) {
    if (m_fds.empty()) throw OSError(EPROTO, "a message lost its shared-memory descriptor");
    f.blob = std::move(m_fds.front());
    m_fds.pop_front();
  }
  f.bytes.assign(m_buf.data() + m_pos + sizeof(FrameHeader), header.length);
  m_pos += sizeof(FrameHeader) + header.length;
  return true;
}

void FrameWriter::append(FrameHeader header, std::string_view bytes, UniqueFd blob) {
  append(header, std::string_view(), bytes, std::move(blob));
}

void FrameWriter::append(FrameHeader header, std::string_view prefix, std::string_view bytes, UniqueFd blob) {
  header.length = prefix.size() + bytes.size();
  if (blob) {
    header.flags |= frame_has_blob;
    m_fds.push_back({m_buf.size(), std::move(blob)});
  }
  m_buf.append(reinterpret_cast<const char*>(&header), sizeof header);
  m_buf.append(prefix);
  m_buf.append(bytes);
}

bool FrameWriter::flush(int fd, bool blocking) {
  while (m_pos < m_buf.size()) {
    // Each descriptor goes with the first byte of its frame: stop a write before the next
    // frame that carries one, and attach it when the write starts there.
    int attach = -1;
    std::size_t end = m_buf.size();
    if (!m_fds.empty()) {
      if (m_fds.front().offset == m_pos) {
        attach = m_fds.front().fd.get();
        if (m_fds.size() > 1) end = m_fds[1].offset;
      } else {
        end = m_fds.front().offset;
      }
    }
    const ssize_t n = send_with_fd(fd, m_buf.data() + m_pos, end - m_pos, attach);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!blocking) return false;
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, -1) < 0 && errno != EINTR) throw_os_error(errno, "poll");
        continue;
      }
      throw_send_error(errno);
    }
    if (attach >= 0) m_fds.pop_front();
    m_pos += static_cast<std::size_t>(n);
  }
  m_buf.clear();
  m_pos = 0;
  return true;
}

}  // namespace concur::multiprocessing::detail
