// SPDX-License-Identifier: MIT
// A pool's manager (see pool_manager.hpp): the queue, the manager thread, crash recovery.
//
// The manager thread (one per pool) owns every worker's state: it hands chunks out, reads
// replies, and watches each worker's sentinel. Because a worker's tasks are sent and answered
// in order on its own channel, and the channel can say which task a dead worker was running,
// the manager knows exactly what a dead worker held.
#include "pool_manager.hpp"

#include <concur/errors.hpp>
#include <concur/multiprocessing/remote_exceptions.hpp>

#include <fmt/core.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace concur::multiprocessing::detail {

WorkerChannel::~WorkerChannel() = default;
WorkerLauncher::~WorkerLauncher() = default;

PoolCore::PoolCore(std::unique_ptr<WorkerLauncher> launcher, std::size_t processes, std::size_t maxtasks)
    : m_processes(processes), m_maxtasks(maxtasks), m_launcher(std::move(launcher)) {
  const int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) throw_os_error(errno, "eventfd");
  m_wake.reset(efd);
  try {
    m_workers.reserve(m_processes);
    for (std::size_t i = 0; i < m_processes; ++i) m_workers.emplace_back(m_launcher->launch());
  } catch (...) {
    for (auto& w : m_workers) w.channel->kill();
    for (auto& w : m_workers) w.channel->join();
    throw;
  }
  m_thread = std::thread([this] { manager(); });
}

PoolCore::~PoolCore() {
  terminate();
  join();
}

void PoolCore::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(m_wake.get(), &one, sizeof one);
}

std::uint64_t PoolCore::submit(std::vector<PoolTask>& tasks, const char* job, std::uint64_t job_id, bool last) {
  std::exception_ptr failed;
  {
    std::scoped_lock lock(m_mutex);
    if (job_id == 0) {
      if (m_state != State::running) throw ValueError("Pool not running");
      job_id = ++m_next_job;
      if (!last) ++m_open_jobs;
    } else if (last) {
      --m_open_jobs;
    }
    for (auto& t : tasks) {
      t.job = job;
      t.job_id = job_id;
    }
    // A later part of a job that was started: queued even once the pool is closed (the
    // manager waits for it), failed at once when the pool is broken or being terminated.
    if (m_broken) {
      failed = m_broken;
    } else if (m_state == State::terminating) {
      failed = std::make_exception_ptr(ProcessError("the pool was terminated before the task completed"));
    } else {
      for (auto& t : tasks) m_queue.push_back(std::move(t));
    }
  }
  if (failed) {
    for (auto& t : tasks) t.sink->fail(t.index, failed);
  }
  tasks.clear();
  wake();
  return job_id;
}

void PoolCore::cancel_pending() {
  std::deque<PoolTask> cancelled;
  {
    std::scoped_lock lock(m_mutex);
    for (auto it = m_queue.begin(); it != m_queue.end();) {
      if (!it->dispatched && it->sink->cancel_pending(it->index)) {
        cancelled.push_back(std::move(*it));
        it = m_queue.erase(it);
      } else {
        ++it;
      }
    }
  }
  // `cancelled` is destroyed here, outside the lock (a sink may run callbacks).
}

void PoolCore::close() {
  {
    std::scoped_lock lock(m_mutex);
    if (m_state == State::running) m_state = State::closed;
  }
  wake();
}

void PoolCore::terminate() {
  {
    std::scoped_lock lock(m_mutex);
    m_state = State::terminating;
  }
  wake();
}

void PoolCore::join() {
  {
    std::scoped_lock lock(m_mutex);
    if (m_state == State::running) throw ValueError("Pool is still running");
  }
  std::scoped_lock lock(m_join_mutex);
  if (m_thread.joinable()) m_thread.join();
}

std::size_t PoolCore::in_flight_limit() const {
  // Enough queued work per worker to cover about 2 ms, so that a worker never waits for the
  // manager with short tasks, and long tasks are not hoarded by one worker.
  const double limit = 2e6 / std::max(m_chunk_ns, 1.0);
  return static_cast<std::size_t>(std::clamp(limit, 2.0, 1024.0));
}

// In the user's terms: the call ("apply #6", counting the pool's jobs) or the positions in the
// input ("map item 7", "imap items 8 to 15" for a chunk), never the internal task number.
std::string PoolCore::describe(const InFlight& t) {
  if (std::strcmp(t.task.job, "apply") == 0 || std::strcmp(t.task.job, "submit") == 0)
    return fmt::format("{} #{}", t.task.job, t.task.job_id);
  if (t.task.items == 1) return fmt::format("{} item {}", t.task.job, t.task.first_item);
  return fmt::format("{} items {} to {}", t.task.job, t.task.first_item, t.task.first_item + t.task.items - 1);
}

