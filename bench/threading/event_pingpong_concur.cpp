// SPDX-License-Identifier: MIT
// Event ping-pong round trip — concur::threading::Event. Peer: event_pingpong_std.cpp.
#include <benchmark/benchmark.h>

#include <concur/threading/event.hpp>

#include "pingpong.hpp"

namespace {

void event_pingpong_concur(benchmark::State& state) { bench::ping_pong<concur::threading::Event>(state); }
BENCHMARK(event_pingpong_concur)->UseRealTime();

}  // namespace
