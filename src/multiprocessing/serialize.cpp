// SPDX-License-Identifier: MIT
// The OS side of serialize.hpp: the memfd (or recycled segment) that carries large blocks, and
// owned descriptors.
#include <concur/multiprocessing/serialize.hpp>

#include "blob_segments.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace concur::multiprocessing::detail {

void close_fd(int fd) noexcept {
  // Linux releases the descriptor even when close() reports EINTR: never retry.
  ::close(fd);
}

namespace {
thread_local bool t_recycled_blobs = false;  // a RecycledBlobScope is alive on this thread
}  // namespace

RecycledBlobScope::RecycledBlobScope() noexcept : m_previous(std::exchange(t_recycled_blobs, true)) {}
RecycledBlobScope::~RecycledBlobScope() { t_recycled_blobs = m_previous; }
bool RecycledBlobScope::active() noexcept { return t_recycled_blobs; }

void BlobWriter::append(const void* data, std::size_t size) {
  if (!m_fd && !m_segment && t_recycled_blobs) m_segment = acquire_blob_segment();
  if (m_segment) {
    blob_segment_write(*m_segment, m_size, data, size);
    m_size += size;
    return;
  }
  if (!m_fd) {
    const int fd = ::memfd_create("concur-blob", MFD_CLOEXEC);
    if (fd < 0) throw_os_error(errno, "memfd_create");
    m_fd.reset(fd);
  }
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(m_fd.get(), p, size, static_cast<off_t>(m_size));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_os_error(errno, "writing a shared-memory block");
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    m_size += static_cast<std::uint64_t>(n);
  }
}

UniqueFd BlobWriter::take() {
  if (!m_segment) return std::move(m_fd);
  // The payload's own descriptor of the segment (the segment keeps its own for reuse).
  const int copy = ::fcntl(blob_segment_fd(*m_segment), F_DUPFD_CLOEXEC, 3);
  if (copy < 0) throw_os_error(errno, "dup");
  return UniqueFd(copy);
}

std::uint64_t OutputArchive::attach_fd(int fd) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) throw_os_error(errno, "dup");
  m_out.fds.emplace_back(copy);
  return m_out.fds.size() - 1;
}

void blob_read(int fd, std::uint64_t offset, void* out, std::size_t size) {
  char* p = static_cast<char*>(out);
  while (size > 0) {
    const ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SerializationError("cannot decode message: reading the shared-memory block failed");
    }
    if (n == 0) throw SerializationError("cannot decode message: shared-memory block is truncated");
    p += n;
    offset += static_cast<std::uint64_t>(n);
    size -= static_cast<std::size_t>(n);
  }
}

void check_blob(int fd, std::uint64_t size) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
    throw SerializationError("cannot decode message: the shared-memory block is not a file");
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) < size)
    throw SerializationError("cannot decode message: shared-memory block is truncated");
}

}  // namespace concur::multiprocessing::detail
