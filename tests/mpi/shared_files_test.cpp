// SPDX-License-Identifier: MIT
// src/mpi/shared_files.hpp: how a worker rank opens rank 0's shared-memory files — here a
// file of this process stands for rank 0's (no MPI job needed).
#include <gtest/gtest.h>

#include "../../src/mpi/shared_files.hpp"  // private to the library

#include <linux/kcmp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace mpd = concur::mpi::detail;
using concur::multiprocessing::detail::UniqueFd;

namespace {

struct File {
  UniqueFd fd{::memfd_create("concur-test-file", MFD_CLOEXEC)};
  mpd::RemoteFile name() const {
    struct stat st {};
    EXPECT_EQ(::fstat(fd.get(), &st), 0);
    return {static_cast<std::int32_t>(::getpid()), fd.get(), static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
  }
};

bool same_open_file(int a, int b) {
  const pid_t me = ::getpid();
  return ::syscall(SYS_kcmp, me, me, KCMP_FILE, a, b) == 0;
}

TEST(RemoteFiles, OpensTheNamedFileAndKeepsItForTheNextTask) {
  File f;
  ASSERT_EQ(::pwrite(f.fd.get(), "block", 5, 0), 5);
  mpd::RemoteFiles files;
  std::string error;
  const UniqueFd first = files.open(f.name(), 5, error);
  ASSERT_TRUE(first) << error;
  char got[5] = {};
  ASSERT_EQ(::pread(first.get(), got, 5, 0), 5);
  EXPECT_EQ(std::string(got, 5), "block");
  // Opened through /proc: another open file than the sender's, and the same one each time
  // (the worker process recognises it by that and keeps its mapping).
  EXPECT_FALSE(same_open_file(first.get(), f.fd.get()));
  const UniqueFd second = files.open(f.name(), 5, error);
  ASSERT_TRUE(second) << error;
  EXPECT_TRUE(same_open_file(first.get(), second.get()));
}

TEST(RemoteFiles, AFileThatIsNotTheOneNamedOrTooShortIsRefusedWithTheReason) {
  File f;
  File other;
  ASSERT_EQ(::ftruncate(f.fd.get(), 100), 0);
  mpd::RemoteFiles files;
  std::string error;
  auto wrong = f.name();
  wrong.ino = other.name().ino;  // the descriptor now refers to another file than named
  EXPECT_FALSE(files.open(wrong, 1, error));
  EXPECT_NE(error.find("is not the shared memory rank 0 named"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(files.open(f.name(), 101, error));
  EXPECT_NE(error.find("shorter than the task's block"), std::string::npos) << error;
  error.clear();
  auto gone = other.name();
  gone.fd = 1000000;  // no such descriptor (and a file not opened before: it is not kept)
  EXPECT_FALSE(files.open(gone, 1, error));
  EXPECT_NE(error.find("cannot open rank 0's shared memory (/proc/"), std::string::npos) << error;
}

}  // namespace
