// SPDX-License-Identifier: MIT
// process.hpp and context.hpp: Process under both start methods — targets, arguments, exit
// codes of every kind of ending, timeouts, misuse, daemons, and the fork server.
#include <concur/multiprocessing/context.hpp>
#include <concur/multiprocessing/process.hpp>

#include <gtest/gtest.h>

#include "fork_server_support.hpp"
#include "mp_test_environment.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;

namespace {


struct Point {
  int x = 0;
  int y = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y);
  }
};

int g_global = 1;

void report_sum(mp::Connection out, int a, std::string b, std::vector<int> c, Point p) {
  int sum = a + static_cast<int>(b.size()) + p.x + p.y;
  for (int v : c) sum += v;
  out.send(sum);
}

void report_identity(mp::Connection out) {
  auto parent = mp::parent_process();
  out.send(std::make_tuple(mp::current_process().name(), mp::current_process().pid().value_or(-1),
                           parent ? parent->pid().value_or(-1) : -1, parent.has_value() && parent->is_alive()));
}

void change_global(mp::Connection out) {
  g_global = 42;
  out.send(g_global);
}

void exit_with(int code) { ::_exit(code); }
// The default action, even under AddressSanitizer (whose SIGSEGV handler would turn the
// crash into exit code 1).
void raise_signal(int sig) {
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}
void do_abort() { std::abort(); }
void throw_error() { throw std::out_of_range("index 7 is out of range"); }
void wait_for_message(mp::Connection in) {
  try {
    (void)in.recv<int>();
  } catch (const concur::EOFError&) {
  }
}
void try_to_start_child(mp::Connection out) {
  try {
    mp::Process p(exit_with, 0);
    p.start();
    p.join();
    out.send(std::string("started"));
  } catch (const concur::RuntimeError& e) {
    out.send(std::string(e.what()));
  }
}
void start_daemon_and_return(mp::Connection out, mp::Connection hold) {
  mp::Process p(mp::ProcessOptions{.daemon = true}, wait_for_message, std::move(hold));
  p.start();
  out.send(p.pid().value());
}

void exit_after_message(mp::Connection in, int code) {
  try {
    (void)in.recv<int>();
  } catch (const concur::EOFError&) {
  }
  ::_exit(code);
}

void report_parent_then_exit(mp::Connection out, mp::Connection in, int code) {
  out.send(static_cast<int>(::getppid()));
  exit_after_message(std::move(in), code);
}

/// CPU time used by this process so far (all threads).
std::chrono::nanoseconds process_cpu_time() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

/// Kills the running fork server (our child) and waits until it is dead, leaving it to be
/// reaped by the next start. Returns its pid.
int kill_the_fork_server() {
  int server = 0;
  EXPECT_TRUE(concur_mp_test::kill_fork_server(server, 30'000));
  return server;
}

std::mutex g_held_by_a_parent_thread;
void lock_the_global_mutex(mp::Connection out) {
  std::scoped_lock lock(g_held_by_a_parent_thread);
  out.send(true);
}

class ProcessTest : public testing::TestWithParam<std::string> {
 protected:
  mp::Context ctx() const { return mp::get_context(GetParam()); }
};

}  // namespace

TEST_P(ProcessTest, RunsTheTargetWithItsArgumentsInAChild) {
  auto [r, w] = mp::Pipe(false);
  mp::Process p = ctx().Process(report_sum, std::move(w), 1, "abc", std::vector<int>{10, 20}, Point{100, 200});
  EXPECT_FALSE(p.pid().has_value());
  EXPECT_FALSE(p.exitcode().has_value());
  p.start();
  EXPECT_TRUE(p.pid().has_value());
  EXPECT_EQ(r.recv<int>(), 1 + 3 + 30 + 300);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.is_alive());
}

