// SPDX-License-Identifier: MIT
// detail::SharedRegion: one anonymous MAP_SHARED mapping.
#include "concur/multiprocessing/detail/shared_region.hpp"

#include <sys/mman.h>

#include <cassert>
#include <cerrno>

#include "concur/errors.hpp"

namespace concur::multiprocessing::detail {

SharedRegion::SharedRegion(std::size_t size) {
  if (size == 0) throw ValueError("a shared region cannot be empty");
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) throw_os_error(errno, "mmap of shared memory");
  m_data = data;
  m_size = size;
}

SharedRegion& SharedRegion::operator=(SharedRegion&& other) noexcept {
  if (this != &other) {
    SharedRegion old(std::move(*this));
    m_data = std::exchange(other.m_data, nullptr);
    m_size = std::exchange(other.m_size, 0);
  }
  return *this;
}

SharedRegion::~SharedRegion() {
  assert((m_data == nullptr) == (m_size == 0));
  if (m_data != nullptr) ::munmap(m_data, m_size);
}

}  // namespace concur::multiprocessing::detail
