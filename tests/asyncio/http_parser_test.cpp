// SPDX-License-Identifier: MIT
// Tests of examples/common/http_parser.hpp, the request parser of examples/http_server.cpp:
// valid requests, pipelining, every error status, and random bytes that must never crash it.
#include "../../examples/common/http_parser.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace {

// The request's header list lives in the parser: keep one alive for the tests that read it.
http::RequestParser g_parser;

http::Result parse(std::string_view data, http::Request& req) { return g_parser.parse(data, req); }

int error_of(std::string_view data, http::Limits limits = {}) {
  http::Request req;
  http::RequestParser parser(limits);
  http::Result r = parser.parse(data, req);
  return r.status == http::Status::error ? r.error_status : 0;
}

TEST(HttpParser, ParsesASimpleGetWithItsHeaders) {
  http::Request req;
  const std::string data = "GET /index.html?q=1 HTTP/1.1\r\nHost: example\r\nUser-Agent:  curl/7 \r\n\r\n";
  http::Result r = parse(data, req);
  ASSERT_EQ(r.status, http::Status::complete);
  EXPECT_EQ(r.consumed, data.size());
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/index.html?q=1");
  EXPECT_EQ(req.minor_version, 1);
  ASSERT_EQ(req.headers.size(), 2u);
  EXPECT_EQ(req.header("user-agent"), "curl/7");
  EXPECT_EQ(req.header("HOST"), "example");
  EXPECT_TRUE(req.keep_alive);
  EXPECT_TRUE(req.body.empty());
}

TEST(HttpParser, WaitsForMoreDataAtEveryCutOfAValidRequest) {
  const std::string data = "POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
  for (std::size_t cut = 0; cut < data.size(); ++cut) {
    http::Request req;
    EXPECT_EQ(parse(std::string_view(data).substr(0, cut), req).status, http::Status::incomplete) << cut;
  }
  http::Request req;
  http::Result r = parse(data, req);
  ASSERT_EQ(r.status, http::Status::complete);
  EXPECT_EQ(req.body, "hello");
}

TEST(HttpParser, ParsesPipelinedRequestsOneAfterAnother) {
  std::string data;
  // Appends, not "literal" + std::string: g++ 12 -O3 reports a false -Wrestrict on that (GCC PR 105329).
  for (int i = 0; i < 16; ++i) data.append("GET /").append(std::to_string(i)).append(" HTTP/1.1\r\nHost: h\r\n\r\n");
  http::RequestParser parser;
  std::string_view rest = data;
  for (int i = 0; i < 16; ++i) {
    http::Request req;
    http::Result r = parser.parse(rest, req);
    ASSERT_EQ(r.status, http::Status::complete);
    EXPECT_EQ(req.target, std::string("/").append(std::to_string(i)));
    rest.remove_prefix(r.consumed);
  }
  EXPECT_TRUE(rest.empty());
}

