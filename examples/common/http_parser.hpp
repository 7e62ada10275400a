// examples/common/http_parser.hpp — the HTTP/1.1 request parser of examples/http_server.cpp.
//
// A pure function of the bytes received so far: parse(data) says that the data holds a
// complete request (and how many bytes it used), that more bytes are needed, or that the
// request is bad and which status answers it. It allocates nothing per request: the request's
// fields are string_views into `data`, the header list lives in the parser (reused), so a
// server can parse a pipelined batch straight out of its read buffer. It never reads outside
// `data`, whatever the bytes (tests/asyncio/http_parser_test.cpp feeds it random ones).
//
// What it accepts (RFC 9112, strictly, because leniency is where request smuggling lives):
//   request-line   = method SP request-target SP "HTTP/1." ("0" / "1") CRLF
//                    (empty lines before it are skipped, as RFC 9112 §2.2 recommends)
//   header-field   = token ":" OWS value OWS CRLF   (no obs-fold, no whitespace before ":")
//   body           = exactly Content-Length bytes
// and the answers it gives otherwise:
//   400 Bad Request        anything malformed, a bad or conflicting Content-Length, both
//                          Content-Length and Transfer-Encoding (a smuggling vector), no Host
//                          in an HTTP/1.1 request
//   414 URI Too Long       a request line longer than the header limit on its own
//   431 Request Header Fields Too Large   header section over `max_header_bytes`, or more than
//                          `max_headers` fields
//   413 Content Too Large  Content-Length over `max_body`
//   501 Not Implemented    any Transfer-Encoding (this example server does not take chunked
//                          uploads; RFC 9112 §6.1 says 501 for a coding it does not implement)
//   505 HTTP Version Not Supported   HTTP/2.0, HTTP/0.9, ...
//
// Connection persistence follows RFC 9112 §9.3: HTTP/1.1 keeps the connection unless
// "Connection: close"; HTTP/1.0 closes it unless "Connection: keep-alive".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace http {

/// The parser's limits (a request over one gets the error status named in the file comment).
struct Limits {
  std::size_t max_header_bytes = 8192;  ///< request line + header fields + the empty line
  std::size_t max_headers = 64;         ///< header fields
  std::size_t max_body = 1 << 20;       ///< Content-Length
};

struct Header {
  std::string_view name;   ///< as received (compare with iequals)
  std::string_view value;  ///< without surrounding whitespace
};

