// SPDX-License-Identifier: MIT
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

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

namespace detail {

/// Byte classes, one table lookup per byte (the parser runs on every request of the server, so
/// its per-byte loops are its cost).
enum CharClass : std::uint8_t {
  k_tchar = 1,         ///< RFC 9110 tchar: the characters of a token (method, header name)
  k_target_char = 2,   ///< allowed in a request-target: neither a control, SP nor DEL
  k_value_char = 4,    ///< allowed in a field value: HTAB, SP, VCHAR, obs-text (no control, no DEL)
};
constexpr std::array<std::uint8_t, 256> make_char_classes() noexcept {
  std::array<std::uint8_t, 256> t{};
  for (unsigned u = 0; u < 256; ++u) {
    const char c = static_cast<char>(u);
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    bool tchar = alnum;
    for (char x : std::string_view("!#$%&'*+-.^_`|~")) tchar = tchar || c == x;
    t[u] = static_cast<std::uint8_t>((tchar ? k_tchar : 0) | (u > 0x20 && u != 0x7f ? k_target_char : 0) |
                                     ((u >= 0x20 || u == '\t') && u != 0x7f ? k_value_char : 0));
  }
  return t;
}
inline constexpr std::array<std::uint8_t, 256> k_char_classes = make_char_classes();
constexpr bool has_class(char c, CharClass k) noexcept { return (k_char_classes[static_cast<unsigned char>(c)] & k) != 0; }
constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// The first byte in [p, end) that may not appear in a field value (a control other than HTAB,
/// or DEL; CR ends a well-formed value), or `end`. Eight bytes at a time: the lowest byte of a
/// word that is below 0x20 or equal to 0x7f is found from bit tricks on the word (the lowest
/// flagged byte of each test is exact; only bytes above it can be flagged by a borrow).
inline const char* scan_field_value(const char* p, const char* end) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    constexpr std::uint64_t ones = 0x0101010101010101u;
    constexpr std::uint64_t high = 0x8080808080808080u;
    while (end - p >= 8) {
      std::uint64_t w = 0;
      std::memcpy(&w, p, 8);
      const std::uint64_t x = w ^ (ones * 0x7f);
      const std::uint64_t flagged = (((w - ones * 0x20) & ~w) | ((x - ones) & ~x)) & high;
      if (flagged == 0) {
        p += 8;
        continue;
      }
      p += std::countr_zero(flagged) / 8;
      if (*p != '\t') return p;
      ++p;  // HTAB is allowed
    }
  }
  while (p < end && has_class(*p, k_value_char)) ++p;
  return p;
}

}  // namespace detail

