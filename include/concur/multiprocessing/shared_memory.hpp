// SPDX-License-Identifier: MIT
// concur/multiprocessing/shared_memory.hpp — named shared-memory blocks (SharedMemory) and
// typed shared values and arrays (Value, Array).
//
// SharedMemory mirrors multiprocessing.shared_memory.SharedMemory(name, create, size): a POSIX
// shared-memory object (shm_open, in /dev/shm) mapped into the process. Any process — forked
// or not, started by concur or not — can attach to it by name. `buf()` is the mapping as a
// std::span<std::byte> (Python's memoryview).
//
// Lifetime, and why segments never leak. A named segment outlives every process that maps it
// until someone unlinks it; Python's creator must call unlink(), and a resource_tracker process
// unlinks whatever is left when the program ends. concur does the same with a smaller tracker:
// the first create() of a process starts one (a tiny single-threaded process, detached from the
// caller and its session) connected by a socket whose write end is inherited by every process
// forked afterwards. create() registers the name with it before sizing the segment; unlink()
// unregisters it. The tracker sees end-of-file only when every process holding the write end
// has ended — by return, exit, abort, segfault or SIGKILL alike, because the kernel closes the
// descriptors of a dead process — and then unlinks every name still registered, with a warning
// on stderr as Python's tracker prints. While no segment of a process is registered, it holds
// no tracker: the descriptor is closed and the tracker exits. Attaching registers nothing
// (Python 3.13's track=False behaviour for attachers: a process that merely reads a block does
// not destroy it when it ends).
//
// Value<T> and Array<T> mirror multiprocessing.Value / Array (and RawValue / RawArray with
// `.lock = false`): a trivially copyable T (or T[n]) in anonymous shared memory, with a
// process-shared RLock guarding each access unless lock=false. A child process reaches it when
// it is passed to the Process (or a Pool's initializer) as an argument the target takes by
// reference, under both start methods (reduction.hpp), or under "fork" by inheritance.
// SharedMemory passed that way is attached by name in the child, as Python pickles it. As in Python, `v.set_value(v.value() + 1)` is two locked steps, not one: hold
// get_lock() around a read-modify-write. The memory has no name and cannot leak.
//
// Differences from Python: size 0 when attaching is ignored and size() is the segment's real
// size (Python on Linux does the same); buf() of a closed block throws ValueError instead of
// returning None. The descriptor is closed right after mapping (Python keeps it), so a block
// costs no file descriptor. Value's value()/set_value() are methods (C++ has no properties);
// Array's element access is get(i)/set(i, v) (locked) and get_obj() (a raw span).
//
// Thread safety: a SharedMemory handle is not synchronized (like a file object); the bytes it
// maps are shared by every process and thread, unsynchronized: guard them with a
// multiprocessing lock. Value and Array are safe from any thread of any process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "concur/errors.hpp"
#include "concur/export.hpp"
#include "concur/multiprocessing/detail/shared_region.hpp"
#include "concur/multiprocessing/reduction.hpp"
#include "concur/multiprocessing/synchronize.hpp"

namespace concur::multiprocessing {

/// Python's keyword arguments of SharedMemory.
struct SharedMemoryOptions {
  /// The block's name, with or without the leading '/'. nullopt with create: a fresh random
  /// name ("psm_" + hex, as Python).
  std::optional<std::string> name = std::nullopt;
  /// Create a new block (FileExistsError when the name is taken) instead of attaching.
  bool create = false;
  /// Bytes of a new block; must be > 0 with create, ignored when attaching.
  std::size_t size = 0;
};

/// multiprocessing.shared_memory.SharedMemory. Move-only.
class CONCUR_API SharedMemory {
 public:
  /// Creates or attaches to a block. Throws ValueError (create without a size, attach without
  /// a name, a name that is empty or contains '/' after the first character), FileExistsError
  /// (create: the name is taken), FileNotFoundError (attach: no such block), OSError.
  explicit SharedMemory(SharedMemoryOptions options);
  /// Attaches to the existing block `name` (a template only so that a braced options list,
  /// `SharedMemory shm({.create = true, .size = n})`, is never ambiguous with a string).
  template <class Name>
    requires std::is_convertible_v<const Name&, std::string_view>
  explicit SharedMemory(const Name& name)
      : SharedMemory(SharedMemoryOptions{.name = std::string(std::string_view(name))}) {}
  /// Movable (the mapping moves with it), not copyable.
  /// @{
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&& other) noexcept;
  /// @}
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  /// close()s; never unlinks (as in Python).
  ~SharedMemory();
  /// Attaches, in a child, to the block another process reduced (by its name, as Python).
  SharedMemory(from_reduction_t, detail::InputArchive& ar);
  /// Records the block's name for a child process (reduction.hpp). ValueError once closed.
  void reduce(detail::OutputArchive& ar) const;

