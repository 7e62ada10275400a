// SPDX-License-Identifier: MIT
// multiprocessing::SharedMemory: shm_open + mmap, creation registered with the tracker.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <utility>

#include <fmt/format.h>

#include "concur/multiprocessing/serialize.hpp"
#include "concur/multiprocessing/shared_memory.hpp"
#include "multiprocessing/shm_tracker.hpp"

namespace concur::multiprocessing {

namespace {

/// Python's name for a new block: "psm_" and 8 random hex digits. Drawn from the OS each time:
/// a seeded engine would hand forked children the same sequence, hence the same names.
std::string random_name() {
  std::random_device entropy;
  return fmt::format("psm_{:08x}", static_cast<std::uint32_t>(entropy()));
}

std::string strip_slash(std::string name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  if (name.empty()) throw ValueError("shared memory name must not be empty");
  if (name.find('/') != std::string::npos) throw ValueError("shared memory name must not contain '/': " + name);
  if (name.size() > 250) throw ValueError("shared memory name too long: " + name);
  return name;
}

[[noreturn]] void throw_shm_error(int err, const std::string& name) {
  const std::string what = "shared memory '" + name + "'";
  if (err == EEXIST) throw FileExistsError(what);
  if (err == ENOENT) throw FileNotFoundError(what);
  throw_os_error(err, what);
}

/// Closes a descriptor at scope exit.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

std::string reduced_name(detail::InputArchive& ar) {
  std::string name;
  ar(name);
  return name;
}

}  // namespace

SharedMemory::SharedMemory(from_reduction_t, detail::InputArchive& ar)
    : SharedMemory(SharedMemoryOptions{.name = reduced_name(ar)}) {}

void SharedMemory::reduce(detail::OutputArchive& ar) const {
  if (closed()) throw ValueError("a closed SharedMemory cannot be passed to a process");
  ar(m_name);
}

SharedMemory::SharedMemory(SharedMemoryOptions options) {
  if (!options.create && !options.name) throw ValueError("'name' can only be None if create=True");
  if (options.create && options.size == 0) throw ValueError("'size' must be a positive number different from zero");

  int fd = -1;
  if (options.create) {
    // A random name is retried on a collision, as in Python; a given one is the caller's.
    for (;;) {
      m_name = options.name ? strip_slash(*options.name) : random_name();
      fd = ::shm_open(("/" + m_name).c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
      if (fd >= 0 || errno != EEXIST || options.name) break;
    }
    if (fd < 0) throw_shm_error(errno, m_name);
  } else {
    m_name = strip_slash(*options.name);
    fd = ::shm_open(("/" + m_name).c_str(), O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) throw_shm_error(errno, m_name);
  }
  FdCloser closer{fd};  // the mapping keeps the block alive; the descriptor is not needed after

  if (options.create) {
    // Register before sizing: from here on a crash of this process cannot leak the name.
    try {
      detail::shm_tracker::register_name(m_name);
    } catch (...) {
      ::shm_unlink(("/" + m_name).c_str());
      throw;
    }
    if (::ftruncate(fd, static_cast<off_t>(options.size)) != 0) {
      const int err = errno;
      ::shm_unlink(("/" + m_name).c_str());
      detail::shm_tracker::unregister_name(m_name);
      throw_shm_error(err, m_name);
    }
    m_size = options.size;
  } else {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_shm_error(errno, m_name);
    if (st.st_size <= 0) throw ValueError("cannot mmap an empty shared memory block: " + m_name);
    m_size = static_cast<std::size_t>(st.st_size);
  }

  void* data = ::mmap(nullptr, m_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) {
    const int err = errno;
    if (options.create) {
      ::shm_unlink(("/" + m_name).c_str());
      detail::shm_tracker::unregister_name(m_name);
    }
    throw_shm_error(err, m_name);
  }
  m_data = static_cast<std::byte*>(data);
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : m_name(std::move(other.m_name)),
      m_data(std::exchange(other.m_data, nullptr)),
      m_size(std::exchange(other.m_size, 0)) {}

SharedMemory& SharedMemory::operator=(SharedMemory&& other) noexcept {
  if (this != &other) {
    close();
    m_name = std::move(other.m_name);
    m_data = std::exchange(other.m_data, nullptr);
    m_size = std::exchange(other.m_size, 0);
  }
  return *this;
}

SharedMemory::~SharedMemory() { close(); }

std::span<std::byte> SharedMemory::buf() const {
  if (m_data == nullptr) throw ValueError("shared memory '" + m_name + "' is closed");
  return {m_data, m_size};
}

void SharedMemory::close() noexcept {
  if (m_data != nullptr) {
    ::munmap(m_data, m_size);
    m_data = nullptr;
  }
}

void SharedMemory::unlink() {
  if (m_name.empty()) throw ValueError("unlink() of a moved-from SharedMemory");
  if (::shm_unlink(("/" + m_name).c_str()) != 0) {
    const int err = errno;
    // Gone already (another process unlinked it): nothing is left for our tracker to clean.
    if (err == ENOENT) detail::shm_tracker::unregister_name(m_name);
    throw_shm_error(err, m_name);
  }
  detail::shm_tracker::unregister_name(m_name);
}

namespace detail {
std::vector<std::string> shared_memory_in_use() { return shm_tracker::registered_names(); }
}  // namespace detail

}  // namespace concur::multiprocessing
