// SPDX-License-Identifier: MIT
// What rank 0 and the worker ranks say to each other (internal), and the helpers every MPI
// call of concur goes through.
//
// Messages on MPI_COMM_WORLD, each a header struct followed by bytes:
//
//   rank 0 -> worker   tag_task     TaskHeader + the chunk's encoded arguments; then, when the
//                                   chunk has a shared-memory block of blob_size bytes, that
//                                   block in tag_blob messages of at most 1 GiB each — unless
//                                   the header names rank 0's file of it (blob_file), which a
//                                   worker rank on the same machine opens (shared_files.hpp)
//                      tag_cancel   CancelHeader: kill what the pool of that epoch is running
//                      tag_exit     (empty) rank 0's program is exiting: stop, then ack
//   worker -> rank 0   tag_result   ResultHeader + encoded results, or (type, message) of an
//                                   exception, or a crash's description; then its block as
//                                   tag_result_blob messages, as for a task
//                      tag_exit_ack (empty) stopped; MPI_Finalize comes next
//
// Messages between two ranks arrive in the order they were sent (MPI's non-overtaking rule),
// and every block is received right after its header, so a block is never mistaken for
// another's. Each pool has an epoch (a number rank 0 never reuses); a result for a channel
// that was killed (terminate()) is received and dropped.
#pragma once

#include <mpi.h>

#include "shared_files.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

namespace concur::mpi::detail {

enum Tag : int {
  tag_task = 11,
  tag_blob = 12,
  tag_result = 13,
  tag_result_blob = 14,
  tag_cancel = 15,
  tag_exit = 16,
  tag_exit_ack = 17,
};

/// A function as every rank can find it: which loaded object (the hash of its build-id) and
/// the offset from that object's load address. {0, 0} is "no pointer" (a capture-less lambda).
struct FunctionRef {
  std::uint64_t object = 0;
  std::uint64_t offset = 0;
};

struct TaskHeader {
  std::uint64_t id = 0;
  std::uint64_t epoch = 0;
  FunctionRef entry;
  FunctionRef fn;
  std::uint64_t blob_size = 0;
  RemoteFile blob_file;  // pid 0: the block follows as tag_blob messages
};

enum class ResultKind : std::uint32_t {
  values = 0,     // the chunk's encoded results
  exception = 1,  // serialize(pair(type name, message)) of what the function threw
  crash = 2,      // serialize(string): the worker process died running it (ProcessError)
};

struct ResultHeader {
  std::uint64_t id = 0;
  std::uint64_t epoch = 0;
  ResultKind kind = ResultKind::values;
  std::uint32_t reserved = 0;
  std::uint64_t blob_size = 0;
  std::uint64_t run_ns = 0;  // how long the chunk took on the rank (rank 0's manager paces by it)
};

struct CancelHeader {
  std::uint64_t epoch = 0;
};

/// Largest piece of a block sent as one message (MPI counts are ints).
inline constexpr std::size_t max_piece = std::size_t{1} << 30;

/// An MPI call's return code: anything but success prints the rank, the call and MPI's
/// message on stderr and aborts the job (MPI_Abort): never a silent error, never a hang.
void check(int rc, const char* call);

/// Sleeps between polls: 1 µs after activity, doubling up to 1 ms while nothing happens
/// (mpi4py.futures backs off the same way).
class Backoff {
 public:
  void reset() noexcept { m_delay = std::chrono::microseconds(1); }
  /// How long to sleep now; the next call returns twice as much, up to the cap.
  std::chrono::microseconds next() noexcept {
    const auto d = m_delay;
    m_delay = std::min(m_delay * 2, std::chrono::microseconds(1000));
    return d;
  }

 private:
  std::chrono::microseconds m_delay{1};
};

/// A message on its way: the buffers MPI reads from, kept until its requests complete.
struct Sending {
  std::string message;
  std::shared_ptr<const unsigned char> blob;  // its block's mapping (send_mappings.hpp), or null
  std::vector<MPI_Request> requests;
};

/// Drops the messages of `sending` whose requests have all completed; returns whether any did.
inline bool test_sends(std::list<Sending>& sending) {
  bool progressed = false;
  for (auto it = sending.begin(); it != sending.end();) {
    int done = 0;
    check(MPI_Testall(static_cast<int>(it->requests.size()), it->requests.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
    if (done != 0) {
      it = sending.erase(it);
      progressed = true;
    } else {
      ++it;
    }
  }
  return progressed;
}

}  // namespace concur::mpi::detail
