// SPDX-License-Identifier: MIT
// libFuzzer target: the decoder (serialize.hpp's deserialize) on hostile messages, with or
// without a shared-memory blob. Any outcome but a value or a SerializationError is a finding:
// a crash, a sanitizer report, another exception, or an allocation beyond -malloc_limit_mb
// (a size taken from the message rather than from the bytes present).
//
// Input: [type u8][blob mode u8][blob file size u32][blob content length u16][content]
// [message body]. The message is the type's fingerprint followed by the body (whose first 8
// bytes are the blob size it declares, passed on as the frame would). Blob modes: 0 none,
// 1 a memfd (the content repeated, then zeros up to the file size), 2 a pipe (a descriptor
// that is not a file), 3 the memfd read through a pool worker's SegmentMappings.
#include <concur/multiprocessing/serialize.hpp>

#include "blob_segments.hpp"
#include "fuzz_types.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace mp = concur::multiprocessing;

namespace {

constexpr std::uint32_t max_blob_file = std::uint32_t{16} << 20;
constexpr std::size_t max_blob_written = std::size_t{128} << 10;  // the rest of the file is a hole

template <class T>
std::uint32_t read_le(const std::uint8_t*& p) {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v | static_cast<T>(static_cast<T>(p[i]) << (8 * i)));
  p += sizeof(T);
  return v;
}

mp::detail::UniqueFd make_memfd(std::string_view content, std::uint32_t file_size) {
  mp::detail::UniqueFd fd(::memfd_create("fuzz-blob", MFD_CLOEXEC));
  if (!fd) __builtin_trap();
  if (!content.empty()) {
    std::string chunk;
    const std::size_t written = std::min<std::size_t>(file_size, max_blob_written);
    while (chunk.size() < written) chunk.append(content.substr(0, written - chunk.size()));
    if (::pwrite(fd.get(), chunk.data(), chunk.size(), 0) != static_cast<ssize_t>(chunk.size())) __builtin_trap();
  }
  if (::ftruncate(fd.get(), file_size) < 0) __builtin_trap();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t prefix = 1 + 1 + 4 + 2;
  if (size < prefix) return 0;
  const std::uint8_t* p = data;
  const std::size_t type = *p++;
  const unsigned mode = *p++ % 4U;
  const std::uint32_t file_size = read_le<std::uint32_t>(p) % (max_blob_file + 1);
  const std::size_t content_length = std::min<std::size_t>(read_le<std::uint16_t>(p), size - prefix);
  const std::string_view content(reinterpret_cast<const char*>(p), content_length);
  const std::string_view body(reinterpret_cast<const char*>(p + content_length), size - prefix - content_length);

  std::uint64_t declared = 0;
  if (body.size() >= sizeof declared) std::memcpy(&declared, body.data(), sizeof declared);

  mp::detail::UniqueFd blob;
  mp::detail::UniqueFd pipe_write_end;
  if (mode == 1 || mode == 3) {
    blob = make_memfd(content, file_size);
  } else if (mode == 2) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) __builtin_trap();
    blob.reset(fds[0]);
    pipe_write_end.reset(fds[1]);
  }

  concur_fuzz::with_fuzz_type(type, [&]<class T>() {
    std::string message(sizeof(std::uint64_t), '\0');
    const std::uint64_t fingerprint = mp::detail::type_fingerprint<T>();
    std::memcpy(message.data(), &fingerprint, sizeof fingerprint);
    message.append(body);
    try {
      if (mode == 3) {
        mp::detail::SegmentMappings mappings;
        const unsigned char* view = mappings.view(blob.get(), declared);
        (void)mp::deserialize<T>(message, blob.get(), declared, {}, view);
      } else {
        (void)mp::deserialize<T>(message, blob.get(), declared);
      }
    } catch (const mp::SerializationError&) {
    }
  });
  return 0;
}
