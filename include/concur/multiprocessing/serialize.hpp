// SPDX-License-Identifier: MIT
// concur/multiprocessing/serialize.hpp — how values cross a process boundary.
//
// Python pickles whatever crosses a Pipe, a Queue or a Pool. concur encodes values with cereal
// (a maintained, header-only C++ serialization library, Debian libcereal-dev) through a binary
// archive of its own, `detail::OutputArchive`/`detail::InputArchive`, which differ from
// cereal's BinaryArchive in three ways that matter across processes:
//
//   * decoding is checked: a truncated or corrupt message throws SerializationError — never
//     undefined behaviour, never a gigantic allocation. Every declared size is checked against
//     the bytes that are really there before anything is sized from it: the blob's against
//     the size of the file its descriptor refers to, a string's or an arithmetic vector's
//     byte count against the bytes left where they would be read from, any container's
//     element count against the bytes left; and containers of other elements grow as their
//     elements are decoded rather than being sized from the count. A bool must be 0 or 1, a
//     variant index must exist, trailing bytes are an error; and a message decoded as another
//     type than it was encoded from is refused (each Payload carries a fingerprint of its
//     type);
//   * large contiguous blocks (a std::string, or a vector/array of arithmetic values, of at
//     least `shared_memory_threshold` bytes) are not copied into the message: they go into one
//     anonymous shared-memory file (memfd) per message, whose descriptor travels beside the
//     bytes (SCM_RIGHTS over the Unix socket of a Connection, a Queue or a Pool). The receiver
//     reads them straight into the destination container; nothing large goes through the
//     socket buffer byte by byte. A Pool's tasks (serialized under a RecycledBlobScope) take
//     that file from a set of recycled, already mapped segments instead of creating one: the
//     blocks are copied into warm pages, and the file goes back to the set once the task is
//     done (see src/multiprocessing/blob_segments.hpp);
//   * the encoded form is a Payload (bytes + optional blob descriptor), not a stream.
//
// What is serializable out of the box: arithmetic types, enums, std::string, std::vector,
// std::array, std::deque, std::list, std::map, std::unordered_map, std::set,
// std::unordered_set, std::pair, std::tuple, std::optional, std::variant, std::complex,
// std::chrono::duration/time_point, std::bitset, and any nesting of them. A user type opts in
// with one member function (cereal's own convention):
//
//     struct Point {
//       double x, y;
//       template <class Archive> void serialize(Archive& ar) { ar(x, y); }
//     };
//
// Differences from pickle, and why: no object identity or cycles (values, not graphs: a value
// that crosses a process boundary is copied anyway); no arbitrary callables (functions cross
// as plain function pointers, see process.hpp); the format is for processes of the same
// binary on the same machine, not for storage or for other programs.
//
// Thread safety: serialize/deserialize are pure functions of their arguments; a Payload is a
// value (move-only because it owns a descriptor).
#pragma once

#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/bitset.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include <concur/errors.hpp>
#include <concur/export.hpp>
#include <concur/multiprocessing/detail/unique_fd.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <unordered_set>
#include <utility>
#include <vector>