TEST_P(ProcessTest, CaptureLessLambdasAreTargetsToo) {
  auto [r, w] = mp::Pipe(false);
  mp::Process p = ctx().Process([](mp::Connection out, int x) { out.send(x * x); }, std::move(w), 12);
  p.start();
  EXPECT_EQ(r.recv<int>(), 144);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(ProcessTest, TheChildKnowsItsNameItsPidAndItsParent) {
  auto [r, w] = mp::Pipe(false);
  mp::Process p = ctx().Process(mp::ProcessOptions{.name = "Worker-A"}, report_identity, std::move(w));
  EXPECT_EQ(p.name(), "Worker-A");
  p.start();
  auto [name, pid, parent_pid, parent_alive] = r.recv<std::tuple<std::string, int, int, bool>>();
  EXPECT_EQ(name, "Worker-A");
  EXPECT_EQ(pid, *p.pid());
  EXPECT_EQ(parent_pid, static_cast<int>(::getpid()));
  EXPECT_TRUE(parent_alive);
  p.join();
  EXPECT_EQ(mp::current_process().name(), "MainProcess");
  EXPECT_FALSE(mp::parent_process().has_value());
}

TEST_P(ProcessTest, DefaultNamesAreNumbered) {
  mp::Process a = ctx().Process(exit_with, 0);
  mp::Process b = ctx().Process(exit_with, 0);
  EXPECT_EQ(a.name().rfind("Process-", 0), 0U);
  EXPECT_NE(a.name(), b.name());
}

TEST_P(ProcessTest, TheChildHasItsOwnMemory) {
  auto [r, w] = mp::Pipe(false);
  mp::Process p = ctx().Process(change_global, std::move(w));
  p.start();
  EXPECT_EQ(r.recv<int>(), 42);
  p.join();
  EXPECT_EQ(g_global, 1);
}

TEST_P(ProcessTest, ExitcodeIsTheCodeGivenToExit) {
  mp::Process p = ctx().Process(exit_with, 3);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 3);
}

TEST_P(ProcessTest, AnExceptionEscapingTheTargetGivesExitcodeOne) {
  mp::Process p = ctx().Process(throw_error);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 1);
}

TEST_P(ProcessTest, ACrashGivesTheNegativeSignalNumber) {
  mp::Process segv = ctx().Process(raise_signal, SIGSEGV);
  mp::Process abrt = ctx().Process(do_abort);
  segv.start();
  abrt.start();
  segv.join();
  abrt.join();
  EXPECT_EQ(segv.exitcode(), -SIGSEGV);
  EXPECT_EQ(abrt.exitcode(), -SIGABRT);
}

TEST_P(ProcessTest, TerminateAndKillEndABlockedChild) {
  auto [r1, w1] = mp::Pipe();
  auto [r2, w2] = mp::Pipe();
  mp::Process t = ctx().Process(wait_for_message, std::move(r1));
  mp::Process k = ctx().Process(wait_for_message, std::move(r2));
  t.start();
  k.start();
  EXPECT_TRUE(t.is_alive());
  t.terminate();
  k.kill();
  t.join();
  k.join();
  EXPECT_EQ(t.exitcode(), -SIGTERM);
  EXPECT_EQ(k.exitcode(), -SIGKILL);
  t.terminate();  // no effect once ended
}

TEST_P(ProcessTest, JoinWithATimeoutReturnsWhileTheChildStillRuns) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(wait_for_message, std::move(r));
  p.start();
  const auto start = std::chrono::steady_clock::now();
  p.join(100ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 95ms);
  EXPECT_TRUE(p.is_alive());
  EXPECT_FALSE(p.exitcode().has_value());
  w.send(1);  // (closing w would not do: a forked child holds a copy of it)
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(ProcessTest, TheSentinelBecomesReadableWhenTheChildEnds) {
  mp::Process p = ctx().Process(exit_with, 0);
  EXPECT_THROW((void)p.sentinel(), concur::ValueError);
  p.start();
  const int fd = p.sentinel();
  EXPECT_GE(fd, 0);
  pollfd pfd{fd, POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 30'000), 1);
  p.join();
}

TEST_P(ProcessTest, MisuseRaisesPythonsErrors) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(wait_for_message, std::move(r));
  EXPECT_THROW(p.join(), concur::RuntimeError);
  p.start();
  EXPECT_THROW(p.start(), concur::RuntimeError);
  EXPECT_THROW(p.set_daemon(true), concur::RuntimeError);
  EXPECT_THROW(p.close(), concur::ValueError);
  EXPECT_THROW(mp::current_process().join(), concur::RuntimeError);
  w.send(1);
  p.join();
  p.close();
  EXPECT_THROW((void)p.sentinel(), concur::ValueError);
}

TEST_P(ProcessTest, ActiveChildrenListsTheRunningOnes) {
  auto [r, w] = mp::Pipe();
  mp::Process p = ctx().Process(wait_for_message, std::move(r));
  p.start();
  auto children = mp::active_children();
  ASSERT_EQ(children.size(), 1U);
  EXPECT_EQ(children[0], p);
  w.send(1);
  p.join();
  EXPECT_TRUE(mp::active_children().empty());
}

TEST_P(ProcessTest, DaemonicProcessesCannotHaveChildren) {
  auto [r, w] = mp::Pipe(false);
  mp::Process p = ctx().Process(mp::ProcessOptions{.daemon = true}, try_to_start_child, std::move(w));
  EXPECT_TRUE(p.daemon());
  p.start();
  EXPECT_EQ(r.recv<std::string>(), "daemonic processes are not allowed to have children");
  p.join();
}

TEST_P(ProcessTest, DaemonicChildrenEndWhenTheirParentExits) {
  auto [r, w] = mp::Pipe(false);
  auto [hold_r, hold_w] = mp::Pipe();  // the grandchild would wait on this forever
  mp::Process p = ctx().Process(start_daemon_and_return, std::move(w), std::move(hold_r));
  p.start();
  const int grandchild = r.recv<int>();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  // The parent's exit terminated and reaped it: the pid names no process any more.
  EXPECT_NE(::kill(grandchild, 0), 0);
}

TEST_P(ProcessTest, KillAndTerminateAfterTheChildEndedSendNothing) {
  mp::Process p = ctx().Process(exit_with, 3);
  p.start();
  pollfd pfd{p.sentinel(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 30'000), 1);  // ended (fork: not reaped yet; forkserver: reaped by its reporter)
  p.kill();
  p.terminate();
  p.join();
  EXPECT_EQ(p.exitcode(), 3);
  p.kill();  // reaped: its pid may name another process by now
  p.terminate();
  EXPECT_EQ(p.exitcode(), 3);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessTest, testing::Values("fork", "forkserver"),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(ForkServer, ChildrenDoNotInheritLocksHeldByOtherThreadsOfTheParent) {
  std::unique_lock held(g_held_by_a_parent_thread);  // as if a pool thread held it at fork
  auto [r, w] = mp::Pipe(false);
  mp::Process p = mp::get_context("forkserver").Process(lock_the_global_mutex, std::move(w));
  p.start();
  EXPECT_TRUE(r.recv<bool>());  // the server was forked before the lock was taken
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(ForkServer, ChildrenOfAKilledForkServerRunOnAndJoinGetsTheirTrueExitStatus) {
  auto [r1, w1] = mp::Pipe();
  auto [r2, w2] = mp::Pipe();
  mp::Process exits = mp::get_context("forkserver").Process(exit_after_message, std::move(r1), 7);
  mp::Process killed = mp::get_context("forkserver").Process(exit_after_message, std::move(r2), 0);
  exits.start();
  killed.start();
  const int server = kill_the_fork_server();

  // join(timeout) on a child that still runs waits without spinning: a busy loop would use
  // about as much CPU as wall time.
  const auto cpu = process_cpu_time();
  const auto wall = std::chrono::steady_clock::now();
  exits.join(500ms);
  const auto used = process_cpu_time() - cpu;
  const auto waited = std::chrono::steady_clock::now() - wall;
  EXPECT_GE(waited, 450ms);
  EXPECT_LT(used, waited / 10) << "join used " << used.count() << " ns of CPU in " << waited.count() << " ns";
  EXPECT_TRUE(exits.is_alive());
  EXPECT_FALSE(exits.exitcode().has_value());

  w1.send(1);
  exits.join(30s);
  EXPECT_EQ(exits.exitcode(), 7);
  killed.kill();
  killed.join(30s);
  EXPECT_EQ(killed.exitcode(), -SIGKILL);

  // The next start has a new server.
  mp::Process next = mp::get_context("forkserver").Process(exit_with, 5);
  next.start();
  next.join(30s);
  EXPECT_EQ(next.exitcode(), 5);
  EXPECT_NE(mp::detail::forkserver_pid(), server);
}

TEST(ForkServer, AStartRacingTheServersDeathGetsANewServer) {
  for (int round = 0; round < 5; ++round) {
    mp::forkserver::ensure_running();
    const int server = mp::detail::forkserver_pid();
    ASSERT_GT(server, 0);
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, server, 0));
    ASSERT_GE(pidfd, 0);
    ASSERT_EQ(::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0), 0);
    // Not waiting for it to die: the start finds it alive, dying or dead, and must succeed.
    mp::Process p = mp::get_context("forkserver").Process(exit_with, round);
    p.start();
    p.join(30s);
    EXPECT_EQ(p.exitcode(), round);
    EXPECT_NE(mp::detail::forkserver_pid(), server);
    ::close(pidfd);
  }
}

TEST(ForkServer, AChildWhoseReporterWasKilledIsWatchedThroughItsPidfd) {
  auto [from_child, to_parent] = mp::Pipe(false);
  auto [r, w] = mp::Pipe();
  mp::Process p = mp::get_context("forkserver").Process(report_parent_then_exit, std::move(to_parent), std::move(r), 0);
  p.start();
  const int reporter = from_child.recv<int>();
  ASSERT_NE(reporter, static_cast<int>(::getpid()));
  ASSERT_EQ(::kill(reporter, SIGKILL), 0);  // it lives while its child does: the pid is its own

  // The sentinel fires once (the status socket's EOF) while the child still runs; from then
  // on it follows the child's pidfd, so waiting on it does not spin.
  pollfd pfd{p.sentinel(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 30'000), 1);
  EXPECT_TRUE(p.is_alive());
  EXPECT_EQ(::poll(&pfd, 1, 0), 0);
  const auto cpu = process_cpu_time();
  const auto wall = std::chrono::steady_clock::now();
  p.join(300ms);
  const auto used = process_cpu_time() - cpu;
  EXPECT_LT(used, (std::chrono::steady_clock::now() - wall) / 10);
  EXPECT_TRUE(p.is_alive());

  w.send(1);
  p.join(30s);
  EXPECT_EQ(p.exitcode(), 255);  // ended; its status went with its reporter
}

TEST(ForkServer, AStoppedForkServerMakesStartFailWithinItsBound) {
  mp::forkserver::ensure_running();
  const int server = mp::detail::forkserver_pid();
  ASSERT_GT(server, 0);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, server, 0));
  ASSERT_GE(pidfd, 0);
  struct Cleanup {
    int pidfd;
    ~Cleanup() {
      // Whatever happened above, the server is not left stopped.
      (void)::syscall(SYS_pidfd_send_signal, pidfd, SIGCONT, nullptr, 0);
      ::close(pidfd);
      mp::forkserver::set_start_timeout(20s);
    }
  } cleanup{pidfd};
  ASSERT_EQ(::kill(server, SIGSTOP), 0);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(server), &info, WSTOPPED | WNOWAIT), 0);  // it is stopped now

  mp::forkserver::set_start_timeout(300ms);
  mp::Process p = mp::get_context("forkserver").Process(exit_with, 0);
  const auto start = std::chrono::steady_clock::now();
  try {
    p.start();
    ADD_FAILURE() << "start() succeeded with a stopped fork server";
  } catch (const concur::ProcessError& e) {
    EXPECT_NE(std::string(e.what()).find("did not start the process within 300 ms"), std::string::npos) << e.what();
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 20s);
  EXPECT_FALSE(p.pid().has_value());

  // The stopped server was killed and reaped; the next start has a new one.
  pollfd pfd{pidfd, POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 0), 1);
  EXPECT_NE(::waitid(P_PID, static_cast<id_t>(server), &info, WEXITED | WNOHANG), 0);  // not our child any more
  mp::forkserver::set_start_timeout(20s);
  mp::Process next = mp::get_context("forkserver").Process(exit_with, 4);
  next.start();
  next.join(30s);
  EXPECT_EQ(next.exitcode(), 4);
  EXPECT_THROW(mp::forkserver::set_start_timeout(0s), concur::ValueError);
}

