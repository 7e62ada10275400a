// SPDX-License-Identifier: MIT
// Pool (see pool.hpp): the workers, their channels, the manager thread, crash recovery.
//
// Each worker has its own Unix socket to the parent and a small shared page where it records
// the id of the task it is running. The manager thread (one per pool) owns every worker's
// state: it hands chunks out, reads results, and watches each worker's sentinel. Because a
// worker's tasks are sent and answered in order on its own channel, and the shared page names
// the one it was running, the manager knows exactly what a dead worker held.
#include <concur/multiprocessing/pool.hpp>

#include <concur/multiprocessing/context.hpp>

#include "pool_worker.hpp"
#include "process_impl.hpp"
#include "wire.hpp"

#include <fmt/core.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <thread>
#include <unordered_map>

namespace concur::multiprocessing {
namespace detail {

// ---- exception registry ---------------------------------------------------------------

namespace {
struct ExceptionRegistry {
  std::mutex mutex;  // guards factories
  std::unordered_map<std::string, std::exception_ptr (*)(const std::string&)> factories;
};
ExceptionRegistry& registry() {
  static ExceptionRegistry* r = [] {
    auto* reg = new ExceptionRegistry;  // never destroyed: used until the very end
    auto add = [reg]<class E>(std::type_identity<E>) {
      reg->factories[exception_type_name(std::make_exception_ptr(E(std::string())))] =
          [](const std::string& m) { return std::make_exception_ptr(E(m)); };
    };
    add(std::type_identity<std::runtime_error>{});
    add(std::type_identity<std::logic_error>{});
    add(std::type_identity<std::invalid_argument>{});
    add(std::type_identity<std::out_of_range>{});
    add(std::type_identity<std::length_error>{});
    add(std::type_identity<std::domain_error>{});
    add(std::type_identity<std::range_error>{});
    add(std::type_identity<std::overflow_error>{});
    add(std::type_identity<std::underflow_error>{});
    add(std::type_identity<concur::RuntimeError>{});
    add(std::type_identity<concur::ValueError>{});
    add(std::type_identity<concur::TimeoutError>{});
    add(std::type_identity<concur::EOFError>{});
    add(std::type_identity<SerializationError>{});
    return reg;
  }();
  return *r;
}
}  // namespace

void register_exception_factory(std::string type_name, std::exception_ptr (*factory)(const std::string&)) {
  auto& r = registry();
  std::scoped_lock lock(r.mutex);
  r.factories[std::move(type_name)] = factory;
}

std::exception_ptr clone_exception(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const RemoteError& r) {
    return std::make_exception_ptr(RemoteError(r.type_name(), r.message()));
  } catch (const ProcessError& p) {
    if (exception_type_name(e) == "concur::ProcessError") return std::make_exception_ptr(ProcessError(p.what()));
  } catch (...) {
  }
  const std::string type = exception_type_name(e);
  auto& r = registry();
  std::exception_ptr (*factory)(const std::string&) = nullptr;
  {
    std::scoped_lock lock(r.mutex);
    auto it = r.factories.find(type);
    if (it != r.factories.end()) factory = it->second;
  }
  return factory != nullptr ? factory(exception_message(e)) : e;
}

std::exception_ptr rebuild_exception(const std::string& type_name, const std::string& message) {
  auto& r = registry();
  {
    std::scoped_lock lock(r.mutex);
    auto it = r.factories.find(type_name);
    if (it != r.factories.end()) return it->second(message);
  }
  return std::make_exception_ptr(RemoteError(type_name, message));
}

// ---- the manager ------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

std::string describe_ending(int pid, std::optional<int> code) {
  if (!code) return fmt::format("worker process {} ended", pid);
  if (*code < 0) return fmt::format("worker process {} was killed by signal {} ({})", pid, -*code, signal_name(-*code));
  return fmt::format("worker process {} exited with code {}", pid, *code);
}

}  // namespace

struct InFlight {
  std::uint64_t id;
  PoolTask task;
};

struct PoolWorker {
  Process process;
  UniqueFd channel;  // parent end, non-blocking; empty once closed
  WorkerPage* page = nullptr;
  FrameReader reader;
  FrameWriter writer;
  std::deque<InFlight> in_flight;  // sent, unanswered, in the order sent
  std::size_t dispatched = 0;      // tasks sent over its lifetime (maxtasksperchild)
  bool ended = false;              // its sentinel fired and it was dealt with

  explicit PoolWorker(Process p) : process(std::move(p)) {}
  PoolWorker(const PoolWorker&) = delete;
  PoolWorker& operator=(const PoolWorker&) = delete;
  ~PoolWorker() {
    if (page != nullptr) ::munmap(page, sizeof(WorkerPage));
    if (channel) unregister_parent_only_fd(channel.get());
  }
};

