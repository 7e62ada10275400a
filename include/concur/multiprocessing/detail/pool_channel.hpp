// SPDX-License-Identifier: MIT
// concur/multiprocessing/detail/pool_channel.hpp — the seam between a pool's manager and its
// workers (internal): WorkerChannel (one worker, as the manager sees it) and WorkerLauncher
// (how a worker is started).
//
// A Pool is a manager (src/multiprocessing/pool_manager.cpp: one thread that deals chunks out
// to workers, delivers their results to the jobs' ResultSinks, replaces workers that die and
// fails exactly the task a dead worker was running) on top of channels. The manager knows
// nothing of how a channel reaches its worker: the local one (src/multiprocessing/
// pool_local_channel.cpp) is a Unix socket plus a shared page to a forked or fork-server
// child; another transport (MPI ranks) is another implementation of these two classes.
//
// How to add a channel:
//  1. Derive from WorkerChannel, for one worker. send() queues a task (the manager keeps the
//     PoolTask: it may re-send it to another worker, so copy what must travel); flush() pushes
//     what is queued without blocking; receive() appends every reply that has arrived,
//     without blocking. descriptor() and sentinel() are what the manager's poll() waits on: a
//     descriptor that is readable when replies (or the end of the stream) may be there, and
//     writable when queued bytes may move on; a transport without descriptors gives an
//     eventfd that its own progress thread signals. arm(), just before the manager blocks,
//     lets a channel whose replies arrive some other way (shared memory) ask to be signalled. ended() says, once the worker is gone,
//     which task it was running: the manager fails that one and re-queues the others.
//  2. Derive from WorkerLauncher: launch() starts one worker (which runs the pool's
//     initializer first, serves tasks in the order they were sent, answers each with
//     run_pool_task's outcome, and exits after maxtasksperchild tasks or when its channel is
//     closed) and returns its channel.
//  3. Build a Pool on it: Pool(std::move(launcher), processes, maxtasksperchild). Scheduling,
//     callbacks, crash recovery, close/join/terminate, the result types (pool_results.hpp)
//     and the exception registry (remote_exceptions.hpp) then come with it.
//
// Thread safety: a channel and a launcher are used by the manager thread only (launch() is
// also called by the Pool's constructor, before the manager starts).
#pragma once

#include <concur/export.hpp>
#include <concur/multiprocessing/detail/pool_task.hpp>
#include <concur/multiprocessing/serialize.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace concur::multiprocessing::detail {

/// A worker's answer to one task.
struct WorkerReply {
  std::uint64_t id = 0;      // the id the task was sent with
  bool failed = false;       // the payload encodes the task's exception: (type name, message)
  std::uint64_t run_ns = 0;  // how long the task ran in the worker (the manager paces by it)
  Payload payload;           // the encoded results, or the failure
};

/// How a worker ended, as its channel learnt it.
struct WorkerEnding {
  std::string description;      // e.g. "worker process 12 was killed by signal 9 (SIGKILL)"
  std::uint64_t running = 0;    // id of the task it was running when it ended; 0: none
  bool in_initializer = false;  // it ended before the pool's initializer returned
};

/// One worker as the manager sees it (see the file comment). Used by one thread at a time.
class CONCUR_API WorkerChannel {
 public:
  WorkerChannel() = default;
  WorkerChannel(const WorkerChannel&) = delete;
  WorkerChannel& operator=(const WorkerChannel&) = delete;
  /// Releases the channel; the worker must have been joined (ended(), or kill() and join()).
  virtual ~WorkerChannel();

  /// Queues task `id` for the worker (sent by flush(), or by close()).
  virtual void send(std::uint64_t id, const PoolTask& task) = 0;
  /// Sends what is queued as far as the transport takes it without blocking. Throws when the
  /// worker is unreachable (its sentinel tells the manager the rest).
  virtual void flush() = 0;
  /// Bytes queued and not yet taken by the transport (the manager stops feeding a worker
  /// whose backlog is large).
  [[nodiscard]] virtual std::size_t backlog() const = 0;
  /// Called before the manager blocks in poll(): true when a reply is already there (the
  /// manager then does not block); otherwise the channel sees to it that descriptor() becomes
  /// readable when one arrives.
  virtual bool arm() = 0;
  /// Appends to `replies` every reply that has arrived, without blocking; `readable`: poll()
  /// said descriptor() is readable (the manager calls receive() after every poll, also when
  /// it is not). Returns false once the worker's side is closed (or unreadable): nothing more
  /// will come.
  virtual bool receive(std::vector<WorkerReply>& replies, bool readable) = 0;
  /// Readable when replies (or the end of the stream) may be there; -1 once closed.
  [[nodiscard]] virtual int descriptor() const = 0;
  /// Readable once the worker may have ended (then ask alive()); -1 if the transport learns a
  /// worker's end only through descriptor().
  [[nodiscard]] virtual int sentinel() const = 0;
  /// Whether the worker still runs. Never blocks.
  [[nodiscard]] virtual bool alive() = 0;
  /// No more tasks: sends what is queued (blocking), then closes, so that the worker exits
  /// once it has answered everything it got. Errors are swallowed (the worker is gone: its
  /// sentinel says so).
  virtual void close() noexcept = 0;
  /// Whether close() was called.
  [[nodiscard]] virtual bool closed() const = 0;
  /// After alive() returned false: reaps the worker and says how it ended.
  virtual WorkerEnding ended() = 0;
  /// Kills the worker now (terminate()).
  virtual void kill() = 0;
  /// Waits until the worker has exited (after kill(), or once it ended).
  virtual void join() = 0;
};

/// Starts the workers of one pool, each with its channel.
class CONCUR_API WorkerLauncher {
 public:
  WorkerLauncher() = default;
  WorkerLauncher(const WorkerLauncher&) = delete;
  WorkerLauncher& operator=(const WorkerLauncher&) = delete;
  virtual ~WorkerLauncher();
  /// Starts one worker. Throws (OSError, ProcessError, TimeoutError...) when it cannot.
  virtual std::unique_ptr<WorkerChannel> launch() = 0;
};

/// The outcome of one task in a worker.
struct TaskOutcome {
  Payload result;       // the encoded results, or (type name, message) when failed
  bool failed = false;  // the function threw
};

/// Runs a task in a worker: `entry` (a PoolTask's entry) on `fn` and the chunk's arguments;
/// an exception becomes a failed outcome carrying its type name and message.
CONCUR_API TaskOutcome run_pool_task(TaskEntry entry, std::uintptr_t fn, Payload& chunk);

}  // namespace concur::multiprocessing::detail
