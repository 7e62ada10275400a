// SPDX-License-Identifier: MIT
// Writes the seed corpora of the fuzz targets (fuzz/corpus/decode and fuzz/corpus/frame):
// one well-formed message of every fuzzed type, messages with a blob, and a few hostile ones
// (forged lengths, counts and blob sizes) from which the fuzzer mutates. Usage:
//   make_seeds <corpus directory>
#include <concur/multiprocessing/serialize.hpp>

#include "fuzz_types.hpp"
#include "wire.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>

namespace mp = concur::multiprocessing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

concur_fuzz::FuzzTypes samples() {
  concur_fuzz::Nested nested;
  nested.groups["g"] = {concur_fuzz::Point{1, 2, "p"}};
  nested.tag = std::string("t");
  std::vector<std::optional<std::array<char, 256>>> wide(3);
  wide[1] = std::array<char, 256>{};
  return {std::string("hello"),
          {1, 2, 3},
          {"a", "bc", ""},
          {{"k", {1, 2}}, {"l", {}}},
          {std::variant<int, std::string, double>(std::string("v")), true, {1, 2}, {"d", "e"}},
          {{1, {"x", "y"}}},
          {"s", "t"},
          nested,
          {{0.5, 1.5}, {}},
          {std::bitset<70>(0x5a5a), {{1.0, -2.0}, 42ms}, {u"wide", u""}},
          wide,
          {true, false, true},
          7};
}

std::string u64(std::uint64_t v) { return {reinterpret_cast<const char*>(&v), sizeof v}; }

void write(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string frame(const std::string& body, std::uint32_t flags, std::uint64_t blob_size = 0, std::uint64_t length = UINT64_MAX) {
  mp::detail::FrameHeader h;
  h.flags = flags;
  h.length = length == UINT64_MAX ? body.size() : length;
  h.blob_size = blob_size;
  return std::string(reinterpret_cast<const char*>(&h), sizeof h) + body;
}

// decode_fuzz's input: [type][blob mode][blob file size u32][content length u16][content][body]
std::string decode_input(std::size_t type, unsigned mode, std::uint32_t file_size, const std::string& content,
                         const std::string& body) {
  std::string s;
  s += static_cast<char>(type);
  s += static_cast<char>(mode);
  s.append(reinterpret_cast<const char*>(&file_size), 4);
  const auto n = static_cast<std::uint16_t>(content.size());
  s.append(reinterpret_cast<const char*>(&n), 2);
  return s + content + body;
}

// frame_fuzz's input: [reader][maxlength u16][type][blob file size u16, 256-byte units][stream]
std::string frame_input(unsigned reader, std::uint16_t maxlength, std::size_t type, std::uint16_t blob_units,
                        const std::string& stream) {
  std::string s;
  s += static_cast<char>(reader);
  s.append(reinterpret_cast<const char*>(&maxlength), 2);
  s += static_cast<char>(type);
  s.append(reinterpret_cast<const char*>(&blob_units), 2);
  return s + stream;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <corpus directory>\n");
    return 2;
  }
  const fs::path decode = fs::path(argv[1]) / "decode";
  const fs::path frames = fs::path(argv[1]) / "frame";
  fs::create_directories(decode);
  fs::create_directories(frames);

  const concur_fuzz::FuzzTypes values = samples();
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          const mp::Payload p = mp::serialize(std::get<I>(values));
          const std::string body = p.bytes.substr(sizeof(std::uint64_t));  // without the fingerprint
          write(decode / ("type" + std::to_string(I)), decode_input(I, 0, 0, "", body));
          std::string stream = frame(p.bytes, mp::detail::frame_object) + frame("raw", 0) + frame(p.bytes, mp::detail::frame_object);
          write(frames / ("recv-type" + std::to_string(I)), frame_input(1, 0xffff, I, 0, stream));
          write(frames / ("reader-type" + std::to_string(I)), frame_input(2, 0xffff, I, 0, stream));
        }(),
        ...);
  }(std::make_index_sequence<concur_fuzz::fuzz_type_count>{});

  // A string in a blob (the memfd holds 64 KiB of 'z'); the same with a forged blob size and
  // length; a vector of uint64 whose count fits the bytes left but not 8 bytes each.
  const std::string blob_string(mp::shared_memory_threshold, 'z');
  const mp::Payload in_blob = mp::serialize(blob_string);
  write(decode / "blob-string", decode_input(0, 1, static_cast<std::uint32_t>(blob_string.size()), "z", in_blob.bytes.substr(8)));
  write(decode / "blob-string-view", decode_input(0, 3, static_cast<std::uint32_t>(blob_string.size()), "z", in_blob.bytes.substr(8)));
  write(decode / "forged-blob-size", decode_input(0, 1, 4096, "z", u64(std::uint64_t{2} << 30) + u64(std::uint64_t{2} << 30)));
  write(decode / "blob-not-a-file", decode_input(0, 2, 0, "", in_blob.bytes.substr(8)));
  write(decode / "forged-count", decode_input(1, 1, 1 << 20, "", u64(1 << 20) + u64(1 << 20)));

  // Streams: raw messages for recv_bytes (with and without a maxlength), a header declaring
  // 16 GiB, a blob frame, a corrupt magic.
  const std::string two_raw = frame("0123456789", 0) + frame("abc", 0);
  write(frames / "bytes", frame_input(0, 0xffff, 0, 0, two_raw));
  write(frames / "bytes-maxlength", frame_input(0, 4, 0, 0, two_raw));
  write(frames / "bytes-into", frame_input(3, 8, 0, 0, two_raw));
  write(frames / "huge-length", frame_input(0, 0xffff, 0, 0, frame("only a few bytes", 0, 0, mp::detail::max_frame_length)));
  const mp::Payload zeros = mp::serialize(std::string(mp::shared_memory_threshold, '\0'));
  const std::string blob_frame = frame(zeros.bytes, mp::detail::frame_object | mp::detail::frame_has_blob, zeros.blob_size);
  write(frames / "blob", frame_input(0x81, 0xffff, 0, static_cast<std::uint16_t>(zeros.blob_size / 256), blob_frame));
  write(frames / "blob-reader", frame_input(0x82, 0xffff, 0, static_cast<std::uint16_t>(zeros.blob_size / 256), blob_frame));
  std::string bad = frame("abcd", 0);
  bad[0] = 'X';
  write(frames / "bad-magic", frame_input(0, 0xffff, 0, 0, bad));
  return 0;
}
