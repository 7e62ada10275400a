// SPDX-License-Identifier: MIT
// SSLContext, create_default_context, and OpenSSL's errors as Python's SSLError family.
#include "context.hpp"

#include <fmt/core.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace concur::ssl {

// ---- errors --------------------------------------------------------------------------------

SSLError::SSLError(std::string library, std::string reason, const std::string& message)
    : OSError(message), m_info(std::make_shared<const Info>(Info{std::move(library), std::move(reason)})) {}
const std::string& SSLError::library() const noexcept { return m_info->library; }
const std::string& SSLError::reason() const noexcept { return m_info->reason; }

SSLCertVerificationError::SSLCertVerificationError(long verify_code, const std::string& verify_message)
    : SSLError("SSL", "CERTIFICATE_VERIFY_FAILED",
               fmt::format("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {}", verify_message)),
      m_code(verify_code),
      m_message(std::make_shared<const std::string>(verify_message)) {}
const std::string& SSLCertVerificationError::verify_message() const noexcept { return *m_message; }

namespace detail {

namespace {

/// Python's name of an OpenSSL library ("SSL", "X509", ...).
std::string library_name(int lib) {
  switch (lib) {
    case ERR_LIB_SSL: return "SSL";
    case ERR_LIB_X509: return "X509";
    case ERR_LIB_X509V3: return "X509V3";
    case ERR_LIB_PEM: return "PEM";
    case ERR_LIB_SYS: return "SYS";
    case ERR_LIB_EVP: return "EVP";
    case ERR_LIB_ASN1: return "ASN1";
    case ERR_LIB_BIO: return "BIO";
    case ERR_LIB_RSA: return "RSA";
    case ERR_LIB_EC: return "EC";
    case ERR_LIB_PROV: return "PROV";
    default: return "";
  }
}

/// Python's reason mnemonic from OpenSSL's text ("wrong version number" -> WRONG_VERSION_NUMBER,
/// the name of the SSL_R_ constant, which Python's table gives).
std::string reason_name(const char* text) {
  std::string out;
  for (const char* p = text; *p != '\0'; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    out += std::isalnum(c) != 0 ? static_cast<char>(std::toupper(c)) : '_';
  }
  return out;
}

}  // namespace

std::exception_ptr ssl_error_from_queue() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return nullptr;
  ERR_clear_error();
  const char* text = ERR_reason_error_string(e);
  std::string library = library_name(ERR_GET_LIB(e));
  std::string reason = text != nullptr ? reason_name(text) : std::string();
  std::string message;
  if (ERR_GET_LIB(e) == ERR_LIB_SYS) {
    message = fmt::format("[SYS] {}", std::strerror(ERR_GET_REASON(e)));
  } else if (text == nullptr) {
    message = fmt::format("unknown error (OpenSSL error {:#x})", e);
  } else if (library.empty()) {
    message = text;
  } else {
    message = fmt::format("[{}: {}] {}", library, reason, text);
  }
  return std::make_exception_ptr(SSLError(std::move(library), std::move(reason), message));
}

void throw_ssl_error(const char* fallback) {
  if (std::exception_ptr e = ssl_error_from_queue()) std::rethrow_exception(e);
  throw SSLError("", "", fallback);
}

// Python's default cipher list for TLS 1.2 and below (Lib/ssl.py, _DEFAULT_CIPHERS).
constexpr const char* default_ciphers =
    "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM";

ContextImpl::ContextImpl(Protocol p) : protocol(p) {
  ERR_clear_error();
  ctx = SSL_CTX_new(p == Protocol::PROTOCOL_TLS_CLIENT ? TLS_client_method() : TLS_server_method());
  if (ctx == nullptr) throw_ssl_error("failed to allocate SSL context");
  // Python's SSLContext options.
  SSL_CTX_set_options(ctx, (SSL_OP_ALL & ~SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS) | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_DH_USE | SSL_OP_SINGLE_ECDH_USE |
                               SSL_OP_NO_RENEGOTIATION);
  // An idle connection gives its read and write buffers back (Python sets it too).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_set_cipher_list(ctx, default_ciphers) != 1) {
    SSL_CTX_free(ctx);
    throw_ssl_error("No cipher can be selected.");
  }
  if (p == Protocol::PROTOCOL_TLS_CLIENT) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    check_hostname = true;
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
}

ContextImpl::~ContextImpl() { SSL_CTX_free(ctx); }