TEST(StartMethods, ContextsNameTheirMethodAndUnknownMethodsAreValueError) {
  EXPECT_EQ(mp::get_context("fork").get_start_method(), "fork");
  EXPECT_EQ(mp::get_context("forkserver").get_start_method(), "forkserver");
  EXPECT_THROW(mp::get_context("spawn"), concur::ValueError);
  EXPECT_THROW(mp::get_context("thread"), concur::ValueError);
  EXPECT_THROW(mp::set_start_method("nope"), concur::ValueError);
  EXPECT_EQ(mp::get_all_start_methods(), (std::vector<std::string>{"fork", "forkserver"}));
}

TEST(StartMethods, TheDefaultIsFixedOnceAndSetStartMethodThenNeedsForce) {
  EXPECT_EQ(mp::get_start_method(), "fork");
  EXPECT_THROW(mp::set_start_method("forkserver"), concur::RuntimeError);
  mp::set_start_method("forkserver", true);
  EXPECT_EQ(mp::get_start_method(), "forkserver");
  mp::set_start_method("fork", true);
}

TEST(Process, CpuCountIsPositive) { EXPECT_GE(mp::cpu_count(), 1U); }

// A stateful callable cannot be a target (the constructor's static_assert says why).
static_assert(!mp::detail::PlainCallable<decltype([x = 1] { return x; })>);
static_assert(mp::detail::PlainCallable<decltype([] {})>);
static_assert(mp::detail::PlainCallable<void (*)(int)>);
