// SPDX-License-Identifier: MIT
// detail::QueueCore: the socket, locks, counters and per-process feeder thread behind
// multiprocessing::Queue, JoinableQueue and SimpleQueue (see queues.hpp).
#include <pthread.h>
#include <unistd.h>

#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "concur/multiprocessing/queues.hpp"

namespace concur::multiprocessing::detail {

// ---- this process's feeders, for flush_queues() -------------------------------------------

namespace {

/// The queues whose feeder runs in this process. A forked child starts with none: its parent's
/// feeders are not its own, and the atfork handlers re-create the list's mutex in the child,
/// where another thread of the parent might have held it at the fork.
struct Feeders {
  std::mutex mutex;
  std::vector<QueueCore*> cores;  // guarded by mutex
};

Feeders& feeders() {
  static Feeders* f = [] {
    auto* made = new Feeders;  // never destroyed: a child may flush from anywhere up to _exit
    ::pthread_atfork([] { feeders().mutex.lock(); }, [] { feeders().mutex.unlock(); },
                     [] {
                       Feeders& child = feeders();
                       new (&child.mutex) std::mutex;  // the parent's state of it is meaningless here
                       child.cores.clear();
                     });
    return made;
  }();
  return *f;
}

void add_feeder(QueueCore* core) {
  Feeders& f = feeders();
  std::scoped_lock hold(f.mutex);
  f.cores.push_back(core);
}

void remove_feeder(QueueCore* core) {
  Feeders& f = feeders();
  std::scoped_lock hold(f.mutex);
  std::erase(f.cores, core);
}

}  // namespace

void flush_queues() noexcept {
  std::vector<QueueCore*> cores;
  {
    Feeders& f = feeders();
    std::scoped_lock hold(f.mutex);
    cores = f.cores;
  }
  for (QueueCore* core : cores) {
    try {
      core->close();
      core->join_thread();
    } catch (...) {  // flushing is best effort right before _exit
    }
  }
}

// ---- per-process state -------------------------------------------------------------------

/// What one process keeps for a queue: the items put and not yet written, and the feeder
/// thread writing them. A forked child inherits its parent's Local as a bit copy whose mutex
/// may be locked and whose thread does not exist in the child: the child never touches it and
/// makes its own (see local()); the copy is abandoned, not destroyed.
struct QueueCore::Local {
  explicit Local(pid_t owner) : pid(owner) {}
  const pid_t pid;  // the process this state belongs to
  std::mutex mutex;
  std::condition_variable wake;  // the feeder waits here for items or close()
  std::deque<Payload> buffer;    // guarded by mutex: put, not yet written
  bool closed = false;           // guarded by mutex: close() was called in this process
  bool cancel_join = false;      // guarded by mutex: the destructor drops unwritten items
  std::thread feeder;            // guarded by mutex: started by the first put()
};

QueueCore::QueueCore(Kind kind, std::ptrdiff_t maxsize) : m_kind(kind), m_maxsize(maxsize) {
  if (maxsize < 0) throw ValueError("maxsize must be >= 0");
  auto [reader, writer] = Pipe(false);
  m_reader = std::move(reader);
  m_writer = std::move(writer);
  if (maxsize > 0) m_slots.emplace(maxsize);
  if (kind == Kind::joinable) m_tasks.emplace();
  m_shared = SharedRegion(sizeof(Shared));
  new (m_shared.data()) Shared;
  m_local.store(new Local(::getpid()), std::memory_order_release);
}

namespace {
QueueCore::Kind reduced_kind(InputArchive& ar, QueueCore::Kind expected) {
  std::uint8_t kind = 0;
  ar(kind);
  if (kind != static_cast<std::uint8_t>(expected)) InputArchive::fail("a queue handle of another kind");
  return expected;
}
std::ptrdiff_t reduced_maxsize(InputArchive& ar) {
  std::int64_t maxsize = 0;
  ar(maxsize);
  if (maxsize < 0) InputArchive::fail("a queue handle with a negative maxsize");
  return static_cast<std::ptrdiff_t>(maxsize);
}
}  // namespace

// The encoding: kind, maxsize, the two ends of the socket, the reader and writer locks, the
// slots semaphore (bounded queues), the tasks condition (joinable ones), the shared counters.
QueueCore::QueueCore(from_reduction_t tag, InputArchive& ar, Kind kind)
    : m_kind(reduced_kind(ar, kind)),
      m_maxsize(reduced_maxsize(ar)),
      m_reader(tag, ar),
      m_writer(tag, ar),
      m_rlock(tag, ar),
      m_wlock(tag, ar) {
  if (m_maxsize > 0) m_slots.emplace(tag, ar);
  if (m_kind == Kind::joinable) m_tasks.emplace(tag, ar);
  m_shared = SharedRegion(tag, ar, sizeof(Shared));
  m_local.store(new Local(::getpid()), std::memory_order_release);
}

void QueueCore::reduce(OutputArchive& ar) const {
  const auto kind = static_cast<std::uint8_t>(m_kind);
  const auto maxsize = static_cast<std::int64_t>(m_maxsize);
  ar(kind, maxsize);
  m_reader.reduce(ar);
  m_writer.reduce(ar);
  m_rlock.reduce(ar);
  m_wlock.reduce(ar);
  if (m_slots) m_slots->reduce(ar);
  if (m_tasks) m_tasks->reduce(ar);
  m_shared.reduce(ar);
}

QueueCore::~QueueCore() {
  Local* l = m_local.load(std::memory_order_acquire);
  if (l->pid != ::getpid()) return;  // a forked child that never used the queue: see Local
  std::thread feeder;
  {
    std::scoped_lock hold(l->mutex);
    l->closed = true;
    if (l->cancel_join) l->buffer.clear();
    feeder = std::move(l->feeder);
  }
  l->wake.notify_all();
  if (feeder.joinable()) {
    feeder.join();
    remove_feeder(this);
  }
  assert(l->buffer.empty());
  delete l;
}

QueueCore::Local& QueueCore::local() {
  const pid_t me = ::getpid();
  Local* current = m_local.load(std::memory_order_acquire);
  if (current->pid == me) return *current;
  // First use in a forked child: replace the parent's state, abandoning it (see Local).
  auto fresh = std::make_unique<Local>(me);
  if (m_local.compare_exchange_strong(current, fresh.get(), std::memory_order_acq_rel)) return *fresh.release();
  return *current;  // another thread of this child got there first
}

void QueueCore::check_open() {
  Local& l = local();
  std::scoped_lock hold(l.mutex);
  if (l.closed) throw ValueError("Queue is closed");
}

void QueueCore::write(const Payload& payload) {
  std::scoped_lock hold(m_wlock);
  m_writer.send_payload(payload);
}

void QueueCore::feed(Local& l) {
  for (;;) {
    Payload payload;
    {
      std::unique_lock hold(l.mutex);
      l.wake.wait(hold, [&] { return !l.buffer.empty() || l.closed; });
      if (l.buffer.empty()) return;  // closed and everything written
      payload = std::move(l.buffer.front());
      l.buffer.pop_front();
    }
    try {
      write(payload);
    } catch (const std::exception& e) {
      // As Python's feeder: report and go on; the item is lost.
      std::fprintf(stderr, "Exception in multiprocessing Queue feeder thread: %s\n", e.what());
    }
  }
}

// ---- put / get ---------------------------------------------------------------------------

void QueueCore::put(Payload payload, const WaitOptions& options) {
  concur::queue::detail::check_timeout(options);
  check_open();
  if (m_kind == Kind::simple) {
    shared().size.fetch_add(1, std::memory_order_relaxed);
    try {
      write(payload);
    } catch (...) {
      shared().size.fetch_sub(1, std::memory_order_relaxed);
      throw;
    }
    return;
  }
  if (m_slots && !m_slots->acquire(options.block, options.block ? options.timeout : std::nullopt)) {
    throw concur::queue::Full();
  }
  if (m_tasks) {
    std::scoped_lock hold(*m_tasks);
    ++shared().unfinished;
  }
  shared().size.fetch_add(1, std::memory_order_relaxed);
  Local& l = local();
  {
    std::unique_lock hold(l.mutex);
    if (l.closed) {
      // close() ran in another thread since check_open(): the feeder may be gone already.
      hold.unlock();
      shared().size.fetch_sub(1, std::memory_order_relaxed);
      if (m_tasks) {
        std::scoped_lock undo(*m_tasks);
        if (--shared().unfinished == 0) m_tasks->notify_all();
      }
      if (m_slots) m_slots->release();
      throw ValueError("Queue is closed");
    }
    l.buffer.push_back(std::move(payload));
    if (!l.feeder.joinable()) {
      l.feeder = std::thread([this, &l] { feed(l); });
      add_feeder(this);
    }
  }
  l.wake.notify_one();
}

Payload QueueCore::get(const WaitOptions& options) {
  concur::queue::detail::check_timeout(options);
  check_open();
  const auto deadline = options.block && options.timeout ? concur::detail::deadline_after(*options.timeout)
                                                          : std::chrono::steady_clock::time_point::max();
  if (!m_rlock.acquire(options.block, options.block ? options.timeout : std::nullopt)) throw concur::queue::Empty();
  Payload payload;
  {
    std::unique_lock<Lock> hold(m_rlock, std::adopt_lock);
    std::optional<Timeout> wait = Timeout::zero();
    if (options.block) {
      wait = std::nullopt;
      if (options.timeout) {
        wait = std::chrono::duration_cast<Timeout>(deadline - std::chrono::steady_clock::now());
        if (*wait < Timeout::zero()) wait = Timeout::zero();
      }
    }
    if (wait && !m_reader.poll(wait)) throw concur::queue::Empty();
    payload = m_reader.recv_payload();
  }
  shared().size.fetch_sub(1, std::memory_order_relaxed);
  if (m_slots) m_slots->release();
  return payload;
}

std::size_t QueueCore::qsize() const {
  const std::int64_t n = shared().size.load(std::memory_order_relaxed);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

bool QueueCore::empty() const { return qsize() == 0; }

bool QueueCore::full() const { return m_maxsize > 0 && m_slots->get_value() == 0; }

// ---- close / join ------------------------------------------------------------------------

void QueueCore::close() {
  Local& l = local();
  {
    std::scoped_lock hold(l.mutex);
    l.closed = true;
  }
  l.wake.notify_all();
}

void QueueCore::join_thread() {
  Local& l = local();
  std::thread feeder;
  {
    std::scoped_lock hold(l.mutex);
    if (!l.closed) throw RuntimeError("join_thread() of a Queue that is not closed");
    feeder = std::move(l.feeder);
  }
  if (feeder.joinable()) {
    feeder.join();
    remove_feeder(this);
  }
}

void QueueCore::cancel_join_thread() {
  Local& l = local();
  std::scoped_lock hold(l.mutex);
  l.cancel_join = true;
}

// ---- JoinableQueue -----------------------------------------------------------------------

void QueueCore::task_done() {
  assert(m_tasks);
  std::scoped_lock hold(*m_tasks);
  if (shared().unfinished <= 0) throw ValueError("task_done() called too many times");
  if (--shared().unfinished == 0) m_tasks->notify_all();
}

void QueueCore::join() {
  assert(m_tasks);
  std::scoped_lock hold(*m_tasks);
  m_tasks->wait_for([&] { return shared().unfinished == 0; });
}

}  // namespace concur::multiprocessing::detail