namespace concur::multiprocessing {

/// Contiguous blocks at least this large travel through shared memory instead of the message.
inline constexpr std::size_t shared_memory_threshold = 64 * 1024;

/// A value encoded for another process: the message bytes and, when the value held large
/// contiguous blocks, the shared-memory file that carries them.
struct Payload {
  std::string bytes;         ///< header (type fingerprint, blob size) + the cereal encoding
  detail::UniqueFd blob;     ///< memfd holding the large blocks, in order; empty when none
  std::uint64_t blob_size = 0;  ///< bytes in `blob`
  /// Descriptors the value carries (a Connection passed to a Process): referenced by index
  /// from the bytes, handed to the child along with them.
  std::vector<detail::UniqueFd> fds;
  /// Keeps a recycled segment (see RecycledBlobScope) checked out while the payload lives;
  /// empty for a blob in a memfd of its own.
  std::shared_ptr<void> blob_lease;
  /// The receiver's mapping of the blob's `blob_size` bytes (owned elsewhere, valid while the
  /// payload is decoded), read instead of `blob` when set: a pool worker maps the recycled
  /// segments once (see SegmentMappings in src/multiprocessing/blob_segments.hpp).
  const unsigned char* blob_view = nullptr;
};

namespace detail {

/// A recycled shared-memory segment (defined in src/multiprocessing/blob_segments.cpp).
struct BlobSegment;

/// While one is alive on the calling thread, serialize() writes large blocks into a recycled
/// segment of the process (when one is retained, see retain_blob_segments) rather than a fresh
/// memfd. Only for payloads that no process reads after the payload is destroyed: the segment
/// is reused as soon as the payload (its blob_lease) is gone. A Pool's tasks qualify: the pool
/// drops a task only once the worker that read it answered, died or was killed.
class CONCUR_API RecycledBlobScope {
 public:
  RecycledBlobScope() noexcept;
  ~RecycledBlobScope();
  RecycledBlobScope(const RecycledBlobScope&) = delete;
  RecycledBlobScope& operator=(const RecycledBlobScope&) = delete;
  /// True while a scope is alive on the calling thread.
  [[nodiscard]] static bool active() noexcept;

 private:
  bool m_previous;
};

/// Keeps the process's recycled segments (and the free ones' memory, up to 256 MiB) alive
/// while the returned handle lives; a Pool holds one. Without any, RecycledBlobScope has no
/// effect. Thread-safe.
CONCUR_API std::shared_ptr<void> retain_blob_segments();

/// Appends blocks to a lazily created memfd, or to a recycled segment under a
/// RecycledBlobScope (defined in src/multiprocessing/serialize.cpp).
class CONCUR_API BlobWriter {
 public:
  /// Appends `size` bytes; throws OSError when the memfd cannot be created or written.
  void append(const void* data, std::size_t size);
  [[nodiscard]] std::uint64_t size() const noexcept { return m_size; }
  /// The blob's descriptor (empty if nothing was appended); OSError when a recycled segment's
  /// descriptor cannot be duplicated. The writer is empty afterwards, but for take_lease().
  UniqueFd take();
  /// The recycled segment the blob is in (empty for a memfd of its own).
  std::shared_ptr<void> take_lease() noexcept { return std::move(m_segment); }

 private:
  UniqueFd m_fd;                          // a memfd of the blob's own (empty with a segment)
  std::shared_ptr<BlobSegment> m_segment;  // or the recycled segment it is written into
  std::uint64_t m_size = 0;
};

/// Reads exactly `size` bytes at `offset` of `fd` into `out`; SerializationError when short.
CONCUR_API void blob_read(int fd, std::uint64_t offset, void* out, std::size_t size);
/// SerializationError unless `fd` is a regular file (a memfd) of at least `size` bytes: the
/// blob size a message declares is trusted only once the file really holds that much.
CONCUR_API void check_blob(int fd, std::uint64_t size);

/// FNV-1a of the type's mangled name: the same in every process of one binary.
template <class T>
std::uint64_t type_fingerprint() noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (const char* p = typeid(T).name(); *p != '\0'; ++p) {
    h ^= static_cast<unsigned char>(*p);
    h *= 1099511628211ULL;
  }
  return h;
}

inline constexpr std::size_t payload_header_size = 16;  // fingerprint u64 + blob size u64

class CONCUR_API OutputArchive : public cereal::OutputArchive<OutputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit OutputArchive(Payload& out) : cereal::OutputArchive<OutputArchive, cereal::AllowEmptyClassElision>(this), m_out(out) {}
  /// Raw bytes into the message.
  void save_inline(const void* data, std::size_t size) {
    m_out.bytes.append(static_cast<const char*>(data), size);
  }
  /// A contiguous block: into shared memory when large, inline otherwise.
  void save_block(const void* data, std::size_t size) {
    if (size >= shared_memory_threshold) {
      m_blob.append(data, size);
    } else {
      save_inline(data, size);
    }
  }
  BlobWriter& blob() noexcept { return m_blob; }
  /// Attaches a duplicate of `fd` to the payload; returns its index (OSError on failure).
  std::uint64_t attach_fd(int fd);

