// SPDX-License-Identifier: MIT
// A worker rank (rank >= 1): receives chunks from rank 0, runs each in a local worker process
// (a multiprocessing::Pool of one process, forked by the fork server that init() started
// before MPI), and sends back the results, the exceptions, or how the process died.
//
// Two threads: this one, the only one that calls MPI, polls with back-off (protocol.hpp) and
// sleeps on a condition variable between polls, so a result is sent as soon as the local pool
// posts it; the local pool's manager thread posts results into m_outbox.
#include <concur/mpi/runtime.hpp>
#include <concur/multiprocessing/pool.hpp>

#include <concur/mpi/detail/pool_access.hpp>

#include "blob_buffers.hpp"
#include "runtime_impl.hpp"
#include "send_mappings.hpp"
#include "shared_files.hpp"

#include <fmt/core.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace concur::mpi::detail {

namespace mp = concur::multiprocessing;

namespace {

using Clock = std::chrono::steady_clock;

struct Outgoing {
  std::uint64_t id = 0;
  std::uint64_t epoch = 0;
  ResultKind kind = ResultKind::values;
  mp::Payload payload;
  std::uint64_t run_ns = 0;
};

int rank_number() { return concur::mpi::rank(); }

}  // namespace

class RankServer {
 public:
  [[noreturn]] void run();
  void post(Outgoing o) {
    {
      std::scoped_lock lock(m_mutex);
      m_outbox.push_back(std::move(o));
    }
    m_cv.notify_one();
  }

 private:
  void start_pool() {
    m_pool = std::make_unique<mp::Pool>(mp::PoolOptions{.processes = 1, .start_method = "forkserver"});
  }
  void receive_task(const MPI_Status& st);
  void receive_cancel();
  [[noreturn]] void stop();
  void send(Outgoing& o);
  void post_error(std::uint64_t id, std::uint64_t epoch, ResultKind kind, const mp::Payload& encoded);

  std::unique_ptr<mp::Pool> m_pool;  // this thread only
  std::uint64_t m_cancelled = 0;     // results of pools up to this epoch are dropped (this thread)
  std::size_t m_outstanding = 0;     // tasks received and not yet answered (this thread)
  std::list<Sending> m_sending;      // this thread only
  SendMappings m_mappings;           // this thread only
  RemoteFiles m_remote_files;        // this thread only

  std::mutex m_mutex;  // guards m_outbox
  std::condition_variable m_cv;
  std::deque<Outgoing> m_outbox;
};

namespace {

// Receives a chunk's results from the local pool (on its manager thread) and posts them.
class RankSink final : public mp::detail::ResultSink {
 public:
  RankSink(RankServer& server, std::uint64_t id, std::uint64_t epoch) : m_server(server), m_id(id), m_epoch(epoch) {}
  void deliver(std::size_t, mp::Payload& results) override {
    Outgoing o{m_id, m_epoch, ResultKind::values, std::move(results), run_ns()};
    m_server.post(std::move(o));
  }
  void fail(std::size_t, std::exception_ptr error) override {
    std::string type = exception_type_name(error);
    std::string message = exception_message(error);
    try {
      std::rethrow_exception(error);
    } catch (const mp::RemoteError& r) {  // a type this rank does not know: as the function threw it
      type = r.type_name();
      message = r.message();
    } catch (...) {
    }
    Outgoing o{m_id, m_epoch, ResultKind::exception, {}, run_ns()};
    if (type == "concur::ProcessError") {
      // The local pool's own: its worker process died running this chunk. Rank 0 says which
      // task in the user's terms, so the local description ("while running apply #3") goes.
      if (auto at = message.find(" while running "); at != std::string::npos) message.resize(at);
      o.kind = ResultKind::crash;
      o.payload = mp::serialize(message);
    } else {
      o.payload = mp::serialize(std::make_pair(type, message));
    }
    m_server.post(std::move(o));
  }

