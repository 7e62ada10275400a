// The OS side of serialize.hpp: the memfd that carries large blocks, and owned descriptors.
#include <concur/multiprocessing/serialize.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

namespace concur::multiprocessing::detail {

void close_fd(int fd) noexcept {
  // Linux releases the descriptor even when close() reports EINTR: never retry.
  ::close(fd);
}

void BlobWriter::append(const void* data, std::size_t size) {
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

}  // namespace concur::multiprocessing::detail
