// SPDX-License-Identifier: MIT
// The shared-memory tracker: a detached process that unlinks the names still registered once
// every process that could have unlinked them is gone.
//
// Starting it: socketpair, then fork twice. The intermediate child forks the tracker and exits
// at once, so the tracker is re-parented to init (or the nearest subreaper): it is never a
// child the caller must reap, and it outlives the caller by design. The tracker calls setsid()
// so a terminal's Ctrl-C, aimed at the caller's process group, does not kill it before it has
// cleaned up, and closes every descriptor but its socket end and stderr: holding anything else
// (a pipe's write end, the test runner's stdout...) would keep someone else waiting for an EOF.
// Between fork and _exit the children only make system calls (no allocation, no locks): the
// caller may be multi-threaded. The first fork is a plain fork() (sanitizer runtimes and libc
// prepare for it); the intermediate child uses _Fork (see there).
#include "multiprocessing/shm_tracker.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "concur/errors.hpp"

namespace concur::multiprocessing::detail::shm_tracker {

namespace {

constexpr std::size_t max_message = 256;  // 'R'/'U' + a name of at most 255 bytes (NAME_MAX)

// ---- the tracker process (system calls only) ---------------------------------------------

void write_stderr(const char* text, std::size_t length) {
  while (length > 0) {
    const ssize_t n = ::write(STDERR_FILENO, text, length);
    if (n <= 0) return;
    text += n;
    length -= static_cast<std::size_t>(n);
  }
}

void write_stderr(const char* text) { write_stderr(text, std::strlen(text)); }

/// The registered names: fixed-size slots in an anonymous mapping grown with mremap (no malloc:
/// the tracker is forked from a possibly multi-threaded process).
struct Table {
  char (*slots)[max_message] = nullptr;  // each a NUL-terminated name
  std::size_t count = 0;
  std::size_t capacity = 0;

