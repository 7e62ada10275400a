// SPDX-License-Identifier: MIT
// concur::mpi::init and the identity of functions across ranks (see concur/mpi/runtime.hpp).
#include <concur/mpi/runtime.hpp>

#include <concur/errors.hpp>
#include <concur/multiprocessing/context.hpp>

#include "runtime_impl.hpp"
#include "shared_files.hpp"

#include <fmt/core.h>

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace concur::mpi {
namespace detail {

namespace {

std::uint64_t fnv1a(const unsigned char* p, std::size_t n, std::uint64_t h = 1469598103934665603ULL) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

// A file's bytes hashed: the identity of an object that has no build-id.
std::uint64_t hash_file(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fnv1a(reinterpret_cast<const unsigned char*>(path), std::strlen(path));
  struct stat st {};
  std::uint64_t h = 1469598103934665603ULL;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    void* mem = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (mem != MAP_FAILED) {
      h = fnv1a(static_cast<const unsigned char*>(mem), static_cast<std::size_t>(st.st_size));
      ::munmap(mem, static_cast<std::size_t>(st.st_size));
    }
  }
  ::close(fd);
  return h;
}

struct LoadedObject {
  std::uint64_t key = 0;       // hash of its GNU build-id (or of its bytes)
  std::uintptr_t base = 0;     // load address (dlpi_addr)
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;  // its PT_LOAD segments
  bool main = false;           // the executable
};

int collect_object(dl_phdr_info* info, std::size_t, void* data) {
  auto& out = *static_cast<std::vector<LoadedObject>*>(data);
  LoadedObject o;
  o.base = info->dlpi_addr;
  o.main = out.empty();  // the executable comes first
  const unsigned char* build_id = nullptr;
  std::size_t build_id_size = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD) o.ranges.emplace_back(o.base + ph.p_vaddr, o.base + ph.p_vaddr + ph.p_memsz);
    if (ph.p_type != PT_NOTE || build_id != nullptr) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(o.base + ph.p_vaddr);
    const auto* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) n;
      std::memcpy(&n, p, sizeof n);
      const unsigned char* name = p + sizeof n;
      const unsigned char* desc = name + ((n.n_namesz + 3U) & ~3U);
      if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0 && desc + n.n_descsz <= end) {
        build_id = desc;
        build_id_size = n.n_descsz;
        break;
      }
      p = desc + ((n.n_descsz + 3U) & ~3U);
    }
  }
  if (build_id != nullptr) {
    o.key = fnv1a(build_id, build_id_size);
  } else {
    o.key = hash_file(o.main || info->dlpi_name == nullptr || info->dlpi_name[0] == '\0' ? "/proc/self/exe" : info->dlpi_name);
  }
  if (o.key == 0) o.key = 1;  // 0 means "no function"
  out.push_back(std::move(o));
  return 0;
}

struct Objects {
  std::mutex mutex;  // guards everything below
  std::vector<LoadedObject> objects;
  std::unordered_map<std::uintptr_t, FunctionRef> refs;         // address -> ref, cached
  std::unordered_map<std::uint64_t, std::uintptr_t> bases;      // key -> base
  void reload() {
    objects.clear();
    bases.clear();
    dl_iterate_phdr(collect_object, &objects);
    for (const auto& o : objects) bases.emplace(o.key, o.base);
  }
};

Objects& objects() {
  static Objects* o = new Objects;  // never destroyed: used until the very end
  return *o;
}

std::uint64_t executable_key() {
  auto& o = objects();
  std::scoped_lock lock(o.mutex);
  if (o.objects.empty()) o.reload();
  return o.objects.front().key;
}

// Process-wide state; written by init() before any other thread exists.
bool g_initialized = false;
int g_rank = 0;
int g_size = 1;
bool g_finalized = false;  // guarded by mpi_mutex()
std::atomic<std::uint64_t> g_epoch{0};

// Rank 0's exit: tell every worker rank to stop, wait (polling, bounded) for each to say it
// stopped, then finalize. Messages still in flight from a terminated pool are received and
// dropped on the way.
void finish_at_exit() {
  std::scoped_lock lock(mpi_mutex());
  if (g_finalized) return;
  g_finalized = true;
  for (int r = 1; r < g_size; ++r) check(MPI_Send(nullptr, 0, MPI_BYTE, r, tag_exit, MPI_COMM_WORLD), "MPI_Send");
  int acks = 0;
  std::vector<char> sink;
  Backoff backoff;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (acks < g_size - 1) {
    int flag = 0;
    MPI_Status st;
    check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st), "MPI_Iprobe");
    if (flag == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "concur::mpi: rank 0: %d worker rank(s) did not stop within 30 s; aborting the job\n", g_size - 1 - acks);
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
      std::this_thread::sleep_for(backoff.next());
      continue;
    }
    backoff.reset();
    int count = 0;
    check(MPI_Get_count(&st, MPI_BYTE, &count), "MPI_Get_count");
    sink.resize(static_cast<std::size_t>(std::max(count, 1)));
    check(MPI_Recv(sink.data(), count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    if (st.MPI_TAG == tag_exit_ack) ++acks;
  }
  check(MPI_Finalize(), "MPI_Finalize");
}

