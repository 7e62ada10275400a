// SPDX-License-Identifier: MIT
// Helpers of the MPI tests: functions that run on the worker ranks, and how a task finds the
// rank process it runs for.
#pragma once

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace concur_mpi_test {

/// ctest discovers the cases by running `mpiexec -n 3 <test> --gtest_list_tests`. Listing
/// needs no MPI (and MPI_Init leaves memory that Open MPI never frees, which AddressSanitizer
/// would report at exit). Call this first in main: when listing, rank 0 prints the list
/// without MPI and the other ranks print nothing, and it returns the exit status; otherwise -1.
inline int list_tests_without_mpi(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) listing = listing || std::string(argv[i]) == "--gtest_list_tests";
  if (!listing) return -1;
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");  // set by mpiexec for every rank
  if (rank != nullptr && std::string(rank) != "0") return 0;
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

/// first, ..., last - 1 as a vector (clang 14 cannot compile libstdc++ 12's std::views::iota).
inline std::vector<int> range(int first, int last) {
  std::vector<int> v;
  for (int i = first; i < last; ++i) v.push_back(i);
  return v;
}

inline int square(int x) { return x * x; }
inline long add(int a, long b) { return a + b; }
inline std::string shout(std::string s) { return s + "!"; }
inline double sum(std::vector<double> v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}
inline double sum_view(std::span<const double> v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}
/// The name of the mapping of this process that holds the view's bytes (/proc/self/maps).
inline std::string where_the_view_is(std::span<const std::uint8_t> v) {
  const auto at = reinterpret_cast<std::uintptr_t>(v.data());
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::istringstream fields(line);
    std::string range;
    std::string skip;
    fields >> range >> skip >> skip >> skip >> skip;  // range, perms, offset, device, inode
    const auto dash = range.find('-');
    if (dash == std::string::npos) continue;
    const auto lo = std::stoull(range.substr(0, dash), nullptr, 16);
    const auto hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (at < lo || at >= hi) continue;
    std::string name;
    std::getline(fields >> std::ws, name);
    return name;
  }
  return "";
}
// A vector of `n` doubles (n * 8 bytes: 1 MiB for 131072), each its index times `scale`.
inline std::vector<double> ramp(int n, double scale) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i * scale;
  return v;
}
inline int fail_on_three(int x) {
  if (x == 3) throw std::invalid_argument("three is not allowed");
  return x;
}
struct Unregistered : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Registered : std::runtime_error {
  explicit Registered(const std::string& m) : std::runtime_error(m) {}
};
inline int throw_unregistered(int) { throw Unregistered("not known on rank 0"); }
inline int throw_registered(int) { throw Registered("known on rank 0"); }
inline int segfault(int x) {
  std::signal(SIGSEGV, SIG_DFL);  // the default action, even under AddressSanitizer
  std::raise(SIGSEGV);
  return x;
}
inline int abort_task(int x) {
  std::abort();
  return x;
}
inline int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// The rank process a task runs for: the topmost ancestor running this same executable (the
// task runs in a worker process forked by the rank's fork server; above the rank is mpirun).
inline std::string exe_of(int pid) {
  char buf[4096];
  const ssize_t n = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}
inline int parent_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string state;
  int ppid = 0;
  fields >> state >> ppid;
  return ppid;
}
inline int rank_process() {
  const std::string mine = exe_of(::getpid());
  int pid = ::getpid();
  for (int parent = parent_of(pid); parent > 1 && exe_of(parent) == mine; parent = parent_of(parent)) pid = parent;
  return pid;
}
// (pid, CPU clock ticks used so far) of the rank process this task runs for.
inline std::pair<int, long> rank_cpu_ticks(int) {
  const int pid = rank_process();
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt: fields 3 to 13
  long utime = 0;
  long stime = 0;
  fields >> utime >> stime;
  return {pid, utime + stime};
}
inline int rank_pid(int) { return rank_process(); }

}  // namespace concur_mpi_test
