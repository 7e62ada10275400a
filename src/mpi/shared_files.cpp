// SPDX-License-Identifier: MIT
// Worker ranks on rank 0's machine open its shared-memory files (see shared_files.hpp).
#include "shared_files.hpp"

#include <concur/mpi/runtime.hpp>

#include "protocol.hpp"

#include <fmt/core.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace concur::mpi::detail {

namespace {

namespace mp = concur::multiprocessing;

std::vector<char> g_shares;  // rank 0: g_shares[r] != 0 when rank r opens rank 0's files

struct Probe {
  std::int32_t pid = 0;  // 0: no probe (turned off, or rank 0 could not make its file)
  std::int32_t fd = -1;
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint64_t token[2] = {0, 0};
};

bool enabled() {
  const char* v = std::getenv("CONCUR_MPI_SHARED_FILES");
  return v == nullptr || std::strcmp(v, "0") != 0;
}

/// /proc/<pid>/fd/<fd>, opened read-only, if it is the file (dev, ino); else empty and why.
mp::detail::UniqueFd open_remote(std::int32_t pid, std::int32_t fd, std::uint64_t dev, std::uint64_t ino, std::string& error) {
  const std::string path = fmt::format("/proc/{}/fd/{}", pid, fd);
  mp::detail::UniqueFd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f) {
    error = fmt::format("cannot open rank 0's shared memory ({}): {}", path, std::strerror(errno));
    return {};
  }
  struct stat st {};
  if (::fstat(f.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_dev) != dev || static_cast<std::uint64_t>(st.st_ino) != ino) {
    error = fmt::format("{} is not the shared memory rank 0 named", path);
    return {};
  }
  return f;
}

}  // namespace

void probe_shared_files() {
  Probe p;
  mp::detail::UniqueFd file;
  if (rank() == 0 && enabled()) {
    file.reset(::memfd_create("concur-mpi-probe", MFD_CLOEXEC));
    struct stat st {};
    if (file && ::getrandom(p.token, sizeof p.token, 0) == static_cast<ssize_t>(sizeof p.token) &&
        ::pwrite(file.get(), p.token, sizeof p.token, 0) == static_cast<ssize_t>(sizeof p.token) && ::fstat(file.get(), &st) == 0) {
      p.pid = static_cast<std::int32_t>(::getpid());
      p.fd = file.get();
      p.dev = static_cast<std::uint64_t>(st.st_dev);
      p.ino = static_cast<std::uint64_t>(st.st_ino);
    }
  }
  check(MPI_Bcast(&p, sizeof p, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  char mine = 0;
  if (rank() != 0 && p.pid != 0) {
    std::string error;
    const auto f = open_remote(p.pid, p.fd, p.dev, p.ino, error);
    std::uint64_t token[2] = {0, 0};
    mine = f && ::pread(f.get(), token, sizeof token, 0) == static_cast<ssize_t>(sizeof token) && token[0] == p.token[0] &&
           token[1] == p.token[1];
  }
  std::vector<char> all(static_cast<std::size_t>(rank() == 0 ? size() : 0));
  check(MPI_Gather(&mine, 1, MPI_CHAR, all.data(), 1, MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Gather");
  if (rank() == 0) g_shares = std::move(all);
}

bool shares_files_with(int r) noexcept {
  return r > 0 && static_cast<std::size_t>(r) < g_shares.size() && g_shares[static_cast<std::size_t>(r)] != 0;
}

mp::detail::UniqueFd RemoteFiles::open(const RemoteFile& file, std::uint64_t size, std::string& error) {
  auto it = std::find_if(m_entries.begin(), m_entries.end(), [&](const Entry& e) { return e.dev == file.dev && e.ino == file.ino; });
  if (it == m_entries.end()) {
    auto f = open_remote(file.pid, file.fd, file.dev, file.ino, error);
    if (!f) return {};
    struct stat st {};
    if (::fstat(f.get(), &st) != 0) {
      error = fmt::format("cannot read the size of rank 0's shared memory: {}", std::strerror(errno));
      return {};
    }
    const auto bytes = static_cast<std::size_t>(std::max<off_t>(st.st_size, 0));
    // Kept, within the bounds: the least recently used go first.
    std::size_t kept = bytes;
    for (const Entry& e : m_entries) kept += e.size;
    while (!m_entries.empty() && (m_entries.size() >= max_entries || kept > max_bytes)) {
      auto oldest = std::min_element(m_entries.begin(), m_entries.end(), [](const Entry& a, const Entry& b) { return a.used < b.used; });
      kept -= oldest->size;
      m_entries.erase(oldest);
    }
    m_entries.push_back(Entry{std::move(f), file.dev, file.ino, bytes, 0});
    it = m_entries.end() - 1;
  }
  it->used = ++m_clock;
  struct stat st {};
  if (::fstat(it->fd.get(), &st) != 0 || static_cast<std::uint64_t>(std::max<off_t>(st.st_size, 0)) < size) {
    error = "rank 0's shared memory is shorter than the task's block";
    return {};
  }
  // The same open file as the kept one: the worker process recognises it and keeps its mapping.
  mp::detail::UniqueFd copy(::fcntl(it->fd.get(), F_DUPFD_CLOEXEC, 3));
  if (!copy) error = fmt::format("dup: {}", std::strerror(errno));
  return copy;
}

}  // namespace concur::mpi::detail
