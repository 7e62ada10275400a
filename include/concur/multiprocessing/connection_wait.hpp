// SPDX-License-Identifier: MIT
// concur/multiprocessing/connection_wait.hpp — multiprocessing.connection.wait(): wait for any
// of several Connections, process sentinels and file descriptors to become ready.
//
//   namespace connection = concur::multiprocessing::connection;
//   for (const connection::Waitable& r : connection::wait({results, worker, some_fd}, 5s)) {
//     if (r == worker) { ... }                        // the worker process has ended
//     else if (Connection* c = r.connection()) c->recv<Message>();
//   }
//
// Python's wait(object_list, timeout=None) returns the objects of object_list that are ready,
// in a list, empty when the timeout passed first. Here the objects are Waitables, made
// implicitly from
//   * a Connection: ready when a message (or EOF: the peer closed or died) can be read;
//   * a Process: ready once it has ended (Python passes p.sentinel; that works too);
//   * an int file descriptor: ready when readable (a socket, a pipe, p.sentinel()).
// wait() returns the ready ones in the order given; a range of any of these (a
// std::vector<Connection>, a std::vector<int>, ...) works as well as a braced list. It is the
// standard way to serve several workers and notice one that died: wait on their connections
// and their processes together.
//
// Errors: OSError for a closed or write-only Connection and for a descriptor that is not open
// (EBADF; Python's selectors raise there too), ValueError for a negative descriptor and for a
// Process not started. A negative or zero timeout only looks (as Python's); std::nullopt waits
// for as long as it takes.
//
// Thread safety: as for the objects waited on: a Connection that another thread reads may be
// reported ready and then drained by that thread first. Lifetime: a Waitable refers to its
// Connection (it does not own it); it keeps a Process's sentinel descriptor number only.
#pragma once

#include <concur/export.hpp>
#include <concur/multiprocessing/connection.hpp>
#include <concur/multiprocessing/process.hpp>
#include <concur/timeout.hpp>

#include <concepts>
#include <initializer_list>
#include <optional>
#include <ranges>
#include <span>
#include <vector>

namespace concur::multiprocessing::connection {

/// One object wait() can watch: a Connection, a Process (its sentinel) or a file descriptor.
class Waitable {
 public:
  /// A Connection, ready when a message or EOF can be read.
  Waitable(Connection& conn) noexcept : m_connection(&conn) {}  // NOLINT(google-explicit-constructor)
  /// A Process, ready once it has ended. ValueError before start().
  Waitable(const Process& process) : m_fd(process.sentinel()) {}  // NOLINT(google-explicit-constructor)
  /// A file descriptor, ready when readable.
  Waitable(int fd) noexcept : m_fd(fd) {}  // NOLINT(google-explicit-constructor)

  /// The Connection this stands for, or null for a Process or a descriptor.
  [[nodiscard]] Connection* connection() const noexcept { return m_connection; }
  /// The descriptor watched (the Connection's socket, the Process's sentinel). OSError for a
  /// closed Connection.
  [[nodiscard]] int fileno() const { return m_connection != nullptr ? m_connection->fileno() : m_fd; }

  /// Same Connection, or same descriptor (a Process compares equal to its sentinel).
  friend bool operator==(const Waitable& a, const Waitable& b) noexcept {
    if (a.m_connection != nullptr || b.m_connection != nullptr) return a.m_connection == b.m_connection;
    return a.m_fd == b.m_fd;
  }

 private:
  Connection* m_connection = nullptr;
  int m_fd = -1;  // when not a Connection
};

/// The objects of `objects` that are ready, in their order; empty when `timeout` passed first
/// (std::nullopt: wait until one is ready). Errors as the file comment says.
CONCUR_API std::vector<Waitable> wait(std::span<const Waitable> objects, std::optional<Timeout> timeout = std::nullopt);

/// wait({conn, process, fd, ...}, timeout).
inline std::vector<Waitable> wait(std::initializer_list<Waitable> objects, std::optional<Timeout> timeout = std::nullopt) {
  return wait(std::span<const Waitable>(objects.begin(), objects.size()), timeout);
}

/// wait() over any range of Connections, Processes or descriptors (e.g. std::vector<Connection>).
template <std::ranges::input_range Range>
  requires std::convertible_to<std::ranges::range_reference_t<Range>, Waitable> &&
           (!std::convertible_to<Range, std::span<const Waitable>>)
std::vector<Waitable> wait(Range&& objects, std::optional<Timeout> timeout = std::nullopt) {
  std::vector<Waitable> all;
  for (auto&& object : objects) all.emplace_back(object);
  return wait(std::span<const Waitable>(all), timeout);
}

}  // namespace concur::multiprocessing::connection
