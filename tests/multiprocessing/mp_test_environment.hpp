// SPDX-License-Identifier: MIT
// A GoogleTest environment for the multiprocessing tests of process, pool, connection and
// the ProcessPoolExecutor. It runs before the first test, so that what it starts belongs to
// every test's baseline in the leak check of tests/support/test_main.cpp:
//   * the fork server (a child process with one socket) — started here, before any thread
//     exists, as docs/multiprocessing.md recommends for main();
//   * under ThreadSanitizer, its background thread, which it starts at the first
//     pthread_create and keeps for the life of the process (one thread, created and joined;
//     a no-op when the test main has already started it).
#pragma once

#include <concur/multiprocessing/context.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace concur_mp_test {

class Environment : public testing::Environment {
 public:
  void SetUp() override {
    concur::multiprocessing::forkserver::ensure_running();
    std::thread([] {}).join();
  }
};

inline testing::Environment* const environment = testing::AddGlobalTestEnvironment(new Environment);

}  // namespace concur_mp_test
