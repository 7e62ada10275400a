// SPDX-License-Identifier: MIT
// Process-shared Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier: made in
// the parent, used by forked children (fork + _exit), contended across processes.
#include "concur/multiprocessing/synchronize.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <thread>
#include <vector>

#include "concur/multiprocessing/shared_memory.hpp"
#include "ipc_test_support.hpp"

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;
using concur_test::fork_child;
using concur_test::join_child;

namespace {

constexpr int kProcesses = 4;
constexpr int kIncrements = concur_test::under_tsan() ? 2'000 : 10'000;

/// Spins (yielding) until the barrier has `n` waiters; false after a generous bound.
bool until_waiting(const mp::Barrier& barrier, std::ptrdiff_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (barrier.n_waiting() != n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// ---- Lock --------------------------------------------------------------------------------

TEST(MultiprocessingLock, FourProcessesIncrementingUnderTheLockLoseNothing) {
  mp::Lock lock;
  mp::Value<long> counter(0, {.lock = false});
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.push_back(fork_child([&] {
      for (int i = 0; i < kIncrements; ++i) {
        std::scoped_lock hold(lock);
        // A deliberately non-atomic read-modify-write: only the lock makes it safe.
        const long seen = counter.get_obj();
        counter.get_obj() = seen + 1;
      }
    }));
  }
  for (pid_t child : children) EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(counter.value(), long{kProcesses} * kIncrements);
  EXPECT_FALSE(lock.locked());
}

TEST(MultiprocessingLock, IsSeenLockedByAnotherProcessAndTimesOutThere) {
  mp::Lock lock;
  ASSERT_TRUE(lock.acquire());
  const pid_t child = fork_child([&]() -> int {
    if (!lock.locked()) return 1;
    if (lock.acquire(false)) return 2;
    const auto start = std::chrono::steady_clock::now();
    if (lock.acquire(true, 50ms)) return 3;
    if (std::chrono::steady_clock::now() - start < 40ms) return 4;
    return 0;
  });
  EXPECT_EQ(join_child(child), 0);
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(MultiprocessingLock, ReleasedInOneProcessWakesAnAcquirerInAnother) {
  mp::Lock lock;
  mp::Event child_waiting;
  ASSERT_TRUE(lock.acquire());
  const pid_t child = fork_child([&]() -> int {
    child_waiting.set();
    if (!lock.acquire(true, 30s)) return 1;
    lock.release();
    return 0;
  });
  ASSERT_TRUE(child_waiting.wait(30s));
  lock.release();
  EXPECT_EQ(join_child(child), 0);
}

TEST(MultiprocessingLock, HeldByAProcessThatDiedIsTakenByTheNextAcquirer) {
  mp::Lock lock;
  const pid_t child = fork_child([&]() -> int {
    lock.acquire();
    ::raise(SIGKILL);  // dies holding it
    return 1;
  });
  EXPECT_EQ(join_child(child), -SIGKILL);
  EXPECT_TRUE(lock.acquire(true, 10s));
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(MultiprocessingLock, MisuseThrowsThreadingsErrors) {
  mp::Lock lock;
  EXPECT_THROW(lock.release(), concur::RuntimeError);
  EXPECT_THROW(lock.acquire(false, 1s), concur::ValueError);
  EXPECT_THROW(lock.acquire(true, -1s), concur::ValueError);
  ASSERT_TRUE(lock.acquire());
  // The holder acquiring again could only deadlock: an error, a false, or a timed-out false.
  EXPECT_THROW(lock.acquire(), concur::RuntimeError);
  EXPECT_FALSE(lock.acquire(false));
  EXPECT_FALSE(lock.acquire(true, 10ms));
  // Only the holder may release.
  std::thread other([&] { EXPECT_THROW(lock.release(), concur::RuntimeError); });
  other.join();
  EXPECT_TRUE(lock.locked());
  lock.release();
}

// ---- RLock -------------------------------------------------------------------------------

TEST(MultiprocessingRLock, IsReentrantForItsHolderAndExclusiveForOtherProcesses) {
  mp::RLock lock;
  ASSERT_TRUE(lock.acquire());
  ASSERT_TRUE(lock.acquire());
  const pid_t child = fork_child([&]() -> int { return lock.acquire(false) ? 1 : 0; });
  EXPECT_EQ(join_child(child), 0);
  lock.release();
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(lock.release(), concur::RuntimeError);
}

TEST(MultiprocessingRLock, ReleaseByAThreadThatDoesNotHoldItThrows) {
  mp::RLock lock;
  lock.acquire();
  std::thread other([&] {
    EXPECT_THROW(lock.release(), concur::RuntimeError);
    EXPECT_FALSE(lock.acquire(true, 10ms));
  });
  other.join();
  lock.release();
}

TEST(MultiprocessingRLock, HeldAtSeveralLevelsByADeadProcessIsTakenAfresh) {
  mp::RLock lock;
  const pid_t child = fork_child([&] {
    lock.acquire();
    lock.acquire();
    ::_exit(0);  // exits holding two levels
  });
  EXPECT_EQ(join_child(child), 0);
  ASSERT_TRUE(lock.acquire(true, 10s));
  lock.release();  // one level, as we took one
  EXPECT_FALSE(lock.locked());
}

// ---- Semaphore / BoundedSemaphore ----------------------------------------------------------

TEST(MultiprocessingSemaphore, CountsAcrossProcesses) {
  mp::Semaphore sem(2);
  const pid_t child = fork_child([&]() -> int {
    if (!sem.acquire()) return 1;
    if (!sem.acquire()) return 2;
    if (sem.acquire(false)) return 3;
    return 0;
  });
  EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(sem.get_value(), 0);
  EXPECT_FALSE(sem.acquire(true, 20ms));
  sem.release(3);
  EXPECT_EQ(sem.get_value(), 3);
}

TEST(MultiprocessingSemaphore, ReleaseWakesAWaiterInAnotherProcess) {
  mp::Semaphore sem(0);
  mp::Event waiting;
  const pid_t child = fork_child([&]() -> int {
    waiting.set();
    return sem.acquire(true, 30s) ? 0 : 1;
  });
  ASSERT_TRUE(waiting.wait(30s));
  sem.release();
  EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(sem.get_value(), 0);
}

TEST(MultiprocessingSemaphore, BadArgumentsAreValueErrors) {
  EXPECT_THROW(mp::Semaphore(-1), concur::ValueError);
  EXPECT_THROW(mp::BoundedSemaphore(-1), concur::ValueError);
  mp::Semaphore sem(1);
  EXPECT_THROW(sem.release(0), concur::ValueError);
  EXPECT_THROW(sem.acquire(false, 1s), concur::ValueError);
}

TEST(MultiprocessingBoundedSemaphore, RefusesToRiseAboveItsInitialValue) {
  mp::BoundedSemaphore sem(2);
  EXPECT_THROW(sem.release(), concur::ValueError);
  ASSERT_TRUE(sem.acquire());
  const pid_t child = fork_child([&]() -> int {
    sem.release();
    try {
      sem.release();
    } catch (const concur::ValueError&) {
      return 0;
    }
    return 1;
  });
  EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(sem.get_value(), 2);
  mp::BoundedSemaphore zero(0);
  EXPECT_THROW(zero.release(), concur::ValueError);
}

// ---- Event -------------------------------------------------------------------------------

TEST(MultiprocessingEvent, SetByAChildWakesTheParent) {
  mp::Event event;
  mp::Event go;
  const pid_t child = fork_child([&]() -> int {
    if (!go.wait(30s)) return 1;
    event.set();
    return 0;
  });
  EXPECT_FALSE(event.is_set());
  go.set();
  EXPECT_TRUE(event.wait(30s));
  EXPECT_TRUE(event.is_set());
  EXPECT_EQ(join_child(child), 0);
}

TEST(MultiprocessingEvent, SetWakesWaitersInEveryProcess) {
  mp::Event event;
  mp::Semaphore waiting(0);
  std::vector<pid_t> children;
  for (int p = 0; p < 3; ++p) {
    children.push_back(fork_child([&]() -> int {
      waiting.release();
      return event.wait(30s) ? 0 : 1;
    }));
  }
  for (int p = 0; p < 3; ++p) ASSERT_TRUE(waiting.acquire(true, 30s));
  event.set();
  for (pid_t child : children) EXPECT_EQ(join_child(child), 0);
}

TEST(MultiprocessingEvent, WaitTimesOutWithFalseAndClearResets) {
  mp::Event event;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(event.wait(30ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 25ms);
  event.set();
  EXPECT_TRUE(event.wait(0s));
  event.clear();
  EXPECT_FALSE(event.is_set());
  EXPECT_FALSE(event.wait(0s));
}

// ---- Condition ---------------------------------------------------------------------------

TEST(MultiprocessingCondition, NotifyFromTheParentWakesAChildWaitingForAPredicate) {
  mp::Condition cond;
  mp::Value<int> ready(0, {.lock = false});
  mp::Event waiting;
  const pid_t child = fork_child([&]() -> int {
    std::scoped_lock hold(cond);
    waiting.set();
    return cond.wait_for([&] { return ready.get_obj() == 1; }, 30s) ? 0 : 1;
  });
  ASSERT_TRUE(waiting.wait(30s));
  {
    std::scoped_lock hold(cond);  // the child is inside wait() once we get the lock
    ready.get_obj() = 1;
    cond.notify();
  }
  EXPECT_EQ(join_child(child), 0);
}

TEST(MultiprocessingCondition, WorksOverAPlainLockAndRestoresAnRLocksDepth) {
  mp::Lock lock;
  mp::Condition over_lock(lock);
  {
    std::scoped_lock hold(over_lock);
    EXPECT_FALSE(over_lock.wait(10ms));
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());

  mp::RLock rlock;
  mp::Condition over_rlock(rlock);
  rlock.acquire();
  rlock.acquire();
  EXPECT_FALSE(over_rlock.wait(10ms));
  rlock.release();
  EXPECT_TRUE(rlock.locked());
  rlock.release();
  EXPECT_FALSE(rlock.locked());
}

TEST(MultiprocessingCondition, NotifyOneWakesExactlyOneOfTwoWaiters) {
  mp::Condition cond;
  mp::Semaphore waiting(0);
  std::atomic<int> woken{0};
  auto waiter = [&] {
    std::scoped_lock hold(cond);
    waiting.release();
    if (cond.wait(200ms)) ++woken;
  };
  std::thread a(waiter), b(waiter);
  ASSERT_TRUE(waiting.acquire(true, 30s));
  ASSERT_TRUE(waiting.acquire(true, 30s));
  {
    std::scoped_lock hold(cond);  // both are inside wait() now
    cond.notify(1);
  }
  a.join();
  b.join();
  EXPECT_EQ(woken.load(), 1);
}

TEST(MultiprocessingCondition, NotifyAllWakesWaitersInEveryProcess) {
  mp::Condition cond;
  mp::Semaphore waiting(0);
  std::vector<pid_t> children;
  for (int p = 0; p < 3; ++p) {
    children.push_back(fork_child([&]() -> int {
      std::scoped_lock hold(cond);
      waiting.release();
      return cond.wait(30s) ? 0 : 1;
    }));
  }
  for (int p = 0; p < 3; ++p) ASSERT_TRUE(waiting.acquire(true, 30s));
  {
    std::scoped_lock hold(cond);
    cond.notify_all();
  }
  for (pid_t child : children) EXPECT_EQ(join_child(child), 0);
}

TEST(MultiprocessingCondition, WaitOrNotifyWithoutTheLockIsARuntimeError) {
  mp::Condition cond;
  EXPECT_THROW(cond.wait(0s), concur::RuntimeError);
  EXPECT_THROW(cond.notify(), concur::RuntimeError);
  EXPECT_THROW(cond.notify_all(), concur::RuntimeError);
  EXPECT_THROW(cond.release(), concur::RuntimeError);
}

TEST(MultiprocessingCondition, WaitForReturnsThePredicatesValueAtTheTimeout) {
  mp::Condition cond;
  std::scoped_lock hold(cond);
  EXPECT_FALSE(cond.wait_for([] { return false; }, 20ms));
  EXPECT_TRUE(cond.wait_for([] { return true; }, 0s));
}

// ---- Barrier -----------------------------------------------------------------------------

TEST(MultiprocessingBarrier, ReleasesThreeProcessesTogetherForSeveralGenerations) {
  constexpr int kParties = 3;
  constexpr int kGenerations = 5;
  mp::Value<int> actions(0, {.lock = false});
  mp::Array<int> arrived(kGenerations);
  mp::Array<int> index_mask(kGenerations);
  mp::Barrier barrier(kParties, {.action = [&] { ++actions.get_obj(); }, .timeout = 30s});
  auto party = [&]() -> int {
    for (int g = 0; g < kGenerations; ++g) {
      {
        std::scoped_lock hold(arrived.get_lock());
        arrived.get_obj()[static_cast<std::size_t>(g)] += 1;
      }
      const std::ptrdiff_t index = barrier.wait();
      // Everyone of this generation arrived before anyone left, and the action ran once.
      if (arrived.get(static_cast<std::size_t>(g)) != kParties) return 1;
      if (actions.get_obj() < g + 1) return 2;
      std::scoped_lock hold(index_mask.get_lock());
      index_mask.get_obj()[static_cast<std::size_t>(g)] |= 1 << index;
    }
    return 0;
  };
  std::vector<pid_t> children;
  for (int p = 1; p < kParties; ++p) children.push_back(fork_child(party));
  EXPECT_EQ(party(), 0);
  for (pid_t child : children) EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(actions.get_obj(), kGenerations);
  for (int g = 0; g < kGenerations; ++g) EXPECT_EQ(index_mask.get(static_cast<std::size_t>(g)), 0b111) << g;
  EXPECT_EQ(barrier.n_waiting(), 0);
  EXPECT_FALSE(barrier.broken());
}

TEST(MultiprocessingBarrier, TimeoutBreaksItForEveryWaiter) {
  mp::Barrier barrier(3);
  mp::Event child_waiting;
  const pid_t child = fork_child([&]() -> int {
    child_waiting.set();
    try {
      barrier.wait(30s);
    } catch (const concur::BrokenBarrierError&) {
      return 0;
    }
    return 1;
  });
  ASSERT_TRUE(child_waiting.wait(30s));
  EXPECT_THROW(barrier.wait(50ms), concur::BrokenBarrierError);
  EXPECT_EQ(join_child(child), 0);
  EXPECT_TRUE(barrier.broken());
  EXPECT_THROW(barrier.wait(0s), concur::BrokenBarrierError);
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
}

TEST(MultiprocessingBarrier, AbortFromTheParentFailsAWaitingChild) {
  mp::Barrier barrier(2);
  const pid_t child = fork_child([&]() -> int {
    try {
      barrier.wait(30s);
    } catch (const concur::BrokenBarrierError&) {
      return 0;
    }
    return 1;
  });
  // Abort only once the child is inside wait(): n_waiting is shared state.
  ASSERT_TRUE(until_waiting(barrier, 1));
  barrier.abort();
  EXPECT_EQ(join_child(child), 0);
  EXPECT_TRUE(barrier.broken());
}

TEST(MultiprocessingBarrier, ResetWhileAChildWaitsFailsItAndReopensTheBarrier) {
  mp::Barrier barrier(2);
  const pid_t child = fork_child([&]() -> int {
    try {
      barrier.wait(30s);
    } catch (const concur::BrokenBarrierError&) {
      return barrier.wait(30s) >= 0 ? 0 : 2;  // the reset barrier works again
    }
    return 1;
  });
  ASSERT_TRUE(until_waiting(barrier, 1));
  barrier.reset();
  EXPECT_GE(barrier.wait(30s), 0);
  EXPECT_EQ(join_child(child), 0);
}

TEST(MultiprocessingBarrier, AProcessDyingInsideTheActionBreaksItForTheOthers) {
  const pid_t parent = ::getpid();
  mp::Value<int> deadly(1, {.lock = false});
  mp::Barrier barrier(2, {.action = [parent, &deadly] {
                            if (::getpid() != parent && deadly.get_obj() == 1) ::raise(SIGKILL);
                          }});
  const pid_t child = fork_child([&]() -> int {
    if (!until_waiting(barrier, 1)) return 1;  // the parent waits: the child arrives last
    barrier.wait();                            // runs the action, which kills this process
    return 2;
  });
  EXPECT_THROW(barrier.wait(30s), concur::BrokenBarrierError);
  EXPECT_EQ(join_child(child), -SIGKILL);
  EXPECT_TRUE(barrier.broken());
  // The dead party is not counted any more: reset() reopens the barrier for the living.
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  deadly.get_obj() = 0;
  const pid_t second = fork_child([&]() -> int {
    if (!until_waiting(barrier, 1)) return 1;
    return barrier.wait(30s) >= 0 ? 0 : 2;
  });
  EXPECT_GE(barrier.wait(30s), 0);
  EXPECT_EQ(join_child(second), 0);
}

TEST(MultiprocessingBarrier, AnActionThatThrowsBreaksItAndReachesItsCaller) {
  mp::Barrier barrier(1, {.action = [] { throw std::logic_error("action failed"); }});
  EXPECT_THROW(barrier.wait(), std::logic_error);
  EXPECT_TRUE(barrier.broken());
  EXPECT_THROW(mp::Barrier(0), concur::ValueError);
  EXPECT_EQ(barrier.parties(), 1);
}

}  // namespace