 private:
  Payload& m_out;
  BlobWriter m_blob;
};

class InputArchive : public cereal::InputArchive<InputArchive, cereal::AllowEmptyClassElision> {
 public:
  /// `blob_view`, when not null, holds the blob's `blob_size` bytes (read instead of the fd).
  InputArchive(std::string_view bytes, int blob_fd, std::uint64_t blob_size, std::span<UniqueFd> fds = {},
               const unsigned char* blob_view = nullptr)
      : cereal::InputArchive<InputArchive, cereal::AllowEmptyClassElision>(this),
        m_bytes(bytes), m_blob_fd(blob_fd), m_blob_size(blob_size), m_fds(fds), m_blob_view(blob_view) {}

  /// Takes the descriptor attached at `index`; SerializationError when there is none.
  UniqueFd take_fd(std::uint64_t index) {
    if (index >= m_fds.size() || !m_fds[index]) fail("a descriptor the message refers to is missing");
    return std::move(m_fds[index]);
  }

  void load_inline(void* data, std::size_t size) {
    if (size > m_bytes.size() - m_pos) fail("truncated message");
    if (size != 0) std::memcpy(data, m_bytes.data() + m_pos, size);
    m_pos += size;
  }
  void load_block(void* data, std::size_t size) {
    if (size < shared_memory_threshold) return load_inline(data, size);
    if ((m_blob_fd < 0 && m_blob_view == nullptr) || size > m_blob_size - m_blob_pos)
      fail("shared-memory block missing or truncated");
    if (m_blob_view != nullptr) {
      std::memcpy(data, m_blob_view + m_blob_pos, size);
    } else {
      blob_read(m_blob_fd, m_blob_pos, data, size);
    }
    m_blob_pos += size;
  }
  /// Where a block of `size` bytes lies in memory this archive reads (the message itself, or
  /// the receiver's mapping of the blob), consumed as load_block would consume it; null,
  /// consuming nothing, when the blob is read through its descriptor. SerializationError when
  /// the block is not there.
  const unsigned char* view_block(std::size_t size) {
    check_block(size);
    if (size < shared_memory_threshold) {
      const auto* at = reinterpret_cast<const unsigned char*>(m_bytes.data()) + m_pos;
      m_pos += size;
      return at;
    }
    if (m_blob_view == nullptr) return nullptr;
    const unsigned char* at = m_blob_view + m_blob_pos;
    m_blob_pos += size;
    return at;
  }
  /// SerializationError unless a block of `size` bytes is really left where load_block would
  /// read it (inline or in the blob): called before a container is sized for the block.
  void check_block(std::uint64_t size) const {
    if (size < shared_memory_threshold) {
      if (size > m_bytes.size() - m_pos) fail("truncated message");
    } else if ((m_blob_fd < 0 && m_blob_view == nullptr) || size > m_blob_size - m_blob_pos) {
      fail("shared-memory block missing or truncated");
    }
  }
  /// A container length: it cannot exceed the bytes that are left (each element takes at
  /// least one byte, except empty classes, for which a generous fixed bound applies).
  void check_length(std::uint64_t n) const {
    constexpr std::uint64_t empty_element_allowance = 1U << 16;
    const std::uint64_t left = (m_bytes.size() - m_pos) + (m_blob_size - m_blob_pos);
    if (n > left && n > empty_element_allowance) fail("corrupt length " + std::to_string(n));
  }
  [[nodiscard]] bool exhausted() const noexcept { return m_pos == m_bytes.size() && m_blob_pos == m_blob_size; }
  [[noreturn]] static void fail(const std::string& what) { throw SerializationError("cannot decode message: " + what); }

