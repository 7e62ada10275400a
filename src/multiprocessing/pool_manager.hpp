// SPDX-License-Identifier: MIT
// Private to src/multiprocessing: a pool's manager — the queue of chunks, the thread that deals
// them out to workers' channels, delivers their replies and recovers from their deaths.
//
// The manager owns every worker's bookkeeping (what was sent to it and is unanswered, in the
// order sent) and reaches the worker only through its WorkerChannel (detail/pool_channel.hpp),
// so the same manager runs local processes and any other transport.
#pragma once

#include <concur/multiprocessing/detail/pool_channel.hpp>
#include <concur/multiprocessing/detail/pool_task.hpp>
#include <concur/multiprocessing/detail/unique_fd.hpp>
#include <concur/multiprocessing/serialize.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace concur::multiprocessing::detail {

/// A task sent to a worker and not answered yet.
struct InFlight {
  std::uint64_t id;
  PoolTask task;
};

/// The manager's side of one worker.
struct PoolWorker {
  explicit PoolWorker(std::unique_ptr<WorkerChannel> c) noexcept : channel(std::move(c)) {}
  std::unique_ptr<WorkerChannel> channel;
  std::deque<InFlight> in_flight;  // sent, unanswered, in the order sent
  std::size_t dispatched = 0;      // tasks sent over its lifetime (maxtasksperchild)
  bool ended = false;              // its end was seen and dealt with
};

class PoolCore {
 public:
  /// Starts `processes` workers through `launcher`, then the manager thread. Throws what
  /// launch() throws (the workers started so far are killed and joined first).
  PoolCore(std::unique_ptr<WorkerLauncher> launcher, std::size_t processes, std::size_t maxtasks);
  ~PoolCore();
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  /// Queues `tasks` (leaving it empty) as a part of job `job_id`, or of a new job when it is
  /// 0 (ValueError unless running); `last`: the job has no more parts (see Pool::submit_job).
  /// Returns the job's id.
  std::uint64_t submit(std::vector<PoolTask>& tasks, const char* job, std::uint64_t job_id, bool last);
  void close();
  void terminate();
  void join();
  void cancel_pending();
  [[nodiscard]] std::size_t processes() const noexcept { return m_processes; }

 private:
  enum class State { running, closed, terminating };

  void manager();
  void wake();
  void dispatch(PoolWorker& w, std::vector<PoolTask>& taken);
  void on_readable(PoolWorker& w, bool readable);
  void on_reply(PoolWorker& w, WorkerReply& r);
  void on_ended(PoolWorker& w);
  void fail_all(std::exception_ptr e);
  [[nodiscard]] std::size_t in_flight_limit() const;
  static std::string describe(const InFlight& t);

  const std::size_t m_processes;
  const std::size_t m_maxtasks;
  const std::unique_ptr<WorkerLauncher> m_launcher;  // manager thread only, once it runs
  // The recycled shared-memory segments tasks' large blocks go into (see blob_segments.hpp):
  // kept while the pool lives.
  const std::shared_ptr<void> m_blob_segments = retain_blob_segments();
  UniqueFd m_wake;  // eventfd: submit/close/terminate wake the manager

  std::mutex m_mutex;                 // guards m_state, m_queue, m_next_job, m_open_jobs, m_broken
  State m_state = State::running;
  std::deque<PoolTask> m_queue;       // submitted, not yet handed to a worker
  std::uint64_t m_next_job = 0;
  std::size_t m_open_jobs = 0;        // jobs whose later parts are still being made: a closed
                                      // pool's workers stay until they are in
  std::exception_ptr m_broken;        // set when a worker's initializer failed

  // Manager-thread only:
  std::vector<PoolWorker> m_workers;
  std::vector<WorkerReply> m_replies;  // receive()'s buffer, reused
  std::uint64_t m_next_task = 0;
  double m_chunk_ns = 1e6;            // moving average of a chunk's run time (starts at 1 ms)

  std::thread m_thread;  // the manager; joined by join()
  std::mutex m_join_mutex;  // serializes join()
};

}  // namespace concur::multiprocessing::detail