/// A parsed request: views into the data given to parse() and into the parser's header list,
/// valid until that data changes or parse() is called again.
struct Request {
  std::string_view method;
  std::string_view target;
  int minor_version = 1;  ///< HTTP/1.<minor_version>
  std::span<const Header> headers;
  std::string_view body;
  bool keep_alive = true;
  /// The first header named `name` (case-insensitive), or an empty view.
  [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
};

enum class Status : std::uint8_t {
  complete,    ///< a request was parsed; `consumed` bytes of the data belong to it
  incomplete,  ///< no error so far; call again with more data
  error,       ///< bad request; answer `error_status` and close the connection
};

struct Result {
  Status status = Status::incomplete;
  std::size_t consumed = 0;      ///< bytes of the request (status complete)
  int error_status = 0;          ///< 400, 413, 414, 431, 501 or 505 (status error)
  std::string_view error_reason; ///< a short text for the error response
};

/// ASCII case-insensitive equality (header names, "close", "keep-alive").
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

inline std::string_view Request::header(std::string_view name) const noexcept {
  for (const Header& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

/// The parser: limits plus a reusable header list. One per connection or per thread (it keeps
/// no state between calls except the list's capacity).
class RequestParser {
 public:
  explicit RequestParser(Limits limits = {}) : m_limits(limits) { m_headers.reserve(16); }

  /// Parses the request at the start of `data` into `out`. See the file comment.
  Result parse(std::string_view data, Request& out) {
    // Skip the empty lines a client may send between requests.
    std::size_t start = 0;
    while (start + 1 < data.size() && data[start] == '\r' && data[start + 1] == '\n') start += 2;
    if (start > m_limits.max_header_bytes) return error(400, "Bad Request");
    const std::string_view rest = data.substr(start);
    const std::size_t end = rest.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      // Reject early what can no longer become valid, so a client cannot make us buffer.
      const std::size_t line_end = rest.find("\r\n");
      if (line_end == std::string_view::npos) {
        if (rest.size() > m_limits.max_header_bytes) return error(414, "URI Too Long");
        if (!prefix_plausible(rest)) return error(400, "Bad Request");
      } else if (rest.size() + 2 > m_limits.max_header_bytes) {
        return error(431, "Request Header Fields Too Large");
      }
      return {};
    }
    const std::size_t head_size = end + 4;  // with the empty line
    if (head_size > m_limits.max_header_bytes) {
      const std::size_t line_end = rest.find("\r\n");
      if (line_end + 2 > m_limits.max_header_bytes) return error(414, "URI Too Long");
      return error(431, "Request Header Fields Too Large");
    }
    const std::string_view head = rest.substr(0, end + 2);  // every line with its CRLF

    // Request line.
    std::size_t pos = head.find("\r\n");
    const std::string_view line = head.substr(0, pos);
    pos += 2;
    const std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos || sp1 == 0) return error(400, "Bad Request");
    const std::size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return error(400, "Bad Request");
    out.method = line.substr(0, sp1);
    out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    for (char c : out.method) {
      if (!is_tchar(c)) return error(400, "Bad Request");
    }
    for (char c : out.target) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u == 0x7f) return error(400, "Bad Request");
    }
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) || version[6] != '.' ||
        !is_digit(version[7])) {
      return error(400, "Bad Request");
    }
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) return error(505, "HTTP Version Not Supported");
    out.minor_version = version[7] - '0';

    // Header fields.
    m_headers.clear();
    bool has_length = false, has_encoding = false, has_host = false;
    bool close = false, keep_alive = false;
    std::size_t length = 0;
    while (pos < head.size()) {
      const std::size_t eol = head.find("\r\n", pos);
      const std::string_view field = head.substr(pos, eol - pos);
      pos = eol + 2;
      if (m_headers.size() == m_limits.max_headers) return error(431, "Request Header Fields Too Large");
      const std::size_t colon = field.find(':');
      if (colon == std::string_view::npos || colon == 0) return error(400, "Bad Request");
      Header h{field.substr(0, colon), trim(field.substr(colon + 1))};
      for (char c : h.name) {
        if (!is_tchar(c)) return error(400, "Bad Request");  // also rejects obs-fold and " :"
      }
      for (char c : h.value) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) return error(400, "Bad Request");
      }
      if (iequals(h.name, "content-length")) {
        std::size_t n = 0;
        if (h.value.empty()) return error(400, "Bad Request");
        for (char c : h.value) {
          if (!is_digit(c)) return error(400, "Bad Request");
          if (n > (SIZE_MAX - 9) / 10) return error(413, "Content Too Large");
          n = n * 10 + static_cast<std::size_t>(c - '0');
        }
        if (has_length && n != length) return error(400, "Bad Request");
        has_length = true;
        length = n;
      } else if (iequals(h.name, "transfer-encoding")) {
        has_encoding = true;
      } else if (iequals(h.name, "host")) {
        if (has_host) return error(400, "Bad Request");
        has_host = true;
      } else if (iequals(h.name, "connection")) {
        for_each_token(h.value, [&](std::string_view token) {
          if (iequals(token, "close")) close = true;
          if (iequals(token, "keep-alive")) keep_alive = true;
        });
      }
      m_headers.push_back(h);
    }
    if (has_length && has_encoding) return error(400, "Bad Request");
    if (has_encoding) return error(501, "Not Implemented");
    if (out.minor_version == 1 && !has_host) return error(400, "Bad Request");
    if (length > m_limits.max_body) return error(413, "Content Too Large");
    out.headers = m_headers;
    out.keep_alive = out.minor_version == 1 ? !close : (keep_alive && !close);

    // Body.
    if (rest.size() - head_size < length) return {};
    out.body = rest.substr(head_size, length);
    return {Status::complete, start + head_size + length, 0, {}};
  }

 private:
  static Result error(int status, std::string_view reason) noexcept { return {Status::error, 0, status, reason}; }
  static constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
  /// RFC 9110 tchar: the characters of a token (method, header name).
  static constexpr bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
    switch (c) {
      case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
      case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
      default:
        return false;
    }
  }
  static constexpr std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }
  template <class F>
  static void for_each_token(std::string_view list, F&& fn) {
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      fn(trim(list.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  /// False when the start of a request line (no CRLF yet) already breaks the grammar, so a
  /// client sending garbage without line ends is answered at once, not at the size limit.
  static bool prefix_plausible(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size() && is_tchar(s[i])) ++i;
    if (i == s.size()) return true;
    if (s[i] != ' ' || i == 0) return false;
    for (++i; i < s.size(); ++i) {
      const auto u = static_cast<unsigned char>(s[i]);
      if (u == ' ') break;
      if (u < 0x20 || u == 0x7f) return false;
    }
    if (i == s.size()) return true;
    const std::string_view version = s.substr(i + 1);
    const std::string_view expected = "HTTP/1.1\r";
    for (std::size_t k = 0; k < version.size(); ++k) {
      if (k >= expected.size()) return false;
      if (k == 7 ? !is_digit(version[k]) : (k == 5 ? !is_digit(version[k]) : version[k] != expected[k])) return false;
    }
    return true;
  }

  Limits m_limits;
  std::vector<Header> m_headers;  // the last request's fields (reused: no allocation per request)
};

}  // namespace http
