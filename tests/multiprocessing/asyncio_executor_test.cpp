// SPDX-License-Identifier: MIT
// asyncio::run_in_executor with process pools (concur/asyncio/threads.hpp): a plain function
// and its arguments go to a futures::ProcessPoolExecutor or a multiprocessing::Pool as they
// are, as Python's loop.run_in_executor(process_pool, fn, *args) does.
#include <concur/asyncio.hpp>
#include <concur/futures/process.hpp>
#include <concur/multiprocessing/context.hpp>
#include <concur/multiprocessing/pool.hpp>
#include <concur/multiprocessing/process.hpp>

#include <gtest/gtest.h>

// The fork server's environment first, then libuv's (see asyncio_test_support.hpp).
#include "fork_server_support.hpp"
#include "mp_test_environment.hpp"
// clang-format off
#include "../asyncio/asyncio_test_support.hpp"
// clang-format on

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace asyncio = concur::asyncio;
namespace futures = concur::futures;
namespace mp = concur::multiprocessing;
using asyncio::Task;
using namespace std::chrono_literals;

namespace {

int square(int x) { return x * x; }
std::string repeat(std::string s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}
int fail(int) { throw std::invalid_argument("bad input"); }
void nothing(int) {}
int my_pid() { return static_cast<int>(::getpid()); }
// Blocks until a byte arrives on the FIFO at `path`.
int wait_on_fifo(std::string path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  char c = 0;
  [[maybe_unused]] auto n = ::read(fd, &c, 1);
  ::close(fd);
  return 1;
}

class Fifo {
 public:
  explicit Fifo(const std::string& name) : m_path("/tmp/concur-aexec-" + name + "-" + std::to_string(::getpid())) {
    ::unlink(m_path.c_str());
    if (::mkfifo(m_path.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
  }
  ~Fifo() { ::unlink(m_path.c_str()); }
  void release() const {
    const int fd = ::open(m_path.c_str(), O_WRONLY);
    [[maybe_unused]] auto n = ::write(fd, "x", 1);
    ::close(fd);
  }
  [[nodiscard]] const std::string& path() const { return m_path; }

 private:
  std::string m_path;
};

/// Every test proves its loops closed with nothing left (asyncio_test_support.hpp).
class RunInExecutor : public asyncio::testing_support::AsyncioTest {};

template <class Executor>
Task<int> use_executor(Executor& executor) {
  const int a = co_await asyncio::run_in_executor(executor, square, 7);
  const std::string b = co_await asyncio::run_in_executor(executor, repeat, std::string("ab"), 3);
  co_await asyncio::run_in_executor(executor, nothing, 1);
  const int pid = co_await asyncio::run_in_executor(executor, my_pid);
  EXPECT_NE(pid, static_cast<int>(::getpid()));  // it ran in another process
  // Several at once, while the loop stays free.
  auto [x, y] = co_await asyncio::gather(asyncio::run_in_executor(executor, square, 3),
                                         asyncio::run_in_executor(executor, [](int v) { return v + 1; }, 41));
  EXPECT_EQ(b, "ababab");
  co_return a + x + y;  // 49 + 9 + 42
}

template <class Executor>
Task<void> expect_exception(Executor& executor) {
  EXPECT_THROW(co_await asyncio::run_in_executor(executor, fail, 1), std::invalid_argument);
}

TEST_F(RunInExecutor, APlainFunctionRunsInAProcessPoolExecutor) {
  futures::ProcessPoolExecutor ex({.max_workers = 2});
  EXPECT_EQ(asyncio::run(use_executor(ex)), 100);
  asyncio::run(expect_exception(ex));
}

TEST_F(RunInExecutor, APlainFunctionRunsInAMultiprocessingPool) {
  mp::Pool pool({.processes = 2});
  EXPECT_EQ(asyncio::run(use_executor(pool)), 100);
  asyncio::run(expect_exception(pool));
}

TEST_F(RunInExecutor, BothStartMethodsWork) {
  for (const char* method : {"fork", "forkserver"}) {
    futures::ProcessPoolExecutor ex({.max_workers = 1, .start_method = method});
    mp::Pool pool({.processes = 1, .start_method = method});
    EXPECT_EQ(asyncio::run([&]() -> Task<int> {
                co_return co_await asyncio::run_in_executor(ex, square, 5) +
                    co_await asyncio::run_in_executor(pool, square, 6);
              }()),
              61)
        << method;
  }
}

// Cancelling the awaiting task cancels a call that has not started (ProcessPoolExecutor) and
// throws CancelledError at once, leaving the worker's running call to finish on its own.
TEST_F(RunInExecutor, CancellingTheTaskThrowsCancelledErrorAndCancelsAQueuedCall) {
  const Fifo fifo("executor");
  const Fifo pool_fifo("pool");
  futures::ProcessPoolExecutor ex({.max_workers = 1});
  futures::Future<int> blocker = ex.submit(wait_on_fifo, fifo.path());  // occupies the worker
  mp::Pool pool({.processes = 1});
  mp::AsyncResult<int> pool_blocker = pool.apply_async(wait_on_fifo, pool_fifo.path());
  asyncio::run([&]() -> Task<void> {
    auto queued = asyncio::create_task(asyncio::run_in_executor(ex, square, 2));
    auto in_pool = asyncio::create_task(asyncio::run_in_executor(pool, square, 3));
    co_await asyncio::sleep(0s);  // both calls submitted
    queued.cancel();
    in_pool.cancel();
    EXPECT_THROW(co_await queued, concur::CancelledError);
    EXPECT_THROW(co_await in_pool, concur::CancelledError);
  }());
  fifo.release();
  pool_fifo.release();
  EXPECT_EQ(blocker.result(30s), 1);
  EXPECT_EQ(pool_blocker.get(30s), 1);
  // The executor never ran the cancelled call and still works.
  EXPECT_EQ(ex.submit(square, 4).result(30s), 16);
}

TEST_F(RunInExecutor, TheCallCanBeTheMainCoroutine) {
  futures::ProcessPoolExecutor ex({.max_workers = 1});
  EXPECT_EQ(asyncio::run(asyncio::run_in_executor(ex, square, 9)), 81);
}

TEST_F(RunInExecutor, AShutDownExecutorIsRuntimeError) {
  futures::ProcessPoolExecutor ex({.max_workers = 1});
  ex.shutdown();
  EXPECT_THROW(asyncio::run(asyncio::run_in_executor(ex, square, 2)), concur::RuntimeError);
  mp::Pool pool({.processes = 1});
  pool.close();
  EXPECT_THROW(asyncio::run(asyncio::run_in_executor(pool, square, 2)), concur::ValueError);  // Python: "Pool not running"
  pool.join();
}

// A fork server started after libuv made a loop (here: the LibuvWarmUp environment, then the
// server restarted below) is a fork of a process where libuv's fork handler is registered: in
// every child the server forks, that handler closes the descriptor numbers of libuv's signal
// lock pipe. Those numbers must never be ones the server received for a child.
void send_index_on_each(std::vector<mp::Connection> ends) {
  for (std::size_t i = 0; i < ends.size(); ++i) ends[i].send(static_cast<int>(i));
}

TEST(ForkServerAfterAnEventLoop, DescriptorsHandedToAChildSurviveLibuvsForkHandler) {
  // Replace the fork server (started before libuv by the environment) by one forked now.
  int server = 0;
  ASSERT_TRUE(concur_mp_test::kill_fork_server(server, 60'000));
  mp::forkserver::ensure_running();
  ASSERT_NE(mp::detail::forkserver_pid(), server);

  // Enough descriptors to cover every low number the server hands out.
  std::vector<mp::Connection> mine;
  std::vector<mp::Connection> theirs;
  for (int i = 0; i < 48; ++i) {
    auto [a, b] = mp::Pipe();
    mine.push_back(std::move(a));
    theirs.push_back(std::move(b));
  }
  mp::Process p = mp::get_context("forkserver").Process(send_index_on_each, theirs);
  p.start();
  theirs.clear();  // the child holds the only other ends: a lost one reads as EOF, not silence
  for (std::size_t i = 0; i < mine.size(); ++i) {
    ASSERT_TRUE(mine[i].poll(60s)) << "end " << i;
    EXPECT_EQ(mine[i].recv<int>(), static_cast<int>(i)) << "end " << i;
  }
  p.join(60s);
  EXPECT_EQ(p.exitcode(), 0);
}

}  // namespace
