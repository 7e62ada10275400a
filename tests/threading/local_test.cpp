// SPDX-License-Identifier: MIT
// Tests for concur/threading/local.hpp: local<T>.
#include "concur/threading/local.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "concur/threading/event.hpp"
#include "concur/threading/thread.hpp"

namespace th = concur::threading;

namespace {

// Counts live instances, to check values are destroyed.
struct Tracked {
  static inline std::atomic<int> alive{0};
  int value = 0;
  Tracked() { alive.fetch_add(1); }
  explicit Tracked(int v) : value(v) { alive.fetch_add(1); }
  Tracked(const Tracked& other) : value(other.value) { alive.fetch_add(1); }
  Tracked(Tracked&& other) noexcept : value(other.value) { alive.fetch_add(1); }
  Tracked& operator=(const Tracked&) = default;
  ~Tracked() { alive.fetch_sub(1); }
};

TEST(Local, EachThreadSeesItsOwnValue) {
  th::local<int> value;
  *value = 1;
  int other_saw = -1;
  std::thread([&] {
    other_saw = value.get();  // fresh, default-constructed
    value.get() = 2;
  }).join();
  EXPECT_EQ(other_saw, 0);
  EXPECT_EQ(*value, 1);
}

TEST(Local, AFactoryBuildsEachThreadsValueInThatThread) {
  th::local<std::uint64_t> made_by([] { return th::get_ident(); });
  std::uint64_t in_thread = 0;
  std::uint64_t ident = 0;
  th::Thread t([&] {
    in_thread = made_by.get();
    ident = th::get_ident();
  });
  t.start();
  t.join();
  EXPECT_EQ(in_thread, ident);
  EXPECT_EQ(made_by.get(), th::get_ident());
}

TEST(Local, ArrowAndStarReachTheValue) {
  th::local<std::string> text;
  text->append("abc");
  EXPECT_EQ(*text, "abc");
  EXPECT_EQ(text->size(), 3u);
}

TEST(Local, AThreadsValueIsDestroyedWhenTheThreadExits) {
  const int before = Tracked::alive.load();
  th::local<Tracked> tracked;
  th::Event created;
  th::Event finish;
  std::thread worker([&] {
    tracked->value = 7;
    created.set();
    finish.wait();
  });
  created.wait();
  EXPECT_EQ(Tracked::alive.load(), before + 1);
  finish.set();
  worker.join();
  EXPECT_EQ(Tracked::alive.load(), before);
}

TEST(Local, AConcurThreadsValueIsDestroyedBeforeJoinReturns) {
  const int before = Tracked::alive.load();
  th::local<Tracked> tracked;
  th::Thread worker([&] { tracked->value = 3; });
  worker.start();
  worker.join();
  EXPECT_EQ(Tracked::alive.load(), before);
}

TEST(Local, DestroyingTheLocalDestroysEveryThreadsValue) {
  const int before = Tracked::alive.load();
  th::Event created;
  th::Event finish;
  auto tracked = std::make_unique<th::local<Tracked>>([] { return Tracked(5); });
  std::thread worker([&] {
    EXPECT_EQ((*tracked)->value, 5);
    created.set();
    finish.wait();  // the thread outlives the local
  });
  created.wait();
  EXPECT_EQ((*tracked)->value, 5);
  EXPECT_EQ(Tracked::alive.load(), before + 2);
  tracked.reset();
  EXPECT_EQ(Tracked::alive.load(), before);
  finish.set();
  worker.join();
  EXPECT_EQ(Tracked::alive.load(), before);
}

TEST(Local, ManyLocalsAndThreadsKeepTheirValuesApart) {
  std::vector<std::unique_ptr<th::local<int>>> locals;
  for (int i = 0; i < 100; ++i) locals.push_back(std::make_unique<th::local<int>>());
  std::atomic<bool> mixed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (std::size_t i = 0; i < locals.size(); ++i) locals[i]->get() = t * 1000 + static_cast<int>(i);
        for (std::size_t i = 0; i < locals.size(); ++i) {
          if (locals[i]->get() != t * 1000 + static_cast<int>(i)) mixed = true;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(mixed.load());
}

TEST(Local, ShortLivedLocalsInALongLivedThreadDoNotLeakValues) {
  const int before = Tracked::alive.load();
  for (int i = 0; i < 300; ++i) {
    th::local<Tracked> tracked;
    tracked->value = i;
  }
  EXPECT_EQ(Tracked::alive.load(), before);
}

}  // namespace