/// ASCII case-insensitive equality (header names, "close", "keep-alive").
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && detail::ascii_lower(a[i]) != detail::ascii_lower(b[i])) return false;
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
  // A field line takes at least 4 bytes ("a:" CRLF): no request has more fields than that allows.
  explicit RequestParser(Limits limits = {})
      : m_limits(limits), m_headers(std::min(limits.max_headers, limits.max_header_bytes / 4 + 1)) {}

  /// Parses the request at the start of `data` into `out`. See the file comment.
  ///
  /// One pass over the header section, checking each byte as it is met, so that a request is
  /// read once and a bad one is answered as soon as its first bad byte arrives (a client
  /// cannot make the server buffer garbage up to the limit). The pass stops at
  /// `max_header_bytes` from the start of `data`: running into that bound is 414 in the
  /// request line and 431 after it; running out of data before it is "incomplete".
  Result parse(std::string_view data, Request& out) {
    const char* p = data.data();
    const bool capped = data.size() > m_limits.max_header_bytes;
    const char* const end = p + std::min(data.size(), m_limits.max_header_bytes);
    auto more = [capped](int status) -> Result {
      if (!capped) return {};
      return status == 414 ? error(414, "URI Too Long") : error(431, "Request Header Fields Too Large");
    };

    // Empty lines a client may send between requests are skipped.
    while (p < end && *p == '\r') {
      if (end - p < 2) return more(414);
      if (p[1] != '\n') return bad_request();
      p += 2;
    }

    // Request line: method SP request-target SP HTTP-version CRLF. Each byte is checked as the
    // separator after it is looked for (a byte that belongs to neither makes the line bad).
    const char* const method = p;
    while (p < end && is_tchar(*p)) ++p;
    if (p == end) return more(414);
    if (*p != ' ' || p == method) return bad_request();
    out.method = {method, static_cast<std::size_t>(p - method)};
    const char* const target = ++p;
    while (p < end && detail::has_class(*p, detail::k_target_char)) ++p;
    if (p == end) return more(414);
    if (*p != ' ' || p == target) return bad_request();
    out.target = {target, static_cast<std::size_t>(p - target)};
    ++p;
    // "HTTP/" DIGIT "." DIGIT CRLF, checked as far as it has arrived.
    constexpr std::string_view k_version = "HTTP/1.1\r\n";
    const bool whole_line = static_cast<std::size_t>(end - p) >= k_version.size();
    if (!whole_line || std::memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '1' && p[7] != '0') || p[8] != '\r' ||
        p[9] != '\n') {
      // Not HTTP/1.1 or HTTP/1.0 (the common cases, compared at once above): which error, or
      // is it a prefix of a valid line?
      const auto version_bytes = std::min<std::size_t>(static_cast<std::size_t>(end - p), k_version.size());
      for (std::size_t i = 0; i < version_bytes; ++i) {
        if (i == 5 || i == 7 ? !is_digit(p[i]) : p[i] != k_version[i]) return bad_request();
      }
      if (!whole_line) return more(414);
      return error(505, "HTTP Version Not Supported");
    }
    out.minor_version = p[7] - '0';
    p += k_version.size();

    // Header fields: token ":" OWS value OWS CRLF, up to the empty line.
    std::size_t header_count = 0;
    bool has_length = false, has_encoding = false, has_host = false;
    bool close = false, keep_alive = false;
    std::size_t length = 0;
    for (;;) {
      if (p == end) return more(431);
      if (*p == '\r') {  // the empty line that ends the section
        if (end - p < 2) return more(431);
        if (p[1] != '\n') return bad_request();
        p += 2;
        break;
      }
      if (header_count == m_headers.size()) return error(431, "Request Header Fields Too Large");
      // The name's characters are checked as the colon is looked for (this also rejects
      // obs-fold and whitespace before the colon).
      const char* const name = p;
      while (p < end && is_tchar(*p)) ++p;
      if (p == end) return more(431);
      if (*p != ':' || p == name) return bad_request();
      const std::string_view name_view{name, static_cast<std::size_t>(p - name)};
      ++p;
      while (p < end && (*p == ' ' || *p == '\t')) ++p;
      const char* const value = p;
      p = detail::scan_field_value(p, end);
      if (p == end) return more(431);
      if (*p != '\r') return bad_request();  // a control byte, DEL or a bare LF
      if (end - p < 2) return more(431);
      if (p[1] != '\n') return bad_request();  // a bare CR
      const char* value_end = p;
      while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) --value_end;
      p += 2;
      Header& h = m_headers[header_count++];
      h = {name_view, {value, static_cast<std::size_t>(value_end - value)}};
      // The size first: most fields are none of these, and the comparison is then skipped.
      const std::size_t n = h.name.size();
      if (n == 14 && token_is(h.name, "content-length")) {
        std::size_t n = 0;
        if (h.value.empty()) return bad_request();
        for (char c : h.value) {
          if (!is_digit(c)) return bad_request();
          if (n > (SIZE_MAX - 9) / 10) return error(413, "Content Too Large");
          n = n * 10 + static_cast<std::size_t>(c - '0');
        }
        if (has_length && n != length) return bad_request();
        has_length = true;
        length = n;
      } else if (n == 17 && token_is(h.name, "transfer-encoding")) {
        has_encoding = true;
      } else if (n == 4 && token_is(h.name, "host")) {
        if (has_host) return bad_request();
        has_host = true;
      } else if (n == 10 && token_is(h.name, "connection")) {
        for_each_token(h.value, [&](std::string_view token) {
          if (iequals(token, "close")) close = true;
          if (iequals(token, "keep-alive")) keep_alive = true;
        });
      }
    }
    if (has_length && has_encoding) return bad_request();
    if (has_encoding) return error(501, "Not Implemented");
    if (out.minor_version == 1 && !has_host) return bad_request();
    if (length > m_limits.max_body) return error(413, "Content Too Large");
    out.headers = std::span<const Header>(m_headers.data(), header_count);
    out.keep_alive = out.minor_version == 1 ? !close : (keep_alive && !close);

    // Body: exactly Content-Length bytes.
    const auto head_size = static_cast<std::size_t>(p - data.data());
    if (data.size() - head_size < length) return {};
    out.body = {p, length};
    return {Status::complete, head_size + length, 0, {}};
  }

 private:
  static Result error(int status, std::string_view reason) noexcept { return {Status::error, 0, status, reason}; }
  static Result bad_request() noexcept { return error(400, "Bad Request"); }
  static constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
  /// RFC 9110 tchar: the characters of a token (method, header name).
  static constexpr bool is_tchar(char c) noexcept { return detail::has_class(c, detail::k_tchar); }
  /// iequals(name, lower) for a `name` of tchars and a `lower` of lowercase letters and '-': for
  /// a tchar c, c | 0x20 is such a character exactly when c is it in either case.
  static bool token_is(std::string_view name, std::string_view lower) noexcept {
    if (name.size() != lower.size()) return false;
    std::size_t i = 0;
    for (; i + 4 <= name.size(); i += 4) {  // four bytes at a time
      std::uint32_t a = 0, b = 0;
      std::memcpy(&a, name.data() + i, 4);
      std::memcpy(&b, lower.data() + i, 4);
      if ((a | 0x20202020u) != b) return false;
    }
    for (; i < name.size(); ++i) {
      if (static_cast<char>(name[i] | 0x20) != lower[i]) return false;
    }
    return true;
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
  Limits m_limits;
  std::vector<Header> m_headers;  // max_headers entries: the last request's fields are its first ones
};

}  // namespace http
