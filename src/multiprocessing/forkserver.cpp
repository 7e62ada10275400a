// SPDX-License-Identifier: MIT
// The fork server (see context.hpp): a single-threaded fork of this program that forks every
// child of the "forkserver" start method, and the client side that talks to it.
//
// Who is whose parent. The server does not fork the child itself: for each request it forks
// a small reporter, and the reporter forks the child. The reporter's only job is to wait for
// its one child and report the child's wait status; it then exits, and the server reaps it.
// So a child's exit status never depends on the server: if the server dies (SIGKILL, OOM
// killer), the children it started run on and their reporters still report their true exit
// status; only new starts need a new server, which the next start() forks. (The server could
// not report for children that outlive it, and the parent cannot wait for grandchildren:
// waitid(P_PIDFD) works for one's own children only, and making the parent a child subreaper
// would make it the parent of every orphaned descendant of the program, whose zombies nobody
// would reap.)
//
// Protocol. The control socket (a Unix stream socketpair; only the parent holds the other
// end, so nothing else can ask the server for anything) carries requests one way:
//   parent -> server    frame: SpawnRequest (serialized), then send_fds: the reporter's end of
//                       a status socket, the arguments' blob memfd (if any), the arguments' fds
// Each start has its own status socket (a Unix seqpacket socketpair, one message per packet):
//   reporter -> parent  the child's pid, with a pidfd of it (SCM_RIGHTS), once it is forked;
//                       or -errno when the fork failed (the server sends that one when it
//                       cannot fork the reporter)
//   reporter -> parent  the child's wait status (4 bytes) once it ended and was reaped
// EOF on the status socket before the pid means the server died before it could fork: the
// parent starts a new server and asks again, once. EOF after the pid means the reporter died
// (killed by someone): the child is then watched through its pidfd and its status is lost.
// The parent waits a bounded time for the pid (forkserver::set_start_timeout): a server that
// does not answer (stopped by SIGSTOP, wedged) is killed and start() fails with ProcessError;
// a reporter whose parent has given up finds its status socket closed and kills the child it
// forked. EOF on the control socket (the parent exited or died) ends the server, which first
// sends SIGTERM to the daemonic children it started (their reporters pass it on).
#include "process_impl.hpp"
#include "wire.hpp"

#include <concur/multiprocessing/context.hpp>

#include <fmt/core.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace concur::multiprocessing::detail {

void forkserver_reset_in_child() noexcept;
void forkserver_shutdown() noexcept;

namespace {

struct SpawnRequest {
  std::uint64_t entry = 0;
  std::uint64_t fn = 0;
  std::string name;
  std::string identity;
  bool daemon = false;
  int parent_pid = 0;
  std::string parent_name;
  std::string args;  // the arguments' Payload bytes
  std::uint64_t blob_size = 0;
  std::uint32_t arg_fds = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(entry, fn, name, identity, daemon, parent_pid, parent_name, args, blob_size, arg_fds);
  }
};

struct Client {
  std::mutex mutex;  // guards the fields below and the use of the control socket
  UniqueFd ctl;      // our end of the control socket; empty when no server runs
  UniqueFd pidfd;    // the server's pidfd (it is our child: no pid-reuse race); empty with ctl
  int pid = 0;       // the server's pid; 0 when none runs
  int owner_pid = ::getpid();
};
Client* g_client = new Client;  // replaced (never freed) in a forked child, see reset

