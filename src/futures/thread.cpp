// SPDX-License-Identifier: MIT
// ThreadPoolExecutor's engine: the task queue, the workers and how they sleep and wake.
//
// The queue. Submitters push task states onto `m_inbox`, a lock-free stack (one CAS; the
// states' own m_next field links them, so a push allocates nothing). The two low bits of the
// same word are the pool's flags (shut down, broken): a push that sees a flag fails, and a
// shutdown that sets one knows every earlier push is in the word — no lock is needed to keep
// "submit after shutdown" out. Workers take work under `m_take_mutex` (consumers only; a
// submitter never takes it): when their FIFO `m_ready` is empty they grab the whole stack at
// once, reverse it and pop one task at a time from it. Tasks therefore start in submission
// order (per submitting thread), and one task at a time per worker keeps Python's behaviour
// that an idle worker can always take queued work (a worker never sits on a batch).
//
// Waking. A std::mutex + condition_variable per task would cost a system call per submit; so
// workers that run out of work first *search* (spin briefly, counted in m_searching), then
// *park* on `m_park_cv` (counted in m_idle). A submit wakes a parked worker only when nobody
// is searching, hands it a wake-up token (it wakes up searching), and starts a new worker
// (Python's rule) only when nobody is searching or parked. A worker that finds work while
// searching passes the baton: if more work is queued it wakes the next one. The submitter's
// "push, then look at m_searching/m_idle" and the worker's "announce, then look at the queue"
// are both sequentially consistent, so at least one of the two sees the other (no lost work).
#include "concur/futures/thread.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "concur/errors.hpp"
#include "concur/threading/futex.hpp"
#include "concur/threading/thread.hpp"
#include "futures/spin.hpp"

namespace concur::futures {

namespace {

/// max_workers, or Python's default: min(32, process_cpu_count() + 4). ValueError if <= 0.
std::size_t max_workers_or_default(std::optional<int> max_workers) {
  if (!max_workers) return std::min<std::size_t>(32, threading::detail::process_cpu_count() + 4);
  if (*max_workers <= 0) throw ValueError("max_workers must be greater than 0");
  return static_cast<std::size_t>(*max_workers);
}

/// Python's ThreadPoolExecutor._counter: numbers default thread name prefixes.
std::atomic<std::size_t> g_executor_counter{0};

void report(const char* what, const std::exception_ptr& e) {
  std::fprintf(stderr, "%s: %s: %s\n", what, exception_type_name(e).c_str(), exception_message(e).c_str());
}

}  // namespace

namespace detail {

class ThreadPoolCore : public std::enable_shared_from_this<ThreadPoolCore> {
 public:
  explicit ThreadPoolCore(ThreadPoolOptions options)
      : m_max_workers(max_workers_or_default(options.max_workers)),
        m_prefix(!options.thread_name_prefix.empty()
                     ? std::move(options.thread_name_prefix)
                     // relaxed: only uniqueness matters.
                     : "ThreadPoolExecutor-" + std::to_string(g_executor_counter.fetch_add(1, std::memory_order_relaxed))),
        m_initializer(std::move(options.initializer)) {}

  ThreadPoolCore(const ThreadPoolCore&) = delete;
  ThreadPoolCore& operator=(const ThreadPoolCore&) = delete;

  ~ThreadPoolCore() {
    // The executor shut down and joined every worker but perhaps the one destroying it.
    // relaxed: the workers were joined (or this is the last of them), which synchronizes.
    assert((m_inbox.load(std::memory_order_relaxed) & ~flag_mask) == 0);
    assert(m_ready == nullptr);
  }

  [[nodiscard]] std::size_t max_workers() const noexcept { return m_max_workers; }

  /// Pushes `state` (owning one reference). Throws BrokenThreadPool / RuntimeError, having
  /// released that reference.
  void submit(StateBase* state) {
    // relaxed: a first guess for the CAS loop, which re-validates it.
    std::uintptr_t word = m_inbox.load(std::memory_order_relaxed);
    for (;;) {
      if ((word & broken_bit) != 0) {
        drop(state);
        throw BrokenThreadPool(broken_message);
      }
      if ((word & shutdown_bit) != 0) {
        drop(state);
        throw RuntimeError("cannot schedule new futures after shutdown");
      }
      state->m_next = to_state(word);
      // seq_cst on success: releases the state to the worker that takes it (acquire in
      // take_inbox) and orders this push before the loads in notify_work() (see the top).
      if (m_inbox.compare_exchange_weak(word, reinterpret_cast<std::uintptr_t>(state) | (word & flag_mask),
                                        std::memory_order_seq_cst, std::memory_order_relaxed))
        break;
    }
    notify_work();
  }

