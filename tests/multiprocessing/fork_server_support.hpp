// SPDX-License-Identifier: MIT
// kill_fork_server: what the tests of a fork server's death do first.
#pragma once

#include <concur/multiprocessing/context.hpp>

#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace concur_mp_test {

/// Kills the running fork server (started first if none runs) with SIGKILL and waits, at most
/// `timeout_ms`, until it is dead; it is left unreaped (the next start, or a Pool's manager,
/// reaps it). `killed` is its pid. Through a pidfd: once dead, the server may be reaped at any
/// moment and its pid reused.
inline testing::AssertionResult kill_fork_server(int& killed, int timeout_ms) {
  concur::multiprocessing::forkserver::ensure_running();
  killed = concur::multiprocessing::detail::forkserver_pid();
  if (killed <= 0) return testing::AssertionFailure() << "no fork server runs";
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, killed, 0));
  if (pidfd < 0) return testing::AssertionFailure() << "pidfd_open of the fork server failed";
  const bool signalled = ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0;
  pollfd dead{pidfd, POLLIN, 0};
  const bool died = signalled && ::poll(&dead, 1, timeout_ms) == 1;
  ::close(pidfd);
  if (!signalled) return testing::AssertionFailure() << "SIGKILL to the fork server failed";
  if (!died) return testing::AssertionFailure() << "the fork server did not die within " << timeout_ms << " ms";
  return testing::AssertionSuccess();
}

}  // namespace concur_mp_test
