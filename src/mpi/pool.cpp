// SPDX-License-Identifier: MIT
// mpi::Pool on rank 0 (see concur/mpi/pool.hpp): the queue of chunks, one channel per worker
// rank, and the thread that makes the MPI calls.
//
// Each worker rank is a channel: the chunks sent to it and not yet answered, in the order
// sent (a rank runs them in that order). The pool's thread deals the queue out to the ranks
// (one chunk per rank in turn, up to each rank's in-flight limit), sends with MPI_Isend, and
// polls for results with MPI_Iprobe; while nothing happens it sleeps on a condition variable
// that submit/close/terminate notify, from 1 µs growing to 1 ms (protocol.hpp's Backoff).
// Results are handed to their sinks (which may run user callbacks) after mpi_mutex() is
// released.
#include <concur/mpi/pool.hpp>

#include <concur/mpi/runtime.hpp>

#include "local_access.hpp"
#include "runtime_impl.hpp"

#include <fmt/core.h>

#include <sys/mman.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <thread>

namespace concur::mpi {
namespace detail {

namespace mp = concur::multiprocessing;
using Clock = std::chrono::steady_clock;

namespace {

// A task's message and block on their way: kept until MPI is done reading them.
struct Sending {
  std::string message;
  void* mapped = nullptr;
  std::size_t mapped_size = 0;
  std::vector<MPI_Request> requests;
  Sending() = default;
  Sending(const Sending&) = delete;
  Sending& operator=(const Sending&) = delete;
  ~Sending() {
    if (mapped != nullptr) ::munmap(mapped, mapped_size);
  }
};

struct InFlight {
  std::uint64_t id = 0;
  mp::detail::PoolTask task;
  Clock::time_point sent;
};

struct RankChannel {
  int rank = 0;
  std::deque<InFlight> in_flight;  // sent, unanswered, in the order sent
  Clock::time_point last_result;
};

// A result received, to be handed to its sink once mpi_mutex() is released.
struct Arrival {
  mp::detail::PoolTask task;
  int rank = 0;
  ResultKind kind = ResultKind::values;
  std::string bytes;
  std::unique_ptr<unsigned char[]> blob;
  std::uint64_t blob_size = 0;
};

// In the user's terms, as the local pool says it ("map item 7", "apply #3").
std::string describe(const mp::detail::PoolTask& t) {
  if (std::strcmp(t.job, "apply") == 0 || std::strcmp(t.job, "submit") == 0) return fmt::format("{} #{}", t.job, t.job_id);
  if (t.items == 1) return fmt::format("{} item {}", t.job, t.first_item);
  return fmt::format("{} items {} to {}", t.job, t.first_item, t.first_item + t.items - 1);
}

}  // namespace

class PoolCore {
 public:
  explicit PoolCore(PoolOptions options);
  ~PoolCore();
  void submit(std::vector<mp::detail::PoolTask> tasks, const char* job);
  void close();
  void terminate();
  void join();
  void cancel_pending();
  [[nodiscard]] std::size_t processes() const noexcept { return m_processes; }
  [[nodiscard]] bool distributed() const noexcept { return !m_local; }

 private:
  enum class State { running, closed, terminating };

  void manager();
  void send(RankChannel& c, mp::detail::PoolTask task);
  bool test_sends();
  void receive(const MPI_Status& st, std::vector<Arrival>& arrivals);
  void settle(Arrival& a);
  void fail_all(const std::exception_ptr& e);
  [[nodiscard]] std::size_t in_flight_limit() const;

  std::unique_ptr<mp::Pool> m_local;  // without worker ranks: the local pool that runs the tasks
  std::size_t m_processes = 0;
  const std::uint64_t m_epoch = next_epoch();
  const std::shared_ptr<void> m_blob_segments = mp::detail::retain_blob_segments();

  std::mutex m_mutex;  // guards m_state, m_queue, m_next_job, m_wakeups
  std::condition_variable m_cv;
  State m_state = State::running;
  std::deque<mp::detail::PoolTask> m_queue;  // submitted, not yet sent
  std::uint64_t m_next_job = 0;
  std::uint64_t m_wakeups = 0;                // counts notifications of the manager

  // The manager thread only:
  std::vector<RankChannel> m_ranks;
  std::list<Sending> m_sending;
  std::uint64_t m_next_task = 0;
  double m_chunk_ns = 1e6;  // moving average of a chunk's time on a rank (starts at 1 ms)