  void shutdown(bool wait, bool cancel_futures) {
    // seq_cst: ordered against the workers' "announce idle, then look" (they must see it).
    m_inbox.fetch_or(shutdown_bit, std::memory_order_seq_cst);
    if (cancel_futures) {
      StateBase* list = take_everything();
      while (list != nullptr) {
        StateBase* next = list->m_next;
        list->cancel();
        drop(list);
        list = next;
      }
    }
    {
      std::lock_guard lock(m_park_mutex);
      m_park_cv.notify_all();
    }
    if (wait) join_workers();
  }

  /// Joins every worker (except the calling one if it is a worker); makes sure work queued
  /// before the shutdown has a worker to run it.
  void join_workers() {
    std::unique_lock lock(m_threads_mutex);
    for (;;) {
      if (!m_threads.empty()) {
        std::vector<threading::Thread> batch = std::move(m_threads);
        m_threads.clear();
        ++m_joiners;
        lock.unlock();
        std::vector<threading::Thread> not_joined;
        for (auto& t : batch) {
          if (t == threading::current_thread())
            not_joined.push_back(std::move(t));  // a task shutting down its own pool
          else
            t.join();
        }
        lock.lock();
        for (auto& t : not_joined) m_unjoined.push_back(std::move(t));
        --m_joiners;
        m_threads_cv.notify_all();
        continue;
      }
      if (m_joiners > 0) {  // another shutdown() is joining: wait for it to finish
        m_threads_cv.wait(lock);
        continue;
      }
      // A submit that raced with shutdown() may have queued work and not started a worker yet.
      if (has_work() && m_live == 0) {
        spawn_locked();
        continue;
      }
      break;
    }
  }

  /// The threads skipped by join_workers() because they called it; joined at destruction
  /// unless the destroying thread is one of them.
  void join_unjoined() {
    std::vector<threading::Thread> rest;
    {
      std::lock_guard lock(m_threads_mutex);
      rest.swap(m_unjoined);
    }
    for (auto& t : rest)
      if (!(t == threading::current_thread())) t.join();
  }

 private:
  static constexpr std::uintptr_t shutdown_bit = 1;
  static constexpr std::uintptr_t broken_bit = 2;
  static constexpr std::uintptr_t flag_mask = 3;
  static_assert(alignof(StateBase) > flag_mask, "task states leave the flag bits free");
  static constexpr const char* broken_message = "A thread initializer failed, the thread pool is not usable anymore";

  static StateBase* to_state(std::uintptr_t word) noexcept { return reinterpret_cast<StateBase*>(word & ~flag_mask); }

  /// Releases a task that will not run.
  static void drop(StateBase* state) noexcept {
    state->drop_task();
    state->release();
  }

  /// Whether work is queued (seq_cst: the second half of the no-lost-wake-up handshake).
  bool has_work() const noexcept {
    return (m_inbox.load(std::memory_order_seq_cst) & ~flag_mask) != 0 || m_ready_nonempty.load(std::memory_order_seq_cst);
  }
  bool shut_down() const noexcept { return (m_inbox.load(std::memory_order_seq_cst) & shutdown_bit) != 0; }

  /// Moves the inbox (newest first) to the end of m_ready (oldest first). Caller holds m_take_mutex.
  void take_inbox() noexcept {
    // acquire: pairs with the submitters' release, making the pushed states' contents visible.
    StateBase* stack = to_state(m_inbox.fetch_and(flag_mask, std::memory_order_acquire));
    StateBase* fifo = nullptr;
    while (stack != nullptr) {
      StateBase* next = stack->m_next;
      stack->m_next = fifo;
      fifo = stack;
      stack = next;
    }
    if (m_ready == nullptr) {
      m_ready = fifo;
    } else {
      StateBase* tail = m_ready;
      while (tail->m_next != nullptr) tail = tail->m_next;
      tail->m_next = fifo;
    }
  }

