// SPDX-License-Identifier: MIT
// Private helpers of concur::asyncio's networking (src/asyncio/ only): the libuv loop of an
// EventLoop, libuv errors as Python-named exceptions, socket addresses.
#pragma once

#include <uv.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "concur/asyncio/events.hpp"
#include "concur/asyncio/task.hpp"
#include "concur/asyncio/transports.hpp"

namespace concur::asyncio::detail {

/// The uv_loop_t an EventLoop runs on.
uv_loop_t* uv_loop_of(EventLoop& loop) noexcept;
/// The EventLoop running a uv_loop_t (set by the core in uv_loop_t::data).
inline EventLoop& event_loop_of(uv_loop_t* loop) noexcept { return *static_cast<EventLoop*>(loop->data); }

/// Throws the Python-named exception for libuv error `err` (negative errno or UV_EAI_*).
[[noreturn]] void throw_uv_error(int err, const std::string& what);
/// The same exception, as an exception_ptr.
std::exception_ptr uv_error_ptr(int err, const std::string& what);
/// A sockaddr (IPv4, IPv6) as an Address.
Address to_address(const sockaddr* sa);

/// The addresses `host` (a name, or a numeric IPv4/IPv6 address, resolved without the thread
/// pool) has for `port`. `passive`: for bind() (AI_PASSIVE). OSError if it does not resolve.
Task<std::vector<sockaddr_storage>> resolve(EventLoop& loop, std::string host, std::uint16_t port, bool passive);

}  // namespace concur::asyncio::detail
