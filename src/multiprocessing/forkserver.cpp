// SPDX-License-Identifier: MIT
// The fork server (see context.hpp): a single-threaded fork of this program that forks every
// child of the "forkserver" start method, and the client side that talks to it.
//
// Protocol on the control socket (a Unix stream socketpair; only the parent holds the other
// end, so nothing else can ask the server for anything):
//   parent -> server  frame: SpawnRequest (serialized), then send_fds: the write end of a
//                     status pipe, the arguments' blob memfd (if any), the arguments' fds
//   server -> parent  frame: the child's pid (serialized int)
//   server -> status pipe  the child's wait status (4 bytes) once the server reaped it
// EOF on the control socket (the parent exited or died) ends the server, which first sends
// SIGTERM to the daemonic children it started.
#include "process_impl.hpp"
#include "wire.hpp"

#include <concur/multiprocessing/context.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
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
  int pid = 0;       // the server's pid
  int owner_pid = ::getpid();
};
Client* g_client = new Client;  // replaced (never freed) in a forked child, see reset

struct ServedChild {
  UniqueFd status;  // write end of the parent's status pipe
  bool daemon = false;
};

void close_all_but(int keep) {
  // Everything the parent had open (pool channels, other pipes) must not live on here: the
  // parent's peers would never see EOF.
  if (keep > 3) ::close_range(3, static_cast<unsigned>(keep - 1), 0);
  ::close_range(static_cast<unsigned>(keep + 1), ~0U, 0);
}

void reap(std::map<int, ServedChild>& children) {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    auto it = children.find(pid);
    if (it == children.end()) continue;
    ssize_t n;
    do {
      n = ::write(it->second.status.get(), &status, sizeof status);
    } while (n < 0 && errno == EINTR);
    children.erase(it);  // closes the status pipe
  }
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
  std::map<int, ServedChild> children;
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
      reap(children);
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
      children.clear();
      fds[0].reset();
      ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
      ::signal(SIGINT, SIG_DFL);
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
    const int reply = pid < 0 ? -errno : pid;
    if (pid > 0) children[pid] = ServedChild{std::move(fds[0]), req.daemon};
    fds.clear();
    try {
      Payload out = multiprocessing::serialize(reply);
      FrameHeader h;
      h.flags = frame_object;
      send_frame(ctl, h, out.bytes, -1);
    } catch (...) {
      break;
    }
  }
  for (auto& [pid, child] : children) {
    if (child.daemon) ::kill(pid, SIGTERM);
  }
  ::_exit(0);
}

// With g_client->mutex held.
void shutdown_at_exit() { forkserver_shutdown(); }

void ensure_running_locked(Client& c) {
  static const bool registered = [] { return std::atexit(shutdown_at_exit) == 0; }();
  (void)registered;
  if (c.ctl) {
    int status = 0;
    if (::waitpid(c.pid, &status, WNOHANG) == 0) return;
    c.ctl.reset();  // the server died: start another
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
  c.owner_pid = ::getpid();
}

}  // namespace

void forkserver_reset_in_child() noexcept {
  // The inherited control socket must go: the server must see EOF when the parent exits.
  // The old Client is abandoned, not destroyed: its mutex may be held by a parent thread
  // that does not exist here. (In a child of the server the socket is already closed.)
  Client* old = g_client;
  const int fd = old->ctl.release();
  if (fd >= 0 && old->owner_pid != ::getpid()) ::close(fd);
  g_client = new Client;
}

void forkserver_shutdown() noexcept {
  Client& c = *g_client;
  std::scoped_lock lock(c.mutex);
  if (!c.ctl || c.owner_pid != ::getpid()) return;
  c.ctl.reset();
  int status = 0;
  while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
  }
  c.pid = 0;
}

ServerChild forkserver_spawn(ProcessTarget& target, const std::string& name, const std::string& identity, bool daemon) {
  Client& c = *g_client;
  std::scoped_lock lock(c.mutex);
  ensure_running_locked(c);
  int status[2];
  if (::pipe2(status, O_CLOEXEC) < 0) throw_os_error(errno, "pipe2");
  UniqueFd status_r(status[0]);
  UniqueFd status_w(status[1]);
  set_nonblocking(status_r.get(), true);

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
  std::vector<int> fds{status_w.get()};
  if (target.args.blob) fds.push_back(target.args.blob.get());
  for (const UniqueFd& fd : target.args.fds) fds.push_back(fd.get());

  try {
    Payload out = multiprocessing::serialize(req);
    FrameHeader h;
    h.flags = frame_object;
    h.blob_size = out.blob ? out.blob_size : 0;
    if (out.blob) h.flags |= frame_has_blob;
    send_frame(c.ctl.get(), h, out.bytes, out.blob.get());
    send_fds(c.ctl.get(), fds);
    status_w.reset();
    Frame reply;
    if (!recv_frame(c.ctl.get(), reply)) throw EOFError("the fork server closed its socket");
    const int pid = deserialize<int>(reply.bytes);
    if (pid < 0) throw_os_error(-pid, "fork (in the fork server)");
    return ServerChild{pid, std::move(status_r)};
  } catch (const std::system_error&) {
    throw;
  } catch (const std::exception& e) {
    c.ctl.reset();  // out of step with the server: the next start gets a new one
    throw ProcessError(std::string("the fork server failed: ") + e.what());
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

}  // namespace concur::multiprocessing