  /// The oldest queued task, or null (then `finished` tells whether the pool is shut down
  /// and drained, i.e. the worker should exit).
  StateBase* pop(bool& finished) {
    std::lock_guard lock(m_take_mutex);
    if (m_ready == nullptr) {
      // relaxed: a quick look; take_inbox's acquire RMW is what reads the states.
      const std::uintptr_t word = m_inbox.load(std::memory_order_relaxed);
      if ((word & ~flag_mask) == 0) {
        finished = (word & shutdown_bit) != 0;
        return nullptr;
      }
      take_inbox();
    }
    StateBase* state = m_ready;
    m_ready = state->m_next;
    state->m_next = nullptr;
    // seq_cst: part of the handshake (a worker about to park must see the remaining work).
    m_ready_nonempty.store(m_ready != nullptr, std::memory_order_seq_cst);
    return state;
  }

  /// Removes every queued task (for cancel_futures and a broken pool).
  StateBase* take_everything() {
    std::lock_guard lock(m_take_mutex);
    take_inbox();
    StateBase* all = m_ready;
    m_ready = nullptr;
    m_ready_nonempty.store(false, std::memory_order_seq_cst);  // seq_cst: as in pop()
    return all;
  }

  /// Makes sure someone will take the work just queued: a searching worker, a woken parked
  /// one, or a new one (Python's rule: a submit finding no idle worker starts one; a worker
  /// passing the baton does the same, so a task blocked on a later task never starves it).
  void notify_work() {
    // seq_cst loads: the first half of the handshake (see the top of the file).
    if (m_searching.load(std::memory_order_seq_cst) > 0) return;
    if (m_idle.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard lock(m_park_mutex);
      if (m_parked > m_wakeups) {
        ++m_wakeups;
        // seq_cst: the woken worker counts as searching from now on (see worker_main).
        m_searching.fetch_add(1, std::memory_order_seq_cst);
        m_park_cv.notify_one();
        return;
      }
    }
    // relaxed: a hint; spawn() re-checks under m_threads_mutex.
    if (m_spawned.load(std::memory_order_relaxed) < m_max_workers) spawn();
  }

  void spawn() {
    std::lock_guard lock(m_threads_mutex);
    // relaxed: m_spawned only changes under m_threads_mutex, held here.
    if (m_spawned.load(std::memory_order_relaxed) >= m_max_workers) return;
    spawn_locked();
  }

  /// Starts worker number m_spawned. Caller holds m_threads_mutex.
  void spawn_locked() {
    const std::size_t n = m_spawned.load(std::memory_order_relaxed);  // relaxed: under the lock
    // seq_cst: a new worker starts out searching; submitters must see it (handshake).
    m_searching.fetch_add(1, std::memory_order_seq_cst);
    ++m_live;
    threading::Thread thread(
        threading::ThreadOptions{.name = m_prefix + "_" + std::to_string(n), .daemon = true},
        [self = shared_from_this()]() mutable {
          // Drop the reference when the worker ends: the Thread keeps its target alive longer.
          const std::shared_ptr<ThreadPoolCore> core = std::move(self);
          core->worker_main();
        });
    try {
      thread.start();
    } catch (...) {
      m_searching.fetch_sub(1, std::memory_order_seq_cst);  // seq_cst: as the fetch_add
      --m_live;
      throw;
    }
    m_spawned.store(n + 1, std::memory_order_relaxed);  // relaxed: written under m_threads_mutex
    m_threads.push_back(std::move(thread));
  }

  /// Sleeps until woken with a token (returns true: the worker now counts as searching) or
  /// until there is something to look at (returns false).
  bool park() {
    std::unique_lock lock(m_park_mutex);
    ++m_parked;
    // seq_cst: announce, then look (the second half of the handshake).
    m_idle.fetch_add(1, std::memory_order_seq_cst);
    bool token = false;
    if (!has_work() && !shut_down()) {
      m_park_cv.wait(lock, [&] { return m_wakeups > 0 || shut_down(); });
      if (m_wakeups > 0) {
        --m_wakeups;
        token = true;
      }
    }
    m_idle.fetch_sub(1, std::memory_order_seq_cst);  // seq_cst: as the fetch_add
    --m_parked;
    return token;
  }

