// SPDX-License-Identifier: MIT
// Private to src/multiprocessing: the framing every concur channel between processes uses
// (Connection, the Pool's task and result channels, the fork server's requests).
//
// A frame is a fixed header followed by `length` bytes. When the frame carries a
// shared-memory blob (flag frame_has_blob), its descriptor is attached (SCM_RIGHTS) to the
// sendmsg that carries the header, so the receiver gets it with the header's bytes.
#pragma once

#include <concur/multiprocessing/serialize.hpp>

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace concur::multiprocessing::detail {

inline constexpr std::uint32_t frame_magic = 0x31504d43;  // "CMP1"
enum FrameFlags : std::uint32_t {
  frame_object = 1U << 0,    // the bytes are a serialize() Payload (else raw bytes)
  frame_has_blob = 1U << 1,  // a memfd travels with the header
  frame_error = 1U << 2,     // a pool result that is an exception (type name, message)
};
/// The largest frame accepted. A header is never trusted for memory: the receiver's buffer
/// grows with the bytes that really arrived (see recv_frame), so a corrupt or hostile length
/// costs at most about twice what the peer actually sent.
inline constexpr std::uint64_t max_frame_length = std::uint64_t{1} << 34;

struct FrameHeader {
  std::uint32_t magic = frame_magic;
  std::uint32_t flags = 0;
  std::uint64_t length = 0;     // bytes following the header
  std::uint64_t blob_size = 0;  // bytes in the attached memfd
  std::uint64_t tag = 0;        // free for the channel's protocol (task ids, kinds)
};
static_assert(sizeof(FrameHeader) == 32);

struct Frame {
  FrameHeader header;
  std::string bytes;
  UniqueFd blob;
};

/// Blocking: sends one frame on socket `fd`. Throws BrokenPipeError when the peer is gone,
/// OSError otherwise. Never raises SIGPIPE.
void send_frame(int fd, FrameHeader header, std::string_view bytes, int blob_fd);
/// Blocking: receives one frame. Returns false on EOF before a frame starts; throws EOFError
/// on EOF inside a frame, OSError on a corrupt header or a socket error, and OSError("bad
/// message length") when the header declares more than `max_length` bytes — checked before
/// any of the body is read (the body is then left unread: the stream is out of step, close
/// it). The body's buffer grows as its bytes arrive, in steps (64 KiB, then doubling), never
/// to the declared length up front.
bool recv_frame(int fd, Frame& out, std::uint64_t max_length = max_frame_length);

/// Non-blocking, buffered reading of frames (the Pool's channels, where one read may carry
/// many frames). read_some() reads what is available; next() pops complete frames in order.
class FrameReader {
 public:
  /// Reads what the socket has. Returns false on EOF. Throws OSError on a socket error.
  bool read_some(int fd);
  /// The next complete frame, if any. Throws OSError on a corrupt header.
  std::optional<Frame> next();
  /// The same into `out`, whose buffer is reused (no allocation per frame once it is large
  /// enough); false when no complete frame is there.
  bool next(Frame& out);

 private:
  std::vector<char> m_buf;     // bytes read are [0, m_end); the unparsed ones start at m_pos
  std::size_t m_pos = 0;
  std::size_t m_end = 0;
  std::deque<UniqueFd> m_fds;  // descriptors received, in order
};

/// Buffered writing of frames: append() queues, flush() writes what the socket accepts.
class FrameWriter {
 public:
  void append(FrameHeader header, std::string_view bytes, UniqueFd blob);
  /// The same for a frame whose bytes are `prefix` then `bytes` (no copy joins them first).
  void append(FrameHeader header, std::string_view prefix, std::string_view bytes, UniqueFd blob);
  /// Writes as much as possible without blocking (or everything, when `blocking`). Returns
  /// true when the buffer is empty. Throws BrokenPipeError / OSError.
  bool flush(int fd, bool blocking);
  [[nodiscard]] bool empty() const noexcept { return m_pos == m_buf.size(); }
  [[nodiscard]] std::size_t pending() const noexcept { return m_buf.size() - m_pos; }

 private:
  struct Attached {
    std::size_t offset;  // position in m_buf of the header it travels with
    UniqueFd fd;
  };
  std::string m_buf;
  std::size_t m_pos = 0;
  std::deque<Attached> m_fds;
};

/// The most descriptors one message carries (SCM_RIGHTS allows up to 253).
inline constexpr std::size_t max_fds_per_message = 64;

/// Blocking: sends descriptors, up to max_fds_per_message per message (one byte of data
/// carries them; one message when there are none). Throws like send_frame.
void send_fds(int sock, std::span<const int> fds);
/// Blocking: receives exactly `count` descriptors sent by send_fds. Throws EOFError / OSError.
std::vector<UniqueFd> recv_fds(int sock, std::size_t count);

/// sendmsg of [data, data + size) with `fd` attached (SCM_RIGHTS) when >= 0, retried on EINTR,
/// without SIGPIPE. Returns the bytes sent, or -1 with errno (EAGAIN included).
ssize_t send_with_fd(int sock, const char* data, std::size_t size, int fd);

/// Sets O_NONBLOCK on `fd`.
void set_nonblocking(int fd, bool on);

}  // namespace concur::multiprocessing::detail