void check_fingerprints() {
  const std::uint64_t mine = executable_key();
  std::vector<std::uint64_t> all(static_cast<std::size_t>(g_size));
  check(MPI_Allgather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD), "MPI_Allgather");
  std::string differ;
  for (int r = 0; r < g_size; ++r) {
    if (all[static_cast<std::size_t>(r)] != all[0]) differ += fmt::format("{}{}", differ.empty() ? "" : ", ", r);
  }
  if (differ.empty()) return;
  std::fprintf(stderr,
               "concur::mpi: rank %d: the ranks run different builds: rank(s) %s differ from rank 0 "
               "(build fingerprint %016llx here, %016llx on rank 0); every rank must run the same executable\n",
               g_rank, differ.c_str(), static_cast<unsigned long long>(mine), static_cast<unsigned long long>(all[0]));
  std::fflush(stderr);
  MPI_Finalize();
  std::_Exit(1);
}

}  // namespace

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
  text[std::min(len, MPI_MAX_ERROR_STRING - 1)] = '\0';
  std::fprintf(stderr, "concur::mpi: rank %d: %s failed: %s; aborting the job\n", g_rank, call, text);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

FunctionRef function_ref(std::uintptr_t address) {
  if (address == 0) return {};
  auto& o = objects();
  std::scoped_lock lock(o.mutex);
  if (auto it = o.refs.find(address); it != o.refs.end()) return it->second;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt == 1 || o.objects.empty()) o.reload();  // a library loaded since: look again
    for (const auto& obj : o.objects) {
      for (const auto& [lo, hi] : obj.ranges) {
        if (address >= lo && address < hi) {
          const FunctionRef ref{obj.key, address - obj.base};
          o.refs.emplace(address, ref);
          return ref;
        }
      }
    }
  }
  throw ValueError(fmt::format("concur::mpi: the function at {:#x} is in no loaded object", address));
}

std::uintptr_t function_address(FunctionRef ref) {
  if (ref.object == 0) return 0;
  auto& o = objects();
  std::scoped_lock lock(o.mutex);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt == 1 || o.objects.empty()) o.reload();
    if (auto it = o.bases.find(ref.object); it != o.bases.end()) return it->second + ref.offset;
  }
  throw ValueError(fmt::format("concur::mpi: rank {} has no object with build fingerprint {:016x} (the ranks load "
                               "different builds of a shared library)", g_rank, ref.object));
}

std::mutex& mpi_mutex() {
  static std::mutex* m = new std::mutex;  // never destroyed: the exit handler takes it
  return *m;
}
bool finalized() noexcept { return g_finalized; }

std::uint64_t next_epoch() noexcept { return g_epoch.fetch_add(1, std::memory_order_relaxed) + 1; }

}  // namespace detail

void init(int& argc, char**& argv) {
  if (detail::g_initialized) return;
  // Before MPI exists: task processes are forked from a process that never touched it.
  multiprocessing::forkserver::ensure_running();
  int provided = 0;
  const int rc = MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  if (rc != MPI_SUCCESS) throw RuntimeError("concur::mpi::init: MPI_Init_thread failed");
  detail::g_initialized = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  detail::check(MPI_Comm_rank(MPI_COMM_WORLD, &detail::g_rank), "MPI_Comm_rank");
  detail::check(MPI_Comm_size(MPI_COMM_WORLD, &detail::g_size), "MPI_Comm_size");
  if (provided < MPI_THREAD_SERIALIZED) {
    std::fprintf(stderr, "concur::mpi: rank %d: this MPI library does not support MPI_THREAD_SERIALIZED; aborting the job\n", detail::g_rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  detail::check_fingerprints();
  detail::probe_shared_files();
  if (detail::g_rank != 0) detail::serve();
  std::atexit(detail::finish_at_exit);
}

void init() {
  int argc = 0;
  char** argv = nullptr;
  init(argc, argv);
}

bool initialized() noexcept { return detail::g_initialized; }
int rank() noexcept { return detail::g_rank; }
int size() noexcept { return detail::g_size; }
int workers() noexcept { return detail::g_size - 1; }
std::uint64_t build_fingerprint() { return detail::executable_key(); }

}  // namespace concur::mpi
