// SPDX-License-Identifier: MIT
// SSLSession (one connection's OpenSSL state) and SSLObject (what it negotiated).
#include "session.hpp"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <new>

#include "context.hpp"

namespace concur::ssl::detail {

namespace {

/// The write BIO of every session: appends to the session's output string. (A memory BIO
/// would do, but taking its data means a copy or a reset that clears its whole buffer.)
BIO_METHOD* output_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "concur output");
    BIO_meth_set_write_ex(m, [](BIO* b, const char* data, std::size_t n, std::size_t* written) -> int {
      try {
        static_cast<std::string*>(BIO_get_data(b))->append(data, n);
      } catch (...) {
        return 0;
      }
      *written = n;
      return 1;
    });
    BIO_meth_set_ctrl(m, [](BIO*, int cmd, long, void*) -> long { return cmd == BIO_CTRL_FLUSH ? 1 : 0; });
    BIO_meth_set_create(m, [](BIO* b) -> int {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

bool is_ip_address(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

SSLSession::SSLSession(const SSLContext& ctx, bool server_side, std::optional<std::string> server_hostname)
    : m_context(ctx.impl()), m_server_hostname(std::move(server_hostname)), m_server_side(server_side) {
  if (!server_side && m_context->check_hostname && (!m_server_hostname || m_server_hostname->empty())) {
    throw ValueError("check_hostname requires server_hostname");
  }
  if (server_side && m_context->protocol != Protocol::PROTOCOL_TLS_SERVER) {
    throw ValueError("a server needs a PROTOCOL_TLS_SERVER context (create_default_context(Purpose::CLIENT_AUTH))");
  }
  if (!server_side && m_context->protocol != Protocol::PROTOCOL_TLS_CLIENT) {
    throw ValueError("a client needs a PROTOCOL_TLS_CLIENT context (create_default_context(Purpose::SERVER_AUTH))");
  }
  ERR_clear_error();
  m_ssl = SSL_new(m_context->ctx);
  if (m_ssl == nullptr) throw_ssl_error("failed to allocate an SSL object");
  m_in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(output_method());
  if (m_in == nullptr || out == nullptr) {
    BIO_free(m_in);
    BIO_free(out);
    SSL_free(m_ssl);
    throw std::bad_alloc();
  }
  BIO_set_mem_eof_return(m_in, -1);  // empty: "retry", not EOF (the socket's EOF is the transport's)
  BIO_set_data(out, &m_out);
  SSL_set_bio(m_ssl, m_in, out);
  if (server_side) {
    SSL_set_accept_state(m_ssl);
    return;
  }
  SSL_set_connect_state(m_ssl);
  if (m_server_hostname && !m_server_hostname->empty()) {
    const bool ip = is_ip_address(*m_server_hostname);
    // SNI carries names only (RFC 6066), as Python sends it.
    if (!ip) SSL_set_tlsext_host_name(m_ssl, m_server_hostname->c_str());
    if (m_context->check_hostname) {
      X509_VERIFY_PARAM* param = SSL_get0_param(m_ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, m_server_hostname->c_str())
                        : X509_VERIFY_PARAM_set1_host(param, m_server_hostname->c_str(), 0);
      if (ok != 1) {
        SSL_free(m_ssl);
        throw_ssl_error("invalid server_hostname");
      }
    }
  }
}

SSLSession::~SSLSession() { SSL_free(m_ssl); }

void SSLSession::feed(const char* data, std::size_t n) {
  std::size_t written = 0;
  if (n > 0 && BIO_write_ex(m_in, data, n, &written) != 1) throw std::bad_alloc();
}

void SSLSession::clear_output() noexcept {
  m_out.clear();
  // A bulk write leaves a large buffer: an idle connection keeps at most a record's worth.
  if (m_out.capacity() > 64 * 1024) m_out.shrink_to_fit();
}

SSLSession::Result SSLSession::do_handshake() {
  if (m_handshake_done) return Result::ok;
  ERR_clear_error();
  const int r = SSL_do_handshake(m_ssl);
  if (r == 1) {
    m_handshake_done = true;
    return Result::ok;
  }
  return status(r);
}

bool SSLSession::write(const char* data, std::size_t n) {
  ERR_clear_error();
  std::size_t written = 0;
  if (SSL_write_ex(m_ssl, data, n, &written) == 1) return true;
  (void)status(0);
  return false;
}

void SSLSession::shutdown() {
  if (m_shutdown_sent) return;
  m_shutdown_sent = true;
  ERR_clear_error();
  (void)SSL_shutdown(m_ssl);  // 0: close_notify queued, the peer's not seen yet (not awaited)
  ERR_clear_error();
}

SSLSession::Result SSLSession::status(int ret) {
  const int e = SSL_get_error(m_ssl, ret);
  switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:  // not with these BIOs; treated as "more input needed"
      return Result::want_read;
    case SSL_ERROR_ZERO_RETURN:
      return Result::closed;
    default:
      break;
  }
  const unsigned long code = ERR_peek_error();
  const long verify = SSL_get_verify_result(m_ssl);
  if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK) {
    ERR_clear_error();
    std::string message;
    const std::string host = m_server_hostname.value_or("");
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH) {
      message = fmt::format("Hostname mismatch, certificate is not valid for '{}'.", host);
    } else if (verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      message = fmt::format("IP address mismatch, certificate is not valid for '{}'.", host);
    } else {
      message = X509_verify_cert_error_string(verify);
    }
    m_error = std::make_exception_ptr(SSLCertVerificationError(verify, message));
    return Result::failed;
  }
  m_error = ssl_error_from_queue();
  if (!m_error) {
    m_error = std::make_exception_ptr(SSLError("SSL", "UNEXPECTED_EOF_WHILE_READING",
                                               "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol"));
  }
  return Result::failed;
}

namespace {

std::string utf8(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  const int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) return {};
  std::string text(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return text;
}

std::vector<std::pair<std::string, std::string>> name_entries(const X509_NAME* name) {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    char key[128];
    OBJ_obj2txt(key, sizeof key, X509_NAME_ENTRY_get_object(entry), 0);
    out.emplace_back(key, utf8(X509_NAME_ENTRY_get_data(entry)));
  }
  return out;
}

std::string time_text(const ASN1_TIME* t) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  ASN1_TIME_print(bio, t);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return text;
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  const unsigned char* p = ASN1_STRING_get0_data(ip);
  const int len = ASN1_STRING_length(ip);
  if (len == 4) return fmt::format("{}.{}.{}.{}", p[0], p[1], p[2], p[3]);
  if (len == 16) {  // Python's form: eight upper-case groups, no "::"
    std::string out;
    for (int i = 0; i < 16; i += 2) out += fmt::format("{}{:X}", i == 0 ? "" : ":", (p[i] << 8) | p[i + 1]);
    return out;
  }
  return "<invalid>";
}