// How long start() waits for the server to fork a child, in milliseconds (see
// forkserver::set_start_timeout). Relaxed: a setting read on its own, ordering nothing else.
std::atomic<std::int64_t> g_start_timeout_ms{20'000};

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

void close_all_but(int keep) {
  // Everything the parent had open (pool channels, other pipes) must not live on here: the
  // parent's peers would never see EOF. Each of those descriptors is replaced by /dev/null
  // rather than closed, so that its number stays taken: a library whose fork handler closes,
  // in every child, descriptors it made in the parent by their numbers — libuv's signal lock
  // pipe, once a loop exists (it re-creates the pipe in the child) — then closes a /dev/null
  // of ours instead of a descriptor the server received under the same number for a child
  // (a Connection, a pool channel). Without /proc they are closed.
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  DIR* dir = devnull >= 0 ? ::opendir("/proc/self/fd") : nullptr;
  if (dir == nullptr) {
    if (devnull >= 0) ::close(devnull);
    if (keep > 3) ::close_range(3, static_cast<unsigned>(keep - 1), 0);
    ::close_range(static_cast<unsigned>(keep + 1), ~0U, 0);
    return;
  }
  std::vector<int> inherited;
  while (const dirent* e = ::readdir(dir)) {
    const int fd = std::atoi(e->d_name);  // 0 for "." and ".."
    if (fd > 2 && fd != keep && fd != devnull && fd != ::dirfd(dir)) inherited.push_back(fd);
  }
  ::closedir(dir);
  for (int fd : inherited) ::dup3(devnull, fd, O_CLOEXEC);
  ::close(devnull);
}

// Sends `value` (a pid, -errno or a wait status) on a status socket, with `fd` attached when
// >= 0. Returns false when the parent's end is closed (it gave up on this start, or exited).
bool send_status(int sock, int value, int fd) {
  return send_with_fd(sock, reinterpret_cast<const char*>(&value), sizeof value, fd) == static_cast<ssize_t>(sizeof value);
}

// The reporter's child, for its SIGTERM handler. Set before SIGTERM is unblocked.
volatile sig_atomic_t g_reported_child = 0;

void forward_sigterm(int) {
  const int saved = errno;
  if (g_reported_child > 0) ::kill(g_reported_child, SIGTERM);  // its own unreaped child
  errno = saved;
}

// The reporter (see the top of the file): forks the child, tells the parent its pid (with a
// pidfd), waits for it and reports its wait status. `fds` are the request's descriptors: the
// status socket first, then the arguments' ones, which only the child keeps.
[[noreturn]] void reporter_main(SpawnRequest& req, std::vector<UniqueFd>& fds, const sigset_t& old_mask) {
  const int status = fds[0].get();
  // SIGTERM (from the server, when the parent has gone) is passed on to the child; blocked
  // until the child's pid is known.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &term, nullptr);
  struct sigaction sa {};
  sa.sa_handler = forward_sigterm;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    fds[0].reset();
    ProcessTarget target;
    target.entry = reinterpret_cast<ProcessEntry>(req.entry);
    target.fn = req.fn;
    target.args.bytes = std::move(req.args);
    std::size_t next = 1;
    if (req.blob_size != 0) {
      target.args.blob = std::move(fds[next++]);
      target.args.blob_size = req.blob_size;
    }
    for (; next < fds.size(); ++next) target.args.fds.push_back(std::move(fds[next]));
    run_child(target, req.name, req.identity, req.daemon, req.parent_pid, req.parent_name);
  }
  if (pid < 0) {
    (void)send_status(status, -errno, -1);
    ::_exit(0);
  }
  g_reported_child = pid;
  fds.resize(1);  // the arguments' descriptors are the child's now
  // pidfd_open of our own unreaped child: it names that very process.
  const int pidfd = pidfd_open(pid);
  const bool told = pidfd >= 0 ? send_status(status, pid, pidfd) : (send_status(status, -errno, -1), false);
  if (pidfd >= 0) ::close(pidfd);
  if (!told) {
    // Nobody waits for this child (the parent gave up on the start, or has no pidfd of it):
    // it must not run on unseen.
    ::kill(pid, SIGKILL);
  }
  ::sigprocmask(SIG_UNBLOCK, &term, nullptr);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) ::_exit(1);
  }
  (void)send_status(status, wstatus, -1);
  ::_exit(0);
}

[[noreturn]] void server_main(int ctl) {
  forkserver_reset_in_child();  // the parent's client state means nothing here
  close_all_but(ctl);
  ::signal(SIGINT, SIG_IGN);  // Ctrl-C is for the parent; the server ends when the parent does
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigset_t old_mask;
  ::sigprocmask(SIG_BLOCK, &chld, &old_mask);
  const int sfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) ::_exit(3);
  std::map<int, bool> reporters;  // pid -> whether its child is daemonic
  for (;;) {
    pollfd p[2] = {{ctl, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents != 0) {
      signalfd_siginfo info[8];
      while (::read(sfd, info, sizeof info) > 0) {
      }
      for (pid_t pid; (pid = ::waitpid(-1, nullptr, WNOHANG)) > 0;) reporters.erase(pid);
    }
    if (p[0].revents == 0) continue;
    Frame frame;
    SpawnRequest req;
    std::vector<UniqueFd> fds;
    try {
      if (!recv_frame(ctl, frame)) break;
      req = deserialize<SpawnRequest>(frame.bytes, frame.blob.get(), frame.header.blob_size);
      fds = recv_fds(ctl, 1 + (req.blob_size != 0 ? 1 : 0) + req.arg_fds);
    } catch (...) {
      break;  // the parent is gone or speaks nonsense: nothing more to serve
    }
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(ctl);
      ::close(sfd);
      reporters.clear();
      reporter_main(req, fds, old_mask);
    }
    if (pid < 0) (void)send_status(fds[0].get(), -errno, -1);
    if (pid > 0) reporters[pid] = req.daemon;
    fds.clear();  // the reporter has its own copies
  }
  for (auto& [pid, daemon] : reporters) {
    if (daemon) ::kill(pid, SIGTERM);  // an unreaped child of ours: the pid is still its own
  }
  ::_exit(0);
}

