// SPDX-License-Identifier: MIT
// SharedMemory (named blocks, the tracker that unlinks what dead processes leave), Value and
// Array (anonymous shared memory with an optional lock), across forked children.
#include "concur/multiprocessing/shared_memory.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "ipc_test_support.hpp"

namespace mp = concur::multiprocessing;
using namespace std::chrono_literals;
using concur_test::fork_child;
using concur_test::join_child;
using concur_test::shm_exists;
using concur_test::shm_gone_within;
using concur_test::unique_shm_name;

namespace {

constexpr int kProcesses = 4;
constexpr int kIncrements = concur_test::under_tsan() ? 2'000 : 10'000;

/// Fails the test when a block this test named is left in /dev/shm.
class SharedMemoryTest : public testing::Test {
 protected:
  std::string track(std::string name) {
    m_names.push_back(name);
    return name;
  }
  void TearDown() override {
    for (const std::string& name : m_names) {
      EXPECT_TRUE(shm_gone_within(name)) << "leaked /dev/shm/" << name;
    }
  }

 private:
  std::vector<std::string> m_names;
};

// ---- SharedMemory ------------------------------------------------------------------------

TEST_F(SharedMemoryTest, ABlockCreatedByTheParentIsSharedWithAChildThatAttachesByName) {
  mp::SharedMemory shm({.create = true, .size = 4096});
  track(shm.name());
  EXPECT_EQ(shm.name().rfind("psm_", 0), 0U) << shm.name();
  EXPECT_EQ(shm.size(), 4096U);
  EXPECT_EQ(shm.buf().size(), 4096U);
  std::memcpy(shm.buf().data(), "hello", 6);
  EXPECT_TRUE(shm_exists(shm.name()));

  const std::string name = shm.name();
  const pid_t child = fork_child([&]() -> int {
    mp::SharedMemory attached(name);
    if (attached.size() != 4096) return 1;
    if (std::memcmp(attached.buf().data(), "hello", 6) != 0) return 2;
    std::memcpy(attached.buf().data(), "world", 6);
    return 0;
  });
  EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(std::memcmp(shm.buf().data(), "world", 6), 0);
  shm.close();
  shm.unlink();
  EXPECT_FALSE(shm_exists(name));
}

TEST_F(SharedMemoryTest, AGivenNameIsUsedWithOrWithoutALeadingSlash) {
  const std::string name = track(unique_shm_name("slash"));
  mp::SharedMemory created({.name = "/" + name, .create = true, .size = 100});
  EXPECT_EQ(created.name(), name);
  mp::SharedMemory attached({.name = name, .size = 1});  // size is ignored when attaching
  EXPECT_EQ(attached.size(), 100U);
  created.buf()[99] = std::byte{42};
  EXPECT_EQ(attached.buf()[99], std::byte{42});
  attached.unlink();
}

TEST_F(SharedMemoryTest, MisuseAndMissingBlocksRaisePythonsErrors) {
  EXPECT_THROW(mp::SharedMemory({.create = true, .size = 0}), concur::ValueError);
  EXPECT_THROW(mp::SharedMemory(mp::SharedMemoryOptions{}), concur::ValueError);
  EXPECT_THROW(mp::SharedMemory(std::string("")), concur::ValueError);
  EXPECT_THROW(mp::SharedMemory(std::string("a/b")), concur::ValueError);
  const std::string name = track(unique_shm_name("errors"));
  EXPECT_THROW(mp::SharedMemory{name}, concur::FileNotFoundError);

  mp::SharedMemory shm({.name = name, .create = true, .size = 16});
  try {
    mp::SharedMemory again({.name = name, .create = true, .size = 16});
    ADD_FAILURE() << "a second create of the same name succeeded";
  } catch (const concur::FileExistsError& e) {
    EXPECT_EQ(e.code().value(), EEXIST);
  }
  shm.close();
  shm.close();  // idempotent
  EXPECT_TRUE(shm.closed());
  EXPECT_THROW((void)shm.buf(), concur::ValueError);
  EXPECT_EQ(shm.size(), 16U);
  shm.unlink();
  EXPECT_THROW(shm.unlink(), concur::FileNotFoundError);
}

TEST_F(SharedMemoryTest, MovingAHandleTransfersTheMapping) {
  mp::SharedMemory first({.create = true, .size = 64});
  track(first.name());
  first.buf()[0] = std::byte{7};
  mp::SharedMemory second(std::move(first));
  EXPECT_EQ(second.buf()[0], std::byte{7});
  second.unlink();
}

TEST_F(SharedMemoryTest, ABlockOfAProcessKilledBySigkillIsUnlinkedByTheTracker) {
  mp::Array<char> name_out(64);
  mp::Event created;
  const pid_t child = fork_child([&]() -> int {
    mp::SharedMemory shm({.create = true, .size = 1024});
    std::memcpy(name_out.get_obj().data(), shm.name().c_str(), shm.name().size() + 1);
    created.set();
    ::raise(SIGKILL);  // no destructor, no atexit: only the tracker can clean up
    return 1;
  });
  ASSERT_TRUE(created.wait(30s));
  const std::string name = track(name_out.get_obj().data());
  EXPECT_EQ(join_child(child), -SIGKILL);
  EXPECT_TRUE(shm_gone_within(name)) << name;
}

TEST_F(SharedMemoryTest, ABlockAProcessForgotToUnlinkIsUnlinkedWhenItExits) {
  mp::Array<char> name_out(64);
  const pid_t child = fork_child([&]() -> int {
    mp::SharedMemory shm({.create = true, .size = 1024});
    std::memcpy(name_out.get_obj().data(), shm.name().c_str(), shm.name().size() + 1);
    return 0;  // _exit without unlink()
  });
  EXPECT_EQ(join_child(child), 0);
  const std::string name = track(name_out.get_obj().data());
  EXPECT_TRUE(shm_gone_within(name)) << name;
}

TEST_F(SharedMemoryTest, AChildCanUseABlockItsParentCreatedAfterTheParentClosedIt) {
  mp::SharedMemory shm({.create = true, .size = 8});
  const std::string name = track(shm.name());
  mp::Event go;
  const pid_t child = fork_child([&]() -> int {
    if (!go.wait(30s)) return 1;
    shm.buf()[0] = std::byte{1};  // its own mapping, inherited through fork
    mp::SharedMemory again(name);
    return again.buf()[0] == std::byte{1} ? 0 : 2;
  });
  mp::SharedMemory keep(name);
  shm.close();  // the parent's close does not take the child's mapping away
  go.set();
  EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(keep.buf()[0], std::byte{1});
  keep.unlink();
}

// ---- Value -------------------------------------------------------------------------------

TEST(MultiprocessingValue, FourProcessesIncrementingUnderItsLockLoseNothing) {
  mp::Value<int> counter(0);
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.push_back(fork_child([&] {
      for (int i = 0; i < kIncrements; ++i) {
        std::scoped_lock hold(counter.get_lock());
        counter.set_value(counter.value() + 1);  // the RLock is re-entered by value()/set_value()
      }
    }));
  }
  for (pid_t child : children) EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(counter.value(), kProcesses * kIncrements);
}

