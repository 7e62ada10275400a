// SPDX-License-Identifier: MIT
// BlobBuffers (see blob_buffers.hpp).
#include "blob_buffers.hpp"

#include <mpi.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace concur::mpi::detail {

BlobBuffers::Buffer::~Buffer() {
  if (data != nullptr) ::munmap(data, capacity);
}

std::shared_ptr<BlobBuffers::Buffer> BlobBuffers::take(std::size_t size) {
  std::unique_ptr<Buffer> b;
  {
    std::scoped_lock lock(m_mutex);
    // The smallest free buffer that is large enough.
    auto best = m_free.end();
    for (auto it = m_free.begin(); it != m_free.end(); ++it) {
      if ((*it)->capacity >= size && (best == m_free.end() || (*it)->capacity < (*best)->capacity)) best = it;
    }
    if (best != m_free.end()) {
      b = std::move(*best);
      m_free.erase(best);
    }
  }
  if (!b) {
    b = std::make_unique<Buffer>();
    const int fd = ::memfd_create("concur-mpi-block", MFD_CLOEXEC);
    if (fd >= 0) b->fd.reset(fd);
    void* mem = MAP_FAILED;
    if (fd >= 0 && ::ftruncate(fd, static_cast<off_t>(size)) == 0) mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) {
      std::fprintf(stderr, "concur::mpi: cannot map %zu bytes of shared memory for a message: %s; aborting the job\n", size,
                   std::strerror(errno));
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    b->data = static_cast<unsigned char*>(mem);
    b->capacity = size;
  }
  return std::shared_ptr<Buffer>(b.release(), [this](Buffer* p) { give_back(p); });
}

void BlobBuffers::give_back(Buffer* b) noexcept {
  std::unique_ptr<Buffer> owned(b);
  if (owned->capacity > max_kept_bytes) return;  // too large to keep
  std::scoped_lock lock(m_mutex);
  // The most recently used buffers stay: when the set is full, the one given back longest ago
  // goes (unmapped and closed), so buffers of an earlier size do not crowd out today's.
  try {
    m_free.push_back(std::move(owned));
  } catch (...) {
    return;  // no room to keep it: `owned` still has it, and frees it
  }
  std::size_t bytes = 0;
  for (const auto& f : m_free) bytes += f->capacity;
  while (m_free.size() > max_kept || bytes > max_kept_bytes) {
    bytes -= m_free.front()->capacity;
    m_free.erase(m_free.begin());
  }
}

BlobBuffers& blob_buffers() {
  static BlobBuffers* b = new BlobBuffers;  // never destroyed: leases may be dropped at exit
  return *b;
}

}  // namespace concur::mpi::detail