// With g_client->mutex held.
void shutdown_at_exit() { forkserver_shutdown(); }

// With c.mutex held: forgets the server, killing it first unless it is known to have ended,
// and reaps it. `force` false: the server was asked to end (its control socket closed) and
// gets up to `grace` to do so first.
void drop_server_locked(Client& c, bool force, std::chrono::milliseconds grace = std::chrono::milliseconds(0)) {
  c.ctl.reset();
  if (c.pid == 0) return;
  if (!force && c.pidfd) {
    const int fd = c.pidfd.get();
    force = wait_readable(std::span<const int>(&fd, 1), std::chrono::duration_cast<Timeout>(grace)).empty();
  }
  if (force) {
    // Through its pidfd: it is our child and unreaped, but say so in the code too.
    if (c.pidfd) {
      (void)::syscall(SYS_pidfd_send_signal, c.pidfd.get(), SIGKILL, nullptr, 0);
    } else {
      ::kill(c.pid, SIGKILL);
    }
  }
  while (::waitpid(c.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  c.pidfd.reset();
  c.pid = 0;
}

void ensure_running_locked(Client& c) {
  static const bool registered = [] { return std::atexit(shutdown_at_exit) == 0; }();
  (void)registered;
  if (c.ctl) {
    if (::waitpid(c.pid, nullptr, WNOHANG) == 0) return;
    c.ctl.reset();  // the server died (and is now reaped): start another
    c.pidfd.reset();
    c.pid = 0;
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw_os_error(errno, "socketpair");
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    throw_os_error(err, "fork (fork server)");
  }
  if (pid == 0) {
    ::close(sv[0]);
    server_main(sv[1]);
  }
  ::close(sv[1]);
  c.ctl.reset(sv[0]);
  c.pid = pid;
  c.pidfd.reset(pidfd_open(pid));  // our unreaped child: no race (close-on-exec; empty if it fails)
  c.owner_pid = ::getpid();
}

// Receives the pid (or -errno) and the pidfd a status socket carries first. Returns false on
// EOF (the server died before it forked anything).
bool recv_birth(int sock, int& value, UniqueFd& pidfd) {
  iovec iov{&value, sizeof value};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == ECONNRESET) return false;
    throw_os_error(errno, "receiving from the fork server");
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      pidfd.reset(fd);
    }
  }
  if (n == 0) return false;
  if (n != static_cast<ssize_t>(sizeof value)) throw ProcessError("the fork server sent a malformed reply");
  return true;
}

}  // namespace

void forkserver_reset_in_child() noexcept {
  // The inherited control socket must go: the server must see EOF when the parent exits.
  // The old Client is abandoned, not destroyed: its mutex may be held by a parent thread
  // that does not exist here. (In a child of the server the socket is already closed.)
  Client* old = g_client;
  const int fd = old->ctl.release();
  const int pidfd = old->pidfd.release();
  if (old->owner_pid != ::getpid()) {
    if (fd >= 0) ::close(fd);
    if (pidfd >= 0) ::close(pidfd);
  }
  g_client = new Client;
}

void forkserver_shutdown() noexcept {
  Client& c = *g_client;
  std::scoped_lock lock(c.mutex);
  if (!c.ctl || c.owner_pid != ::getpid()) return;
  // Closing the control socket ends the server; one that does not end in time (stopped) is
  // killed, so that exit never hangs on it.
  drop_server_locked(c, false, std::chrono::milliseconds(g_start_timeout_ms.load(std::memory_order_relaxed)));
}

int forkserver_pid() {
  Client& c = *g_client;
  std::scoped_lock lock(c.mutex);
  return c.ctl ? c.pid : 0;
}