TEST(MultiprocessingValue, HoldsAStructAndAChildsWriteIsSeenByTheParent) {
  struct Point {
    double x;
    double y;
  };
  mp::Value<Point> point({1.5, -2.0});
  EXPECT_EQ(point.value().x, 1.5);
  const pid_t child = fork_child([&] { point.set_value({3.0, 4.0}); });
  EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(point.value().x, 3.0);
  EXPECT_EQ(point.value().y, 4.0);
}

TEST(MultiprocessingValue, WithoutALockHasNoGetLock) {
  mp::Value<long> raw(7, {.lock = false});
  EXPECT_EQ(raw.value(), 7);
  raw.get_obj() = 8;
  EXPECT_EQ(raw.value(), 8);
  EXPECT_THROW((void)raw.get_lock(), concur::RuntimeError);
}

// ---- Array -------------------------------------------------------------------------------

TEST(MultiprocessingArray, IsInitializedAndSharedWithChildren) {
  mp::Array<int> numbers{1, 2, 3, 4};
  EXPECT_EQ(numbers.size(), 4U);
  mp::Array<double> zeros(3);
  EXPECT_EQ(zeros.to_vector(), (std::vector<double>{0.0, 0.0, 0.0}));
  const pid_t child = fork_child([&] {
    for (std::size_t i = 0; i < numbers.size(); ++i) numbers.set(i, numbers.get(i) * 10);
  });
  EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(numbers.to_vector(), (std::vector<int>{10, 20, 30, 40}));
  const std::vector<int> source{5, 6};
  mp::Array<int> copied(std::span<const int>(source), {.lock = false});
  EXPECT_EQ(copied.get_obj()[1], 6);
  EXPECT_THROW((void)copied.get_lock(), concur::RuntimeError);
  mp::Array<int> empty(std::size_t{0});
  EXPECT_EQ(empty.size(), 0U);
}

TEST(MultiprocessingArray, AnIndexOutOfRangeIsAnIndexError) {
  mp::Array<int> numbers(2);
  EXPECT_THROW((void)numbers.get(2), concur::IndexError);
  EXPECT_THROW(numbers.set(5, 1), concur::IndexError);
}

TEST(MultiprocessingArray, ConcurrentUpdatesUnderItsLockFromSeveralProcessesAddUp) {
  mp::Array<long> slots(2);
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.push_back(fork_child([&] {
      for (int i = 0; i < kIncrements / 2; ++i) {
        std::scoped_lock hold(slots.get_lock());
        slots.get_obj()[0] += 1;
        slots.get_obj()[1] += 2;
      }
    }));
  }
  for (pid_t child : children) EXPECT_EQ(join_child(child), 0);
  EXPECT_EQ(slots.get(0), long{kProcesses} * (kIncrements / 2));
  EXPECT_EQ(slots.get(1), 2 * long{kProcesses} * (kIncrements / 2));
}

}  // namespace