void PoolCore::dispatch(PoolWorker& w, std::vector<PoolTask>& taken) {
  for (PoolTask& t : taken) {
    InFlight& f = w.in_flight.emplace_back(InFlight{++m_next_task, std::move(t)});
    w.channel->send(f.id, f.task);
    ++w.dispatched;
  }
  taken.clear();
}

void PoolCore::on_reply(PoolWorker& w, WorkerReply& r) {
  auto it = std::find_if(w.in_flight.begin(), w.in_flight.end(), [&](const InFlight& t) { return t.id == r.id; });
  if (it == w.in_flight.end()) return;  // not ours: ignore
  InFlight done = std::move(*it);
  if (it == w.in_flight.begin()) {
    w.in_flight.pop_front();  // the usual case: a worker answers in the order it was sent
  } else {
    w.in_flight.erase(it);
  }
  m_chunk_ns = 0.8 * m_chunk_ns + 0.2 * static_cast<double>(r.run_ns);
  try {
    if (r.failed) {
      auto [type, message] = deserialize<std::pair<std::string, std::string>>(r.payload);
      done.task.sink->fail(done.task.index, rebuild_exception(type, message));
    } else {
      done.task.sink->deliver(done.task.index, r.payload);
    }
  } catch (...) {
    done.task.sink->fail(done.task.index, std::current_exception());
  }
}

void PoolCore::on_readable(PoolWorker& w, bool readable) {
  m_replies.clear();
  (void)w.channel->receive(m_replies, readable);
  for (auto& r : m_replies) on_reply(w, r);
  m_replies.clear();
}

void PoolCore::fail_all(std::exception_ptr e) {
  std::deque<PoolTask> queued;
  {
    std::scoped_lock lock(m_mutex);
    queued.swap(m_queue);
  }
  for (auto& t : queued) t.sink->fail(t.index, e);
  for (auto& w : m_workers) {
    for (auto& f : w.in_flight) f.task.sink->fail(f.task.index, e);
    w.in_flight.clear();
  }
}

void PoolCore::on_ended(PoolWorker& w) {
  if (!w.channel->closed()) on_readable(w, true);  // results it sent before it ended
  const WorkerEnding end = w.channel->ended();
  w.ended = true;

  if (end.in_initializer) {
    // The initializer failed or crashed: every worker would do the same. Python restarts it
    // forever; we fail the work instead.
    auto e = std::make_exception_ptr(ProcessError(end.description + " in its initializer: the pool is broken"));
    {
      std::scoped_lock lock(m_mutex);
      // The first failure broke the pool and stays its cause; submit() may be reading it.
      if (!m_broken) m_broken = e;
    }
    std::deque<InFlight> mine;
    mine.swap(w.in_flight);
    for (auto& f : mine) f.task.sink->fail(f.task.index, e);
    fail_all(e);
    return;
  }
  // Requeue what it held, in order, at the front; fail only the task it was running.
  std::deque<PoolTask> back;
  for (auto& f : w.in_flight) {
    if (f.id == end.running) {
      f.task.sink->fail(f.task.index, std::make_exception_ptr(ProcessError(end.description + " while running " + describe(f))));
    } else {
      back.push_back(std::move(f.task));
    }
  }
  w.in_flight.clear();
  bool replace;
  {
    std::scoped_lock lock(m_mutex);
    for (auto it = back.rbegin(); it != back.rend(); ++it) m_queue.push_front(std::move(*it));
    // After close(), a worker is replaced only while work remains for it.
    const bool work_left = !m_queue.empty() || m_open_jobs != 0;
    replace = !m_broken && !w.channel->closed() && (m_state == State::running || (m_state == State::closed && work_left));
  }
  if (replace) {
    try {
      w = PoolWorker(m_launcher->launch());
    } catch (...) {
      // Fork failed, or the fork server did not answer (forkserver::set_start_timeout): the
      // work waiting now fails. With no worker left, nothing could ever run later work either:
      // the pool is broken, and every later task fails at once instead of waiting forever.
      const bool none_left = std::all_of(m_workers.begin(), m_workers.end(), [](const PoolWorker& other) { return other.ended; });
      auto e = std::make_exception_ptr(ProcessError(fmt::format("cannot start a replacement worker: {}{}", exception_message(std::current_exception()),
                                                                none_left ? "; no worker is left: the pool is broken" : "")));
      if (none_left) {
        std::scoped_lock lock(m_mutex);
        if (!m_broken) m_broken = e;
      }
      fail_all(e);
    }
  }
}