 private:
  // The chunk ran from when it arrived, or from when the chunk before it ended (the rank runs
  // its chunks one after the other). Called on the local pool's manager thread only.
  std::uint64_t run_ns() {
    static thread_local Clock::time_point last_done;
    const auto now = Clock::now();
    const auto since = std::max(m_received, last_done);
    last_done = now;
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - since).count());
  }
  RankServer& m_server;
  const std::uint64_t m_id;
  const std::uint64_t m_epoch;
  const Clock::time_point m_received = Clock::now();
};

}  // namespace

void RankServer::post_error(std::uint64_t id, std::uint64_t epoch, ResultKind kind, const mp::Payload& encoded) {
  Outgoing o{id, epoch, kind, {}};
  o.payload.bytes = encoded.bytes;
  post(std::move(o));
}

void RankServer::receive_task(const MPI_Status& st) {
  int count = 0;
  check(MPI_Get_count(&st, MPI_BYTE, &count), "MPI_Get_count");
  std::string message(static_cast<std::size_t>(count), '\0');
  check(MPI_Recv(message.data(), count, MPI_BYTE, 0, tag_task, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
  if (message.size() < sizeof(TaskHeader)) {
    std::fprintf(stderr, "concur::mpi: rank %d: a task message from rank 0 is too short; aborting the job\n", rank_number());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  TaskHeader h;
  std::memcpy(&h, message.data(), sizeof h);
  mp::Payload chunk;
  chunk.bytes = message.substr(sizeof h);
  std::string unreadable;  // why rank 0's file of the block could not be opened
  if (h.blob_size > 0 && h.blob_file.pid != 0) {
    // On rank 0's machine: its file, opened here and read in place by the worker process.
    chunk.blob = m_remote_files.open(h.blob_file, h.blob_size, unreadable);
    chunk.blob_size = h.blob_size;
  } else if (h.blob_size > 0) {
    // Received straight into the shared memory the worker process decodes from (a reused
    // file, see blob_buffers.hpp; the task holds it until it is answered).
    auto buffer = blob_buffers().take(h.blob_size);
    for (std::size_t at = 0; at < h.blob_size; at += max_piece) {
      const auto n = static_cast<int>(std::min<std::size_t>(max_piece, h.blob_size - at));
      check(MPI_Recv(buffer->data + at, n, MPI_BYTE, 0, tag_blob, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    }
    const int fd = ::fcntl(buffer->fd.get(), F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
      std::fprintf(stderr, "concur::mpi: rank %d: dup: %s; aborting the job\n", rank_number(), std::strerror(errno));
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    chunk.blob.reset(fd);
    chunk.blob_size = h.blob_size;
    chunk.blob_lease = std::move(buffer);
  }
  if (h.epoch <= m_cancelled) return;  // its pool was terminated
  if (!unreadable.empty()) {
    post_error(h.id, h.epoch, ResultKind::crash, mp::serialize(unreadable));
    return;
  }
  mp::detail::PoolTask task;
  try {
    task.entry = reinterpret_cast<mp::detail::TaskEntry>(function_address(h.entry));
    task.fn = function_address(h.fn);
  } catch (const std::exception& e) {
    post_error(h.id, h.epoch, ResultKind::exception, mp::serialize(std::make_pair(std::string("concur::ValueError"), std::string(e.what()))));
    return;
  }
  if (task.entry == nullptr) {
    post_error(h.id, h.epoch, ResultKind::exception,
               mp::serialize(std::make_pair(std::string("concur::ValueError"), std::string("concur::mpi: a task without a function"))));
    return;
  }
  ++m_outstanding;
  task.chunk = std::move(chunk);
  task.sink = std::make_shared<RankSink>(*this, h.id, h.epoch);
  task.items = 1;
  std::vector<mp::detail::PoolTask> tasks;
  tasks.push_back(std::move(task));
  try {
    PoolAccess::submit(*m_pool, std::move(tasks), "apply");
  } catch (const std::exception& e) {
    post_error(h.id, h.epoch, ResultKind::crash, mp::serialize(fmt::format("its local pool refused the task: {}", e.what())));
  }
}

void RankServer::receive_cancel() {
  CancelHeader h;
  check(MPI_Recv(&h, sizeof h, MPI_BYTE, 0, tag_cancel, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
  m_cancelled = std::max(m_cancelled, h.epoch);
  m_outstanding = 0;  // what the killed pool ran is dropped; nothing of it is answered
  // Kills the worker process and whatever it runs; a fresh one serves the next pool.
  m_pool->terminate();
  m_pool->join();
  start_pool();
}

void RankServer::send(Outgoing& o) {
  auto& s = m_sending.emplace_back();
  ResultHeader h{o.id, o.epoch, o.kind, 0, o.payload.blob ? o.payload.blob_size : 0, o.run_ns};
  s.message.resize(sizeof h + o.payload.bytes.size());
  std::memcpy(s.message.data(), &h, sizeof h);
  std::memcpy(s.message.data() + sizeof h, o.payload.bytes.data(), o.payload.bytes.size());
  s.requests.emplace_back();
  check(MPI_Isend(s.message.data(), static_cast<int>(s.message.size()), MPI_BYTE, 0, tag_result, MPI_COMM_WORLD, &s.requests.back()),
        "MPI_Isend");
  // Sent straight from the shared memory the worker process encoded the block into.
  if (h.blob_size > 0) send_blob(s, m_mappings, o.payload.blob.get(), h.blob_size, 0, tag_result_blob, "a result");
}

void RankServer::stop() {
  m_pool->terminate();
  m_pool->join();
  m_pool.reset();
  // Rank 0 receives (and drops) whatever is still on its way until every rank acknowledged.
  Backoff backoff;
  while (!m_sending.empty()) {
    if (test_sends(m_sending)) {
      backoff.reset();
    } else {
      std::this_thread::sleep_for(backoff.next());
    }
  }
  check(MPI_Send(nullptr, 0, MPI_BYTE, 0, tag_exit_ack, MPI_COMM_WORLD), "MPI_Send");
  check(MPI_Finalize(), "MPI_Finalize");
  std::exit(0);
}

void RankServer::run() {
  start_pool();
  Backoff backoff;
  for (;;) {
    bool active = false;
    std::deque<Outgoing> out;
    {
      std::scoped_lock lock(m_mutex);
      out.swap(m_outbox);
    }
    for (auto& o : out) {
      if (m_outstanding != 0) --m_outstanding;
      if (o.epoch <= m_cancelled) continue;
      send(o);
      active = true;
    }
    if (!m_sending.empty() && test_sends(m_sending)) active = true;
    for (;;) {
      int flag = 0;
      MPI_Status st;
      check(MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st), "MPI_Iprobe");
      if (flag == 0) break;
      active = true;
      switch (st.MPI_TAG) {
        case tag_task:
          receive_task(st);
          break;
        case tag_cancel:
          receive_cancel();
          break;
        case tag_exit:
          check(MPI_Recv(nullptr, 0, MPI_BYTE, 0, tag_exit, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
          stop();
        default:
          std::fprintf(stderr, "concur::mpi: rank %d: unexpected message (tag %d) from rank 0; aborting the job\n", rank_number(), st.MPI_TAG);
          MPI_Abort(MPI_COMM_WORLD, 1);
      }
    }
    if (active) {
      backoff.reset();
      continue;
    }
    // A large result moves only while both sides poll: while one is on its way, poll soon.
    // While tasks run here, rank 0 sends the next ones as results go back: poll at least
    // every 50 µs then (a 1 ms sleep would be added to every round trip); idle, back off fully.
    auto delay = m_sending.empty() ? backoff.next() : std::chrono::microseconds(10);
    if (m_outstanding != 0) delay = std::min(delay, std::chrono::microseconds(50));
    std::unique_lock lock(m_mutex);
    m_cv.wait_for(lock, delay, [&] { return !m_outbox.empty(); });
  }
}

void serve() {
  // Never destroyed: the process ends in stop() (std::exit) while it is running.
  auto* server = new RankServer;
  server->run();
}

}  // namespace concur::mpi::detail