class PoolCore {
 public:
  explicit PoolCore(PoolOptions options);
  ~PoolCore();
  void submit(std::vector<PoolTask> tasks, const char* job);
  void close();
  void terminate();
  void join();
  void cancel_pending();
  [[nodiscard]] std::size_t processes() const noexcept { return m_processes; }

 private:
  enum class State { running, closed, terminating };

  std::unique_ptr<PoolWorker> spawn_worker();
  void manager();
  void wake();
  void dispatch(PoolWorker& w, std::deque<PoolTask>& taken);
  void on_readable(PoolWorker& w);
  void on_frame(PoolWorker& w, Frame& f);
  void on_ended(std::unique_ptr<PoolWorker>& slot);
  void fail_all(std::exception_ptr e);
  [[nodiscard]] std::size_t in_flight_limit() const;
  static std::string describe(const InFlight& t);

  const std::size_t m_processes;
  const std::size_t m_maxtasks;
  const std::string m_start_method;
  std::optional<ProcessTarget> m_initializer;
  // The recycled shared-memory segments tasks' large blocks go into (see blob_segments.hpp):
  // kept while the pool lives.
  const std::shared_ptr<void> m_blob_segments = retain_blob_segments();
  UniqueFd m_wake;  // eventfd: submit/close/terminate wake the manager

  std::mutex m_mutex;                 // guards m_state, m_queue, m_next_job, m_broken
  State m_state = State::running;
  std::deque<PoolTask> m_queue;       // submitted, not yet handed to a worker
  std::uint64_t m_next_job = 0;
  std::exception_ptr m_broken;        // set when a worker's initializer failed

  // Manager-thread only:
  std::vector<std::unique_ptr<PoolWorker>> m_workers;
  std::uint64_t m_next_task = 0;
  double m_chunk_ns = 1e6;            // moving average of a chunk's run time (starts at 1 ms)
  int m_worker_number = 0;

  std::thread m_thread;  // the manager; joined by join()
  std::mutex m_join_mutex;  // serializes join()
};

PoolCore::PoolCore(PoolOptions options)
    : m_processes(pool_processes(options.processes)),
      m_maxtasks(options.maxtasksperchild),
      m_start_method(options.start_method.empty() ? get_start_method() : options.start_method) {
  (void)get_context(m_start_method);  // ValueError for an unknown method
  m_initializer = options.initializer.take_target();
  const int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) throw_os_error(errno, "eventfd");
  m_wake.reset(efd);
  try {
    for (std::size_t i = 0; i < m_processes; ++i) m_workers.push_back(spawn_worker());
  } catch (...) {
    for (auto& w : m_workers) w->process.kill();
    for (auto& w : m_workers) w->process.join();
    throw;
  }
  m_thread = std::thread([this] { manager(); });
}

PoolCore::~PoolCore() {
  terminate();
  join();
}

std::unique_ptr<PoolWorker> PoolCore::spawn_worker() {
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
  InitArgs init_args;
  if (m_initializer) {
    init_entry = reinterpret_cast<std::uint64_t>(m_initializer->entry);
    init_fn = m_initializer->fn;
    init_args.lent = &m_initializer->args;
  }
  Process p(ProcessOptions{.name = name, .daemon = true, .start_method = m_start_method}, pool_worker_main,
            FdArg(child_end.get()), FdArg(page_fd.get()), init_entry, init_fn, init_args,
            static_cast<std::uint64_t>(m_maxtasks));
  auto w = std::make_unique<PoolWorker>(std::move(p));
  w->page = page;
  // Registered before the fork so that this worker and every later one close it.
  register_parent_only_fd(parent_end.get());
  w->channel = std::move(parent_end);
  w->process.start();
  child_end.reset();
  set_nonblocking(w->channel.get(), true);
  return w;
}

void PoolCore::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(m_wake.get(), &one, sizeof one);
}

void PoolCore::submit(std::vector<PoolTask> tasks, const char* job) {
  std::exception_ptr broken;
  {
    std::scoped_lock lock(m_mutex);
    if (m_state != State::running) throw ValueError("Pool not running");
    const std::uint64_t id = ++m_next_job;
    for (auto& t : tasks) {
      t.job = job;
      t.job_id = id;
    }
    broken = m_broken;
    if (!broken) {
      for (auto& t : tasks) m_queue.push_back(std::move(t));
    }
  }
  if (broken) {
    for (auto& t : tasks) t.sink->fail(t.index, broken);
    return;
  }
  wake();
}