 private:
  std::string_view m_bytes;
  std::size_t m_pos = 0;
  int m_blob_fd;
  std::uint64_t m_blob_size;
  std::uint64_t m_blob_pos = 0;
  std::span<UniqueFd> m_fds;
  const unsigned char* m_blob_view;  // [0, m_blob_size) of the blob, or null: read m_blob_fd
};

// ---- how the archives encode cereal's primitives (save/load found by ADL on the archive
// type; the two `serialize` overloads for NameValuePair live in namespace cereal, found by ADL
// on cereal's type, because a function named `serialize` here would hide
// concur::multiprocessing::serialize from all code in detail) ----

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const T& t) {
  ar.save_inline(std::addressof(t), sizeof(t));
}
template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, T& t) {
  if constexpr (std::is_same_v<T, bool>) {
    unsigned char b = 0;
    ar.load_inline(&b, 1);
    if (b > 1) InputArchive::fail("corrupt bool");
    t = b == 1;
  } else {
    ar.load_inline(std::addressof(t), sizeof(t));
  }
}
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const cereal::SizeTag<T>& t) {
  const auto n = static_cast<std::uint64_t>(t.size);
  ar.save_inline(&n, sizeof n);
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, cereal::SizeTag<T>& t) {
  std::uint64_t n = 0;
  ar.load_inline(&n, sizeof n);
  ar.check_length(n);
  t.size = static_cast<std::remove_reference_t<T>>(n);
}

// ---- containers decoded without trusting their declared size (the encodings are cereal's;
// these overloads are more specialized than cereal's own, so they are the ones chosen) ----

/// The largest allocation made ahead of the elements themselves: beyond it, a container grows
/// as elements are decoded (each one consumed bytes of the message).
inline constexpr std::size_t max_reserve_bytes = std::size_t{1} << 20;

/// A block of `n` elements of `element_size` bytes: its byte count, checked against the bytes
/// really left (SerializationError when it is not there or overflows).
inline std::size_t checked_block_bytes(const InputArchive& ar, std::uint64_t n, std::size_t element_size) {
  if (n > UINT64_MAX / element_size) InputArchive::fail("corrupt length " + std::to_string(n));
  const std::uint64_t bytes = n * element_size;
  ar.check_block(bytes);
  return static_cast<std::size_t>(bytes);
}

template <class CharT, class Traits, class Alloc>
  requires std::is_arithmetic_v<CharT>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::basic_string<CharT, Traits, Alloc>& str) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  const std::size_t bytes = checked_block_bytes(ar, n, sizeof(CharT));
  str.resize(static_cast<std::size_t>(n));
  ar(cereal::binary_data(str.data(), bytes));
}

/// Appends `n` decoded elements to `c` one at a time (after reserving at most
/// max_reserve_bytes when `c` has reserve()).
template <class Container>
void load_elements(InputArchive& ar, Container& c, std::uint64_t n) {
  using T = typename Container::value_type;
  if constexpr (requires { c.reserve(std::size_t{}); })
    c.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n, max_reserve_bytes / sizeof(T) + 1)));
  for (std::uint64_t i = 0; i < n; ++i) {
    c.emplace_back();
    ar(c.back());
  }
}

// (std::vector<bool> keeps cereal's load: a bit per element, whose count cannot exceed the
// bytes left, each bool taking one.)
template <class T, class A>
  requires(!std::is_same_v<T, bool>)
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::vector<T, A>& vec) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  vec.clear();
  if constexpr (std::is_arithmetic_v<T>) {
    const std::size_t bytes = checked_block_bytes(ar, n, sizeof(T));
    const unsigned char* at = ar.view_block(bytes);
    if (at != nullptr && reinterpret_cast<std::uintptr_t>(at) % alignof(T) == 0) {
      // Copied straight into the new elements (resize() would zero them first: for a block
      // of megabytes that costs as much as the copy).
      const T* first = reinterpret_cast<const T*>(at);
      vec.assign(first, first + n);
    } else {
      vec.resize(static_cast<std::size_t>(n));
      if (at != nullptr) {
        if (bytes != 0) std::memcpy(vec.data(), at, bytes);
      } else {
        ar(cereal::binary_data(vec.data(), bytes));
      }
    }
  } else {
    load_elements(ar, vec, n);
  }
}

