// SPDX-License-Identifier: MIT
// Recycled shared-memory segments for pool tasks (see blob_segments.hpp).
#include "blob_segments.hpp"

#include "process_impl.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <limits>
#include <mutex>
#include <vector>

namespace concur::multiprocessing::detail {

struct BlobSegment {
  const pid_t pid = ::getpid();   // the process that created it: the only one that may use it
  UniqueFd fd;                    // the memfd; registered parent-only
  unsigned char* data = nullptr;  // MAP_SHARED, MADV_DONTFORK mapping of [0, size)
  std::size_t size = 0;           // bytes of the file, all mapped
  std::size_t touched = 0;        // most bytes ever written: pages the file really holds

  BlobSegment() = default;
  BlobSegment(const BlobSegment&) = delete;
  BlobSegment& operator=(const BlobSegment&) = delete;
  ~BlobSegment() {
    if (pid != ::getpid()) {
      // A forked child's copy: the mapping was not inherited (its address may hold something
      // else now) and the descriptor was closed at the fork (its number may be reused).
      (void)fd.release();
      return;
    }
    if (data != nullptr) ::munmap(data, size);
    if (fd) unregister_parent_only_fd(fd.get());
  }
};

namespace {

class SegmentPool : public std::enable_shared_from_this<SegmentPool> {
 public:
  std::shared_ptr<BlobSegment> acquire() {
    std::unique_ptr<BlobSegment> s;
    {
      std::scoped_lock lock(m_mutex);
      if (!m_free.empty()) {
        // The one with the most pages already in place (the most recently freed of those):
        // how large this blob will be is not known yet, and a segment only ever written to
        // 80 KB costs a page fault and a zeroed page for every 4 KiB a 1 MiB blob adds — with
        // segments of both sizes free, taking the last freed left blocks of 1 MiB faulting in
        // pages on every map that followed a map of smaller ones.
        auto best = m_free.end() - 1;
        for (auto it = m_free.begin(); it != m_free.end(); ++it) {
          if ((*it)->touched > (*best)->touched) best = it;
        }
        s = std::move(*best);
        m_free.erase(best);
        m_free_bytes -= s->touched;
      }
    }
    if (!s) {
      s = std::make_unique<BlobSegment>();
      const int fd = ::memfd_create("concur-blob", MFD_CLOEXEC);
      if (fd < 0) throw_os_error(errno, "memfd_create");
      s->fd.reset(fd);
      // Before any fork can happen with it: children started with "fork" must not keep the
      // pool's segments (and their memory) alive.
      register_parent_only_fd(fd);
    }
    // The deleter gives the segment back (it runs even when this constructor throws).
    return {s.release(), [pool = shared_from_this()](BlobSegment* seg) { pool->give_back(std::unique_ptr<BlobSegment>(seg)); }};
  }

 private:
  void give_back(std::unique_ptr<BlobSegment> s) {
    if (s->pid != ::getpid()) return;  // a forked child's copy: see ~BlobSegment
    std::scoped_lock lock(m_mutex);
    if (m_free_bytes + s->touched > retained_limit) return;  // over the limit: `s` frees it
    m_free_bytes += s->touched;
    m_free.push_back(std::move(s));
  }

  std::mutex m_mutex;                               // guards m_free, m_free_bytes
  std::vector<std::unique_ptr<BlobSegment>> m_free;  // free segments, most recently freed last
  std::size_t m_free_bytes = 0;                     // sum of their `touched`
};

// The process's pool, shared by every holder. A forked child gets a registry of its own: the
// parent's mutex may have been held, at the fork, by a thread that does not exist in it.
struct Registry {
  const pid_t pid = ::getpid();
  std::mutex mutex;                  // guards pool
  std::weak_ptr<SegmentPool> pool;
};
std::atomic<Registry*> g_registry{nullptr};

Registry& registry() {
  const pid_t me = ::getpid();
  Registry* r = g_registry.load(std::memory_order_acquire);
  while (r == nullptr || r->pid != me) {
    auto* fresh = new Registry;  // never deleted: in use until exit (an inherited one is abandoned)
    if (g_registry.compare_exchange_strong(r, fresh, std::memory_order_acq_rel)) return *fresh;
    delete fresh;  // another thread installed one: `r` holds it now
  }
  return *r;
}

constexpr std::size_t min_segment_size = std::size_t{1} << 20;

void grow(BlobSegment& s, std::uint64_t end) {
  constexpr std::uint64_t granule = 64 * 1024;
  // Doubling: a blob appended block by block maps and truncates only log2(size) times. Pages
  // are allocated when first written, so a large file costs nothing beyond what is written.
  std::uint64_t wanted = std::max<std::uint64_t>({end, std::uint64_t{s.size} * 2, min_segment_size});
  wanted = (wanted + granule - 1) / granule * granule;
  if (wanted < end || wanted > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()))
    throw OSError(EFBIG, "a shared-memory block is too large");
  if (::ftruncate(s.fd.get(), static_cast<off_t>(wanted)) < 0) throw_os_error(errno, "growing a shared-memory block");
  void* mem = ::mmap(nullptr, static_cast<std::size_t>(wanted), PROT_READ | PROT_WRITE, MAP_SHARED, s.fd.get(), 0);
  if (mem == MAP_FAILED) throw_os_error(errno, "mapping a shared-memory block");
  // Not inherited by children started with "fork": they could not use it, and would keep its
  // memory alive.
  ::madvise(mem, static_cast<std::size_t>(wanted), MADV_DONTFORK);
  if (s.data != nullptr) ::munmap(s.data, s.size);
  s.data = static_cast<unsigned char*>(mem);
  s.size = static_cast<std::size_t>(wanted);
}

}  // namespace