ServerChild forkserver_spawn(ProcessTarget& target, const std::string& name, const std::string& identity, bool daemon) {
  Client& c = *g_client;
  std::scoped_lock lock(c.mutex);

  SpawnRequest req;
  req.entry = reinterpret_cast<std::uint64_t>(target.entry);
  req.fn = target.fn;
  req.name = name;
  req.identity = identity;
  req.daemon = daemon;
  req.parent_pid = static_cast<int>(::getpid());
  req.parent_name = current_process().name();
  req.args = target.args.bytes;
  req.blob_size = target.args.blob ? target.args.blob_size : 0;
  req.arg_fds = static_cast<std::uint32_t>(target.args.fds.size());
  Payload out = multiprocessing::serialize(req);
  FrameHeader h;
  h.flags = frame_object;
  h.blob_size = out.blob ? out.blob_size : 0;
  if (out.blob) h.flags |= frame_has_blob;

  // A server that died since the last start is found dead (and replaced) by
  // ensure_running_locked; one that dies while it handles this request makes the send or the
  // birth message fail, and nothing was forked: ask a new server, once.
  for (int attempt = 0;; ++attempt) {
    ensure_running_locked(c);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) throw_os_error(errno, "socketpair");
    UniqueFd status_r(sv[0]);
    UniqueFd status_w(sv[1]);
    std::vector<int> fds{status_w.get()};
    if (target.args.blob) fds.push_back(target.args.blob.get());
    for (const UniqueFd& fd : target.args.fds) fds.push_back(fd.get());
    const int server_pid = c.pid;
    try {
      send_frame(c.ctl.get(), h, out.bytes, out.blob.get());
      send_fds(c.ctl.get(), fds);
    } catch (const std::exception& e) {
      drop_server_locked(c, true);  // out of step with us, or gone
      if (attempt == 0) continue;
      throw ProcessError(fmt::format("the fork server (pid {}) cannot be reached: {}", server_pid, e.what()));
    }
    status_w.reset();
    const auto timeout = std::chrono::milliseconds(g_start_timeout_ms.load(std::memory_order_relaxed));
    const int fd = status_r.get();
    if (wait_readable(std::span<const int>(&fd, 1), std::chrono::duration_cast<Timeout>(timeout)).empty()) {
      drop_server_locked(c, true);
      throw ProcessError(fmt::format("the fork server (pid {}) did not start the process within {} ms (is it stopped?): it was "
                                     "killed, and the next start() starts a new one",
                                     server_pid, timeout.count()));
    }
    int value = 0;
    UniqueFd pidfd;
    if (!recv_birth(fd, value, pidfd)) {
      drop_server_locked(c, true);  // it closed the socket without forking: it is dying
      if (attempt == 0) continue;
      throw ProcessError(fmt::format("the fork server (pid {}) died before it could start the process", server_pid));
    }
    if (value < 0) throw_os_error(-value, "fork (in the fork server)");
    if (!pidfd) throw ProcessError("the fork server sent no pidfd for the process it started");
    set_nonblocking(fd, true);
    return ServerChild{value, std::move(pidfd), std::move(status_r)};
  }
}

}  // namespace concur::multiprocessing::detail

namespace concur::multiprocessing {
namespace {
std::mutex g_method_mutex;
std::string g_method;  // guarded by g_method_mutex; "" until set or first used

void check_method(std::string_view method) {
  if (method == "fork" || method == "forkserver") return;
  if (method == "spawn")
    throw ValueError("start method 'spawn' is not supported by concur: a fresh program cannot be told which C++ function to run (use 'forkserver')");
  throw ValueError("cannot find context for '" + std::string(method) + "'");
}
}  // namespace

void set_start_method(std::string_view method, bool force) {
  check_method(method);
  std::scoped_lock lock(g_method_mutex);
  if (!g_method.empty() && !force) throw RuntimeError("context has already been set");
  g_method = method;
}

std::string get_start_method(bool allow_none) {
  std::scoped_lock lock(g_method_mutex);
  if (g_method.empty() && !allow_none) g_method = "fork";
  return g_method;
}

std::vector<std::string> get_all_start_methods() { return {"fork", "forkserver"}; }

Context::Context(std::string method) : m_method(std::move(method)) { check_method(m_method); }

Context get_context(std::optional<std::string_view> method) {
  if (!method) return Context(get_start_method());
  return Context(std::string(*method));
}

void forkserver::ensure_running() {
  detail::Client& c = *detail::g_client;
  std::scoped_lock lock(c.mutex);
  detail::ensure_running_locked(c);
}

void forkserver::set_start_timeout(Timeout timeout) {
  if (!(timeout > Timeout::zero())) throw ValueError("the fork server's start timeout must be positive");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::min(timeout, Timeout(86'400.0)));
  detail::g_start_timeout_ms.store(std::max<std::int64_t>(ms.count(), 1), std::memory_order_relaxed);
}

}  // namespace concur::multiprocessing
