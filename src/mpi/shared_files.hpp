// SPDX-License-Identifier: MIT
// Rank 0's shared-memory files read in place by worker ranks on the same machine (internal).
//
// A task's large arguments are in a shared-memory file on rank 0 (the Pool's recycled
// segments, multiprocessing/blob_segments.hpp). A worker rank on another machine receives
// them by MPI; a worker rank on the same machine opens the file itself, through
// /proc/<rank 0's pid>/fd/<descriptor> — which the kernel allows to a process of the same
// user that may trace rank 0, the permission Open MPI's single-copy transport
// (process_vm_readv) needs too — and hands it to its worker process, which maps it: the block
// is not copied between the ranks at all.
//
// Which ranks can is found once, in init(), by trying: rank 0 makes a small file holding a
// random token, every worker rank opens it through /proc and reads the token back (a rank on
// another machine, or in another PID namespace, finds another process or none under that pid,
// and fails). CONCUR_MPI_SHARED_FILES=0 in the environment turns this off (every block goes
// by MPI, as between machines).
//
// A file stays valid for the worker rank while the task it came with is unanswered: rank 0's
// Pool keeps the task, and with it the descriptor, until then. The worker rank keeps what it
// opened (each file identified by device and inode, which cannot be reused while it is open)
// so that the next task in the same recycled segment costs no system call and its worker
// process keeps its mapping of it; at most `max_entries` files and `max_bytes` of them.
#pragma once

#include <concur/multiprocessing/detail/unique_fd.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace concur::mpi::detail {

/// Collective (every rank, in init(), after MPI_Init): finds the worker ranks that can open
/// rank 0's files.
void probe_shared_files();

/// On rank 0: whether worker rank `rank` opens rank 0's shared-memory files itself.
bool shares_files_with(int rank) noexcept;

/// A file of rank 0 as a task names it.
struct RemoteFile {
  std::int32_t pid = 0;
  std::int32_t fd = -1;
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
};

/// On a worker rank: rank 0's files opened so far. Not thread-safe (the rank's MPI thread).
class RemoteFiles {
 public:
  /// A new descriptor of `file`, which must hold at least `size` bytes; empty, with the
  /// reason in `error`, when it cannot be opened or is not that file.
  multiprocessing::detail::UniqueFd open(const RemoteFile& file, std::uint64_t size, std::string& error);

 private:
  struct Entry {
    multiprocessing::detail::UniqueFd fd;
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::size_t size = 0;  // the file's size when opened (for the bound on what is kept)
    std::uint64_t used = 0;
  };
  static constexpr std::size_t max_entries = 64;
  static constexpr std::size_t max_bytes = std::size_t{512} << 20;

  std::vector<Entry> m_entries;
  std::uint64_t m_clock = 0;
};

}  // namespace concur::mpi::detail
