// SPDX-License-Identifier: MIT
// mpi::Pool on rank 0 (see concur/mpi/pool.hpp): the MPI transport under the multiprocessing
// Pool's manager. Each worker rank is a WorkerChannel (multiprocessing/detail/pool_channel.hpp)
// whose worker is the rank; the manager schedules chunks onto the channels, delivers replies,
// runs callbacks, and closes or kills the channels, exactly as for local worker processes.
//
// MPI is called by one thread only, the Engine's (one per process, started with the first
// pool): the channels, used by the pool's manager thread, hand it what to send and take what
// it received from a Link each (under the Link's lock), and it signals a channel's eventfds
// when a reply arrived or when the rank is done with the channel. While nothing happens it
// polls with back-off (protocol.hpp's Backoff) on a condition variable that the channels
// notify when they queue work.
#include <concur/mpi/pool.hpp>

#include <concur/mpi/runtime.hpp>
#include <concur/multiprocessing/detail/pool_channel.hpp>

#include "blob_buffers.hpp"
#include "runtime_impl.hpp"
#include "send_mappings.hpp"

#include <fmt/core.h>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <thread>
#include <unordered_map>

namespace concur::mpi {
namespace detail {
// Everything here is private to this file (internal linkage: nothing of it is exported).
namespace {

namespace mp = concur::multiprocessing;
using Clock = std::chrono::steady_clock;

mp::detail::UniqueFd make_eventfd() {
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) throw_os_error(errno, "eventfd");
  return mp::detail::UniqueFd(fd);
}
void signal_fd(int fd) {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof one);
}
void drain_fd(int fd) {
  std::uint64_t n;
  while (::read(fd, &n, sizeof n) > 0) {
  }
}

// In the user's terms, as the manager says it ("map item 7", "apply #3").
std::string describe(const mp::detail::PoolTask& t) {
  if (std::strcmp(t.job, "apply") == 0 || std::strcmp(t.job, "submit") == 0) return fmt::format("{} #{}", t.job, t.job_id);
  if (t.items == 1) return fmt::format("{} item {}", t.job, t.first_item);
  return fmt::format("{} items {} to {}", t.job, t.first_item, t.first_item + t.items - 1);
}

// What a channel (manager thread) and the Engine (MPI thread) share about one worker rank.
struct Link {
  Link(int r, std::uint64_t e) : rank(r), epoch(e) {}
  const int rank;
  const std::uint64_t epoch;  // the channel's: the rank echoes it, older replies are dropped
  mp::detail::UniqueFd readable = make_eventfd();  // signalled when replies arrived
  mp::detail::UniqueFd done = make_eventfd();      // signalled once the channel is finished

  std::mutex mutex;  // guards everything below
  struct Outgoing {
    std::string message;                 // TaskHeader + the chunk's bytes
    mp::detail::UniqueFd blob;           // its block, or empty
    std::uint64_t blob_size = 0;
  };
  std::deque<Outgoing> outbox;                       // to send, in order
  std::deque<mp::detail::WorkerReply> inbox;         // received, not yet taken
  std::unordered_map<std::uint64_t, std::string> descriptions;  // unanswered task id -> description
  bool closed = false;                               // close() or kill(): no more tasks
};

class Engine {
 public:
  static Engine& get() {
    static Engine* e = new Engine;  // never destroyed: its thread stops once MPI is finalized
    return *e;
  }
  /// Gives `link` its rank; false while another pool's link holds that rank.
  bool attach(const std::shared_ptr<Link>& link) {
    {
      std::scoped_lock lock(m_mutex);
      auto [it, inserted] = m_links.emplace(link->rank, link);
      if (!inserted) return false;
      if (!m_thread.joinable()) m_thread = std::thread([this] { run(); });
      ++m_wakeups;
    }
    m_cv.notify_one();
    return true;
  }
  /// Frees the rank of `link` (if it still holds it): replies to it are dropped from now on.
  void detach(const Link& link) {
    std::scoped_lock lock(m_mutex);
    auto it = m_links.find(link.rank);
    if (it != m_links.end() && it->second.get() == &link) m_links.erase(it);
  }
  /// Tells `rank` to kill what it runs for the channel of `epoch` (sent even once detached).
  void cancel(int rank, std::uint64_t epoch) {
    {
      std::scoped_lock lock(m_mutex);
      m_cancels.emplace_back(rank, epoch);
      ++m_wakeups;
    }
    m_cv.notify_one();
  }
  /// Something was queued: poll now.
  void wake() {
    {
      std::scoped_lock lock(m_mutex);
      ++m_wakeups;
    }
    m_cv.notify_one();
  }

