// SPDX-License-Identifier: MIT
// concur/ssl.hpp — TLS contexts and their errors (Python's ssl module), on OpenSSL.
//
//   auto ctx = ssl::create_default_context(ssl::Purpose::SERVER_AUTH, {.cafile = "ca.pem"});
//   const asyncio::StreamOptions tls{.ssl = ctx};
//   auto [reader, writer] = co_await asyncio::open_connection("example.org", 443, tls);
//
//   auto server_ctx = ssl::create_default_context(ssl::Purpose::CLIENT_AUTH);
//   server_ctx.load_cert_chain("server.pem", "server.key");
//   const asyncio::ServerOptions server_tls{.ssl = server_ctx};
//   co_await asyncio::start_server(handle, "127.0.0.1", 8443, server_tls);
//
// The classes in this file:
//  * SSLContext — Python's ssl.SSLContext: certificates, trust anchors, verification mode,
//    hostname checking, protocol versions, ALPN and cipher list shared by many connections.
//    create_default_context() makes one with Python 3.13's secure defaults.
//  * SSLObject — Python's ssl.SSLObject as asyncio exposes it (`get_extra_info("ssl_object")`):
//    the negotiated version, cipher and ALPN protocol and the peer's certificate of one TLS
//    connection (StreamWriter::ssl_object()).
//  * Certificate, Cipher — what Python returns as getpeercert()'s dict and cipher()'s tuple.
//  * SSLError, SSLCertVerificationError — Python's exceptions, with OpenSSL's library and
//    reason ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has
//    expired"). They live here, with the module they belong to, as in Python.
//
// The TLS itself is OpenSSL's (libssl): concur only drives it through memory buffers from its
// event loop (see concur/asyncio/streams.hpp), as Python's asyncio does.
//
// Thread safety: an SSLContext may be used by connections on any number of loops and threads
// once configured; configuring it (load_*, set_*) while connections are being made from it on
// another thread is a data race, as with OpenSSL's SSL_CTX. An SSLObject belongs to its
// connection's loop thread.
// Lifetime: SSLContext and SSLObject are handles (copies share the same context or connection
// state); a connection keeps its context alive.
// Differences from Python: no wrap_socket()/SSLSocket (concur has no blocking sockets; TLS is
// for asyncio streams); contexts are made with the two protocols Python recommends
// (PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER); attributes are getter/setter pairs
// (`ctx.check_hostname()`, `ctx.set_check_hostname(false)`); the error messages omit Python's
// "(_ssl.c:NNNN)" suffix.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "concur/errors.hpp"
#include "concur/export.hpp"

namespace concur::ssl {

namespace detail {
struct ContextImpl;  // the SSL_CTX and its settings (src/ssl/context.hpp)
class SSLSession;    // one connection's SSL object and memory BIOs (src/ssl/session.hpp)
}  // namespace detail

// ---- errors ------------------------------------------------------------------------------

/// Python's ssl.SSLError (an OSError): a failure reported by OpenSSL. what() is Python's
/// message, "[LIBRARY: REASON] reason text" (e.g. "[SSL: WRONG_VERSION_NUMBER] wrong version
/// number"); library() and reason() are Python's `e.library` and `e.reason`.
class CONCUR_API SSLError : public OSError {
 public:
  /// `library` ("SSL", "X509", "PEM", ...; may be empty), `reason` (e.g. "CERTIFICATE_VERIFY_FAILED";
  /// may be empty) and the full message.
  SSLError(std::string library, std::string reason, const std::string& message);
  /// OpenSSL's library name ("SSL", "X509", ...), or "".
  [[nodiscard]] const std::string& library() const noexcept;
  /// OpenSSL's reason as Python spells it ("CERTIFICATE_VERIFY_FAILED"), or "".
  [[nodiscard]] const std::string& reason() const noexcept;

 private:
  struct Info {
    std::string library;
    std::string reason;
  };
  std::shared_ptr<const Info> m_info;  // shared: copies of an exception must not throw
};

/// Python's ssl.SSLCertVerificationError: the peer's certificate did not verify (also raised
/// for a hostname mismatch). verify_code() is OpenSSL's X509_V_ERR_* value, verify_message()
/// its text ("certificate has expired", "Hostname mismatch, certificate is not valid for
/// 'x'.").
class CONCUR_API SSLCertVerificationError : public SSLError {
 public:
  /// The error for OpenSSL's verify result `verify_code` and its text `verify_message`.
  SSLCertVerificationError(long verify_code, const std::string& verify_message);
  /// OpenSSL's X509_V_ERR_* value (Python's verify_code).
  [[nodiscard]] long verify_code() const noexcept { return m_code; }
  /// Its text, e.g. "certificate has expired" (Python's verify_message).
  [[nodiscard]] const std::string& verify_message() const noexcept;

