// SPDX-License-Identifier: MIT
// examples/cookbook/threaded_downloader.cpp — download files on a ThreadPoolExecutor and handle
// each as it completes (Python's `{executor.submit(download, url): url for url in urls}` and
// `as_completed`). docs/cookbook/threaded-downloader.md shows it beside the Python original.
//
//   cookbook_threaded_downloader [--files N] [--timeout-ms MS]
//
// The files come from a local HTTP server that the program starts on 127.0.0.1 (nothing
// leaves the machine). Two of the URLs fail on purpose: one is missing (404), one answers too
// late (the client's timeout). The program checks every body it got and exits with 1 if any
// file is wrong or an outcome is not the expected one.
#include <fmt/core.h>

#include <chrono>
#include <exception>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <concur/futures.hpp>

#include "common/args.hpp"
#include "cookbook/local_http.hpp"

namespace futures = concur::futures;
using namespace std::chrono_literals;

namespace {

// A blocking download, as urllib's: it runs in a pool thread.
std::string download(std::uint16_t port, std::string path, std::chrono::milliseconds timeout) {
  return cookbook::http_get(port, path, timeout);
}

int run(int files, std::chrono::milliseconds timeout) {
  cookbook::BackgroundServer server;  // the local "internet"
  std::vector<std::string> urls;
  for (int i = 1; i <= files; ++i) urls.push_back(fmt::format("/files/{}", 1000 * i));
  urls.push_back("/missing");  // 404
  urls.push_back("/slow/10");  // answers after 30 s: the timeout hits first

  int downloaded = 0;
  int failed = 0;
  int wrong = 0;
  {
    futures::ThreadPoolExecutor pool({.max_workers = 8});
    std::map<futures::Future<std::string>, std::string> jobs;
    for (const std::string& url : urls) jobs.emplace(pool.submit(download, server.port(), url, timeout), url);

    for (const futures::Future<std::string>& future : futures::as_completed(jobs)) {
      const std::string& url = jobs.at(future);
      try {
        const std::string data = future.result();
        fmt::print("{}: {} bytes\n", url, data.size());
        ++downloaded;
        if (data != cookbook::file_body(data.size()) || url != fmt::format("/files/{}", data.size())) ++wrong;
      } catch (const std::exception&) {
        const std::exception_ptr error = std::current_exception();
        fmt::print("{} failed: {}: {}\n", url, concur::exception_type_name(error), concur::exception_message(error));
        ++failed;
      }
    }
  }  // the pool's destructor is shutdown(wait = true), as Python's `with` block
  server.stop();

  fmt::print("{} downloaded, {} failed\n", downloaded, failed);
  const bool as_expected = downloaded == files && failed == 2 && wrong == 0;
  if (!as_expected) fmt::print("UNEXPECTED: expected {} downloads and 2 failures, {} wrong bodies\n", files, wrong);
  return as_expected ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int files = 20;
  int timeout_ms = 3000;
  for (int i = 1; i < argc; i += 2) {  // option, value
    const std::string_view arg = argv[i];
    // The option's value, or 0 when it is missing or not a number from 1 to 100000.
    const int value = i + 1 < argc ? examples::parse_integer<int>(argv[i + 1], 1, 100000).value_or(0) : 0;
    if (arg == "--files" && value > 0) {
      files = value;
    } else if (arg == "--timeout-ms" && value > 0) {
      timeout_ms = value;
    } else {
      fmt::print(stderr, "usage: cookbook_threaded_downloader [--files N] [--timeout-ms MS]\n");
      return 2;
    }
  }
  try {
    return run(files, std::chrono::milliseconds(timeout_ms));
  } catch (const std::exception& e) {
    fmt::print(stderr, "cookbook_threaded_downloader: {}\n", e.what());
    return 1;
  }
}
