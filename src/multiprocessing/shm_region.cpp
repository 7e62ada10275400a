// SPDX-License-Identifier: MIT
// detail::SharedRegion: one MAP_SHARED mapping of a memfd.
#include "concur/multiprocessing/detail/shared_region.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>

#include "concur/errors.hpp"
#include "concur/multiprocessing/serialize.hpp"

namespace concur::multiprocessing::detail {

namespace {
void* map_shared(int fd, std::size_t size) {
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) throw_os_error(errno, "mmap of shared memory");
  return data;
}
}  // namespace

SharedRegion::SharedRegion(std::size_t size) {
  if (size == 0) throw ValueError("a shared region cannot be empty");
  UniqueFd fd(::memfd_create("concur-shared", MFD_CLOEXEC));
  if (!fd) throw_os_error(errno, "memfd_create");
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) throw_os_error(errno, "ftruncate of shared memory");
  m_data = map_shared(fd.get(), size);
  m_size = size;
  m_fd = std::move(fd);
}

SharedRegion::SharedRegion(from_reduction_t, InputArchive& ar, std::size_t at_least) {
  std::uint64_t index = 0;
  std::uint64_t size = 0;
  ar(index, size);
  UniqueFd fd = ar.take_fd(index);
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) throw_os_error(errno, "fstat of shared memory");
  if (size == 0 || size < at_least || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) < size)
    InputArchive::fail("a shared region's memory file is missing or too small");
  m_data = map_shared(fd.get(), static_cast<std::size_t>(size));
  m_size = static_cast<std::size_t>(size);
  m_fd = std::move(fd);
}

void SharedRegion::reduce(OutputArchive& ar) const {
  if (!m_fd) throw ValueError("an empty shared region cannot be passed to a process");
  const std::uint64_t index = ar.attach_fd(m_fd.get());
  ar(index, static_cast<std::uint64_t>(m_size));
}

SharedRegion& SharedRegion::operator=(SharedRegion&& other) noexcept {
  if (this != &other) {
    SharedRegion old(std::move(*this));
    m_data = std::exchange(other.m_data, nullptr);
    m_size = std::exchange(other.m_size, 0);
    m_fd = std::move(other.m_fd);
  }
  return *this;
}

SharedRegion::~SharedRegion() {
  assert((m_data == nullptr) == (m_size == 0));
  if (m_data != nullptr) ::munmap(m_data, m_size);
}

}  // namespace concur::multiprocessing::detail
