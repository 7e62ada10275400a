// SPDX-License-Identifier: MIT
// The Pool's local channel (see pool_local_channel.hpp): a socket and a shared page per worker.
#include "pool_local_channel.hpp"

#include <concur/errors.hpp>

#include "pool_worker.hpp"
#include "process_impl.hpp"
#include "wire.hpp"

#include <fmt/core.h>

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

namespace concur::multiprocessing::detail {

namespace {

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

std::string describe_ending(int pid, std::optional<int> code) {
  if (!code) return fmt::format("worker process {} ended", pid);
  if (*code < 0) return fmt::format("worker process {} was killed by signal {} ({})", pid, -*code, signal_name(-*code));
  return fmt::format("worker process {} exited with code {}", pid, *code);
}

class LocalChannel final : public WorkerChannel {
 public:
  LocalChannel(Process process, UniqueFd socket, WorkerPage* page, bool has_initializer)
      : m_process(std::move(process)), m_socket(std::move(socket)), m_page(page), m_has_initializer(has_initializer) {}
  ~LocalChannel() override {
    if (m_page != nullptr) ::munmap(m_page, sizeof(WorkerPage));
    if (m_socket) unregister_parent_only_fd(m_socket.get());
  }

  /// Starts the worker process (after the channel took its descriptors: if the start fails,
  /// the destructor releases them).
  void start_process() { m_process.start(); }

  void send(std::uint64_t id, const PoolTask& task) override {
    FrameHeader h;
    h.flags = frame_object;
    h.tag = id;
    h.blob_size = task.chunk.blob ? task.chunk.blob_size : 0;
    std::string bytes(16 + task.chunk.bytes.size(), '\0');
    const std::uint64_t words[2] = {reinterpret_cast<std::uint64_t>(task.entry), task.fn};
    std::memcpy(bytes.data(), words, sizeof words);
    std::memcpy(bytes.data() + 16, task.chunk.bytes.data(), task.chunk.bytes.size());
    UniqueFd blob;
    if (task.chunk.blob) {  // a duplicate: the task keeps its own in case it must be re-sent
      const int copy = ::fcntl(task.chunk.blob.get(), F_DUPFD_CLOEXEC, 3);
      if (copy < 0) throw_os_error(errno, "dup");
      blob.reset(copy);
    }
    m_writer.append(h, bytes, std::move(blob));
  }

  void flush() override { m_writer.flush(m_socket.get(), false); }

  [[nodiscard]] std::size_t backlog() const override { return m_writer.pending(); }

  bool arm() override { return false; }  // every reply comes on the socket

  bool receive(std::vector<WorkerReply>& replies, bool readable) override {
    if (!readable) return true;
    // Reads until the socket is drained; returns when EOF or nothing more is there.
    for (;;) {
      bool open;
      try {
        open = m_reader.read_some(m_socket.get());
      } catch (const std::exception&) {
        open = false;
      }
      for (;;) {
        std::optional<Frame> f;
        try {
          f = m_reader.next();
        } catch (const std::exception&) {
          break;  // a corrupt frame: the worker is treated as dead once its sentinel fires
        }
        if (!f) break;
        if (f->bytes.size() < 8) continue;  // not a reply: ignore
        WorkerReply& r = replies.emplace_back();
        r.id = f->header.tag;
        r.failed = (f->header.flags & frame_error) != 0;
        std::memcpy(&r.run_ns, f->bytes.data(), sizeof r.run_ns);
        r.payload.bytes = f->bytes.substr(8);
        r.payload.blob = std::move(f->blob);
        r.payload.blob_size = f->header.blob_size;
      }
      if (!open) return false;
      pollfd p{m_socket.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) return true;
    }
  }

  [[nodiscard]] int descriptor() const override { return m_socket ? m_socket.get() : -1; }
  [[nodiscard]] int sentinel() const override { return m_process.sentinel(); }
  [[nodiscard]] bool alive() override { return m_process.is_alive(); }