 private:
  long m_code;
  std::shared_ptr<const std::string> m_message;
};

// ---- settings ----------------------------------------------------------------------------

/// Python's ssl.Purpose: what the peer's certificate is checked for. SERVER_AUTH makes a
/// client's context (it authenticates servers), CLIENT_AUTH a server's.
enum class Purpose : std::uint8_t { SERVER_AUTH, CLIENT_AUTH };

/// Python's ssl.PROTOCOL_TLS_CLIENT / PROTOCOL_TLS_SERVER.
enum class Protocol : std::uint8_t { PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER };
inline constexpr Protocol PROTOCOL_TLS_CLIENT = Protocol::PROTOCOL_TLS_CLIENT;
inline constexpr Protocol PROTOCOL_TLS_SERVER = Protocol::PROTOCOL_TLS_SERVER;

/// Python's ssl.VerifyMode.
enum class VerifyMode : std::uint8_t { CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED };
inline constexpr VerifyMode CERT_NONE = VerifyMode::CERT_NONE;
inline constexpr VerifyMode CERT_OPTIONAL = VerifyMode::CERT_OPTIONAL;
inline constexpr VerifyMode CERT_REQUIRED = VerifyMode::CERT_REQUIRED;

/// Python's ssl.TLSVersion (minimum_version / maximum_version).
enum class TLSVersion : std::uint8_t { MINIMUM_SUPPORTED, TLSv1, TLSv1_1, TLSv1_2, TLSv1_3, MAXIMUM_SUPPORTED };

/// Keyword arguments of create_default_context() and SSLContext::load_verify_locations().
struct VerifyLocations {
  std::optional<std::string> cafile = std::nullopt;  ///< a PEM file of trusted CA certificates
  std::optional<std::string> capath = std::nullopt;  ///< a directory of hashed CA certificates (c_rehash)
  std::optional<std::string> cadata = std::nullopt;  ///< PEM text of trusted CA certificates
};

/// A certificate as Python's getpeercert() returns it. The names are OpenSSL's long names, as
/// in Python: subject {("countryName", "FR"), ("commonName", "localhost")}, subjectAltName
/// {("DNS", "localhost"), ("IP Address", "127.0.0.1")}; dates as "Jan  1 00:00:00 2030 GMT".
struct Certificate {
  std::vector<std::pair<std::string, std::string>> subject;  ///< the subject's name, field by field
  std::vector<std::pair<std::string, std::string>> issuer;   ///< the issuer's name, field by field
  long version = 0;          ///< 3 for X.509 v3
  std::string serialNumber;  ///< upper-case hexadecimal
  std::string notBefore;  ///< start of validity, "Jan  1 00:00:00 2030 GMT"
  std::string notAfter;   ///< end of validity, same form
  std::vector<std::pair<std::string, std::string>> subjectAltName;  ///< ("DNS", name) and ("IP Address", address) entries
};

/// Python's SSLObject.cipher() tuple: (name, protocol, secret bits).
struct Cipher {
  std::string name;      ///< "TLS_AES_256_GCM_SHA384"
  std::string protocol;  ///< "TLSv1.3"
  int secret_bits = 0;   ///< the symmetric key's strength in bits (256)
};

// ---- SSLContext --------------------------------------------------------------------------

/// Python's ssl.SSLContext. See the file comment.
class CONCUR_API SSLContext {
 public:
  /// A context for clients (PROTOCOL_TLS_CLIENT: CERT_REQUIRED, check_hostname on, no trust
  /// anchors loaded) or servers (PROTOCOL_TLS_SERVER: CERT_NONE, check_hostname off), with
  /// Python's options: TLS 1.2 at least, no compression, no renegotiation, Python's cipher list.
  /// SSLError if OpenSSL cannot make one.
  explicit SSLContext(Protocol protocol);

  /// PROTOCOL_TLS_CLIENT or PROTOCOL_TLS_SERVER.
  [[nodiscard]] Protocol protocol() const noexcept;