void PoolCore::cancel_pending() {
  std::deque<PoolTask> cancelled;
  {
    std::scoped_lock lock(m_mutex);
    for (auto it = m_queue.begin(); it != m_queue.end();) {
      if (!it->dispatched && it->sink->cancel_pending(it->index)) {
        cancelled.push_back(std::move(*it));
        it = m_queue.erase(it);
      } else {
        ++it;
      }
    }
  }
  // `cancelled` is destroyed here, outside the lock (a sink may run callbacks).
}

void PoolCore::close() {
  {
    std::scoped_lock lock(m_mutex);
    if (m_state == State::running) m_state = State::closed;
  }
  wake();
}

void PoolCore::terminate() {
  {
    std::scoped_lock lock(m_mutex);
    m_state = State::terminating;
  }
  wake();
}

void PoolCore::join() {
  {
    std::scoped_lock lock(m_mutex);
    if (m_state == State::running) throw ValueError("Pool is still running");
  }
  std::scoped_lock lock(m_join_mutex);
  if (m_thread.joinable()) m_thread.join();
}

std::size_t PoolCore::in_flight_limit() const {
  // Enough queued work per worker to cover about 2 ms, so that a worker never waits for the
  // manager with short tasks, and long tasks are not hoarded by one worker.
  const double limit = 2e6 / std::max(m_chunk_ns, 1.0);
  return static_cast<std::size_t>(std::clamp(limit, 2.0, 1024.0));
}

// In the user's terms: the call ("apply #6", counting the pool's jobs) or the positions in the
// input ("map item 7", "imap items 8 to 15" for a chunk), never the internal task number.
std::string PoolCore::describe(const InFlight& t) {
  if (std::strcmp(t.task.job, "apply") == 0 || std::strcmp(t.task.job, "submit") == 0)
    return fmt::format("{} #{}", t.task.job, t.task.job_id);
  if (t.task.items == 1) return fmt::format("{} item {}", t.task.job, t.task.first_item);
  return fmt::format("{} items {} to {}", t.task.job, t.task.first_item, t.task.first_item + t.task.items - 1);
}

void PoolCore::dispatch(PoolWorker& w, std::deque<PoolTask>& taken) {
  while (!taken.empty()) {
    InFlight f{++m_next_task, std::move(taken.front())};
    taken.pop_front();
    FrameHeader h;
    h.flags = frame_object;
    h.tag = f.id;
    h.blob_size = f.task.chunk.blob ? f.task.chunk.blob_size : 0;
    std::string bytes(16 + f.task.chunk.bytes.size(), '\0');
    const std::uint64_t words[2] = {reinterpret_cast<std::uint64_t>(f.task.entry), f.task.fn};
    std::memcpy(bytes.data(), words, sizeof words);
    std::memcpy(bytes.data() + 16, f.task.chunk.bytes.data(), f.task.chunk.bytes.size());
    UniqueFd blob;
    if (f.task.chunk.blob) {  // a duplicate: the task keeps its own in case it must be re-sent
      const int copy = ::fcntl(f.task.chunk.blob.get(), F_DUPFD_CLOEXEC, 3);
      if (copy < 0) throw_os_error(errno, "dup");
      blob.reset(copy);
    }
    w.writer.append(h, bytes, std::move(blob));
    ++w.dispatched;
    w.in_flight.push_back(std::move(f));
  }
}

void PoolCore::on_frame(PoolWorker& w, Frame& f) {
  auto it = std::find_if(w.in_flight.begin(), w.in_flight.end(), [&](const InFlight& t) { return t.id == f.header.tag; });
  if (it == w.in_flight.end() || f.bytes.size() < 8) return;  // not ours: ignore
  InFlight done = std::move(*it);
  w.in_flight.erase(it);
  std::uint64_t ns = 0;
  std::memcpy(&ns, f.bytes.data(), sizeof ns);
  m_chunk_ns = 0.8 * m_chunk_ns + 0.2 * static_cast<double>(ns);
  Payload p;
  p.bytes = f.bytes.substr(8);
  p.blob = std::move(f.blob);
  p.blob_size = f.header.blob_size;
  try {
    if ((f.header.flags & frame_error) != 0) {
      auto [type, message] = deserialize<std::pair<std::string, std::string>>(p);
      done.task.sink->fail(done.task.index, rebuild_exception(type, message));
    } else {
      done.task.sink->deliver(done.task.index, p);
    }
  } catch (...) {
    done.task.sink->fail(done.task.index, std::current_exception());
  }
}

