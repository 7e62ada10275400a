// SPDX-License-Identifier: MIT
// SendMappings and send_blob (see send_mappings.hpp).
#include "send_mappings.hpp"

#include <concur/mpi/runtime.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace concur::mpi::detail {

namespace {

[[noreturn]] void fail(const char* what, const char* call) {
  const int err = errno;
  std::fprintf(stderr, "concur::mpi: rank %d: %s of %s: %s; aborting the job\n", concur::mpi::rank(), call, what, std::strerror(err));
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();  // MPI_Abort does not return
}

}  // namespace

SendMappings::~SendMappings() {
  for (auto& e : m_entries) ::munmap(e.data, e.size);
}

std::shared_ptr<const unsigned char> SendMappings::map(int fd, std::size_t size, const char* what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(what, "fstat");
  auto it = std::find_if(m_entries.begin(), m_entries.end(), [&](const Entry& e) {
    return e.dev == static_cast<std::uint64_t>(st.st_dev) && e.ino == static_cast<std::uint64_t>(st.st_ino);
  });
  if (it != m_entries.end() && it->size < size && it->leases == 0) {
    // The file grew since (a recycled segment took a larger block): mapped again below.
    ::munmap(it->data, it->size);
    m_bytes -= it->size;
    m_entries.erase(it);
    it = m_entries.end();
  }
  if (it == m_entries.end() || it->size < size) {
    void* data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) fail(what, "mmap");
    if (it != m_entries.end()) {
      // Grown while a message is still being sent from the old mapping: this one is not kept.
      return std::shared_ptr<const unsigned char>(static_cast<unsigned char*>(data),
                                                  [size](const unsigned char* p) { ::munmap(const_cast<unsigned char*>(p), size); });
    }
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) {
      ::munmap(data, size);
      fail(what, "dup");
    }
    Entry e;
    e.fd.reset(copy);
    e.dev = static_cast<std::uint64_t>(st.st_dev);
    e.ino = static_cast<std::uint64_t>(st.st_ino);
    e.data = static_cast<unsigned char*>(data);
    e.size = size;
    m_entries.push_front(std::move(e));
    m_bytes += size;
    it = m_entries.begin();
  } else if (it != m_entries.begin()) {
    m_entries.splice(m_entries.begin(), m_entries, it);  // most recently used first
  }
  Entry& entry = *it;
  ++entry.leases;
  trim();
  return std::shared_ptr<const unsigned char>(entry.data, [&entry](const unsigned char*) { --entry.leases; });
}

void SendMappings::trim() {
  // From the least recently used end, the mappings no message is being sent from.
  for (auto it = m_entries.end(); it != m_entries.begin() && (m_entries.size() > max_entries || m_bytes > max_bytes);) {
    --it;
    if (it->leases != 0) continue;
    ::munmap(it->data, it->size);
    m_bytes -= it->size;
    it = m_entries.erase(it);
  }
}

void send_blob(Sending& s, SendMappings& maps, int fd, std::size_t size, int dest, int tag, const char* what) {
  s.blob = maps.map(fd, size, what);
  for (std::size_t at = 0; at < size; at += max_piece) {
    const auto n = static_cast<int>(std::min<std::size_t>(max_piece, size - at));
    s.requests.emplace_back();
    check(MPI_Isend(s.blob.get() + at, n, MPI_BYTE, dest, tag, MPI_COMM_WORLD, &s.requests.back()), "MPI_Isend");
  }
}

}  // namespace concur::mpi::detail
