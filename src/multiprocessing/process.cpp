// SPDX-License-Identifier: MIT
// Process, current_process, parent_process, active_children, cpu_count (see process.hpp).
#include "process_impl.hpp"

#include <concur/errors.hpp>
#include <concur/multiprocessing/context.hpp>
#include <concur/multiprocessing/queues.hpp>
#include <concur/threading/futex.hpp>

#include <fmt/core.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace concur::multiprocessing {
namespace detail {

void forkserver_reset_in_child() noexcept;  // forkserver.cpp
void forkserver_shutdown() noexcept;        // forkserver.cpp

namespace {

// The process-wide state. A forked child replaces it with a fresh one (the parent's copy may
// hold a lock some other parent thread had at fork time), so it lives behind a pointer that is
// intentionally never freed.
struct Globals {
  std::mutex mutex;                                    // guards the fields below
  std::vector<std::shared_ptr<ProcessData>> children;  // started and not yet seen ended
  int counter = 0;                                     // last child number used
  bool atexit_registered = false;
  int owner_pid = ::getpid();                          // the process these globals describe
  std::shared_ptr<ProcessData> current;                // never null
  std::shared_ptr<ProcessData> parent;                 // null in the main process
};

Globals* make_main_globals() {
  auto* g = new Globals;
  g->current = std::make_shared<ProcessData>();
  g->current->name = "MainProcess";
  g->current->pid = ::getpid();
  g->current->state = ProcessData::State::started;
  g->current->is_self = true;
  return g;
}

Globals* g_globals = make_main_globals();

std::mutex g_parent_only_mutex;
std::vector<int> g_parent_only;  // guarded by g_parent_only_mutex

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

// Python's util._exit_function, run at exit of the main process and after a child's target.
void end_children() {
  Globals* g = g_globals;
  if (g->owner_pid != ::getpid()) return;
  std::vector<std::shared_ptr<ProcessData>> children;
  {
    std::scoped_lock lock(g->mutex);
    children = g->children;
  }
  // As Python's _exit_function: terminate daemonic children, then join every child.
  for (auto& c : children) {
    Process p(c);
    if (p.daemon() && p.is_alive()) p.terminate();
  }
  for (auto& c : children) Process(c).join();
}

void at_exit() {
  end_children();
  forkserver_shutdown();
}

// Called with data.mutex held: records the exit code if the child has ended. Never blocks.
void poll_exit(ProcessData& d) {
  if (d.exitcode || d.state != ProcessData::State::started || d.is_self || d.is_parent) return;
  if (d.via_server) {
    if (!d.reporter_lost) {
      int status = 0;
      ssize_t n;
      do {
        n = ::recv(d.status.get(), &status, sizeof status, MSG_DONTWAIT);
      } while (n < 0 && errno == EINTR);
      if (n == static_cast<ssize_t>(sizeof status)) {
        d.exitcode = exitcode_from_status(status);
        return;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // still running
      // EOF (or an error) without a status: the child's reporter died — killed by someone;
      // the fork server's death does not touch it. From now on the child is watched through
      // its pidfd, under the sentinel's descriptor number (someone may be polling it): the
      // sentinel then becomes readable when the child ends, not at once and forever.
      if (::dup3(d.pidfd.get(), d.status.get(), O_CLOEXEC) < 0) throw_os_error(errno, "dup3");
      d.reporter_lost = true;
    }
    pollfd p{d.pidfd.get(), POLLIN, 0};
    int r;
    do {
      r = ::poll(&p, 1, 0);
    } while (r < 0 && errno == EINTR);
    if (r > 0) d.exitcode = 255;  // it ended; its status went with its reporter (as Python's 255)
    return;
  }
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(d.pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == d.pid) {
    d.exitcode = exitcode_from_status(status);
  } else if (r < 0 && errno == ECHILD) {
    d.exitcode = 255;  // reaped behind our back (a SIGCHLD handler set to SIG_IGN, waitpid(-1))
  }
}

// Called with data.mutex held: the descriptor that becomes readable when the child's exit code
// can be read.
int sentinel_fd(const ProcessData& d) { return d.via_server ? d.status.get() : d.pidfd.get(); }

void forget_child(const std::shared_ptr<ProcessData>& d) {
  Globals* g = g_globals;
  std::scoped_lock lock(g->mutex);
  std::erase(g->children, d);
}

}  // namespace

int exitcode_from_status(int status) noexcept {
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 255;
}

std::vector<int> wait_readable(std::span<const int> fds, std::optional<Timeout> timeout) {
  std::vector<pollfd> p;
  p.reserve(fds.size());
  for (int fd : fds) p.push_back({fd, POLLIN, 0});
  const auto deadline = timeout ? concur::detail::deadline_after(*timeout) : std::chrono::steady_clock::time_point::max();
  for (;;) {
    int ms = -1;
    if (timeout) {
      const auto left = deadline - std::chrono::steady_clock::now();
      ms = left <= left.zero() ? 0 : static_cast<int>(std::min(std::ceil(std::chrono::duration<double, std::milli>(left).count()), 1e9));
    }
    const int r = ::poll(p.data(), p.size(), ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_os_error(errno, "poll");
    }
    std::vector<int> ready;
    for (const pollfd& e : p) {
      if (e.revents != 0) ready.push_back(e.fd);
    }
    if (!ready.empty() || ms == 0 || std::chrono::steady_clock::now() >= deadline) return ready;
  }
}

void register_parent_only_fd(int fd) {
  std::scoped_lock lock(g_parent_only_mutex);
  g_parent_only.push_back(fd);
}
void unregister_parent_only_fd(int fd) {
  std::scoped_lock lock(g_parent_only_mutex);
  std::erase(g_parent_only, fd);
}
std::vector<int> parent_only_fds() {
  std::scoped_lock lock(g_parent_only_mutex);
  return g_parent_only;
}

void run_child(const ProcessTarget& target, const std::string& name, const std::string& identity, bool daemon,
               int parent_pid, const std::string& parent_name) {
  auto* g = new Globals;  // the parent's globals may be locked by a thread that does not exist here
  g->owner_pid = ::getpid();
  g->current = std::make_shared<ProcessData>();
  g->current->name = name;
  g->current->identity = identity;
  g->current->daemon = daemon;
  g->current->pid = ::getpid();
  g->current->state = ProcessData::State::started;
  g->current->is_self = true;
  g->parent = std::make_shared<ProcessData>();
  g->parent->name = parent_name;
  g->parent->pid = parent_pid;
  g->parent->state = ProcessData::State::started;
  g->parent->is_parent = true;
  g_globals = g;
  forkserver_reset_in_child();
  ::new (&g_parent_only_mutex) std::mutex;  // same reason as the globals
  g_parent_only.clear();

  int code = 0;
  try {
    ProcessTarget& t = const_cast<ProcessTarget&>(target);
    t.entry(t.fn, t.args);
  } catch (...) {
    const std::exception_ptr e = std::current_exception();
    std::fflush(stdout);
    fmt::print(stderr, "Process {}:\n{}: {}\n", name, exception_type_name(e), exception_message(e));
    code = 1;
  }
  try {
    // As Python's child exit: what the target put on a multiprocessing Queue is written
    // before the process ends (the queues' feeder threads are flushed).
    concur::multiprocessing::detail::flush_queues();
    end_children();
    forkserver_shutdown();
  } catch (...) {
    code = code == 0 ? 1 : code;
  }
  std::fflush(nullptr);
  ::_exit(code);
}

}  // namespace detail

using detail::ProcessData;

Process::Process(ProcessOptions options, detail::ProcessTarget target) : m_data(std::make_shared<ProcessData>()) {
  detail::Globals* g = detail::g_globals;
  const auto& current = g->current;
  int number;
  {
    std::scoped_lock lock(g->mutex);
    number = ++g->counter;
  }
  m_data->identity = current->identity.empty() ? std::to_string(number) : current->identity + ":" + std::to_string(number);
  m_data->name = options.name.empty() ? "Process-" + m_data->identity : std::move(options.name);
  m_data->daemon = options.daemon.value_or(current->daemon);
  m_data->start_method = std::move(options.start_method);
  if (!m_data->start_method.empty()) (void)get_context(m_data->start_method);  // ValueError if unknown
  m_data->target = std::move(target);
}

void Process::start() {
  detail::Globals* g = detail::g_globals;
  ProcessData& d = *m_data;
  std::unique_lock lock(d.mutex);
  if (d.state != ProcessData::State::created || !d.target) throw RuntimeError("cannot start a process twice");
  if (g->current->daemon) throw RuntimeError("daemonic processes are not allowed to have children");
  const std::string method = d.start_method.empty() ? get_start_method() : d.start_method;
  const std::string parent_name = g->current->name;
  if (method == "fork") {
    const std::vector<int> close_in_child = detail::parent_only_fds();
    std::fflush(nullptr);  // what the parent buffered must not be printed twice
    const pid_t pid = ::fork();
    if (pid < 0) throw_os_error(errno, "fork");
    if (pid == 0) {
      for (int fd : close_in_child) ::close(fd);
      detail::run_child(*d.target, d.name, d.identity, d.daemon, static_cast<int>(::getppid()), parent_name);
    }
    const int pidfd = detail::pidfd_open(pid);
    if (pidfd < 0) {
      const int err = errno;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      throw_os_error(err, "pidfd_open");
    }
    d.pid = pid;
    d.pidfd.reset(pidfd);
  } else {
    detail::ServerChild child = detail::forkserver_spawn(*d.target, d.name, d.identity, d.daemon);
    d.pid = child.pid;
    d.pidfd = std::move(child.pidfd);
    d.status = std::move(child.status);
    d.via_server = true;
  }
  d.start_method = method;
  d.state = ProcessData::State::started;
  d.target.reset();  // closes the parent's copies of descriptors handed to the child
  lock.unlock();
  std::scoped_lock glock(g->mutex);
  g->children.push_back(m_data);
  if (!g->atexit_registered) {
    g->atexit_registered = true;
    std::atexit(detail::at_exit);
  }
}

void Process::join(std::optional<Timeout> timeout) {
  ProcessData& d = *m_data;
  const auto deadline = timeout ? concur::detail::deadline_after(*timeout) : std::chrono::steady_clock::time_point::max();
  {
    std::scoped_lock lock(d.mutex);
    if (d.is_self || d.is_parent) throw RuntimeError("can only join a child process");
    if (d.state == ProcessData::State::created) throw RuntimeError("can only join a started process");
    if (d.state == ProcessData::State::closed) throw ValueError("process object is closed");
  }
  // Each round waits on the sentinel, which becomes readable only when the exit code can be
  // read (poll_exit then records it) — never a busy loop. The descriptor stays open while we
  // wait: close() refuses a process that has not ended.
  for (;;) {
    int fd;
    {
      std::scoped_lock lock(d.mutex);
      detail::poll_exit(d);
      if (d.exitcode) break;
      fd = detail::sentinel_fd(d);
    }
    std::optional<Timeout> left;
    if (timeout) {
      left = std::chrono::duration_cast<Timeout>(deadline - std::chrono::steady_clock::now());
      if (*left <= Timeout::zero()) return;
    }
    (void)detail::wait_readable(std::span<const int>(&fd, 1), left);
  }
  detail::forget_child(m_data);
}

bool Process::is_alive() const {
  ProcessData& d = *m_data;
  bool ended;
  {
    std::scoped_lock lock(d.mutex);
    if (d.is_self) return true;
    if (d.is_parent) return ::kill(d.pid, 0) == 0 || errno == EPERM;
    if (d.state != ProcessData::State::started) return false;
    detail::poll_exit(d);
    ended = d.exitcode.has_value();
  }
  if (ended) detail::forget_child(m_data);
  return !ended;
}

std::optional<int> Process::exitcode() const {
  std::scoped_lock lock(m_data->mutex);
  detail::poll_exit(*m_data);
  return m_data->exitcode;
}

std::optional<int> Process::pid() const {
  std::scoped_lock lock(m_data->mutex);
  if (m_data->state == ProcessData::State::created) return std::nullopt;
  return m_data->pid;
}

namespace {
void send_signal(ProcessData& d, int sig) {
  std::scoped_lock lock(d.mutex);
  if (d.is_self || d.is_parent || d.state != ProcessData::State::started) return;
  detail::poll_exit(d);
  if (d.exitcode) return;
  // Through the pidfd, never by pid: a pidfd names this very process, so a signal can never
  // reach another one that reused its pid once it was reaped (then the call fails with ESRCH
  // and nothing is sent).
  if (detail::pidfd_send_signal(d.pidfd.get(), sig) < 0 && errno != ESRCH) throw_os_error(errno, "pidfd_send_signal");
}
}  // namespace

void Process::terminate() { send_signal(*m_data, SIGTERM); }
void Process::kill() { send_signal(*m_data, SIGKILL); }

int Process::sentinel() const {
  std::scoped_lock lock(m_data->mutex);
  if (m_data->state == ProcessData::State::created) throw ValueError("process not started");
  if (m_data->state == ProcessData::State::closed || detail::sentinel_fd(*m_data) < 0) throw ValueError("process object is closed");
  return detail::sentinel_fd(*m_data);
}

void Process::close() {
  {
    std::scoped_lock lock(m_data->mutex);
    if (m_data->state == ProcessData::State::started && !m_data->is_self && !m_data->is_parent) {
      detail::poll_exit(*m_data);
      if (!m_data->exitcode) throw ValueError("Cannot close a process while it is still running. You should first call join() or terminate().");
    }
    if (m_data->is_self || m_data->is_parent) return;
    m_data->pidfd.reset();
    m_data->status.reset();
    m_data->target.reset();
    m_data->state = ProcessData::State::closed;
  }
  detail::forget_child(m_data);
}

std::string Process::name() const {
  std::scoped_lock lock(m_data->mutex);
  return m_data->name;
}
void Process::set_name(std::string name) {
  std::scoped_lock lock(m_data->mutex);
  m_data->name = std::move(name);
}
bool Process::daemon() const {
  std::scoped_lock lock(m_data->mutex);
  return m_data->daemon;
}
void Process::set_daemon(bool daemon) {
  std::scoped_lock lock(m_data->mutex);
  if (m_data->state != ProcessData::State::created) throw RuntimeError("process has already started");
  m_data->daemon = daemon;
}

Process current_process() { return Process(detail::g_globals->current); }

std::optional<Process> parent_process() {
  if (!detail::g_globals->parent) return std::nullopt;
  return Process(detail::g_globals->parent);
}

std::vector<Process> active_children() {
  detail::Globals* g = detail::g_globals;
  std::vector<std::shared_ptr<ProcessData>> children;
  {
    std::scoped_lock lock(g->mutex);
    children = g->children;
  }
  std::vector<Process> alive;
  for (auto& c : children) {
    Process p(c);
    if (p.is_alive()) alive.push_back(std::move(p));  // is_alive reaps and forgets the ended
  }
  return alive;
}

std::size_t cpu_count() { return std::max(1U, std::thread::hardware_concurrency()); }

std::size_t process_cpu_count() { return threading::detail::process_cpu_count(); }

}  // namespace concur::multiprocessing