  /// The name, without the leading '/' (as Python reports it on POSIX).
  [[nodiscard]] const std::string& name() const noexcept { return m_name; }
  /// The size in bytes of the mapping.
  [[nodiscard]] std::size_t size() const noexcept { return m_size; }
  /// The mapped bytes. ValueError after close().
  [[nodiscard]] std::span<std::byte> buf() const;
  /// Whether close() was called (or the handle was moved from).
  [[nodiscard]] bool closed() const noexcept { return m_data == nullptr; }

  /// Unmaps the block from this process; other processes keep it. Idempotent.
  void close() noexcept;
  /// Removes the block's name, so that it is freed once every process has closed it, and
  /// tells the tracker it no longer needs cleaning. Call it once, from one process (usually the
  /// creator). FileNotFoundError when the name is already gone.
  void unlink();

 private:
  std::string m_name;          // without the leading '/'
  std::byte* m_data = nullptr;  // the mapping; nullptr once closed
  std::size_t m_size = 0;       // bytes mapped (kept after close, as Python's size)
};

namespace detail {
/// The names of the blocks this process created and has not unlinked (in the order of their
/// names). Tests use it to prove that nothing was left behind.
CONCUR_API std::vector<std::string> shared_memory_in_use();
}  // namespace detail

/// Python's `lock=` argument of Value and Array.
struct SharedOptions {
  /// Guard each access with a process-shared RLock (get_lock()); false: raw, like RawValue.
  bool lock = true;
};

/// multiprocessing.Value: one T in shared memory, with an optional process-shared RLock.
template <class T>
class Value {
  static_assert(std::is_trivially_copyable_v<T>,
                "multiprocessing::Value<T> needs a trivially copyable T: it lives in shared memory as raw bytes "
                "(an int, a double, a struct of those; not a std::string or anything holding pointers)");

 public:
  /// A shared T holding `initial`. Throws OSError when the shared memory cannot be made.
  explicit Value(T initial = T{}, SharedOptions options = {}) : m_region(sizeof(T)) {
    new (m_region.data()) T(initial);
    if (options.lock) m_lock.emplace();
  }
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;
  /// A handle, in a child, of the value another process reduced (reduction.hpp).
  template <class Archive>
  Value(from_reduction_t tag, Archive& ar) : m_region(tag, ar, sizeof(T)) {
    bool locked = false;
    ar(locked);
    if (locked) m_lock.emplace(tag, ar);
  }
  /// Records a handle of this value (its memory and its lock) for a child (reduction.hpp).
  template <class Archive>
  void reduce(Archive& ar) const {
    m_region.reduce(ar);
    const bool locked = m_lock.has_value();
    ar(locked);
    if (locked) m_lock->reduce(ar);
  }

  /// The value (read under the lock, if any).
  [[nodiscard]] T value() const {
    std::unique_lock hold = maybe_lock();
    return *m_region.as<T>();
  }
  /// Replaces the value (under the lock, if any).
  void set_value(const T& value) {
    std::unique_lock hold = maybe_lock();
    *m_region.as<T>() = value;
  }
  /// The lock guarding the value. RuntimeError when made with lock = false.
  [[nodiscard]] RLock& get_lock() const {
    if (!m_lock) throw RuntimeError("this Value was created with lock = false and has no lock");
    return *m_lock;
  }
  /// The shared T itself, for access without the lock (Python's get_obj()).
  [[nodiscard]] T& get_obj() const noexcept { return *m_region.as<T>(); }

 private:
  std::unique_lock<RLock> maybe_lock() const {
    return m_lock ? std::unique_lock<RLock>(*m_lock) : std::unique_lock<RLock>();
  }
  detail::SharedRegion m_region;      // holds one T
  mutable std::optional<RLock> m_lock;  // engaged iff made with lock = true
};