/// Thrown while decoding a view (below) whose bytes cannot be viewed in place: the caller
/// decodes the owning type instead.
struct ViewUnavailable {};

/// A std::vector<T>'s encoding decoded as a view of its elements where they lie (see
/// InputArchive::view_block; ViewUnavailable when they are not in memory or misaligned). For
/// a task function's parameters (detail/pool_task.hpp): valid while the message is.
template <class T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::span<const T>& view) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  const unsigned char* at = ar.view_block(checked_block_bytes(ar, n, sizeof(T)));
  if (at == nullptr || reinterpret_cast<std::uintptr_t>(at) % alignof(T) != 0) throw ViewUnavailable{};
  view = std::span<const T>(reinterpret_cast<const T*>(at), static_cast<std::size_t>(n));
}
/// A std::string's encoding decoded as a view of its characters, as for std::span above.
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::string_view& view) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  const unsigned char* at = ar.view_block(checked_block_bytes(ar, n, 1));
  if (at == nullptr) throw ViewUnavailable{};
  view = std::string_view(reinterpret_cast<const char*>(at), static_cast<std::size_t>(n));
}

template <class T, class A>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::deque<T, A>& deque) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  deque.clear();
  load_elements(ar, deque, n);
}

template <class T, class A>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::list<T, A>& list) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  list.clear();
  load_elements(ar, list, n);
}

template <class K, class H, class E, class A>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::unordered_set<K, H, E, A>& set) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  set.clear();  // no reserve(n): buckets for a forged count would cost 8 bytes per byte left
  for (std::uint64_t i = 0; i < n; ++i) {
    K key{};
    ar(key);
    set.emplace(std::move(key));
  }
}

