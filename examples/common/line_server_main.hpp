// SPDX-License-Identifier: MIT
// examples/common/line_server_main.hpp — the command line shared by the line-based server
// examples (echo_server, chat_server):
//
//   NAME [--host H] [--port P]     serve until Ctrl-C
//   NAME --smoke                   serve the example's own clients, check, exit
#pragma once

#include <fmt/core.h>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "args.hpp"
#include "concur/asyncio.hpp"

namespace examples {

/// Parses the arguments and runs `serve(host, port)` or `smoke()` on a fresh loop; returns the
/// exit status: theirs, 2 for bad arguments (usage on stderr), 1 for an error that escaped.
template <class Serve, class Smoke>
int run_line_server(std::string_view name, std::uint16_t default_port, int argc, char** argv, Serve serve, Smoke smoke) {
  std::string host = "127.0.0.1";
  std::uint16_t port = default_port;
  bool smoke_test = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--smoke") {
      smoke_test = true;
    } else if (arg == "--host" && i + 1 < argc) {
      host = argv[++i];
    } else if (arg == "--port" && i + 1 < argc) {
      const std::string_view text = argv[++i];
      const std::optional<std::uint16_t> parsed = parse_port(text);
      if (!parsed) {
        fmt::print(stderr, "{}: --port needs a number from 0 to 65535, not '{}'\n", name, text);
        return 2;
      }
      port = *parsed;
    } else {
      fmt::print(stderr, "usage: {} [--host H] [--port P] [--smoke]\n", name);
      return 2;
    }
  }
  try {
    return smoke_test ? concur::asyncio::run(smoke()) : concur::asyncio::run(serve(host, port));
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", name, e.what());
    return 1;
  }
}

}  // namespace examples
