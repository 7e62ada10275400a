// SPDX-License-Identifier: MIT
// Read-only mappings of the shared-memory files whose blocks a rank sends (internal), kept
// from one message to the next.
//
// MPI sends a block straight from memory, so the file a task's (or a result's) block was
// serialized into must be mapped in the sending process. Mapping it anew for each message and
// unmapping it after costs more than the copy itself on a busy rank: on one machine the
// receiving rank reads the block out of this process (Open MPI's single-copy transport,
// process_vm_readv), faulting in every page of a fresh mapping under this process's
// memory-map lock, and every mmap and munmap here waits for that lock (a munmap was seen to
// take 5 ms). The files themselves are reused by their owners (the Pool's recycled segments,
// BlobBuffers), so their mappings are kept: a message of a file seen before costs no system
// call at all.
//
// A file is recognised by its device and inode while an entry holds a descriptor of it (so
// the inode cannot be reused for another file meanwhile). At most `max_entries` files and
// `max_bytes` of mappings are kept; the least recently used mapping that no message is
// being sent from goes first. Not thread-safe: one per thread that calls MPI.
#pragma once

#include <concur/multiprocessing/detail/unique_fd.hpp>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>

#include "protocol.hpp"

namespace concur::mpi::detail {

class SendMappings {
 public:
  SendMappings() = default;
  SendMappings(const SendMappings&) = delete;
  SendMappings& operator=(const SendMappings&) = delete;
  ~SendMappings();

  /// The first `size` bytes of the file `fd` refers to, mapped read-only; the mapping stays
  /// while the returned lease lives (and after, cached). Aborts the job (after saying why,
  /// naming `what`) when the file cannot be mapped.
  std::shared_ptr<const unsigned char> map(int fd, std::size_t size, const char* what);

 private:
  struct Entry {
    multiprocessing::detail::UniqueFd fd;  // keeps the file (and its inode number) alive
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    unsigned char* data = nullptr;
    std::size_t size = 0;
    std::size_t leases = 0;  // messages being sent from it
  };
  static constexpr std::size_t max_entries = 128;
  static constexpr std::size_t max_bytes = std::size_t{512} << 20;
  void trim();

  std::list<Entry> m_entries;  // most recently used first; stable addresses for the leases
  std::size_t m_bytes = 0;
};

/// Sends the first `size` bytes of the file `fd` refers to to `dest` with `tag`, in pieces
/// of at most max_piece bytes, from `maps`' mapping of it; `s` keeps the mapping and the
/// requests until they complete.
void send_blob(Sending& s, SendMappings& maps, int fd, std::size_t size, int dest, int tag, const char* what);

}  // namespace concur::mpi::detail