template <class K, class H, class E, class A>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::unordered_multiset<K, H, E, A>& set) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  set.clear();
  for (std::uint64_t i = 0; i < n; ++i) {
    K key{};
    ar(key);
    set.emplace(std::move(key));
  }
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const cereal::BinaryData<T>& bd) {
  ar.save_block(bd.data, static_cast<std::size_t>(bd.size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, cereal::BinaryData<T>& bd) {
  ar.load_block(bd.data, static_cast<std::size_t>(bd.size));
}

}  // namespace detail

/// True when T can be sent to another process (out of the box or through a serialize member).
template <class T>
concept Serializable = std::is_same_v<T, std::remove_cvref_t<T>> && !std::is_pointer_v<T> &&
                       cereal::traits::is_output_serializable<T, detail::OutputArchive>::value &&
                       cereal::traits::is_input_serializable<T, detail::InputArchive>::value &&
                       std::is_default_constructible_v<T>;

/// Encodes `value` so that it decodes as a `Declared` (U must encode exactly as Declared does:
/// a tuple of references to the elements of a Declared tuple, for instance).
template <class Declared, class U>
Payload serialize_as(const U& value) {
  static_assert(Serializable<Declared>,
                "concur::multiprocessing: this type cannot cross a process boundary. Standard value "
                "types work out of the box; give your own type a member "
                "`template <class Archive> void serialize(Archive& ar) { ar(field1, field2); }` "
                "and a default constructor.");
  Payload out;
  out.bytes.resize(detail::payload_header_size);
  {
    detail::OutputArchive ar(out);
    ar(value);
    out.blob_size = ar.blob().size();
    out.blob = ar.blob().take();
    out.blob_lease = ar.blob().take_lease();
  }
  const std::uint64_t header[2] = {detail::type_fingerprint<Declared>(), out.blob_size};
  std::memcpy(out.bytes.data(), header, sizeof header);
  return out;
}

/// Encodes `value`. Throws OSError if the shared-memory block cannot be created.
template <class T>
Payload serialize(const T& value) {
  return serialize_as<T>(value);
}

/// Decodes what serialize<Declared> encoded as a T that decodes the same encoding (T may hold
/// views of the bytes, see detail/pool_task.hpp): checked as a Declared.
template <class Declared, class T>
T deserialize_as(std::string_view bytes, int blob_fd = -1, std::uint64_t blob_size = 0, std::span<detail::UniqueFd> fds = {},
                 const unsigned char* blob_view = nullptr) {
  if (bytes.size() < detail::payload_header_size) detail::InputArchive::fail("truncated header");
  std::uint64_t header[2];
  std::memcpy(header, bytes.data(), sizeof header);
  if (header[0] != detail::type_fingerprint<Declared>())
    detail::InputArchive::fail(std::string("the message does not hold a ") + typeid(Declared).name());
  if (header[1] != blob_size || (blob_size != 0 && blob_fd < 0 && blob_view == nullptr))
    detail::InputArchive::fail("shared-memory block size mismatch");
  // (a blob_view is a mapping whose owner checked the file's size, see SegmentMappings)
  if (blob_size != 0 && blob_view == nullptr) detail::check_blob(blob_fd, blob_size);
  T value{};
  detail::InputArchive ar(bytes.substr(detail::payload_header_size), blob_fd, blob_size, fds, blob_view);
  try {
    ar(value);
  } catch (const ValueError&) {
    throw;  // SerializationError, or a ValueError of the type's own load
  } catch (const cereal::Exception& e) {
    detail::InputArchive::fail(e.what());
  } catch (const std::logic_error& e) {
    // std::length_error, and std::invalid_argument / std::out_of_range from a standard type
    // built from corrupt data (a std::bitset from a string that is not all 0s and 1s)
    detail::InputArchive::fail(e.what());
  }
  if (!ar.exhausted()) detail::InputArchive::fail("trailing bytes");
  return value;
}

/// Decodes a T from `bytes` (+ the blob descriptor and size that came with them, or the
/// receiver's mapping of the blob).
/// Throws SerializationError when the bytes are truncated, corrupt, hold another type, or do
/// not match the blob; never reads out of bounds.
template <class T>
T deserialize(std::string_view bytes, int blob_fd = -1, std::uint64_t blob_size = 0, std::span<detail::UniqueFd> fds = {},
              const unsigned char* blob_view = nullptr) {
  static_assert(Serializable<T>,
                "concur::multiprocessing: this type cannot cross a process boundary (see serialize()).");
  return deserialize_as<T, T>(bytes, blob_fd, blob_size, fds, blob_view);
}

/// deserialize_as of a Payload that carries no descriptors.
template <class Declared, class T>
T deserialize_as(const Payload& payload) {
  return deserialize_as<Declared, T>(payload.bytes, payload.blob.get(), payload.blob_size, {}, payload.blob_view);
}
/// Decodes a Payload produced by serialize<T>. Descriptors it carries are moved out of it.
template <class T>
T deserialize(Payload& payload) {
  return deserialize<T>(payload.bytes, payload.blob.get(), payload.blob_size, payload.fds, payload.blob_view);
}
/// Decodes a Payload that carries no descriptors.
template <class T>
T deserialize(const Payload& payload) {
  return deserialize<T>(payload.bytes, payload.blob.get(), payload.blob_size, {}, payload.blob_view);
}

}  // namespace concur::multiprocessing

namespace cereal {
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(concur::multiprocessing::detail::OutputArchive& ar, NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(concur::multiprocessing::detail::InputArchive& ar, NameValuePair<T>& t) {
  ar(t.value);
}
}  // namespace cereal

CEREAL_REGISTER_ARCHIVE(concur::multiprocessing::detail::OutputArchive)
CEREAL_REGISTER_ARCHIVE(concur::multiprocessing::detail::InputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(concur::multiprocessing::detail::InputArchive, concur::multiprocessing::detail::OutputArchive)