  void close() noexcept override {
    if (!m_socket) return;
    try {
      m_writer.flush(m_socket.get(), true);
    } catch (const std::exception&) {
    }
    unregister_parent_only_fd(m_socket.get());
    m_socket.reset();
  }
  [[nodiscard]] bool closed() const override { return !m_socket; }

  WorkerEnding ended() override {
    m_process.join();
    WorkerEnding end;
    end.description = describe_ending(m_process.pid().value_or(-1), m_process.exitcode());
    // The worker's exit orders its writes to the page before these reads.
    end.running = m_page->current.load(std::memory_order_acquire);
    end.in_initializer = m_has_initializer && m_page->initialized.load(std::memory_order_acquire) == 0;
    return end;
  }

  void kill() override { m_process.kill(); }
  void join() override { m_process.join(); }

 private:
  Process m_process;
  UniqueFd m_socket;  // parent end, non-blocking; empty once closed
  WorkerPage* m_page = nullptr;
  const bool m_has_initializer;
  FrameReader m_reader;
  FrameWriter m_writer;
};

class LocalLauncher final : public WorkerLauncher {
 public:
  LocalLauncher(std::string start_method, const std::optional<ProcessTarget>& initializer, std::size_t maxtasks)
      : m_start_method(std::move(start_method)), m_maxtasks(maxtasks) {
    if (initializer) {
      Payload args;
      args.bytes = initializer->args.bytes;
      m_initializer = ProcessTarget{initializer->entry, initializer->fn, std::move(args)};
    }
  }

  std::unique_ptr<WorkerChannel> launch() override {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw_os_error(errno, "socketpair");
    UniqueFd parent_end(sv[0]);
    UniqueFd child_end(sv[1]);
    const int mfd = ::memfd_create("concur-pool-worker", MFD_CLOEXEC);
    if (mfd < 0) throw_os_error(errno, "memfd_create");
    UniqueFd page_fd(mfd);
    if (::ftruncate(mfd, sizeof(WorkerPage)) < 0) throw_os_error(errno, "ftruncate");
    void* mem = ::mmap(nullptr, sizeof(WorkerPage), PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    if (mem == MAP_FAILED) throw_os_error(errno, "mmap");
    auto* page = new (mem) WorkerPage{};

    const std::string name = fmt::format("{}PoolWorker-{}", m_start_method == "fork" ? "Fork" : "ForkServer", ++m_worker_number);
    std::uint64_t init_entry = 0;
    std::uint64_t init_fn = 0;
    std::string init_args;
    if (m_initializer) {
      init_entry = reinterpret_cast<std::uint64_t>(m_initializer->entry);
      init_fn = m_initializer->fn;
      init_args = m_initializer->args.bytes;
    }
    Process p(ProcessOptions{.name = name, .daemon = true, .start_method = m_start_method}, pool_worker_main,
              FdArg(child_end.get()), FdArg(page_fd.get()), init_entry, init_fn, std::move(init_args),
              static_cast<std::uint64_t>(m_maxtasks));
    // Registered before the fork so that this worker and every later one close it.
    register_parent_only_fd(parent_end.get());
    const int fd = parent_end.get();
    auto channel = std::make_unique<LocalChannel>(std::move(p), std::move(parent_end), page, m_initializer.has_value());
    channel->start_process();
    child_end.reset();
    set_nonblocking(fd, true);
    return channel;
  }

 private:
  const std::string m_start_method;
  const std::size_t m_maxtasks;
  std::optional<ProcessTarget> m_initializer;
  int m_worker_number = 0;
};

}  // namespace

std::unique_ptr<WorkerLauncher> make_local_launcher(std::string start_method, const std::optional<ProcessTarget>& initializer,
                                                    std::size_t maxtasks) {
  return std::make_unique<LocalLauncher>(std::move(start_method), initializer, maxtasks);
}

}  // namespace concur::multiprocessing::detail
