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

#include <array>
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
/// The view of `n` bytes of `s` from `pos`, both within `s` (a substr without the range check
/// and its exception path: every position the parser cuts at is one it found in `s`).
constexpr std::string_view slice(std::string_view s, std::size_t pos, std::size_t n) noexcept {
  return {s.data() + pos, n};
}
/// The position of the first CRLF in `s` at or after `pos`, or npos (string_view::find with a
/// two-byte needle, without the generic search's per-candidate compare call).
inline std::size_t find_crlf(std::string_view s, std::size_t pos) noexcept {
  while (pos < s.size()) {
    const void* cr = std::memchr(s.data() + pos, '\r', s.size() - pos);
    if (cr == nullptr) break;
    const auto at = static_cast<std::size_t>(static_cast<const char*>(cr) - s.data());
    if (at + 1 < s.size() && s[at + 1] == '\n') return at;
    pos = at + 1;
  }
  return std::string_view::npos;
}
/// The position of the first CRLF CRLF in `s` (the end of a header section), or npos.
inline std::size_t find_head_end(std::string_view s) noexcept {
  for (std::size_t pos = 0;;) {
    const std::size_t at = find_crlf(s, pos);
    if (at == std::string_view::npos) return at;
    if (at + 3 < s.size() && s[at + 2] == '\r' && s[at + 3] == '\n') return at;
    pos = at + 2;  // the next candidate starts after this CRLF: its '\n' cannot start one
  }
}
/// True if every byte of `v` may appear in a field value (k_value_char). Eight bytes at a time:
/// a word with no byte below 0x20 and none equal to 0x7f is valid; any other word (a HTAB, or a
/// bad byte) is checked byte by byte.
inline bool valid_field_value(std::string_view v) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101u;
  constexpr std::uint64_t high = 0x8080808080808080u;
  std::size_t i = 0;
  for (; i + 8 <= v.size(); i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, v.data() + i, 8);
    const std::uint64_t below_space = (w - ones * 0x20) & ~w & high;  // some byte < 0x20
    const std::uint64_t x = w ^ (ones * 0x7f);
    const std::uint64_t del = (x - ones) & ~x & high;                  // some byte == 0x7f
    if ((below_space | del) == 0) continue;
    for (std::size_t k = i; k < i + 8; ++k) {
      if (!has_class(v[k], k_value_char)) return false;
    }
  }
  for (; i < v.size(); ++i) {
    if (!has_class(v[i], k_value_char)) return false;
  }
  return true;
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
  explicit RequestParser(Limits limits = {}) : m_limits(limits) { m_headers.reserve(16); }

  /// Parses the request at the start of `data` into `out`. See the file comment.
  Result parse(std::string_view data, Request& out) {
    // Skip the empty lines a client may send between requests.
    std::size_t start = 0;
    while (start + 1 < data.size() && data[start] == '\r' && data[start + 1] == '\n') start += 2;
    if (start > m_limits.max_header_bytes) return error(400, "Bad Request");
    const std::string_view rest = data.substr(start);
    const std::size_t end = detail::find_head_end(rest);
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
    const std::string_view head = detail::slice(rest, 0, end + 2);  // every line with its CRLF

    // Request line.
    std::size_t pos = detail::find_crlf(head, 0);
    const std::string_view line = detail::slice(head, 0, pos);
    pos += 2;
    // method SP: the method's characters are checked as the space is looked for (a byte that is
    // neither a tchar nor the space makes the line bad wherever the space is).
    std::size_t sp1 = 0;
    while (sp1 < line.size() && is_tchar(line[sp1])) ++sp1;
    if (sp1 == line.size() || line[sp1] != ' ' || sp1 == 0) return error(400, "Bad Request");
    // request-target SP: likewise (a control byte or DEL makes it bad).
    std::size_t sp2 = sp1 + 1;
    while (sp2 < line.size() && detail::has_class(line[sp2], detail::k_target_char)) ++sp2;
    if (sp2 == line.size() || line[sp2] != ' ' || sp2 == sp1 + 1) return error(400, "Bad Request");
    out.method = detail::slice(line, 0, sp1);
    out.target = detail::slice(line, sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = detail::slice(line, sp2 + 1, line.size() - sp2 - 1);
    if (version.size() != 8 || version[0] != 'H' || version[1] != 'T' || version[2] != 'T' || version[3] != 'P' ||
        version[4] != '/' || !is_digit(version[5]) || version[6] != '.' || !is_digit(version[7])) {
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
      const std::size_t eol = detail::find_crlf(head, pos);
      const std::string_view field = detail::slice(head, pos, eol - pos);
      pos = eol + 2;
      if (m_headers.size() == m_limits.max_headers) return error(431, "Request Header Fields Too Large");
      // token ":": the name's characters are checked as the colon is looked for (this also
      // rejects obs-fold and whitespace before the colon).
      std::size_t colon = 0;
      while (colon < field.size() && is_tchar(field[colon])) ++colon;
      if (colon == field.size() || field[colon] != ':' || colon == 0) return error(400, "Bad Request");
      Header h{detail::slice(field, 0, colon), trim(detail::slice(field, colon + 1, field.size() - colon - 1))};
      if (!detail::valid_field_value(h.value)) return error(400, "Bad Request");
      // The size first: most fields are none of these, and the comparison is then skipped.
      const std::size_t n = h.name.size();
      if (n == 14 && token_is(h.name, "content-length")) {
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
      } else if (n == 17 && token_is(h.name, "transfer-encoding")) {
        has_encoding = true;
      } else if (n == 4 && token_is(h.name, "host")) {
        if (has_host) return error(400, "Bad Request");
        has_host = true;
      } else if (n == 10 && token_is(h.name, "connection")) {
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
    out.body = detail::slice(rest, head_size, length);
    return {Status::complete, start + head_size + length, 0, {}};
  }

 private:
  static Result error(int status, std::string_view reason) noexcept { return {Status::error, 0, status, reason}; }
  static constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
  /// RFC 9110 tchar: the characters of a token (method, header name).
  static constexpr bool is_tchar(char c) noexcept { return detail::has_class(c, detail::k_tchar); }
  /// iequals(name, lower) for a `name` of tchars and a `lower` of lowercase letters and '-': for
  /// a tchar c, c | 0x20 is such a character exactly when c is it in either case.
  static constexpr bool token_is(std::string_view name, std::string_view lower) noexcept {
    if (name.size() != lower.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
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
