// SPDX-License-Identifier: MIT
// examples/cookbook/asyncio_downloader.cpp — download files with asyncio: at most --limit at a
// time (an asyncio::Semaphore), each under a timeout (asyncio::wait_for), all gathered with
// return_exceptions so that one failure does not hide the others' results.
// docs/cookbook/asyncio-downloader.md shows it beside the Python original.
//
//   cookbook_asyncio_downloader [--files N] [--limit N] [--timeout-ms MS]
//
// The files come from a local HTTP server that the program starts in its own event loop on
// 127.0.0.1. Two URLs fail on purpose (a 404 and one that answers after the timeout). The
// program checks every body, that no more than --limit downloads ever ran at once, and that the
// two failures are the expected ones; it exits with 1 otherwise.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <concur/asyncio.hpp>

#include "common/args.hpp"
#include "cookbook/local_http.hpp"

namespace asyncio = concur::asyncio;
using asyncio::Task;

namespace {

struct Limits {
  asyncio::Semaphore semaphore;
  int active = 0;  // downloads holding the semaphore now (the loop's thread only)
  int peak = 0;    // the most at once
};

/// GET on an open connection: the body, or RuntimeError("HTTP Error 404: Not Found").
Task<std::string> get(asyncio::StreamReader& reader, asyncio::StreamWriter& writer, std::string path) {
  writer.write(fmt::format("GET {} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path));
  co_await writer.drain();
  const std::string response = co_await reader.read();  // HTTP/1.0: to the end of the connection
  cookbook::check_status(response.substr(0, response.find("\r\n")));
  const std::size_t end_of_head = response.find("\r\n\r\n");
  if (end_of_head == std::string::npos) throw concur::RuntimeError("malformed HTTP response");
  co_return response.substr(end_of_head + 4);
}

/// Python's `reader, writer = await open_connection(...)` then `try: ... finally: writer.close();
/// await writer.wait_closed()`.
Task<std::string> fetch(std::uint16_t port, std::string path) {
  auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", port);
  co_return co_await asyncio::closing(writer, get(reader, writer, std::move(path)));
}

Task<std::string> download(Limits& limits, std::uint16_t port, std::string path, std::chrono::milliseconds timeout) {
  auto held = co_await limits.semaphore.scoped();  // Python: async with semaphore:
  limits.peak = std::max(limits.peak, ++limits.active);
  try {
    std::string body = co_await asyncio::wait_for(fetch(port, std::move(path)), timeout);
    --limits.active;
    co_return body;
  } catch (...) {
    --limits.active;
    throw;
  }
}

Task<int> main_task(int files, int limit, std::chrono::milliseconds timeout) {
  asyncio::Server server = co_await asyncio::start_server(cookbook::serve_file, "127.0.0.1", 0);
  std::vector<std::string> urls;
  for (int i = 1; i <= files; ++i) urls.push_back(fmt::format("/files/{}", 1000 * i));
  urls.push_back("/missing");  // 404
  urls.push_back("/slow/10");  // answers after 30 s: the timeout hits first

  Limits limits{.semaphore = asyncio::Semaphore(limit)};
  std::vector<Task<std::string>> downloads;
  for (const std::string& url : urls) downloads.push_back(download(limits, server.port(), url, timeout));
  const auto results = co_await asyncio::gather(asyncio::return_exceptions, std::move(downloads));

  int downloaded = 0;
  int wrong = 0;
  std::vector<std::string> failures;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (const std::string* data = std::get_if<std::string>(&results[i])) {
      fmt::print("{}: {} bytes\n", urls[i], data->size());
      ++downloaded;
      if (*data != cookbook::file_body(data->size()) || urls[i] != fmt::format("/files/{}", data->size())) ++wrong;
    } else {
      const std::exception_ptr& error = std::get<std::exception_ptr>(results[i]);
      fmt::print("{} failed: {}: {}\n", urls[i], concur::exception_type_name(error), concur::exception_message(error));
      failures.push_back(concur::exception_type_name(error));
    }
  }
  server.close();
  server.close_clients();
  co_await server.wait_closed();

  fmt::print("{} downloaded, {} failed; at most {} at once (limit {})\n", downloaded, failures.size(), limits.peak, limit);
  const bool as_expected = downloaded == files && wrong == 0 && limits.peak <= limit &&
                           failures == std::vector<std::string>{"concur::RuntimeError", "concur::TimeoutError"};
  if (!as_expected) fmt::print("UNEXPECTED outcome\n");
  co_return as_expected ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int files = 20;
  int limit = 5;
  int timeout_ms = 3000;
  for (int i = 1; i < argc; i += 2) {  // option, value
    const std::string_view arg = argv[i];
    // The option's value, or 0 when it is missing or not a number from 1 to 100000.
    const int value = i + 1 < argc ? examples::parse_integer<int>(argv[i + 1], 1, 100000).value_or(0) : 0;
    if (arg == "--files" && value > 0) {
      files = value;
    } else if (arg == "--limit" && value > 0) {
      limit = value;
    } else if (arg == "--timeout-ms" && value > 0) {
      timeout_ms = value;
    } else {
      fmt::print(stderr, "usage: cookbook_asyncio_downloader [--files N] [--limit N] [--timeout-ms MS]\n");
      return 2;
    }
  }
  try {
    return asyncio::run(main_task(files, limit, std::chrono::milliseconds(timeout_ms)));
  } catch (const std::exception& e) {
    fmt::print(stderr, "cookbook_asyncio_downloader: {}\n", e.what());
    return 1;
  }
}
