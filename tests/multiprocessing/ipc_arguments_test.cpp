// SPDX-License-Identifier: MIT
// reduction.hpp: IPC objects passed to a Process (and to a Pool's initializer) as arguments
// reach the child as handles of the same object, under both start methods; a Connection moved
// into a Process is the child's alone, so its peer sees EOF when the child ends.
//
// Each child checks what it sees and throws when something is wrong (exit code 1); the parent
// observes the child's effect on the shared object and asserts the exit code. Every wait is
// bounded.
#include <concur/multiprocessing.hpp>

#include <gtest/gtest.h>

#include "mp_test_environment.hpp"

#include <signal.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;

namespace {

constexpr auto bound = 60s;  // what a healthy child needs is milliseconds; the machine is loaded

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(what);
}

// ---- the children ------------------------------------------------------------------------

void put_three(mp::Queue<int>& q) {
  for (int i = 1; i <= 3; ++i) q.put(i * 10);
}

void take_and_mark_done(mp::JoinableQueue<int>& tasks, mp::Queue<int>& results) {
  for (int i = 0; i < 3; ++i) {
    const int v = tasks.get({.timeout = bound});
    results.put(v + 1);
    tasks.task_done();
  }
}

void put_words(mp::SimpleQueue<std::string>& q) {
  q.put("hello");
  q.put(std::string(100'000, 'x'));  // a large block: it travels through shared memory
}

void wait_then_set(mp::Event& go, mp::Event& done) {
  check(go.wait(bound), "go was never set");
  done.set();
}

void see_lock_busy_then_take_it(mp::Lock& lock, mp::Event& seen_busy) {
  check(!lock.acquire(false), "the parent's lock was free in the child");
  check(lock.locked(), "the parent's lock is not locked in the child");
  seen_busy.set();
  check(lock.acquire(true, bound), "the lock never became free");
  lock.release();
}

void hold_rlock_twice(mp::RLock& lock, mp::Event& held, mp::Event& release_now) {
  check(lock.acquire(), "first level");
  check(lock.acquire(), "second level");
  held.set();
  check(release_now.wait(bound), "release_now was never set");
  lock.release();
  lock.release();
}

// A const reference binds too.
void report_flag(const mp::Event& flag, mp::Queue<bool>& out) { out.put(flag.is_set()); }

void release_twice(mp::Semaphore& s, mp::BoundedSemaphore& bounded) {
  s.release();
  s.release();
  check(bounded.acquire(false), "the bounded semaphore's value did not reach the child");
  bounded.release();
  try {
    bounded.release();
  } catch (const concur::ValueError&) {
    return;  // the bound is the parent's
  }
  throw std::runtime_error("the bounded semaphore went above its bound");
}

void set_state_and_notify(mp::Condition& cond, mp::Value<int>& state) {
  std::scoped_lock hold(cond);
  state.set_value(1);
  cond.notify_all();
}

void meet_at_barrier(mp::Barrier& barrier) { check(barrier.wait(bound) >= 0, "barrier"); }

void add_thousand(mp::Value<int>& counter) {
  for (int i = 0; i < 1000; ++i) {
    std::scoped_lock hold(counter.get_lock());
    counter.set_value(counter.value() + 1);
  }
}

void fill_squares(mp::Array<int>& a, mp::Value<double>& raw) {
  for (std::size_t i = 0; i < a.size(); ++i) a.set(i, static_cast<int>(i * i));
  raw.get_obj() = 2.5;
}

void write_greeting(mp::SharedMemory& shm) {
  const char text[] = "from the child";
  check(shm.size() >= sizeof text, "size");
  std::memcpy(shm.buf().data(), text, sizeof text);
}

void reply_on(mp::Connection& conn) { conn.send(conn.recv<int>() * 2); }

// The issue's own shape: several kinds at once.
void worker(mp::Queue<std::string>& queue, mp::Value<int>& counter, mp::Lock& lock, mp::Connection& conn) {
  {
    std::scoped_lock hold(lock);
    counter.set_value(counter.value() + 5);
  }
  queue.put("done");
  conn.send(std::string("bye"));
}

// A moved Connection: the child ends without writing; the peer must see EOF.
void end_without_a_word(mp::Connection conn) { check(!conn.closed(), "the child's end is closed"); }

void wait_to_be_killed(mp::Connection conn, mp::Event& ready) {
  ready.set();
  (void)conn.recv<int>();  // nothing ever comes: the parent kills us
}

void take_nine(mp::JoinableQueue<int>& q0, mp::JoinableQueue<int>& q1, mp::JoinableQueue<int>& q2,
               mp::JoinableQueue<int>& q3, mp::JoinableQueue<int>& q4, mp::JoinableQueue<int>& q5,
               mp::JoinableQueue<int>& q6, mp::JoinableQueue<int>& q7, mp::JoinableQueue<int>& q8) {
  for (mp::JoinableQueue<int>* q : {&q0, &q1, &q2, &q3, &q4, &q5, &q6, &q7, &q8}) q->put(7);
}

// ---- Pool initializers: what they keep lives as long as the worker ----------------------

mp::Queue<int>* g_worker_queue = nullptr;    // set in each worker by keep_handles
mp::Value<int>* g_worker_counter = nullptr;  // likewise

void keep_handles(mp::Queue<int>& q, mp::Value<int>& counter) {
  g_worker_queue = &q;
  g_worker_counter = &counter;
}

int square_and_report(int x) {
  g_worker_queue->put(x * x);
  std::scoped_lock hold(g_worker_counter->get_lock());
  g_worker_counter->set_value(g_worker_counter->value() + 1);
  return x;
}

class IpcArgumentsTest : public testing::TestWithParam<std::string> {
 protected:
  mp::Context ctx() const { return mp::get_context(GetParam()); }

  /// Starts p, waits for it (bounded) and expects a clean exit.
  static void expect_clean_exit(mp::Process& p) {
    p.join(bound);
    ASSERT_FALSE(p.is_alive()) << "the child did not end in time";
    EXPECT_EQ(p.exitcode(), 0);
  }
};

}  // namespace

TEST_P(IpcArgumentsTest, AQueueReachesTheChildWhichPutsOnIt) {
  mp::Queue<int> q;
  mp::Process p = ctx().Process(put_three, q);
  p.start();
  EXPECT_EQ(q.get({.timeout = bound}), 10);
  EXPECT_EQ(q.get({.timeout = bound}), 20);
  EXPECT_EQ(q.get({.timeout = bound}), 30);
  expect_clean_exit(p);
  EXPECT_TRUE(q.empty());
}

TEST_P(IpcArgumentsTest, AJoinableQueueCountsTheChildsTaskDone) {
  mp::JoinableQueue<int> tasks;
  mp::Queue<int> results;
  mp::Process p = ctx().Process(take_and_mark_done, tasks, results);
  p.start();  // before the first put: no feeder thread of ours runs at the fork
  for (int v : {1, 2, 3}) tasks.put(v);
  int sum = 0;
  for (int i = 0; i < 3; ++i) sum += results.get({.timeout = bound});
  EXPECT_EQ(sum, 2 + 3 + 4);
  expect_clean_exit(p);
  tasks.join();  // every task_done() of the child counted: returns at once
  EXPECT_TRUE(tasks.empty());
}

TEST_P(IpcArgumentsTest, ASimpleQueueReachesTheChild) {
  mp::SimpleQueue<std::string> q;
  mp::Process p = ctx().Process(put_words, q);
  p.start();
  expect_clean_exit(p);  // SimpleQueue::put writes before it returns
  EXPECT_EQ(q.get(), "hello");
  EXPECT_EQ(q.get(), std::string(100'000, 'x'));
  EXPECT_TRUE(q.empty());
}

TEST_P(IpcArgumentsTest, EventsWorkBothWays) {
  mp::Event go;
  mp::Event done;
  mp::Process p = ctx().Process(wait_then_set, go, done);
  p.start();
  EXPECT_FALSE(done.is_set());
  go.set();
  EXPECT_TRUE(done.wait(bound));
  expect_clean_exit(p);
}

TEST_P(IpcArgumentsTest, AConstReferenceParameterBindsTheChildsHandle) {
  mp::Event flag;
  mp::Queue<bool> out;
  flag.set();
  mp::Process p = ctx().Process(report_flag, flag, out);
  p.start();
  EXPECT_TRUE(out.get({.timeout = bound}));
  expect_clean_exit(p);
}

TEST_P(IpcArgumentsTest, TheChildsLockIsTheParentsLock) {
  mp::Lock lock;
  mp::Event seen_busy;
  lock.acquire();
  mp::Process p = ctx().Process(see_lock_busy_then_take_it, lock, seen_busy);
  p.start();
  EXPECT_TRUE(seen_busy.wait(bound));
  lock.release();
  expect_clean_exit(p);
  EXPECT_FALSE(lock.locked());
}

TEST_P(IpcArgumentsTest, AnRLockHeldInTheChildIsHeldForTheParent) {
  mp::RLock lock;
  mp::Event held;
  mp::Event release_now;
  mp::Process p = ctx().Process(hold_rlock_twice, lock, held, release_now);
  p.start();
  ASSERT_TRUE(held.wait(bound));
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(lock.acquire(false));
  release_now.set();
  expect_clean_exit(p);
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST_P(IpcArgumentsTest, SemaphoresAreShared) {
  mp::Semaphore s(0);
  mp::BoundedSemaphore bounded(1);
  mp::Process p = ctx().Process(release_twice, s, bounded);
  p.start();
  EXPECT_TRUE(s.acquire(true, bound));
  EXPECT_TRUE(s.acquire(true, bound));
  expect_clean_exit(p);
  EXPECT_EQ(s.get_value(), 0);
  EXPECT_EQ(bounded.get_value(), 1);
}

TEST_P(IpcArgumentsTest, AConditionOverALockNotifiesTheParent) {
  mp::Lock lock;
  mp::Condition cond(lock);
  mp::Value<int> state(0, {.lock = false});
  std::unique_lock hold(cond);
  mp::Process p = ctx().Process(set_state_and_notify, cond, state);
  p.start();
  EXPECT_TRUE(cond.wait_for([&] { return state.value() == 1; }, bound));
  hold.unlock();
  expect_clean_exit(p);
}

TEST_P(IpcArgumentsTest, ABarrierIsMetByParentAndChild) {
  mp::Barrier barrier(2, {.timeout = bound});
  mp::Process p = ctx().Process(meet_at_barrier, barrier);
  p.start();
  EXPECT_GE(barrier.wait(), 0);
  expect_clean_exit(p);
  EXPECT_FALSE(barrier.broken());
}

TEST_P(IpcArgumentsTest, AValueIsIncrementedByParentAndChildTogether) {
  mp::Value<int> counter(0);
  mp::Process p = ctx().Process(add_thousand, counter);
  p.start();
  add_thousand(counter);
  expect_clean_exit(p);
  EXPECT_EQ(counter.value(), 2000);
}

TEST_P(IpcArgumentsTest, AnArrayAndARawValueAreWrittenByTheChild) {
  mp::Array<int> a(8);
  mp::Value<double> raw(0.0, {.lock = false});
  mp::Process p = ctx().Process(fill_squares, a, raw);
  p.start();
  expect_clean_exit(p);
  EXPECT_EQ(a.to_vector(), (std::vector<int>{0, 1, 4, 9, 16, 25, 36, 49}));
  EXPECT_EQ(raw.value(), 2.5);
}

TEST_P(IpcArgumentsTest, SharedMemoryIsAttachedInTheChild) {
  mp::SharedMemory shm({.create = true, .size = 4096});
  mp::Process p = ctx().Process(write_greeting, shm);
  p.start();
  expect_clean_exit(p);
  EXPECT_STREQ(reinterpret_cast<const char*>(shm.buf().data()), "from the child");
  shm.unlink();
}

TEST_P(IpcArgumentsTest, AConnectionTakenByReferenceStaysOpenInTheParent) {
  auto [mine, theirs] = mp::Pipe();
  mp::Process p = ctx().Process(reply_on, theirs);
  EXPECT_FALSE(theirs.closed());  // passed as an lvalue: the parent keeps its end
  p.start();
  mine.send(21);
  ASSERT_TRUE(mine.poll(bound));
  EXPECT_EQ(mine.recv<int>(), 42);
  expect_clean_exit(p);
}

TEST_P(IpcArgumentsTest, QueueValueLockAndConnectionTogether) {
  mp::Queue<std::string> queue;
  mp::Value<int> counter(1);
  mp::Lock lock;
  auto [mine, theirs] = mp::Pipe();
  mp::Process p = ctx().Process(worker, queue, counter, lock, std::move(theirs));
  p.start();
  EXPECT_EQ(queue.get({.timeout = bound}), "done");
  ASSERT_TRUE(mine.poll(bound));
  EXPECT_EQ(mine.recv<std::string>(), "bye");
  expect_clean_exit(p);
  EXPECT_EQ(counter.value(), 6);
  EXPECT_FALSE(lock.locked());
}

TEST_P(IpcArgumentsTest, MoreDescriptorsThanOneMessageCarriesReachTheChild) {
  // Nine bounded joinable queues are 72 descriptors: the fork server receives them in two
  // messages.
  std::vector<std::unique_ptr<mp::JoinableQueue<int>>> qs;
  for (int i = 0; i < 9; ++i) qs.push_back(std::make_unique<mp::JoinableQueue<int>>(4));
  mp::Process p = ctx().Process(take_nine, *qs[0], *qs[1], *qs[2], *qs[3], *qs[4], *qs[5], *qs[6], *qs[7], *qs[8]);
  p.start();
  for (auto& q : qs) {
    EXPECT_EQ(q->get({.timeout = bound}), 7);
    q->task_done();
  }
  expect_clean_exit(p);
}

TEST_P(IpcArgumentsTest, AMovedConnectionIsClosedInTheParentSoItsPeerSeesEofWhenTheChildEnds) {
  auto [mine, theirs] = mp::Pipe();
  mp::Process p = ctx().Process(end_without_a_word, std::move(theirs));
  EXPECT_TRUE(theirs.closed());  // NOLINT(bugprone-use-after-move): moved means moved
  p.start();
  expect_clean_exit(p);
  ASSERT_TRUE(mine.poll(bound)) << "the parent still holds a copy of the moved end";
  EXPECT_THROW(mine.recv<int>(), concur::EOFError);
}

TEST_P(IpcArgumentsTest, AMovedConnectionOfAKilledChildGivesEofToItsPeer) {
  auto [mine, theirs] = mp::Pipe();
  mp::Event ready;
  mp::Process p = ctx().Process(wait_to_be_killed, std::move(theirs), ready);
  p.start();
  ASSERT_TRUE(ready.wait(bound));
  EXPECT_FALSE(mine.poll());  // alive, silent
  p.kill();
  p.join(bound);
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  ASSERT_TRUE(mine.poll(bound));
  EXPECT_THROW(mine.recv<int>(), concur::EOFError);
}

TEST_P(IpcArgumentsTest, AMovedConnectionOfAProcessNeverStartedIsClosedWithIt) {
  auto [mine, theirs] = mp::Pipe();
  {
    mp::Process p = ctx().Process(end_without_a_word, std::move(theirs));
    EXPECT_FALSE(mine.poll());
  }
  EXPECT_TRUE(mine.poll());
  EXPECT_THROW(mine.recv<int>(), concur::EOFError);
}

TEST_P(IpcArgumentsTest, PoolInitializerArgumentsAreHandlesKeptForTheWorkersLife) {
  mp::Queue<int> squares;
  mp::Value<int> tasks_run(0);
  std::vector<int> got;
  int sum = 0;
  {
    mp::Pool pool = ctx().Pool({.processes = 2, .initializer = {keep_handles, squares, tasks_run}});
    got = pool.map(square_and_report, std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 1);
    for (int i = 0; i < 10; ++i) sum += squares.get({.timeout = bound});
    pool.close();
    pool.join();
  }
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(tasks_run.value(), 10);
  EXPECT_EQ(sum, 285);  // 0 + 1 + 4 + ... + 81
  EXPECT_TRUE(squares.empty());
}

TEST_P(IpcArgumentsTest, MisuseIsRefusedWhenTheProcessIsMade) {
  mp::Barrier with_action(2, {.action = [] {}});
  EXPECT_THROW(ctx().Process(meet_at_barrier, with_action), concur::ValueError);
  mp::SharedMemory shm({.create = true, .size = 64});
  shm.close();
  EXPECT_THROW(ctx().Process(write_greeting, shm), concur::ValueError);
  shm.unlink();
  mp::Connection closed;
  EXPECT_THROW(ctx().Process(reply_on, closed), concur::OSError);
}

INSTANTIATE_TEST_SUITE_P(StartMethods, IpcArgumentsTest, testing::Values("fork", "forkserver"),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });
