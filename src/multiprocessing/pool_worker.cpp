// SPDX-License-Identifier: MIT
// The worker side of a Pool: decode a task, run it, send the result (see pool.cpp).
#include "pool_worker.hpp"

#include <concur/malloc.hpp>
#include <concur/multiprocessing/detail/pool_channel.hpp>
#include <concur/multiprocessing/detail/pool_task.hpp>

#include "blob_segments.hpp"
#include "wire.hpp"

#include <poll.h>
#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace concur::multiprocessing::detail {

TaskOutcome run_pool_task(TaskEntry entry, std::uintptr_t fn, Payload& chunk) {
  TaskOutcome out;
  try {
    out.result = entry(fn, chunk);
  } catch (...) {
    const std::exception_ptr e = std::current_exception();
    out.result = serialize(std::make_pair(exception_type_name(e), exception_message(e)));
    out.failed = true;
  }
  return out;
}

void pool_worker_main(FdArg channel, FdArg page_fd, std::uint64_t init_entry, std::uint64_t init_fn,
                      InitArgs init_args, std::uint64_t maxtasks) {
  void* mem = ::mmap(nullptr, sizeof(WorkerPage), PROT_READ | PROT_WRITE, MAP_SHARED, page_fd.fd, 0);
  if (mem == MAP_FAILED) throw_os_error(errno, "mmap");
  page_fd.owned.reset();
  auto* page = static_cast<WorkerPage*>(mem);
  if (init_entry != 0) reinterpret_cast<ProcessEntry>(init_entry)(init_fn, init_args.payload);
  page->initialized.store(1, std::memory_order_release);

  // A worker decodes each task's arguments into fresh containers and frees them after the
  // task. By default glibc hands a large freed heap top back to the kernel (and serves blocks
  // of a MiB or more with mmap), so every task faulted its arguments' pages in again and the
  // kernel zeroed them: for 1 MiB vectors that cost more than copying them in (measured: 200
  // MiB decoded in 190 ms, 50 ms with these settings). The worker is a process of ours that
  // runs tasks in a loop: it keeps up to 64 MiB of freed heap for the next task instead
  // (concur/malloc.hpp).
  (void)tune_malloc();  // false under a sanitizer's allocator: nothing to tune there

  using Clock = std::chrono::steady_clock;
  const int fd = channel.fd;
  FrameReader reader;
  FrameWriter writer;
  SegmentMappings mappings;  // the parent's recycled segments, mapped once
  std::uint64_t done = 0;
  // Reused from task to task (their buffers keep their capacity): no allocation per task.
  Frame f;
  Payload chunk;
  // When the last task ended, and whether this worker went straight on to the next one: a
  // task's run time is then measured from there, with one clock reading per task, not two.
  bool went_on = false;
  Clock::time_point last_end;
  for (;;) {
    if (!reader.next(f)) {
      // Nothing left to run: wait for more (or EOF: exit).
      pollfd p{fd, POLLIN, 0};
      while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
      if (!reader.read_some(fd)) return;
      went_on = false;
      continue;
    }
    if (f.bytes.size() < 16) throw SerializationError("cannot decode message: task too short");
    std::uint64_t words[2];
    std::memcpy(words, f.bytes.data(), sizeof words);
    chunk.bytes.assign(f.bytes, 16);
    chunk.blob = std::move(f.blob);
    chunk.blob_size = f.header.blob_size;
    chunk.blob_view = nullptr;
    chunk.fds.clear();
    chunk.blob_lease.reset();
    const std::uint64_t tag = f.header.tag;

    // Release: if this process dies now, the parent must see which task it held.
    page->current.store(tag, std::memory_order_release);
    const Clock::time_point start = went_on ? last_end : Clock::now();
    TaskOutcome outcome;
    try {
      if (chunk.blob) chunk.blob_view = mappings.view(chunk.blob.get(), chunk.blob_size);
      outcome = run_pool_task(reinterpret_cast<TaskEntry>(words[0]), words[1], chunk);
    } catch (...) {  // the segment could not be mapped: the task fails
      const std::exception_ptr e = std::current_exception();
      outcome.result = serialize(std::make_pair(exception_type_name(e), exception_message(e)));
      outcome.failed = true;
    }
    chunk.blob.reset();  // the task is done with its arguments' shared-memory block
    last_end = Clock::now();
    went_on = true;
    const auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(last_end - start).count());
    Payload& result = outcome.result;
    // Each result goes out before the next task starts: a result must never wait for a
    // long task behind it (imap streams). Into the shared ring when it fits (no system call;
    // the parent is rung only when it waits), else on the socket. Then the task is no longer
    // running: once the reply is out, this worker's death cannot cost the task (the parent
    // reads the ring before it asks which task was running).
    const Published published =
        result.blob ? Published::no_room
                    : publish_reply(page->replies, tag, outcome.failed ? reply_failed : 0, ns, result.bytes);
    if (published == Published::no_room) {
      FrameHeader h;
      h.flags = frame_object | (outcome.failed ? frame_error : 0U);
      h.tag = tag;
      h.blob_size = result.blob ? result.blob_size : 0;
      writer.append(h, std::string_view(reinterpret_cast<const char*>(&ns), sizeof ns), result.bytes, std::move(result.blob));
      writer.flush(fd, true);
    } else if (published == Published::ring) {
      FrameHeader h;  // a frame with no body: "look at the ring"
      writer.append(h, std::string_view(), UniqueFd());
      writer.flush(fd, true);
    }
    page->current.store(0, std::memory_order_release);
    if (maxtasks != 0 && ++done >= maxtasks) return;
  }
}

}  // namespace concur::multiprocessing::detail