namespace {

/// ALPN on a server: the first of its own protocols that the client offers (Python's rule);
/// none (the handshake goes on without ALPN) if they share none.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void* arg) {
  const auto* impl = static_cast<const ContextImpl*>(arg);
  if (impl->alpn_wire.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* selected = nullptr;
  const int r = SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(impl->alpn_wire.data()),
                                      static_cast<unsigned>(impl->alpn_wire.size()), in, inlen);
  if (r != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int password_callback(char* buf, int size, int, void* userdata) {
  const auto* password = static_cast<const std::string*>(userdata);
  if (password == nullptr || password->size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buf, password->data(), password->size());
  return static_cast<int>(password->size());
}

void require_file(const std::string& path) {
  if (::access(path.c_str(), R_OK) == 0) return;
  if (errno == ENOENT) throw FileNotFoundError(path);
  throw_os_error(errno, path);
}

int to_openssl(TLSVersion v) {
  switch (v) {
    case TLSVersion::TLSv1: return TLS1_VERSION;
    case TLSVersion::TLSv1_1: return TLS1_1_VERSION;
    case TLSVersion::TLSv1_2: return TLS1_2_VERSION;
    case TLSVersion::TLSv1_3: return TLS1_3_VERSION;
    default: return 0;  // MINIMUM_SUPPORTED / MAXIMUM_SUPPORTED: OpenSSL's own bound
  }
}

TLSVersion from_openssl(long v, TLSVersion none) {
  switch (v) {
    case TLS1_VERSION: return TLSVersion::TLSv1;
    case TLS1_1_VERSION: return TLSVersion::TLSv1_1;
    case TLS1_2_VERSION: return TLSVersion::TLSv1_2;
    case TLS1_3_VERSION: return TLSVersion::TLSv1_3;
    default: return none;
  }
}

}  // namespace

}  // namespace detail

// ---- SSLContext ----------------------------------------------------------------------------

SSLContext::SSLContext(Protocol protocol) : m_impl(std::make_shared<detail::ContextImpl>(protocol)) {
  if (protocol == Protocol::PROTOCOL_TLS_SERVER) {
    SSL_CTX_set_alpn_select_cb(m_impl->ctx, &detail::select_alpn, m_impl.get());
  }
}

Protocol SSLContext::protocol() const noexcept { return m_impl->protocol; }

void SSLContext::load_cert_chain(const std::string& certfile, const std::optional<std::string>& keyfile,
                                 const std::optional<std::string>& password) {
  detail::require_file(certfile);
  if (keyfile) detail::require_file(*keyfile);
  SSL_CTX* ctx = m_impl->ctx;
  ERR_clear_error();
  SSL_CTX_set_default_passwd_cb(ctx, &detail::password_callback);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<std::string*>(password ? &*password : nullptr));
  struct Restore {
    SSL_CTX* ctx;
    ~Restore() {
      SSL_CTX_set_default_passwd_cb(ctx, nullptr);
      SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
    }
  } restore{ctx};
  if (SSL_CTX_use_certificate_chain_file(ctx, certfile.c_str()) != 1) detail::throw_ssl_error("PEM lib");
  if (SSL_CTX_use_PrivateKey_file(ctx, keyfile.value_or(certfile).c_str(), SSL_FILETYPE_PEM) != 1) {
    detail::throw_ssl_error("PEM lib");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) detail::throw_ssl_error("key values mismatch");
}

void SSLContext::load_verify_locations(const VerifyLocations& locations) {
  if (!locations.cafile && !locations.capath && !locations.cadata) {
    throw ValueError("cafile, capath and cadata cannot be all omitted");
  }
  ERR_clear_error();
  if (locations.cafile) detail::require_file(*locations.cafile);
  if (locations.cafile || locations.capath) {
    if (SSL_CTX_load_verify_locations(m_impl->ctx, locations.cafile ? locations.cafile->c_str() : nullptr,
                                      locations.capath ? locations.capath->c_str() : nullptr) != 1) {
      detail::throw_ssl_error("cannot load verify locations");
    }
  }
  if (locations.cadata) {
    BIO* bio = BIO_new_mem_buf(locations.cadata->data(), static_cast<int>(locations.cadata->size()));
    if (bio == nullptr) detail::throw_ssl_error("out of memory");
    X509_STORE* store = SSL_CTX_get_cert_store(m_impl->ctx);
    int loaded = 0;
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      const int ok = X509_STORE_add_cert(store, cert);
      X509_free(cert);
      if (ok != 1) {
        BIO_free(bio);
        detail::throw_ssl_error("cannot add a certificate");
      }
      ++loaded;
    }
    BIO_free(bio);
    if (loaded == 0) detail::throw_ssl_error("no certificate or crl found");
    ERR_clear_error();  // the end of the PEM data is reported as an error
  }
}

