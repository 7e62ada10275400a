// SPDX-License-Identifier: MIT
// concur/multiprocessing/connection.hpp — Pipe() and Connection, as in
// multiprocessing.connection.
//
// `auto [a, b] = mp::Pipe();` returns two connected Connection objects. Whatever one end
// send()s, the other recv()s, as whole messages: each message is framed with a length header,
// so a recv never sees half a message or two glued together. Objects are encoded by
// serialize.hpp (large contiguous blocks travel in a shared-memory file whose descriptor is
// passed beside the message, not through the socket byte by byte); send_bytes/recv_bytes
// carry raw bytes. Both ends survive fork(): create the pipe, start a Process that takes one
// end as an argument (under both start methods; `std::move(end)` hands it over and closes the
// parent's, see reduction.hpp) or inherits it through fork, and talk.
//
// Mirrors: multiprocessing.Pipe(duplex=True) and Connection.send, recv, send_bytes,
// recv_bytes, recv_bytes_into, poll, close, closed, readable, writable, fileno.
//
// Errors (as in Python): recv on a connection whose peer is closed (or died) and has nothing
// left to read -> EOFError; send to a closed peer -> BrokenPipeError; any operation on a
// closed Connection, a recv on a write-only end or a send on a read-only end -> OSError;
// recv_bytes(maxlength) of a longer message -> OSError("bad message length"), decided on the
// message's header before any of its body is read (the connection is then closed); the peer
// closing in the middle of a message -> OSError; a message that does not decode as the type
// asked for (or is corrupt) -> SerializationError. A message's declared length is never
// trusted for memory: what a recv holds grows with the bytes that really arrived.
//
// Thread safety: as in Python, one Connection is not safe to use from several threads at once
// (two concurrent recv calls could each get half of a message). Guard it with a lock, or give
// each thread its own Pipe. Different Connections are independent.
//
// Differences from Python: recv is a template, `conn.recv<T>()`: the receiver states the type
// it expects (a C++ value has a static type; the message carries a fingerprint of the sender's
// type, and a mismatch is a SerializationError rather than a wrong value). Both ends are Unix
// stream sockets even when duplex = false (Python uses os.pipe() there): a socket is what can
// carry the shared-memory descriptors; the unused directions are shut down.
#pragma once

#include <concur/export.hpp>
#include <concur/multiprocessing/reduction.hpp>
#include <concur/multiprocessing/serialize.hpp>
#include <concur/timeout.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace concur::multiprocessing {

/// One end of a Pipe(), Python's multiprocessing.connection.Connection (see the file comment).
class CONCUR_API Connection {
 public:
  /// A closed connection.
  Connection() noexcept = default;
  /// Takes ownership of a connected Unix stream socket.
  Connection(detail::UniqueFd socket, bool readable, bool writable) noexcept
      : m_fd(std::move(socket)), m_readable(readable), m_writable(writable) {}
  /// Movable (the moved-from end is closed), not copyable.
  /// @{
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  /// @}
  ~Connection() = default;

  /// Sends one object. Throws OSError (closed, read-only), BrokenPipeError (peer gone).
  template <class T>
  void send(const T& obj) {
    check_writable();
    send_payload(serialize(obj));
  }
  /// Blocks for the next message and decodes it as a T. Throws EOFError when the peer has
  /// closed and nothing is left, SerializationError when the message is not a T, OSError.
  template <class T>
  T recv() {
    Payload p = recv_payload();
    return deserialize<T>(p);
  }

  /// Sends `buf[offset, offset + size)` (the rest of buf when size is nullopt) as one message.
  /// Throws ValueError when the range is outside buf; otherwise as send().
  void send_bytes(std::string_view buf, std::size_t offset = 0, std::optional<std::size_t> size = std::nullopt);
  /// Blocks for the next message and returns its bytes. Throws OSError when it is longer than
  /// `maxlength` (the connection is then closed, as in Python), EOFError, OSError.
  std::string recv_bytes(std::optional<std::size_t> maxlength = std::nullopt);
  /// Receives the next message into `buf` at `offset`; returns its length. Throws
  /// BufferTooShort (the message is then lost, as in Python it is kept in the exception)
  /// when it does not fit; EOFError, OSError.
  std::size_t recv_bytes_into(std::span<std::byte> buf, std::size_t offset = 0);

  /// Whether a message (or EOF) is ready to be read: waits up to `timeout` (default: do not
  /// wait; std::nullopt: wait forever). Throws OSError when closed or write-only.
  bool poll(std::optional<Timeout> timeout = Timeout::zero()) const;

  /// Closes this end (idempotent); the peer then sees EOF.
  void close() noexcept { m_fd.reset(); }
  /// Whether close() was called (Python: `closed`).
  [[nodiscard]] bool closed() const noexcept { return !m_fd; }
  /// Whether this end can recv() (Python: `readable`).
  [[nodiscard]] bool readable() const noexcept { return m_readable; }
  /// Whether this end can send() (Python: `writable`).
  [[nodiscard]] bool writable() const noexcept { return m_writable; }
  /// The socket descriptor (to poll several connections at once). OSError when closed.
  [[nodiscard]] int fileno() const;

  /// A handle, in a child, of the end another process reduced (reduction.hpp): it owns the
  /// descriptor handed to the child.
  Connection(from_reduction_t, detail::InputArchive& ar) { load(ar); }
  /// A Connection crosses into a Process as an argument (its descriptor is duplicated and
  /// handed to the child), as in Python; moved into the Process (std::move), the caller's end
  /// is closed (see reduction.hpp). OSError when closed.
  void reduce(detail::OutputArchive& ar) const { save(ar); }

  /// The same encoding as reduce(), for a Connection inside a Process argument (a container
  /// of them). It cannot be sent over another Connection.
  void save(detail::OutputArchive& ar) const {
    const std::uint64_t index = ar.attach_fd(fileno());
    ar(index, m_readable, m_writable);
  }
  /// The receiving side of save(): takes the descriptor handed to the child.
  void load(detail::InputArchive& ar) {
    std::uint64_t index = 0;
    ar(index, m_readable, m_writable);
    m_fd = ar.take_fd(index);
  }

  /// Sends an already encoded value (used by the queues). Same errors as send(); ValueError
  /// when the value carries descriptors (a Connection).
  void send_payload(const Payload& payload);
  /// Receives one encoded value without decoding it. Same errors as recv().
  Payload recv_payload();

 private:
  void check_writable() const;
  void check_readable() const;

  detail::UniqueFd m_fd;  // the socket; empty when closed
  bool m_readable = false;
  bool m_writable = false;
};

/// A pair of connected Connections. duplex (default): both ends send and receive. Otherwise
/// the first end only receives and the second only sends, as in Python. Throws OSError.
CONCUR_API std::pair<Connection, Connection> Pipe(bool duplex = true);

}  // namespace concur::multiprocessing