  bool add(const char* name, std::size_t length) {
    if (count == capacity) {
      const std::size_t new_capacity = capacity == 0 ? 64 : capacity * 2;
      void* grown = slots == nullptr
                        ? ::mmap(nullptr, new_capacity * max_message, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                        : ::mremap(slots, capacity * max_message, new_capacity * max_message, MREMAP_MAYMOVE);
      if (grown == MAP_FAILED) return false;
      slots = static_cast<char(*)[max_message]>(grown);
      capacity = new_capacity;
    }
    std::memcpy(slots[count], name, length);
    slots[count][length] = '\0';
    ++count;
    return true;
  }
  void remove(const char* name, std::size_t length) {
    for (std::size_t i = 0; i < count; ++i) {
      if (std::strlen(slots[i]) == length && std::memcmp(slots[i], name, length) == 0) {
        std::memcpy(slots[i], slots[count - 1], max_message);
        --count;
        return;
      }
    }
  }
};

[[noreturn]] void run_tracker(int sock) {
  ::setsid();
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  // Keep only the socket (moved to 3) and stderr.
  if (sock != 3) {
    if (::dup2(sock, 3) < 0) ::_exit(1);
    sock = 3;
  }
  ::close(STDIN_FILENO);
  ::close(STDOUT_FILENO);
  if (::syscall(SYS_close_range, 4U, ~0U, 0U) != 0) {
    const long max_fd = ::sysconf(_SC_OPEN_MAX);
    for (long fd = 4; fd < (max_fd > 0 ? max_fd : 1024); ++fd) ::close(static_cast<int>(fd));
  }
  ::fcntl(sock, F_SETFD, 0);

  Table table;
  char message[max_message + 1];
  for (;;) {
    const ssize_t n = ::recv(sock, message, sizeof message, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // every sender is gone (or the socket failed): clean up
    const auto length = static_cast<std::size_t>(n) - 1;
    if (length == 0 || length >= max_message) continue;  // not a message we send
    if (message[0] == 'R') {
      if (!table.add(message + 1, length)) write_stderr("concur shared-memory tracker: out of memory\n");
    } else if (message[0] == 'U') {
      table.remove(message + 1, length);
    }
  }

  if (table.count > 0) {
    write_stderr("concur shared-memory tracker: unlinking leaked shared_memory objects at shutdown:");
    for (std::size_t i = 0; i < table.count; ++i) {
      char path[max_message + 1] = "/";
      std::memcpy(path + 1, table.slots[i], std::strlen(table.slots[i]) + 1);
      ::shm_unlink(path);  // ENOENT: someone unlinked it without telling us; fine
      write_stderr(" ");
      write_stderr(table.slots[i]);
    }
    write_stderr("\n");
  }
  ::_exit(0);
}

// ---- the client side (in every process that creates segments) ----------------------------

/// This process's connection to a tracker and the names it registered there.
struct Registry {
  std::mutex mutex;
  int fd = -1;                  // guarded by mutex: our end of the tracker socket, or -1
  std::set<std::string> names;  // guarded by mutex: registered by this process, not unregistered
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: used until the last atexit handler
  return *r;
}

// fork() while another thread holds the registry's mutex would leave it locked forever in the
// child; the atfork handlers take it around every fork. The tracker's own fork happens with
// the mutex held by the forking thread, which the flag tells the handlers.
thread_local bool t_forking_tracker = false;

void before_fork() {
  if (!t_forking_tracker) registry().mutex.lock();
}
void after_fork_in_parent() {
  if (!t_forking_tracker) registry().mutex.unlock();
}
void after_fork_in_child() {
  if (t_forking_tracker) return;
  Registry& r = registry();
  // The child shares the parent's tracker (it inherited the socket) but registered nothing
  // itself: the parent's names are the parent's to unregister.
  r.names.clear();
  r.mutex.unlock();
}

void install_fork_handlers() {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child); });
}

/// Starts a tracker; returns our end of its socket. Called with the registry mutex held.
int start_tracker() {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    throw_os_error(errno, "socketpair for the shared-memory tracker");
  }
  t_forking_tracker = true;
  const pid_t middle = ::fork();
  if (middle != 0) t_forking_tracker = false;
  if (middle < 0) {
    const int err = errno;
    ::close(pair[0]);
    ::close(pair[1]);
    throw_os_error(err, "fork of the shared-memory tracker");
  }
  if (middle == 0) {
    ::close(pair[0]);
    // _Fork runs no atfork handlers: a handler of some library could wait forever here for a
    // mutex that another thread of the original process held at the first fork.
    const pid_t tracker = ::_Fork();
    if (tracker == 0) run_tracker(pair[1]);
    ::_exit(tracker < 0 ? 1 : 0);
  }
  ::close(pair[1]);
  int status = 0;
  while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ::close(pair[0]);
    throw OSError(EAGAIN, "could not start the shared-memory tracker");
  }
  return pair[0];
}

/// Sends one request; false when the tracker is gone.
bool send_request(int fd, char kind, const std::string& name) {
  char message[max_message];
  message[0] = kind;
  std::memcpy(message + 1, name.data(), name.size());
  for (;;) {
    const ssize_t n = ::send(fd, message, name.size() + 1, MSG_NOSIGNAL);
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

}  // namespace

void register_name(const std::string& name) {
  if (name.empty() || name.size() + 1 >= max_message) throw ValueError("shared memory name too long");
  install_fork_handlers();
  Registry& r = registry();
  std::scoped_lock hold(r.mutex);
  if (r.fd >= 0 && !send_request(r.fd, 'R', name)) {
    // The tracker died (someone killed it). Start another and give it everything we hold.
    ::close(r.fd);
    r.fd = -1;
  }
  if (r.fd < 0) {
    r.fd = start_tracker();
    for (const std::string& held : r.names) send_request(r.fd, 'R', held);
    if (!send_request(r.fd, 'R', name)) throw OSError(EPIPE, "the shared-memory tracker is unreachable");
  }
  r.names.insert(name);
}

void unregister_name(const std::string& name) noexcept {
  Registry& r = registry();
  std::scoped_lock hold(r.mutex);
  if (r.fd < 0) return;
  send_request(r.fd, 'U', name);
  r.names.erase(name);
  if (r.names.empty()) {
    // Nothing of ours left to guard: let the tracker go (it exits once every process that
    // inherited the socket has closed it too).
    ::close(r.fd);
    r.fd = -1;
  }
}

std::vector<std::string> registered_names() {
  Registry& r = registry();
  std::scoped_lock hold(r.mutex);
  return {r.names.begin(), r.names.end()};
}

}  // namespace concur::multiprocessing::detail::shm_tracker