  /// Loads this side's certificate chain (PEM: the certificate, then intermediates) and private
  /// key (from `keyfile`, or from `certfile` when absent); `password` decrypts an encrypted key.
  /// FileNotFoundError if a file is missing; SSLError if they do not parse or the key does not
  /// match the certificate ("[X509: KEY_VALUES_MISMATCH] key values mismatch").
  void load_cert_chain(const std::string& certfile, const std::optional<std::string>& keyfile = std::nullopt,
                       const std::optional<std::string>& password = std::nullopt);
  /// Adds trust anchors. ValueError if all three are empty; FileNotFoundError if `cafile` is
  /// missing; SSLError if nothing in it parses.
  void load_verify_locations(const VerifyLocations& locations);
  /// Trusts the system's CA store (OpenSSL's default paths, SSL_CERT_FILE / SSL_CERT_DIR).
  void set_default_verify_paths();

  /// Whether the peer's name is checked against server_hostname (clients).
  [[nodiscard]] bool check_hostname() const noexcept;
  /// As Python: turning it on with CERT_NONE switches verify_mode to CERT_REQUIRED.
  void set_check_hostname(bool enabled);
  /// Whether and how the peer's certificate is required and verified (Python's verify_mode).
  [[nodiscard]] VerifyMode verify_mode() const noexcept;
  /// ValueError("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.") as in Python.
  void set_verify_mode(VerifyMode mode);
  /// The oldest protocol version a handshake may settle on (Python's minimum_version).
  [[nodiscard]] TLSVersion minimum_version() const noexcept;
  /// ValueError for a version OpenSSL does not support.
  void set_minimum_version(TLSVersion version);
  /// The newest protocol version a handshake may settle on (Python's maximum_version).
  [[nodiscard]] TLSVersion maximum_version() const noexcept;
  /// Sets maximum_version(); ValueError for a version OpenSSL does not support.
  void set_maximum_version(TLSVersion version);
  /// The protocols offered (client) or accepted in this order of preference (server) by ALPN,
  /// e.g. {"h2", "http/1.1"}. ValueError for an empty or over-255-byte name.
  void set_alpn_protocols(const std::vector<std::string>& protocols);
  /// OpenSSL's cipher list for TLS 1.2 and below ("ECDHE+AESGCM:!aNULL"). SSLError("No cipher
  /// can be selected.") if it selects none. TLS 1.3's suites are not affected (as in Python).
  void set_ciphers(const std::string& ciphers);

  /// The context's state (internal).
  [[nodiscard]] const std::shared_ptr<detail::ContextImpl>& impl() const noexcept { return m_impl; }

 private:
  std::shared_ptr<detail::ContextImpl> m_impl;
};

/// Python's ssl.create_default_context(): SERVER_AUTH gives a client context
/// (PROTOCOL_TLS_CLIENT), CLIENT_AUTH a server context (PROTOCOL_TLS_SERVER). The given
/// locations are trusted; with none, the system's CA store is (set_default_verify_paths()).
/// Like Python 3.13, certificates are verified strictly (X509_STRICT) and partial chains
/// ending at a trusted intermediate are accepted.
CONCUR_API SSLContext create_default_context(Purpose purpose = Purpose::SERVER_AUTH, const VerifyLocations& locations = {});

// ---- SSLObject ---------------------------------------------------------------------------

/// One TLS connection's negotiated state (Python's ssl.SSLObject, read-only part).
class CONCUR_API SSLObject {
 public:
  /// Internal: the view of connection `s` (StreamWriter::ssl_object() makes it).
  explicit SSLObject(std::shared_ptr<detail::SSLSession> s) noexcept : m_session(std::move(s)) {}

  /// "TLSv1.3", "TLSv1.2", ...; nullopt before the handshake completed.
  [[nodiscard]] std::optional<std::string> version() const;
  /// The negotiated cipher; nullopt before the handshake completed.
  [[nodiscard]] std::optional<Cipher> cipher() const;
  /// The protocol ALPN selected, or nullopt if none was.
  [[nodiscard]] std::optional<std::string> selected_alpn_protocol() const;
  /// The peer's certificate: nullopt if it sent none; an empty Certificate if it was not
  /// verified (Python's {} under CERT_NONE).
  [[nodiscard]] std::optional<Certificate> getpeercert() const;
  /// The peer's certificate in DER form (Python's getpeercert(binary_form=True)), or nullopt.
  [[nodiscard]] std::optional<std::string> getpeercert_der() const;
  /// True on the server's side of the connection.
  [[nodiscard]] bool server_side() const noexcept;
  /// The name the client asked for (SNI and hostname check), if any.
  [[nodiscard]] std::optional<std::string> server_hostname() const;

 private:
  std::shared_ptr<detail::SSLSession> m_session;
};

}  // namespace concur::ssl
