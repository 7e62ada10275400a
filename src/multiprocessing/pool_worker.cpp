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
                      std::string init_args, std::uint64_t maxtasks) {
  void* mem = ::mmap(nullptr, sizeof(WorkerPage), PROT_READ | PROT_WRITE, MAP_SHARED, page_fd.fd, 0);
  if (mem == MAP_FAILED) throw_os_error(errno, "mmap");
  page_fd.owned.reset();
  auto* page = static_cast<WorkerPage*>(mem);
  if (init_entry != 0) {
    Payload args;
    args.bytes = std::move(init_args);
    reinterpret_cast<ProcessEntry>(init_entry)(init_fn, args);
  }
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
  for (;;) {
    std::optional<Frame> f = reader.next();
    if (!f) {
      // Nothing left to run: wait for more (or EOF: exit).
      pollfd p{fd, POLLIN, 0};
      while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
      if (!reader.read_some(fd)) return;
      continue;
    }
    if (f->bytes.size() < 16) throw SerializationError("cannot decode message: task too short");
    std::uint64_t words[2];
    std::memcpy(words, f->bytes.data(), sizeof words);
    Payload chunk;
    chunk.bytes = f->bytes.substr(16);
    chunk.blob = std::move(f->blob);
    chunk.blob_size = f->header.blob_size;

    // Release: if this process dies now, the parent must see which task it held.
    page->current.store(f->header.tag, std::memory_order_release);
    const auto start = Clock::now();
    FrameHeader h;
    h.flags = frame_object;
    h.tag = f->header.tag;
    TaskOutcome outcome;
    try {
      if (chunk.blob) chunk.blob_view = mappings.view(chunk.blob.get(), chunk.blob_size);
      outcome = run_pool_task(reinterpret_cast<TaskEntry>(words[0]), words[1], chunk);
    } catch (...) {  // the segment could not be mapped: the task fails
      const std::exception_ptr e = std::current_exception();
      outcome.result = serialize(std::make_pair(exception_type_name(e), exception_message(e)));
      outcome.failed = true;
    }
    if (outcome.failed) h.flags |= frame_error;
    Payload& result = outcome.result;
    const auto end = Clock::now();
    page->current.store(0, std::memory_order_release);
    const auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
    std::string bytes(8 + result.bytes.size(), '\0');
    std::memcpy(bytes.data(), &ns, sizeof ns);
    std::memcpy(bytes.data() + 8, result.bytes.data(), result.bytes.size());
    h.blob_size = result.blob ? result.blob_size : 0;
    writer.append(h, bytes, std::move(result.blob));
    // Each result goes out before the next task starts: a result must never wait for a
    // long task behind it (imap streams). The parent reads many at once when it is busy.
    writer.flush(fd, true);
    if (maxtasks != 0 && ++done >= maxtasks) return;
  }
}

}  // namespace concur::multiprocessing::detail