TEST(HttpParser, KeepAliveFollowsTheVersionAndTheConnectionHeader) {
  http::Request req;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", req).status, http::Status::complete);
  EXPECT_FALSE(req.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", req).status, http::Status::complete);
  EXPECT_FALSE(req.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", req).status, http::Status::complete);
  EXPECT_TRUE(req.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade, close\r\n\r\n", req).status,
            http::Status::complete);
  EXPECT_FALSE(req.keep_alive);
}

TEST(HttpParser, SkipsEmptyLinesBeforeARequest) {
  http::Request req;
  const std::string data = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  http::Result r = parse(data, req);
  ASSERT_EQ(r.status, http::Status::complete);
  EXPECT_EQ(r.consumed, data.size());
}

TEST(HttpParser, AnswersMalformedRequestsWith400) {
  for (std::string_view bad : {
           "GET\r\n\r\n", "GET / \r\n\r\n", " / HTTP/1.1\r\nHost: h\r\n\r\n", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
           "GET / HTTP/1.1\r\nNoColon\r\n\r\n", "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
           "GET / HTTP/1.1\r\nHost : h\r\n\r\n", "GET / HTTP/1.1\r\n: empty\r\n\r\n", "GET / HTTP/1.1\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "GET / HTTPS/1.1\r\nHost: h\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 12x\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
           "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", "GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\x7f\r\n\r\n"}) {
    EXPECT_EQ(error_of(bad), 400) << bad;
  }
}

TEST(HttpParser, RejectsGarbageBeforeTheLineEnds) {
  EXPECT_EQ(error_of("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 400);  // a TLS ClientHello
  EXPECT_EQ(error_of("GET /a\x01"), 400);
  EXPECT_EQ(error_of("GET / HTTX"), 400);
  EXPECT_EQ(error_of("GET / HTTP/1.1"), 0);  // still a valid prefix
}

TEST(HttpParser, RejectsBadHeaderBytesBeforeTheHeaderSectionEnds) {
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: h\r\nX-A: b\x01"), 400);
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHo st"), 400);
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: h\rX"), 400);  // a bare CR
  EXPECT_EQ(error_of("GET / HTTP/1.1\rX"), 400);
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: h\r\nX-A: b"), 0);  // still a valid prefix
  EXPECT_EQ(error_of("\r"), 0);  // perhaps the start of an empty line before a request
  EXPECT_EQ(error_of("\rGET"), 400);
}

TEST(HttpParser, ChecksEveryByteOfAFieldValueWhereverItStands) {
  // Values long enough for the word-at-a-time scan, with one byte changed at every position:
  // a control byte (other than HTAB) or DEL is 400; HTAB and obs-text (0x80-0xff) are allowed.
  const std::string value(40, 'v');
  for (std::size_t at = 0; at < value.size(); ++at) {
    for (int byte = 0; byte < 256; ++byte) {
      std::string v = value;
      v[at] = static_cast<char>(byte);
      const std::string data = "GET / HTTP/1.1\r\nHost: h\r\nX-V: " + v + "\r\n\r\n";
      const bool allowed = byte == '\t' || (byte >= 0x20 && byte != 0x7f);
      http::Request req;
      http::RequestParser parser;
      const http::Result r = parser.parse(data, req);
      if (!allowed) {
        ASSERT_EQ(r.status, http::Status::error) << at << " " << byte;
        ASSERT_EQ(r.error_status, 400) << at << " " << byte;
        continue;
      }
      ASSERT_EQ(r.status, http::Status::complete) << at << " " << byte;
      std::string expected = v;  // surrounding whitespace is not part of the value
      while (!expected.empty() && (expected.back() == ' ' || expected.back() == '\t')) expected.pop_back();
      while (!expected.empty() && (expected.front() == ' ' || expected.front() == '\t')) expected.erase(0, 1);
      ASSERT_EQ(req.header("x-v"), expected) << at << " " << byte;
    }
  }
}

TEST(HttpParser, AnswersUnsupportedVersionsWith505AndTransferCodingsWith501) {
  EXPECT_EQ(error_of("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(error_of("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
}

TEST(HttpParser, AnswersHeadersOverTheLimitWith431) {
  http::Limits limits{.max_header_bytes = 256, .max_headers = 4, .max_body = 100};
  std::string big = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(300, 'a') + "\r\n\r\n";
  EXPECT_EQ(error_of(big, limits), 431);
  // Before the end of the headers arrives, too: the parser never buffers past the limit.
  EXPECT_EQ(error_of(std::string_view(big).substr(0, 280), limits), 431);
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 5; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(error_of(many + "\r\n", limits), 431);
  EXPECT_EQ(error_of("GET /" + std::string(300, 'u') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits), 414);
  EXPECT_EQ(error_of("GET /" + std::string(300, 'u'), limits), 414);
}

TEST(HttpParser, AnswersBodiesOverTheLimitWith413BeforeReadingThem) {
  http::Limits limits{.max_header_bytes = 8192, .max_headers = 64, .max_body = 100};
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n", limits), 413);
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", limits), 413);
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n", limits), 0);
}

TEST(HttpParser, NeverCrashesOrOverrunsOnRandomBytes) {
  std::mt19937 rng(12345);
  const std::string valid = "GET /path HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  http::RequestParser parser({.max_header_bytes = 512, .max_headers = 8, .max_body = 64});
  for (int i = 0; i < 20000; ++i) {
    std::string data;
    if (i % 2 == 0) {  // pure noise, biased towards the bytes HTTP cares about
      const std::size_t n = rng() % 600;
      const char alphabet[] = "GET /HTP1.0\r\n: \t,Content-Length9\x01\x7f\xff";
      for (std::size_t k = 0; k < n; ++k) {
        data += (rng() % 4 == 0) ? static_cast<char>(rng() & 0xff) : alphabet[rng() % (sizeof alphabet - 1)];
      }
    } else {  // a valid request with a few bytes mutated, inserted or dropped
      data = valid;
      for (int m = 0, mutations = 1 + static_cast<int>(rng() % 4); m < mutations; ++m) {
        const std::size_t at = rng() % (data.size() + 1);
        switch (rng() % 3) {
          case 0: if (at < data.size()) data[at] = static_cast<char>(rng() & 0xff); break;
          case 1: data.insert(at, 1, static_cast<char>(rng() & 0xff)); break;
          default: if (at < data.size()) data.erase(at, 1); break;
        }
      }
    }
    // Copy into an exactly sized heap buffer so that ASan catches any read past the end.
    std::unique_ptr<char[]> exact(new char[data.size() + 1]);
    std::copy(data.begin(), data.end(), exact.get());
    const std::string_view view(exact.get(), data.size());
    http::Request req;
    http::Result r = parser.parse(view, req);
    switch (r.status) {
      case http::Status::complete:
        ASSERT_LE(r.consumed, view.size());
        ASSERT_GE(req.body.data(), view.data());
        ASSERT_LE(req.body.data() + req.body.size(), view.data() + view.size());
        break;
      case http::Status::error:
        ASSERT_TRUE(r.error_status == 400 || r.error_status == 413 || r.error_status == 414 ||
                    r.error_status == 431 || r.error_status == 501 || r.error_status == 505)
            << r.error_status;
        break;
      case http::Status::incomplete:
        ASSERT_LE(view.size(), 512u + 64u + 2u) << "incomplete beyond every limit";
        break;
    }
  }
}

}  // namespace