  void worker_main() {
    bool searching = true;  // spawn_locked() counted this worker in m_searching
    if (m_initializer) {
      try {
        m_initializer();
      } catch (...) {
        report("Exception in initializer", std::current_exception());
        m_searching.fetch_sub(1, std::memory_order_seq_cst);  // seq_cst: as in the loop below
        initializer_failed();
        worker_exited();
        return;
      }
    }
    for (;;) {
      bool finished = false;
      if (StateBase* state = pop(finished)) {
        if (searching) {
          searching = false;
          // seq_cst: part of the handshake; then pass the baton if more work is queued.
          m_searching.fetch_sub(1, std::memory_order_seq_cst);
          if (has_work()) {
            try {
              notify_work();
            } catch (...) {  // the OS refused a new thread: this worker carries on alone
              report("Cannot start a worker thread", std::current_exception());
            }
          }
        }
        state->run_task();
        state->release();
        continue;
      }
      if (finished) break;
      if (!searching) {
        searching = true;
        m_searching.fetch_add(1, std::memory_order_seq_cst);  // seq_cst: handshake
      }
      if (spin_until([&] { return has_work() || shut_down(); })) continue;
      searching = false;
      m_searching.fetch_sub(1, std::memory_order_seq_cst);  // seq_cst: handshake
      searching = park();
    }
    if (searching) m_searching.fetch_sub(1, std::memory_order_seq_cst);  // seq_cst: handshake
    worker_exited();
  }

  void worker_exited() {
    std::lock_guard lock(m_threads_mutex);
    --m_live;
  }

  /// Python's _initializer_failed: the pool is broken; queued work fails with BrokenThreadPool.
  void initializer_failed() {
    m_inbox.fetch_or(broken_bit, std::memory_order_seq_cst);  // seq_cst: as shutdown's
    StateBase* list = take_everything();
    while (list != nullptr) {
      StateBase* next = list->m_next;
      list->drop_task();
      try {
        list->set_exception(std::make_exception_ptr(BrokenThreadPool(broken_message)));
      } catch (const InvalidStateError&) {
        // It was cancelled meanwhile: nothing to report.
      }
      list->release();
      list = next;
    }
  }

  const std::size_t m_max_workers;
  const std::string m_prefix;
  const std::function<void()> m_initializer;

  /// Stack of queued task states (newest first, linked by m_next) | shutdown_bit | broken_bit.
  /// The flags are only ever set, never cleared.
  std::atomic<std::uintptr_t> m_inbox{0};
  std::mutex m_take_mutex;                  // held by workers taking work; never by submitters
  StateBase* m_ready = nullptr;             // guarded by m_take_mutex: taken tasks, oldest first
  std::atomic<bool> m_ready_nonempty{false};  // m_ready != nullptr; written under m_take_mutex

  std::atomic<int> m_searching{0};  // workers awake without a task (or holding a wake token)
  std::atomic<int> m_idle{0};       // == m_parked, readable without the lock
  std::mutex m_park_mutex;
  std::condition_variable m_park_cv;  // parked workers; signalled with a token or at shutdown
  int m_parked = 0;                   // guarded by m_park_mutex: workers in park()
  int m_wakeups = 0;                  // guarded by m_park_mutex: tokens not yet taken; <= m_parked

  std::mutex m_threads_mutex;
  std::condition_variable m_threads_cv;      // signalled when a join_workers() batch is done
  std::vector<threading::Thread> m_threads;  // guarded by m_threads_mutex: started, not joined
  std::vector<threading::Thread> m_unjoined; // guarded by m_threads_mutex: skipped (self-join)
  int m_joiners = 0;                         // guarded by m_threads_mutex
  std::atomic<std::size_t> m_spawned{0};     // workers ever started (<= m_max_workers, but see
                                             // join_workers); written under m_threads_mutex
  std::size_t m_live = 0;                    // guarded by m_threads_mutex: workers not yet exited
};

}  // namespace detail

ThreadPoolExecutor::ThreadPoolExecutor(ThreadPoolOptions options)
    : m_core(std::make_shared<detail::ThreadPoolCore>(std::move(options))) {}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  m_core->shutdown(true, false);
  m_core->join_unjoined();
}

void ThreadPoolExecutor::submit_state(detail::StateBase* state) { m_core->submit(state); }

void ThreadPoolExecutor::shutdown(bool wait, bool cancel_futures) { m_core->shutdown(wait, cancel_futures); }

std::size_t ThreadPoolExecutor::max_workers() const noexcept { return m_core->max_workers(); }

}  // namespace concur::futures