std::shared_ptr<void> retain_blob_segments() {
  Registry& r = registry();
  std::scoped_lock lock(r.mutex);
  std::shared_ptr<SegmentPool> pool = r.pool.lock();
  if (!pool) {
    pool = std::make_shared<SegmentPool>();
    r.pool = pool;
  }
  return pool;
}

std::shared_ptr<BlobSegment> acquire_blob_segment() {
  std::shared_ptr<SegmentPool> pool;
  {
    Registry& r = registry();
    std::scoped_lock lock(r.mutex);
    pool = r.pool.lock();
  }
  return pool ? pool->acquire() : nullptr;
}

void blob_segment_write(BlobSegment& s, std::uint64_t offset, const void* data, std::size_t size) {
  assert(s.pid == ::getpid());
  const std::uint64_t end = offset + size;
  if (end < offset) throw OSError(EFBIG, "a shared-memory block is too large");
  if (end > s.size) grow(s, end);
  if (size != 0) std::memcpy(s.data + offset, data, size);
  s.touched = std::max(s.touched, static_cast<std::size_t>(end));
}

int blob_segment_fd(const BlobSegment& s) noexcept { return s.fd.get(); }

SegmentMappings::~SegmentMappings() {
  while (!m_entries.empty()) evict(m_entries.size() - 1);
}

void SegmentMappings::evict(std::size_t index) {
  Entry& e = m_entries[index];
  if (e.data != nullptr) ::munmap(const_cast<unsigned char*>(e.data), e.size);
  m_entries.erase(m_entries.begin() + static_cast<std::ptrdiff_t>(index));
}

const unsigned char* SegmentMappings::view(int fd, std::uint64_t size) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) throw SerializationError("cannot decode message: the shared-memory block is unreadable");
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) < size)
    throw SerializationError("cannot decode message: shared-memory block is truncated");
  if (m_disabled || size == 0) return nullptr;
  const auto ino = static_cast<std::uint64_t>(st.st_ino);
  const pid_t me = ::getpid();
  auto it = std::find_if(m_entries.begin(), m_entries.end(), [&](const Entry& e) { return e.ino == ino; });
  if (it != m_entries.end()) {
    const auto index = static_cast<std::size_t>(it - m_entries.begin());
    const long same = ::syscall(SYS_kcmp, me, me, KCMP_FILE, it->fd.get(), fd);
    if (same < 0) {
      m_disabled = true;  // no kcmp (a kernel without it, or a seccomp policy): read the fd
      while (!m_entries.empty()) evict(m_entries.size() - 1);
      return nullptr;
    }
    if (same == 0 && it->size >= size) {
      it->used = ++m_clock;
      return it->data;
    }
    // Another file under a reused inode number (the old one is gone for the sender), or the
    // sender grew the segment beyond the mapping: map it afresh, whole.
    evict(index);
  }
  // A file larger than the whole cache is read through the descriptor: kept mapped, it would
  // keep its memory alive here after the sender freed it.
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) return nullptr;
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return nullptr;
  UniqueFd own(copy);
  const auto length = static_cast<std::size_t>(st.st_size);
  void* mem = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, copy, 0);
  if (mem == MAP_FAILED) return nullptr;
  std::size_t bytes = length;
  for (const Entry& e : m_entries) bytes += e.size;
  while (!m_entries.empty() && (m_entries.size() >= max_entries || bytes > max_bytes)) {
    const auto oldest = std::min_element(m_entries.begin(), m_entries.end(),
                                         [](const Entry& a, const Entry& b) { return a.used < b.used; });
    bytes -= oldest->size;
    evict(static_cast<std::size_t>(oldest - m_entries.begin()));
  }
  m_entries.push_back(Entry{std::move(own), ino, static_cast<const unsigned char*>(mem), length, ++m_clock});
  return m_entries.back().data;
}

}  // namespace concur::multiprocessing::detail
