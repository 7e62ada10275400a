// SPDX-License-Identifier: MIT
// libFuzzer target: the frame readers (wire.hpp's recv_frame behind Connection, and the
// Pool's non-blocking FrameReader) on a hostile byte stream, then the decoder on what they
// return. Any outcome but messages, EOFError, OSError, SerializationError or BufferTooShort is
// a finding: a crash, a sanitizer report, a hang (-timeout), another exception (bad_alloc), or
// an allocation beyond -malloc_limit_mb (a buffer sized from a header, not from the bytes
// that arrived).
//
// Input: [reader u8][maxlength u16][type u8][blob file size u16, in 256-byte units][stream].
// The stream is written to a Unix socket whose writing end is then shut down; when the
// reader byte's high bit is set, a memfd of the given size travels with its first byte (as a
// frame's blob does). Readers (low 2 bits): 0 recv_bytes(maxlength; 0xffff: none), 1 recv<T>,
// 2 FrameReader + deserialize<T>, 3 recv_bytes_into a buffer of maxlength bytes.
#include <concur/multiprocessing/connection.hpp>

#include "fuzz_types.hpp"
#include "wire.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace mp = concur::multiprocessing;

namespace {

constexpr std::size_t max_stream = 60'000;  // fits a Unix socket's buffer: written before reading

// Sends [data, data + size) on `sock` in one sendmsg, with `fd` attached when >= 0.
void send_stream(int sock, const std::uint8_t* data, std::size_t size, int fd) {
  iovec iov{const_cast<std::uint8_t*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  if (::sendmsg(sock, &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(size)) __builtin_trap();
}

template <class F>
void until_the_stream_ends(F&& read_one) {
  for (int i = 0; i < 10'000; ++i) {  // every message consumes at least a header
    try {
      read_one();
    } catch (const mp::SerializationError&) {  // the frame was read whole: the stream is in step
    } catch (const mp::BufferTooShort&) {
    } catch (const concur::EOFError&) {
      return;
    } catch (const concur::OSError&) {
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t prefix = 1 + 2 + 1 + 2;
  if (size < prefix || size - prefix > max_stream) return -1;  // -1: not added to the corpus
  const unsigned reader = data[0] & 3U;
  const bool attach_blob = (data[0] & 0x80U) != 0;
  const std::size_t maxlength = data[1] | (std::size_t{data[2]} << 8);
  const std::size_t type = data[3];
  const std::size_t blob_file_size = (data[4] | (std::size_t{data[5]} << 8)) * 256;

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) __builtin_trap();
  mp::detail::UniqueFd ours(sv[0]);
  mp::detail::UniqueFd theirs(sv[1]);
  if (size > prefix) {
    mp::detail::UniqueFd blob;
    if (attach_blob) {
      blob.reset(::memfd_create("fuzz-blob", MFD_CLOEXEC));
      if (!blob || ::ftruncate(blob.get(), static_cast<off_t>(blob_file_size)) < 0) __builtin_trap();
    }
    send_stream(theirs.get(), data + prefix, size - prefix, blob.get());
  }
  ::shutdown(theirs.get(), SHUT_WR);

  concur_fuzz::with_fuzz_type(type, [&]<class T>() {
    if (reader == 2) {
      mp::detail::set_nonblocking(ours.get(), true);
      mp::detail::FrameReader frames;
      until_the_stream_ends([&] {
        const bool open = frames.read_some(ours.get());
        while (std::optional<mp::detail::Frame> f = frames.next()) {
          if ((f->header.flags & mp::detail::frame_object) == 0) continue;
          try {
            (void)mp::deserialize<T>(f->bytes, f->blob.get(), f->header.blob_size);
          } catch (const mp::SerializationError&) {
          }
        }
        if (!open) throw concur::EOFError("end of the stream");
      });
      return;
    }
    mp::Connection conn(std::move(ours), true, false);
    std::vector<std::byte> buffer(maxlength);
    until_the_stream_ends([&] {
      switch (reader) {
        case 0:
          (void)conn.recv_bytes(maxlength == 0xffff ? std::nullopt : std::optional<std::size_t>(maxlength));
          break;
        case 1:
          (void)conn.recv<T>();
          break;
        default:
          (void)conn.recv_bytes_into(buffer);
          break;
      }
    });
  });
  return 0;
}
