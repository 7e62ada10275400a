// SPDX-License-Identifier: MIT
// examples/common/tls.hpp — the TLS plumbing of the network examples: an HTTPS server context
// from PEM files, and a throwaway certificate authority with a certificate for localhost and
// 127.0.0.1, made with the `openssl` command in a temporary directory, for the examples' --tls
// runs (a real server is given its own files: http_server --tls-cert/--tls-key).
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "concur/errors.hpp"
#include "concur/ssl.hpp"

namespace examples {

/// A server context for HTTPS: `cert` (the chain, PEM) and `key`, ALPN "http/1.1".
inline concur::ssl::SSLContext https_server_context(const std::string& cert, const std::string& key) {
  concur::ssl::SSLContext ctx = concur::ssl::create_default_context(concur::ssl::Purpose::CLIENT_AUTH);
  ctx.load_cert_chain(cert, key);
  ctx.set_alpn_protocols({"http/1.1"});
  return ctx;
}

/// A CA and a certificate it signed for localhost and 127.0.0.1 (EC P-256, valid a day), removed
/// with the object. RuntimeError if the openssl command fails (or is not installed).
class ThrowawayCertificates {
 public:
  ThrowawayCertificates() {
    char templ[] = "/tmp/concur-example-tls-XXXXXX";
    if (::mkdtemp(templ) == nullptr) throw concur::RuntimeError("cannot make a temporary directory");
    m_dir = templ;
    std::ofstream(m_dir + "/make.sh") << R"(set -e
K="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $K -keyout ca.key -out ca.pem -days 1 -subj "/CN=concur example CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl req $K -keyout server.key -out server.csr -subj "/CN=localhost"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile server.ext
)";
    const std::string cmd = "cd '" + m_dir + "' && timeout 60 sh make.sh >make.log 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::error_code ec;
      std::filesystem::remove_all(m_dir, ec);
      throw concur::RuntimeError("making a test certificate with the openssl command failed");
    }
  }
  ~ThrowawayCertificates() {
    std::error_code ec;
    std::filesystem::remove_all(m_dir, ec);
  }
  ThrowawayCertificates(const ThrowawayCertificates&) = delete;
  ThrowawayCertificates& operator=(const ThrowawayCertificates&) = delete;

  [[nodiscard]] std::string ca() const { return m_dir + "/ca.pem"; }
  [[nodiscard]] std::string cert() const { return m_dir + "/server.pem"; }
  [[nodiscard]] std::string key() const { return m_dir + "/server.key"; }
  /// The server's context (see https_server_context).
  [[nodiscard]] concur::ssl::SSLContext server_context() const { return https_server_context(cert(), key()); }
  /// A client context that trusts only this CA.
  [[nodiscard]] concur::ssl::SSLContext client_context() const {
    concur::ssl::SSLContext ctx = concur::ssl::create_default_context(concur::ssl::Purpose::SERVER_AUTH, {.cafile = ca()});
    ctx.set_alpn_protocols({"http/1.1"});
    return ctx;
  }

 private:
  std::string m_dir;
};

}  // namespace examples