void PoolCore::on_readable(PoolWorker& w) {
  // Reads until the socket is drained; returns when EOF or nothing more is there.
  for (;;) {
    bool open;
    try {
      open = w.reader.read_some(w.channel.get());
    } catch (const std::exception&) {
      open = false;
    }
    for (;;) {
      std::optional<Frame> f;
      try {
        f = w.reader.next();
      } catch (const std::exception&) {
        break;  // a corrupt frame: the worker is treated as dead once its sentinel fires
      }
      if (!f) break;
      on_frame(w, *f);
    }
    if (!open) return;
    pollfd p{w.channel.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return;
  }
}

void PoolCore::fail_all(std::exception_ptr e) {
  std::deque<PoolTask> queued;
  {
    std::scoped_lock lock(m_mutex);
    queued.swap(m_queue);
  }
  for (auto& t : queued) t.sink->fail(t.index, e);
  for (auto& w : m_workers) {
    for (auto& f : w->in_flight) f.task.sink->fail(f.task.index, e);
    w->in_flight.clear();
  }
}

void PoolCore::on_ended(std::unique_ptr<PoolWorker>& slot) {
  PoolWorker& w = *slot;
  if (w.channel) on_readable(w);  // results it sent before it ended
  w.process.join();
  const auto code = w.process.exitcode();
  const int pid = w.process.pid().value_or(-1);
  const std::uint64_t running = w.page->current.load(std::memory_order_acquire);
  const bool initialized = w.page->initialized.load(std::memory_order_acquire) != 0;
  w.ended = true;

  if (!initialized && m_initializer) {
    // The initializer failed or crashed: every worker would do the same. Python restarts it
    // forever; we fail the work instead.
    auto e = std::make_exception_ptr(ProcessError(describe_ending(pid, code) + " in its initializer: the pool is broken"));
    {
      std::scoped_lock lock(m_mutex);
      // The first failure broke the pool and stays its cause; submit() may be reading it.
      if (!m_broken) m_broken = e;
    }
    std::deque<InFlight> mine;
    mine.swap(w.in_flight);
    for (auto& f : mine) f.task.sink->fail(f.task.index, e);
    fail_all(e);
    return;
  }
  // Requeue what it held, in order, at the front; fail only the task it was running.
  std::deque<PoolTask> back;
  for (auto& f : w.in_flight) {
    if (f.id == running) {
      f.task.sink->fail(f.task.index, std::make_exception_ptr(ProcessError(describe_ending(pid, code) + " while running " + describe(f))));
    } else {
      back.push_back(std::move(f.task));
    }
  }
  w.in_flight.clear();
  bool replace;
  {
    std::scoped_lock lock(m_mutex);
    for (auto it = back.rbegin(); it != back.rend(); ++it) m_queue.push_front(std::move(*it));
    // After close(), a worker is replaced only while work remains for it.
    replace = !m_broken && w.channel && (m_state == State::running || (m_state == State::closed && !m_queue.empty()));
  }
  if (replace) {
    try {
      slot = spawn_worker();
    } catch (...) {
      // Fork failed, or the fork server did not answer (forkserver::set_start_timeout): the
      // work waiting now fails. With no worker left, nothing could ever run later work either:
      // the pool is broken, and every later task fails at once instead of waiting forever.
      const bool none_left = std::all_of(m_workers.begin(), m_workers.end(), [](const auto& other) { return other->ended; });
      auto e = std::make_exception_ptr(ProcessError(fmt::format("cannot start a replacement worker: {}{}", exception_message(std::current_exception()),
                                                                none_left ? "; no worker is left: the pool is broken" : "")));
      if (none_left) {
        std::scoped_lock lock(m_mutex);
        if (!m_broken) m_broken = e;
      }
      fail_all(e);
    }
  }
}

void PoolCore::manager() {
  std::vector<pollfd> fds;
  for (;;) {
    State state;
    std::vector<std::deque<PoolTask>> taken(m_workers.size());
    bool queue_empty;
    {
      std::scoped_lock lock(m_mutex);
      state = m_state;
      if (state != State::terminating) {
        // Deal the queue out one task per worker in turn (so that a short queue is spread
        // over every worker), up to each worker's limit.
        const std::size_t limit = in_flight_limit();
        std::vector<std::size_t> room(m_workers.size(), 0);
        for (std::size_t i = 0; i < m_workers.size(); ++i) {
          const PoolWorker& w = *m_workers[i];
          if (w.ended || !w.channel || w.writer.pending() > (8U << 20)) continue;
          room[i] = w.in_flight.size() < limit ? limit - w.in_flight.size() : 0;
          if (m_maxtasks != 0) room[i] = std::min(room[i], m_maxtasks - std::min(m_maxtasks, w.dispatched));
        }
        for (bool any = true; any && !m_queue.empty();) {
          any = false;
          for (std::size_t i = 0; i < m_workers.size() && !m_queue.empty(); ++i) {
            if (room[i] == 0) continue;
            PoolTask t = std::move(m_queue.front());
            m_queue.pop_front();
            if (!t.dispatched) {
              t.dispatched = true;
              if (!t.sink->on_dispatch(t.index)) {  // cancelled while queued
                any = true;
                continue;
              }
            }
            taken[i].push_back(std::move(t));
            --room[i];
            any = true;
          }
        }
      }
      queue_empty = m_queue.empty();
    }
    if (state == State::terminating) break;
    for (std::size_t i = 0; i < m_workers.size(); ++i) {
      if (!taken[i].empty()) dispatch(*m_workers[i], taken[i]);
    }
    bool idle = queue_empty;
    for (auto& w : m_workers) {
      if (!w->in_flight.empty()) idle = false;
    }
    if (state == State::closed && idle) {
      // All done: closing the channels tells the workers to exit.
      for (auto& w : m_workers) {
        if (w->channel) {
          try {
            w->writer.flush(w->channel.get(), true);
          } catch (const std::exception&) {
          }
          unregister_parent_only_fd(w->channel.get());
          w->channel.reset();
        }
      }
      bool all_ended = true;
      for (auto& w : m_workers) all_ended = all_ended && w->ended;
      if (all_ended) return;
    }

    fds.clear();
    fds.push_back({m_wake.get(), POLLIN, 0});
    for (auto& w : m_workers) {
      if (w->ended) {
        fds.push_back({-1, 0, 0});
        fds.push_back({-1, 0, 0});
        continue;
      }
      if (w->channel && !w->writer.empty()) {
        try {
          w->writer.flush(w->channel.get(), false);
        } catch (const std::exception&) {
          // The worker is gone; its sentinel will say so.
        }
      }
      const short events = static_cast<short>(POLLIN | (w->channel && !w->writer.empty() ? POLLOUT : 0));
      fds.push_back({w->channel ? w->channel.get() : -1, events, 0});
      fds.push_back({w->process.sentinel(), POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fail_all(std::make_exception_ptr(OSError(errno, "poll")));
      break;
    }
    if (fds[0].revents != 0) {
      std::uint64_t n;
      while (::read(m_wake.get(), &n, sizeof n) > 0) {
      }
    }
    for (std::size_t i = 0; i < m_workers.size(); ++i) {
      const pollfd& c = fds[1 + 2 * i];
      const pollfd& s = fds[2 + 2 * i];
      if (c.fd >= 0 && (c.revents & (POLLIN | POLLHUP | POLLERR)) != 0) on_readable(*m_workers[i]);
      // A sentinel fires when the worker's exit code can be read — or, for a forkserver
      // worker whose reporter was killed, once (its descriptor then follows the worker's
      // pidfd): is_alive() says which, without blocking.
      if (s.fd >= 0 && s.revents != 0 && !m_workers[i]->process.is_alive()) on_ended(m_workers[i]);
    }
  }
  // terminate: kill the workers, fail what is unfinished.
  for (auto& w : m_workers) {
    if (!w->ended) w->process.kill();
  }
  for (auto& w : m_workers) {
    if (!w->ended) w->process.join();
    w->ended = true;
  }
  fail_all(std::make_exception_ptr(ProcessError("the pool was terminated before the task completed")));
  m_workers.clear();
}

}  // namespace detail

Pool::Pool(PoolOptions options) : m_core(std::make_unique<detail::PoolCore>(std::move(options))) {}
Pool::Pool(Pool&&) noexcept = default;
Pool& Pool::operator=(Pool&& other) noexcept {
  if (this != &other) {
    if (m_core) {
      m_core->terminate();
      m_core->join();
    }
    m_core = std::move(other.m_core);
  }
  return *this;
}
Pool::~Pool() = default;  // PoolCore's destructor terminates and joins

void Pool::submit(std::vector<detail::PoolTask> tasks, const char* job) {
  if (!m_core) throw ValueError("Pool not running");
  m_core->submit(std::move(tasks), job);
}
void Pool::close() {
  if (m_core) m_core->close();
}
void Pool::terminate() {
  if (m_core) m_core->terminate();
}
void Pool::join() {
  if (!m_core) throw ValueError("Pool is not running");
  m_core->join();
}
void Pool::cancel_pending() {
  if (m_core) m_core->cancel_pending();
}
std::size_t Pool::processes() const { return m_core ? m_core->processes() : 0; }

}  // namespace concur::multiprocessing