void PoolCore::manager() {
  std::vector<pollfd> fds;
  // Reused from one round to the next: the loop allocates nothing once it runs.
  std::vector<std::vector<PoolTask>> taken(m_workers.size());
  std::vector<std::size_t> room(m_workers.size(), 0);
  for (;;) {
    State state;
    bool queue_empty;
    {
      std::scoped_lock lock(m_mutex);
      state = m_state;
      if (state != State::terminating) {
        // Deal the queue out one task per worker in turn (so that a short queue is spread
        // over every worker), up to each worker's limit.
        const std::size_t limit = in_flight_limit();
        std::fill(room.begin(), room.end(), 0);
        for (std::size_t i = 0; i < m_workers.size(); ++i) {
          const PoolWorker& w = m_workers[i];
          if (w.ended || w.channel->closed() || w.channel->backlog() > (8U << 20)) continue;
          room[i] = w.in_flight.size() < limit ? limit - w.in_flight.size() : 0;
          if (m_maxtasks != 0) room[i] = std::min(room[i], m_maxtasks - std::min(m_maxtasks, w.dispatched));
        }
        for (bool any = true; any && !m_queue.empty();) {
          any = false;
          for (std::size_t i = 0; i < m_workers.size() && !m_queue.empty(); ++i) {
            if (room[i] == 0) continue;
            PoolTask t = std::move(m_queue.front());
            m_queue.pop_front();
            if (!t.dispatched) {
              t.dispatched = true;
              if (!t.sink->on_dispatch(t.index)) {  // cancelled while queued
                any = true;
                continue;
              }
            }
            taken[i].push_back(std::move(t));
            --room[i];
            any = true;
          }
        }
      }
      queue_empty = m_queue.empty() && m_open_jobs == 0;
    }
    if (state == State::terminating) break;
    for (std::size_t i = 0; i < m_workers.size(); ++i) {
      if (!taken[i].empty()) dispatch(m_workers[i], taken[i]);
    }
    bool idle = queue_empty;
    for (auto& w : m_workers) {
      if (!w.in_flight.empty()) idle = false;
    }
    if (state == State::closed && idle) {
      // All done: closing the channels tells the workers to exit.
      for (auto& w : m_workers) {
        if (!w.channel->closed()) w.channel->close();
      }
      bool all_ended = true;
      for (auto& w : m_workers) all_ended = all_ended && w.ended;
      if (all_ended) return;
    }

    fds.clear();
    fds.push_back({m_wake.get(), POLLIN, 0});
    bool ready = false;  // a channel has replies already: look, do not block
    for (auto& w : m_workers) {
      if (w.ended) {
        fds.push_back({-1, 0, 0});
        fds.push_back({-1, 0, 0});
        continue;
      }
      WorkerChannel& c = *w.channel;
      if (!c.closed()) {
        if (c.backlog() != 0) {
          try {
            c.flush();
          } catch (const std::exception&) {
            // The worker is gone; its sentinel will say so.
          }
        }
        if (c.arm()) ready = true;
      }
      const short events = static_cast<short>(POLLIN | (!c.closed() && c.backlog() != 0 ? POLLOUT : 0));
      fds.push_back({c.descriptor(), events, 0});
      fds.push_back({c.sentinel(), POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), ready ? 0 : -1) < 0) {
      if (errno == EINTR) continue;
      fail_all(std::make_exception_ptr(OSError(errno, "poll")));
      break;
    }
    if (fds[0].revents != 0) {
      std::uint64_t n;
      while (::read(m_wake.get(), &n, sizeof n) > 0) {
      }
    }
    for (std::size_t i = 0; i < m_workers.size(); ++i) {
      const pollfd& c = fds[1 + 2 * i];
      const pollfd& s = fds[2 + 2 * i];
      PoolWorker& w = m_workers[i];
      if (!w.ended && !w.channel->closed()) on_readable(w, c.fd >= 0 && (c.revents & (POLLIN | POLLHUP | POLLERR)) != 0);
      // A sentinel fires when the worker's end can be learnt — or, for a forkserver worker
      // whose reporter was killed, once (its descriptor then follows the worker's pidfd):
      // alive() says which, without blocking.
      if (s.fd >= 0 && s.revents != 0 && !w.channel->alive()) on_ended(w);
    }
  }
  // terminate: kill the workers, fail what is unfinished.
  for (auto& w : m_workers) {
    if (!w.ended) w.channel->kill();
  }
  for (auto& w : m_workers) {
    if (!w.ended) w.channel->join();
    w.ended = true;
  }
  fail_all(std::make_exception_ptr(ProcessError("the pool was terminated before the task completed")));
  m_workers.clear();
}

}  // namespace concur::multiprocessing::detail