/// multiprocessing.Array: a fixed-size T[n] in shared memory, with an optional process-shared
/// RLock.
template <class T>
class Array {
  static_assert(std::is_trivially_copyable_v<T>,
                "multiprocessing::Array<T> needs a trivially copyable T: it lives in shared memory as raw bytes");

 public:
  /// `size` value-initialized (zero) elements. Throws OSError when the memory cannot be made.
  explicit Array(std::size_t size, SharedOptions options = {}) : Array(size, options, nullptr) {}
  /// A copy of `values`.
  explicit Array(std::span<const T> values, SharedOptions options = {})
      : Array(values.size(), options, values.data()) {}
  /// A copy of `values`: `Array<int> a{1, 2, 3};`.
  Array(std::initializer_list<T> values, SharedOptions options = {})
      : Array(values.size(), options, values.begin()) {}
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;
  /// A handle, in a child, of the array another process reduced (reduction.hpp).
  template <class Archive>
  Array(from_reduction_t tag, Archive& ar) : Array(tag, ar, read_size(ar)) {}
  /// Records a handle of this array (its memory and its lock) for a child (reduction.hpp).
  template <class Archive>
  void reduce(Archive& ar) const {
    const std::uint64_t size = m_size;
    ar(size);
    m_region.reduce(ar);
    const bool locked = m_lock.has_value();
    ar(locked);
    if (locked) m_lock->reduce(ar);
  }

  /// The number of elements (Python's len()).
  [[nodiscard]] std::size_t size() const noexcept { return m_size; }
  /// Element `index` (read under the lock, if any). IndexError when index >= size().
  [[nodiscard]] T get(std::size_t index) const {
    check(index);
    std::unique_lock hold = maybe_lock();
    return data()[index];
  }
  /// Replaces element `index` (under the lock, if any). IndexError when index >= size().
  void set(std::size_t index, const T& value) {
    check(index);
    std::unique_lock hold = maybe_lock();
    data()[index] = value;
  }
  /// A consistent copy of every element, taken under the lock (Python's `a[:]`).
  [[nodiscard]] std::vector<T> to_vector() const {
    std::unique_lock hold = maybe_lock();
    return std::vector<T>(data(), data() + m_size);
  }
  /// The lock guarding the elements. RuntimeError when made with lock = false.
  [[nodiscard]] RLock& get_lock() const {
    if (!m_lock) throw RuntimeError("this Array was created with lock = false and has no lock");
    return *m_lock;
  }
  /// The shared elements themselves, for access without the lock (Python's get_obj()).
  [[nodiscard]] std::span<T> get_obj() const noexcept { return {data(), m_size}; }

 private:
  Array(std::size_t size, SharedOptions options, const T* values)
      : m_region(bytes_for(size)), m_size(size) {
    T* elements = data();
    for (std::size_t i = 0; i < size; ++i) new (elements + i) T(values != nullptr ? values[i] : T{});
    if (options.lock) m_lock.emplace();
  }
  template <class Archive>
  Array(from_reduction_t tag, Archive& ar, std::size_t size) : m_region(tag, ar, bytes_for(size)), m_size(size) {
    bool locked = false;
    ar(locked);
    if (locked) m_lock.emplace(tag, ar);
  }
  template <class Archive>
  static std::size_t read_size(Archive& ar) {
    std::uint64_t size = 0;
    ar(size);
    if (size > static_cast<std::size_t>(-1)) throw ValueError("Array size too large");
    return static_cast<std::size_t>(size);
  }
  static std::size_t bytes_for(std::size_t size) {
    if (size > static_cast<std::size_t>(-1) / sizeof(T)) throw ValueError("Array size too large");
    return size == 0 ? 1 : size * sizeof(T);  // a mapping cannot be empty
  }
  T* data() const noexcept { return m_region.as<T>(); }
  void check(std::size_t index) const {
    if (index >= m_size) throw IndexError("invalid index");
  }
  std::unique_lock<RLock> maybe_lock() const {
    return m_lock ? std::unique_lock<RLock>(*m_lock) : std::unique_lock<RLock>();
  }
  detail::SharedRegion m_region;        // holds m_size Ts (at least one byte)
  std::size_t m_size;                   // immutable
  mutable std::optional<RLock> m_lock;  // engaged iff made with lock = true
};

}  // namespace concur::multiprocessing