  std::thread m_thread;
  std::mutex m_join_mutex;  // serializes join()
  bool m_claimed = false;   // this pool holds the worker ranks (released by join)
};

PoolCore::PoolCore(PoolOptions options) {
  if (!initialized()) throw RuntimeError("concur::mpi::Pool: call concur::mpi::init(argc, argv) at the top of main first");
  if (rank() != 0) throw RuntimeError("concur::mpi::Pool: only rank 0 owns pools");
  if (workers() == 0) {
    // Forked by the fork server init() started before MPI, never by this process.
    m_local = std::make_unique<mp::Pool>(mp::PoolOptions{.processes = options.processes, .start_method = "forkserver"});
    m_processes = m_local->processes();
    return;
  }
  if (options.processes && (*options.processes < 1 || *options.processes > workers()))
    throw ValueError(fmt::format("concur::mpi::Pool: processes must be between 1 and {} (the worker ranks)", workers()));
  if (!claim_workers()) throw ValueError("concur::mpi::Pool: another pool owns the worker ranks (join it first)");
  m_claimed = true;
  m_processes = static_cast<std::size_t>(options.processes.value_or(workers()));
  m_ranks = std::vector<RankChannel>(m_processes);  // built in place: a channel is not copyable
  for (std::size_t i = 0; i < m_processes; ++i) m_ranks[i].rank = static_cast<int>(i + 1);
  m_thread = std::thread([this] { manager(); });
}

PoolCore::~PoolCore() {
  terminate();
  join();
}

void PoolCore::submit(std::vector<mp::detail::PoolTask> tasks, const char* job) {
  if (m_local) return LocalPoolAccess::submit(*m_local, std::move(tasks), job);
  {
    std::scoped_lock lock(m_mutex);
    if (m_state != State::running) throw ValueError("Pool not running");
    const std::uint64_t id = ++m_next_job;
    for (auto& t : tasks) {
      t.job = job;
      t.job_id = id;
      m_queue.push_back(std::move(t));
    }
    ++m_wakeups;
  }
  m_cv.notify_one();
}

void PoolCore::cancel_pending() {
  if (m_local) return LocalPoolAccess::cancel_pending(*m_local);
  std::deque<mp::detail::PoolTask> cancelled;
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
}

void PoolCore::close() {
  if (m_local) return m_local->close();
  {
    std::scoped_lock lock(m_mutex);
    if (m_state == State::running) m_state = State::closed;
    ++m_wakeups;
  }
  m_cv.notify_one();
}

void PoolCore::terminate() {
  if (m_local) return m_local->terminate();
  {
    std::scoped_lock lock(m_mutex);
    m_state = State::terminating;
    ++m_wakeups;
  }
  m_cv.notify_one();
}

void PoolCore::join() {
  if (m_local) return m_local->join();
  {
    std::scoped_lock lock(m_mutex);
    if (m_state == State::running) throw ValueError("Pool is still running");
  }
  std::scoped_lock lock(m_join_mutex);
  if (m_thread.joinable()) m_thread.join();
  if (m_claimed) {
    m_claimed = false;
    release_workers();
  }
}

std::size_t PoolCore::in_flight_limit() const {
  // About 2 ms of work queued per rank: a rank never waits for rank 0 with short tasks, and
  // long tasks are not hoarded by one rank.
  const double limit = 2e6 / std::max(m_chunk_ns, 1.0);
  return static_cast<std::size_t>(std::clamp(limit, 2.0, 256.0));
}

void PoolCore::send(RankChannel& c, mp::detail::PoolTask task) {
  TaskHeader h;
  h.id = ++m_next_task;
  h.epoch = m_epoch;
  try {
    h.entry = function_ref(reinterpret_cast<std::uintptr_t>(task.entry));
    h.fn = function_ref(task.fn);
  } catch (...) {
    task.sink->fail(task.index, std::current_exception());
    return;
  }
  h.blob_size = task.chunk.blob ? task.chunk.blob_size : 0;
  auto& s = m_sending.emplace_back();
  s.message.resize(sizeof h + task.chunk.bytes.size());
  std::memcpy(s.message.data(), &h, sizeof h);
  std::memcpy(s.message.data() + sizeof h, task.chunk.bytes.data(), task.chunk.bytes.size());
  s.requests.emplace_back();
  check(MPI_Isend(s.message.data(), static_cast<int>(s.message.size()), MPI_BYTE, c.rank, tag_task, MPI_COMM_WORLD, &s.requests.back()),
        "MPI_Isend");
  if (h.blob_size > 0) {
    // Straight from the shared memory the arguments were serialized into: no copy of ours.
    s.mapped_size = h.blob_size;
    s.mapped = ::mmap(nullptr, s.mapped_size, PROT_READ, MAP_SHARED, task.chunk.blob.get(), 0);
    if (s.mapped == MAP_FAILED) {
      s.mapped = nullptr;
      std::fprintf(stderr, "concur::mpi: rank 0: mmap of a task's arguments: %s; aborting the job\n", std::strerror(errno));
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (std::size_t at = 0; at < s.mapped_size; at += max_piece) {
      const auto n = static_cast<int>(std::min<std::size_t>(max_piece, s.mapped_size - at));
      s.requests.emplace_back();
      check(MPI_Isend(static_cast<char*>(s.mapped) + at, n, MPI_BYTE, c.rank, tag_blob, MPI_COMM_WORLD, &s.requests.back()), "MPI_Isend");
    }
  }
  c.in_flight.push_back(InFlight{h.id, std::move(task), Clock::now()});
}

bool PoolCore::test_sends() {
  bool progressed = false;
  for (auto it = m_sending.begin(); it != m_sending.end();) {
    int done = 0;
    check(MPI_Testall(static_cast<int>(it->requests.size()), it->requests.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
    if (done != 0) {
      it = m_sending.erase(it);
      progressed = true;
    } else {
      ++it;
    }
  }
  return progressed;
}

void PoolCore::receive(const MPI_Status& st, std::vector<Arrival>& arrivals) {
  int count = 0;
  check(MPI_Get_count(&st, MPI_BYTE, &count), "MPI_Get_count");
  std::string message(static_cast<std::size_t>(count), '\0');
  check(MPI_Recv(message.data(), count, MPI_BYTE, st.MPI_SOURCE, tag_result, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
  if (message.size() < sizeof(ResultHeader)) {
    std::fprintf(stderr, "concur::mpi: rank 0: a result from rank %d is too short; aborting the job\n", st.MPI_SOURCE);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  ResultHeader h;
  std::memcpy(&h, message.data(), sizeof h);
  Arrival a;
  a.rank = st.MPI_SOURCE;
  a.kind = h.kind;
  if (h.blob_size > 0) {
    a.blob.reset(new unsigned char[h.blob_size]);  // not zeroed: MPI writes every byte
    a.blob_size = h.blob_size;
    for (std::size_t at = 0; at < h.blob_size; at += max_piece) {
      const auto n = static_cast<int>(std::min<std::size_t>(max_piece, h.blob_size - at));
      check(MPI_Recv(a.blob.get() + at, n, MPI_BYTE, st.MPI_SOURCE, tag_result_blob, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    }
  }
  if (h.epoch != m_epoch) return;  // a result of a pool that was terminated
  auto channel = std::find_if(m_ranks.begin(), m_ranks.end(), [&](const RankChannel& c) { return c.rank == st.MPI_SOURCE; });
  if (channel == m_ranks.end()) return;
  auto it = std::find_if(channel->in_flight.begin(), channel->in_flight.end(), [&](const InFlight& f) { return f.id == h.id; });
  if (it == channel->in_flight.end()) return;
  const auto now = Clock::now();
  // A rank that had more queued behind this chunk started it when the previous one ended.
  const auto since = channel->in_flight.size() > 1 && channel->last_result > it->sent ? channel->last_result : it->sent;
  m_chunk_ns = 0.8 * m_chunk_ns + 0.2 * static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - since).count());
  channel->last_result = now;
  a.task = std::move(it->task);
  channel->in_flight.erase(it);
  a.bytes = message.substr(sizeof h);
  arrivals.push_back(std::move(a));
}

void PoolCore::settle(Arrival& a) {
  auto& t = a.task;
  try {
    mp::Payload p;
    p.bytes = std::move(a.bytes);
    p.blob_size = a.blob_size;
    p.blob_view = a.blob.get();
    switch (a.kind) {
      case ResultKind::values:
        t.sink->deliver(t.index, p);
        break;
      case ResultKind::exception: {
        auto [type, message] = mp::deserialize<std::pair<std::string, std::string>>(p);
        t.sink->fail(t.index, mp::detail::rebuild_exception(type, message));
        break;
      }
      case ResultKind::crash: {
        auto what = mp::deserialize<std::string>(p);
        t.sink->fail(t.index, std::make_exception_ptr(ProcessError(fmt::format("rank {}: {} while running {}", a.rank, what, describe(t)))));
        break;
      }
    }
  } catch (...) {
    t.sink->fail(t.index, std::current_exception());
  }
}

void PoolCore::fail_all(const std::exception_ptr& e) {
  std::deque<mp::detail::PoolTask> queued;
  {
    std::scoped_lock lock(m_mutex);
    queued.swap(m_queue);
  }
  for (auto& t : queued) t.sink->fail(t.index, e);
  for (auto& c : m_ranks) {
    for (auto& f : c.in_flight) f.task.sink->fail(f.task.index, e);
    c.in_flight.clear();
  }
}

void PoolCore::manager() {
  Backoff backoff;
  for (;;) {
    State state;
    std::uint64_t seen;
    std::vector<std::deque<mp::detail::PoolTask>> taken(m_ranks.size());
    bool queue_empty;
    {
      std::scoped_lock lock(m_mutex);
      state = m_state;
      seen = m_wakeups;
      if (state != State::terminating) {
        // One chunk per rank in turn (a short queue is spread over every rank), up to each
        // rank's limit.
        const std::size_t limit = in_flight_limit();
        std::vector<std::size_t> room(m_ranks.size());
        for (std::size_t i = 0; i < m_ranks.size(); ++i) room[i] = limit - std::min(limit, m_ranks[i].in_flight.size());
        for (bool any = true; any && !m_queue.empty();) {
          any = false;
          for (std::size_t i = 0; i < m_ranks.size() && !m_queue.empty(); ++i) {
            if (room[i] == 0) continue;
            mp::detail::PoolTask t = std::move(m_queue.front());
            m_queue.pop_front();
            any = true;
            if (!t.dispatched) {
              t.dispatched = true;
              if (!t.sink->on_dispatch(t.index)) continue;  // cancelled while queued
            }
            taken[i].push_back(std::move(t));
            --room[i];
          }
        }
      }
      queue_empty = m_queue.empty();
    }

    bool active = false;
    bool gone = false;
    std::vector<Arrival> arrivals;
    {
      std::scoped_lock mpi(mpi_mutex());
      if (finalized()) {
        gone = true;
      } else if (state == State::terminating) {
        // The ranks kill what they run for this pool; what they send back is dropped.
        const CancelHeader cancel{m_epoch};
        for (auto& c : m_ranks) check(MPI_Send(&cancel, sizeof cancel, MPI_BYTE, c.rank, tag_cancel, MPI_COMM_WORLD), "MPI_Send");
        // Requests still pending are completed (and their buffers freed) before leaving.
        Backoff wait;
        while (!m_sending.empty()) {
          if (!test_sends()) std::this_thread::sleep_for(wait.next());
        }
      } else {
        for (std::size_t i = 0; i < m_ranks.size(); ++i) {
          for (auto& t : taken[i]) send(m_ranks[i], std::move(t));
          if (!taken[i].empty()) active = true;
        }
        if (!m_sending.empty() && test_sends()) active = true;
        for (;;) {
          int flag = 0;
          MPI_Status st;
          check(MPI_Iprobe(MPI_ANY_SOURCE, tag_result, MPI_COMM_WORLD, &flag, &st), "MPI_Iprobe");
          if (flag == 0) break;
          receive(st, arrivals);
          active = true;
        }
      }
    }
    for (auto& a : arrivals) settle(a);
    arrivals.clear();
    if (gone) {
      fail_all(std::make_exception_ptr(ProcessError("the program is exiting (MPI was finalized) before the task completed")));
      return;
    }
    if (state == State::terminating) {
      fail_all(std::make_exception_ptr(ProcessError("the pool was terminated before the task completed")));
      return;
    }
    const bool idle = queue_empty && std::all_of(m_ranks.begin(), m_ranks.end(), [](const RankChannel& c) { return c.in_flight.empty(); });
    if (state == State::closed && idle && m_sending.empty()) return;
    if (active) {
      backoff.reset();
      continue;
    }
    // A large message moves only while both sides poll (the transport's progress engine runs
    // inside MPI calls): while one of ours is on its way, poll again soon.
    const auto delay = m_sending.empty() ? backoff.next() : std::chrono::microseconds(10);
    std::unique_lock lock(m_mutex);
    m_cv.wait_for(lock, delay, [&] { return m_wakeups != seen; });
  }
}

}  // namespace detail

Pool::Pool(PoolOptions options) : m_core(std::make_unique<detail::PoolCore>(options)) {}
Pool::~Pool() = default;  // PoolCore's destructor terminates and joins

void Pool::submit(std::vector<multiprocessing::detail::PoolTask> tasks, const char* job) { m_core->submit(std::move(tasks), job); }
void Pool::cancel_pending() { m_core->cancel_pending(); }
void Pool::close() { m_core->close(); }
void Pool::terminate() { m_core->terminate(); }
void Pool::join() { m_core->join(); }
std::size_t Pool::processes() const { return m_core->processes(); }
bool Pool::distributed() const noexcept { return m_core->distributed(); }

}  // namespace concur::mpi
