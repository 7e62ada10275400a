// SPDX-License-Identifier: MIT
// The state of a Server (private to src/asyncio/): its listening handles, the connections it
// accepted, and the tasks waiting for it to close. See concur/asyncio/streams.hpp.
#pragma once

#include <uv.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "concur/asyncio/streams.hpp"
#include "stream_transport.hpp"

namespace concur::asyncio::detail {

class ServerState {
 public:
  /// One listening socket. Deleted by its close callback; `server` is null once detached.
  struct Listener {
    union {
      uv_handle_t handle;
      uv_stream_t stream;
      uv_tcp_t tcp;
      uv_pipe_t pipe;
    };
    ServerState* server = nullptr;
  };

  ServerState(EventLoop& loop, ClientConnected cb, const ServerOptions& options, StreamTransport::Kind kind);
  ~ServerState();
  ServerState(const ServerState&) = delete;
  ServerState& operator=(const ServerState&) = delete;

  /// A new listener with an initialised handle (for TCP, a socket of `family` already made).
  Listener& add_listener(int family);
  void start_serving();
  void close() noexcept;
  void close_clients(bool abort) noexcept;
  void client_closed(StreamTransport& t) noexcept;

  EventLoop& m_loop;
  std::shared_ptr<const ClientConnected> m_cb;  // shared with the client tasks (captures live here)
  std::size_t m_limit;
  int m_backlog;
  StreamTransport::Kind m_kind;
  std::vector<Listener*> m_listeners;     // open listening handles; cleared by close()
  std::string m_unix_path;                // a Unix-domain server's socket file, removed by close()
  StreamTransport* m_clients = nullptr;   // connections accepted and not yet closed (intrusive)
  std::size_t m_client_count = 0;
  IoWaitList m_close_waiters;             // serve_forever(): fired by close()
  IoWaitList m_gone_waiters;              // wait_closed(): fired when closed and no client is left
  bool m_serving = false;
  bool m_closed = false;
  bool m_serving_forever = false;
  bool m_loop_closed = false;             // EventLoop::close() closed it: m_loop is gone
  LoopHandle m_loop_handle{&on_loop_close, this};  // linked to the loop until close()

 private:
  static void on_connection(uv_stream_t* listener, int status) noexcept;
  static void on_loop_close(LoopHandle* h) noexcept;  // EventLoop::close(): close()
  void accept(Listener& l) noexcept;
};

}  // namespace concur::asyncio::detail