 private:
  void run();
  bool send_all(std::vector<std::shared_ptr<Link>>& links);
  void send_cancels(const std::vector<std::pair<int, std::uint64_t>>& cancels);
  void receive(const MPI_Status& st);

  std::mutex m_mutex;  // guards m_links, m_cancels, m_wakeups, m_thread
  std::condition_variable m_cv;
  std::map<int, std::shared_ptr<Link>> m_links;             // rank -> the channel that holds it
  std::vector<std::pair<int, std::uint64_t>> m_cancels;     // (rank, epoch) to send tag_cancel to
  std::uint64_t m_wakeups = 0;                              // counts wake-ups of run()
  std::thread m_thread;  // never joined: it returns once MPI is finalized (see run)

  // The Engine's thread only:
  std::list<Sending> m_sending;
  SendMappings m_mappings;
};

bool Engine::send_all(std::vector<std::shared_ptr<Link>>& links) {
  bool any = false;
  for (auto& link : links) {
    std::deque<Link::Outgoing> out;
    {
      std::scoped_lock lock(link->mutex);
      out.swap(link->outbox);
    }
    for (auto& o : out) {
      auto& s = m_sending.emplace_back();
      s.message = std::move(o.message);
      s.requests.emplace_back();
      check(MPI_Isend(s.message.data(), static_cast<int>(s.message.size()), MPI_BYTE, link->rank, tag_task, MPI_COMM_WORLD,
                      &s.requests.back()),
            "MPI_Isend");
      // Straight from the shared memory the arguments were serialized into: no copy of ours.
      if (o.blob_size > 0) send_blob(s, m_mappings, o.blob.get(), o.blob_size, link->rank, tag_blob, "a task's arguments");
      any = true;
    }
  }
  return any;
}

void Engine::receive(const MPI_Status& st) {
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
  mp::detail::WorkerReply reply;
  reply.id = h.id;
  reply.run_ns = h.run_ns;
  if (h.blob_size > 0) {
    // Received into a reused shared-memory buffer (blob_buffers.hpp) and decoded from there:
    // the reply's payload holds it until the result was delivered.
    auto buffer = blob_buffers().take(h.blob_size);
    for (std::size_t at = 0; at < h.blob_size; at += max_piece) {
      const auto n = static_cast<int>(std::min<std::size_t>(max_piece, h.blob_size - at));
      check(MPI_Recv(buffer->data + at, n, MPI_BYTE, st.MPI_SOURCE, tag_result_blob, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    }
    reply.payload.blob_view = buffer->data;
    reply.payload.blob_size = h.blob_size;
    reply.payload.blob_lease = std::move(buffer);
  }
  std::shared_ptr<Link> link;
  {
    std::scoped_lock lock(m_mutex);
    auto it = m_links.find(st.MPI_SOURCE);
    if (it != m_links.end() && it->second->epoch == h.epoch) link = it->second;
  }
  if (!link) return;  // a reply to a channel that was killed (or closed): dropped
  reply.payload.bytes = message.substr(sizeof h);
  bool finished = false;
  {
    std::scoped_lock lock(link->mutex);
    auto d = link->descriptions.find(h.id);
    if (d == link->descriptions.end()) return;
    switch (h.kind) {
      case ResultKind::values:
        break;
      case ResultKind::exception:
        reply.failed = true;
        break;
      case ResultKind::crash: {
        // The rank's worker process died running it: the pool's ProcessError, as for a local
        // worker, naming the rank and the task in the user's terms.
        std::string what;
        try {
          what = mp::deserialize<std::string>(reply.payload);
        } catch (const std::exception& e) {
          what = e.what();
        }
        reply.failed = true;
        reply.payload = mp::serialize(std::make_pair(std::string("concur::ProcessError"),
                                                     fmt::format("rank {}: {} while running {}", link->rank, what, d->second)));
        break;
      }
    }
    link->descriptions.erase(d);
    link->inbox.push_back(std::move(reply));
    finished = link->closed && link->descriptions.empty();
  }
  signal_fd(link->readable.get());
  if (finished) {
    detach(*link);  // the rank is free for the next pool
    signal_fd(link->done.get());
  }
}

void Engine::send_cancels(const std::vector<std::pair<int, std::uint64_t>>& cancels) {
  for (const auto& [rank, epoch] : cancels) {
    // The rank kills what it runs for that channel; what it still sends for it is dropped.
    const CancelHeader h{epoch};
    check(MPI_Send(&h, sizeof h, MPI_BYTE, rank, tag_cancel, MPI_COMM_WORLD), "MPI_Send");
  }
}

void Engine::run() {
  Backoff backoff;
  std::vector<std::shared_ptr<Link>> links;
  std::vector<std::pair<int, std::uint64_t>> cancels;
  for (;;) {
    std::uint64_t seen;
    {
      std::scoped_lock lock(m_mutex);
      seen = m_wakeups;
      links.clear();
      for (auto& [rank, link] : m_links) links.push_back(link);
      cancels.swap(m_cancels);
    }
    bool active = !cancels.empty();
    {
      std::scoped_lock mpi(mpi_mutex());
      if (finalized()) return;  // the program is exiting: no MPI any more
      send_cancels(cancels);
      cancels.clear();
      if (send_all(links)) active = true;
      if (!m_sending.empty() && test_sends(m_sending)) active = true;
      for (;;) {
        int flag = 0;
        MPI_Status st;
        check(MPI_Iprobe(MPI_ANY_SOURCE, tag_result, MPI_COMM_WORLD, &flag, &st), "MPI_Iprobe");
        if (flag == 0) break;
        receive(st);
        active = true;
      }
    }
    // While a rank holds tasks of ours, a reply is due: poll at least every 50 µs (a 1 ms
    // sleep would be added to every round trip); with nothing outstanding, back off fully.
    bool waiting = false;
    for (auto& link : links) {
      std::scoped_lock lock(link->mutex);
      waiting = waiting || !link->descriptions.empty();
    }
    links.clear();
    if (active) {
      backoff.reset();
      continue;
    }
    // A large message moves only while both sides poll (the transport's progress engine runs
    // inside MPI calls): while one of ours is on its way, poll again soon.
    auto delay = m_sending.empty() ? backoff.next() : std::chrono::microseconds(10);
    if (waiting) delay = std::min(delay, std::chrono::microseconds(50));
    std::unique_lock lock(m_mutex);
    m_cv.wait_for(lock, delay, [&] { return m_wakeups != seen; });
  }
}

// One worker rank, as the pool's manager sees it.
class RankChannel final : public mp::detail::WorkerChannel {
 public:
  explicit RankChannel(std::shared_ptr<Link> link) : m_link(std::move(link)) {
    if (!Engine::get().attach(m_link))
      throw ValueError(fmt::format("concur::mpi::Pool: another pool owns worker rank {} (join it first)", m_link->rank));
  }
  ~RankChannel() override { Engine::get().detach(*m_link); }

  void send(std::uint64_t id, const mp::detail::PoolTask& task) override {
    TaskHeader h;
    h.id = id;
    h.epoch = m_link->epoch;
    h.entry = function_ref(reinterpret_cast<std::uintptr_t>(task.entry));
    h.fn = function_ref(task.fn);
    h.blob_size = task.chunk.blob ? task.chunk.blob_size : 0;
    if (h.blob_size > 0 && shares_files_with(m_link->rank)) {
      // The rank opens the file itself (shared_files.hpp): it stays open here while the
      // manager keeps the task, i.e. until the rank answered.
      struct stat st {};
      if (::fstat(task.chunk.blob.get(), &st) != 0) throw_os_error(errno, "fstat");
      h.blob_file = RemoteFile{static_cast<std::int32_t>(::getpid()), task.chunk.blob.get(), static_cast<std::uint64_t>(st.st_dev),
                               static_cast<std::uint64_t>(st.st_ino)};
    }
    Link::Outgoing o;
    o.message.resize(sizeof h + task.chunk.bytes.size());
    std::memcpy(o.message.data(), &h, sizeof h);
    std::memcpy(o.message.data() + sizeof h, task.chunk.bytes.data(), task.chunk.bytes.size());
    if (h.blob_size > 0 && h.blob_file.pid == 0) {
      // A descriptor of its own (the manager keeps the task, and may re-send it).
      const int copy = ::fcntl(task.chunk.blob.get(), F_DUPFD_CLOEXEC, 3);
      if (copy < 0) throw_os_error(errno, "dup");
      o.blob.reset(copy);
      o.blob_size = h.blob_size;
    }
    {
      std::scoped_lock lock(m_link->mutex);
      m_link->descriptions.emplace(id, describe(task));
      m_link->outbox.push_back(std::move(o));
    }
    m_pending = true;
  }
  void flush() override {
    if (std::exchange(m_pending, false)) Engine::get().wake();
  }
  [[nodiscard]] std::size_t backlog() const override { return m_pending ? 1 : 0; }
  bool arm() override {
    std::scoped_lock lock(m_link->mutex);
    return !m_link->inbox.empty();
  }
  bool receive(std::vector<mp::detail::WorkerReply>& replies, bool) override {
    drain_fd(m_link->readable.get());
    std::scoped_lock lock(m_link->mutex);
    for (auto& r : m_link->inbox) replies.push_back(std::move(r));
    m_link->inbox.clear();
    return !m_link->closed;
  }
  [[nodiscard]] int descriptor() const override { return m_link->readable.get(); }
  [[nodiscard]] int sentinel() const override { return m_link->done.get(); }
  [[nodiscard]] bool alive() override {
    std::scoped_lock lock(m_link->mutex);
    return !(m_link->closed && m_link->descriptions.empty());
  }
  void close() noexcept override {
    bool finished;
    {
      std::scoped_lock lock(m_link->mutex);
      m_link->closed = true;
      finished = m_link->descriptions.empty();
    }
    m_closed = true;
    flush();
    if (finished) {
      Engine::get().detach(*m_link);
      signal_fd(m_link->done.get());
    }
  }
  [[nodiscard]] bool closed() const override { return m_closed; }
  mp::detail::WorkerEnding ended() override {
    // Only a closed or killed channel ends: a crashed task fails alone (a failed reply) and
    // the rank goes on; a rank that dies ends the whole MPI job.
    mp::detail::WorkerEnding e;
    e.description = fmt::format("rank {}", m_link->rank);
    return e;
  }
  void kill() override {
    {
      std::scoped_lock lock(m_link->mutex);
      m_link->closed = true;
      m_link->outbox.clear();
      m_link->descriptions.clear();
    }
    m_closed = true;
    Engine::get().detach(*m_link);
    Engine::get().cancel(m_link->rank, m_link->epoch);
    signal_fd(m_link->done.get());
  }
  void join() override {}

 private:
  std::shared_ptr<Link> m_link;
  bool m_pending = false;  // tasks queued since the last flush()
  bool m_closed = false;
};

// Hands out the worker ranks 1..n, one channel each, for one pool (one epoch).
class RankLauncher final : public mp::detail::WorkerLauncher {
 public:
  explicit RankLauncher(std::size_t ranks) : m_ranks(ranks) {}
  std::unique_ptr<mp::detail::WorkerChannel> launch() override {
    // A rank's channel ends only when the pool closes or kills it (a crashed task fails
    // alone, the rank goes on), so a rank is never asked for twice.
    if (m_next > m_ranks) throw ProcessError("concur::mpi: no worker rank is left to start");
    return std::make_unique<RankChannel>(std::make_shared<Link>(static_cast<int>(m_next++), m_epoch));
  }

 private:
  const std::size_t m_ranks;
  std::size_t m_next = 1;
  const std::uint64_t m_epoch = next_epoch();
};

}  // namespace
}  // namespace detail

namespace {

namespace mp = concur::multiprocessing;

mp::Pool make_pool(const PoolOptions& options) {
  // A task that crashes its process on a rank comes back as a failed reply of this type (see
  // Engine::receive): rebuilt as itself, as for a local worker's crash.
  static const bool registered = (mp::register_exception<ProcessError>(), true);
  (void)registered;
  if (!initialized()) throw RuntimeError("concur::mpi::Pool: call concur::mpi::init(argc, argv) at the top of main first");
  if (rank() != 0) throw RuntimeError("concur::mpi::Pool: only rank 0 owns pools");
  if (workers() == 0) {
    // Forked by the fork server init() started before MPI, never by this process.
    return mp::Pool(mp::PoolOptions{.processes = options.processes, .start_method = "forkserver"});
  }
  if (options.processes && (*options.processes < 1 || *options.processes > workers()))
    throw ValueError(fmt::format("concur::mpi::Pool: processes must be between 1 and {} (the worker ranks)", workers()));
  const auto ranks = static_cast<std::size_t>(options.processes.value_or(workers()));
  return mp::Pool(std::make_unique<detail::RankLauncher>(ranks), ranks);
}

}  // namespace

Pool::Pool(PoolOptions options) : multiprocessing::Pool(make_pool(options)), m_distributed(workers() > 0) {}

}  // namespace concur::mpi