void SSLContext::set_default_verify_paths() {
  ERR_clear_error();
  if (SSL_CTX_set_default_verify_paths(m_impl->ctx) != 1) detail::throw_ssl_error("cannot set default verify paths");
}

bool SSLContext::check_hostname() const noexcept { return m_impl->check_hostname; }

void SSLContext::set_check_hostname(bool enabled) {
  if (enabled && verify_mode() == VerifyMode::CERT_NONE) set_verify_mode(VerifyMode::CERT_REQUIRED);
  m_impl->check_hostname = enabled;
}

VerifyMode SSLContext::verify_mode() const noexcept {
  const int mode = SSL_CTX_get_verify_mode(m_impl->ctx);
  if ((mode & SSL_VERIFY_PEER) == 0) return VerifyMode::CERT_NONE;
  if ((mode & SSL_VERIFY_CLIENT_ONCE) != 0) return VerifyMode::CERT_OPTIONAL;  // see set_verify_mode()
  if ((mode & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) != 0) return VerifyMode::CERT_REQUIRED;
  // SSL_VERIFY_PEER alone: a new client context (a client always requires the server's).
  return m_impl->protocol == Protocol::PROTOCOL_TLS_CLIENT ? VerifyMode::CERT_REQUIRED : VerifyMode::CERT_OPTIONAL;
}

void SSLContext::set_verify_mode(VerifyMode mode) {
  if (mode == VerifyMode::CERT_NONE && m_impl->check_hostname) {
    throw ValueError("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.");
  }
  int flags = SSL_VERIFY_NONE;
  switch (mode) {
    case VerifyMode::CERT_NONE: break;
    // SSL_VERIFY_CLIENT_ONCE only matters for renegotiation (disabled): it marks CERT_OPTIONAL
    // so that verify_mode() can tell it from CERT_REQUIRED on a client.
    case VerifyMode::CERT_OPTIONAL: flags = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE; break;
    case VerifyMode::CERT_REQUIRED: flags = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT; break;
  }
  SSL_CTX_set_verify(m_impl->ctx, flags, nullptr);
}

TLSVersion SSLContext::minimum_version() const noexcept {
  return detail::from_openssl(SSL_CTX_get_min_proto_version(m_impl->ctx), TLSVersion::MINIMUM_SUPPORTED);
}

void SSLContext::set_minimum_version(TLSVersion version) {
  if (SSL_CTX_set_min_proto_version(m_impl->ctx, detail::to_openssl(version)) != 1) {
    ERR_clear_error();
    throw ValueError("Unsupported TLS/SSL version");
  }
}

TLSVersion SSLContext::maximum_version() const noexcept {
  return detail::from_openssl(SSL_CTX_get_max_proto_version(m_impl->ctx), TLSVersion::MAXIMUM_SUPPORTED);
}

void SSLContext::set_maximum_version(TLSVersion version) {
  if (SSL_CTX_set_max_proto_version(m_impl->ctx, detail::to_openssl(version)) != 1) {
    ERR_clear_error();
    throw ValueError("Unsupported TLS/SSL version");
  }
}

void SSLContext::set_alpn_protocols(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& p : protocols) {
    if (p.empty() || p.size() > 255) throw ValueError(fmt::format("ALPN protocols must be 1 to 255 in length: '{}'", p));
    wire += static_cast<char>(p.size());
    wire += p;
  }
  if (m_impl->protocol == Protocol::PROTOCOL_TLS_CLIENT &&
      SSL_CTX_set_alpn_protos(m_impl->ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned>(wire.size())) != 0) {
    detail::throw_ssl_error("cannot set ALPN protocols");
  }
  m_impl->alpn_wire = std::move(wire);
}

void SSLContext::set_ciphers(const std::string& ciphers) {
  ERR_clear_error();
  if (SSL_CTX_set_cipher_list(m_impl->ctx, ciphers.c_str()) != 1) {
    ERR_clear_error();
    throw SSLError("", "", "No cipher can be selected.");
  }
}

SSLContext create_default_context(Purpose purpose, const VerifyLocations& locations) {
  SSLContext ctx(purpose == Purpose::SERVER_AUTH ? PROTOCOL_TLS_CLIENT : PROTOCOL_TLS_SERVER);
  // Python 3.13: chains may end at any trusted certificate, and are checked strictly.
  X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx.impl()->ctx), X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT);
  if (locations.cafile || locations.capath || locations.cadata) {
    ctx.load_verify_locations(locations);
  } else if (ctx.verify_mode() != VerifyMode::CERT_NONE) {
    ctx.set_default_verify_paths();
  }
  return ctx;
}

}  // namespace concur::ssl