Certificate decode(X509* cert) {
  Certificate c;
  c.subject = name_entries(X509_get_subject_name(cert));
  c.issuer = name_entries(X509_get_issuer_name(cert));
  c.version = X509_get_version(cert) + 1;
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      c.serialNumber = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  c.notBefore = time_text(X509_get0_notBefore(cert));
  c.notAfter = time_text(X509_get0_notAfter(cert));
  if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      switch (n->type) {
        case GEN_DNS: c.subjectAltName.emplace_back("DNS", utf8(n->d.dNSName)); break;
        case GEN_IPADD: c.subjectAltName.emplace_back("IP Address", ip_text(n->d.iPAddress)); break;
        case GEN_URI: c.subjectAltName.emplace_back("URI", utf8(n->d.uniformResourceIdentifier)); break;
        case GEN_EMAIL: c.subjectAltName.emplace_back("email", utf8(n->d.rfc822Name)); break;
        default: break;
      }
    }
    GENERAL_NAMES_free(names);
  }
  return c;
}

}  // namespace

}  // namespace concur::ssl::detail

namespace concur::ssl {

std::optional<std::string> SSLObject::version() const {
  if (!m_session->handshake_done()) return std::nullopt;
  return std::string(SSL_get_version(m_session->ssl()));
}

std::optional<Cipher> SSLObject::cipher() const {
  const SSL_CIPHER* c = m_session->handshake_done() ? SSL_get_current_cipher(m_session->ssl()) : nullptr;
  if (c == nullptr) return std::nullopt;
  return Cipher{SSL_CIPHER_get_name(c), SSL_CIPHER_get_version(c), SSL_CIPHER_get_bits(c, nullptr)};
}

std::optional<std::string> SSLObject::selected_alpn_protocol() const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(m_session->ssl(), &p, &len);
  if (p == nullptr || len == 0) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(p), len);
}

std::optional<Certificate> SSLObject::getpeercert() const {
  X509* cert = SSL_get1_peer_certificate(m_session->ssl());
  if (cert == nullptr) return std::nullopt;
  std::optional<Certificate> out;
  if ((SSL_get_verify_mode(m_session->ssl()) & SSL_VERIFY_PEER) == 0) {
    out.emplace();  // not verified: Python's {}
  } else {
    out = detail::decode(cert);
  }
  X509_free(cert);
  return out;
}

std::optional<std::string> SSLObject::getpeercert_der() const {
  X509* cert = SSL_get1_peer_certificate(m_session->ssl());
  if (cert == nullptr) return std::nullopt;
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  X509_free(cert);
  if (n < 0) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

bool SSLObject::server_side() const noexcept { return m_session->server_side(); }
std::optional<std::string> SSLObject::server_hostname() const { return m_session->server_hostname(); }

}  // namespace concur::ssl
