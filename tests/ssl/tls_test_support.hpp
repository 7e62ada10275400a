// SPDX-License-Identifier: MIT
// Shared by the TLS tests: a test CA and certificates made at test time with the `openssl`
// command (server for localhost and 127.0.0.1, client, expired, wrong name) in a temporary
// directory that is removed when the test binary ends, and the contexts built on them.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "concur/asyncio/streams.hpp"
#include "concur/ssl.hpp"

namespace concur::ssl::testing_support {

/// The directory of the test certificates (made by the Certificates environment).
inline std::string& cert_dir() {
  static std::string dir;
  return dir;
}

/// `name` in the certificate directory ("ca.pem", "server.key", ...).
inline std::string cert_path(const std::string& name) { return cert_dir() + "/" + name; }

/// True if `program` is on PATH.
inline bool have_program(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

class Certificates : public ::testing::Environment {
 public:
  void SetUp() override {
    char templ[] = "/tmp/concur-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    cert_dir() = templ;
    std::ofstream(cert_path("make.sh")) << script;
    const std::string cmd = "cd '" + cert_dir() + "' && timeout 60 sh make.sh >make.log 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "making the test certificates failed (see " << cert_path("make.log") << ")";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(cert_dir(), ec);
  }

 private:
  // EC P-256 keys: quick to make and to sign with. Extensions as X509_STRICT wants them.
  static constexpr const char* script = R"(set -e
K="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $K -keyout ca.key -out ca.pem -days 30 -subj "/CN=concur test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
leaf() {  # name, common name, subjectAltName, extendedKeyUsage
  openssl req $K -keyout $1.key -out $1.csr -subj "/CN=$2"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName=%s\n' "$4" "$3" > $1.ext
}
sign() { openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $1.pem -days 30 -extfile $1.ext; }
leaf server localhost "DNS:localhost,IP:127.0.0.1" serverAuth && sign server
leaf wrong wrong.example "DNS:wrong.example" serverAuth && sign wrong
leaf client "concur client" "DNS:client.example" clientAuth && sign client
leaf expired localhost "DNS:localhost,IP:127.0.0.1" serverAuth
mkdir -p cadb && : > cadb/index.txt && echo 1000 > cadb/serial
printf '[ca]\ndefault_ca=test_ca\n[test_ca]\ndatabase=cadb/index.txt\nnew_certs_dir=cadb\nserial=cadb/serial\ndefault_md=sha256\npolicy=any\n[any]\ncommonName=supplied\n' > ca.cnf
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
  -startdate 20200101000000Z -enddate 20200102000000Z -extfile expired.ext -notext
)";
};

inline ::testing::Environment* const g_certificates = ::testing::AddGlobalTestEnvironment(new Certificates);

/// A server context with the certificate `name` ("server", "expired", "wrong").
inline SSLContext server_context(const std::string& name = "server") {
  SSLContext ctx = create_default_context(Purpose::CLIENT_AUTH);
  ctx.load_cert_chain(cert_path(name + ".pem"), cert_path(name + ".key"));
  return ctx;
}

/// A client context trusting the test CA.
inline SSLContext client_context() { return create_default_context(Purpose::SERVER_AUTH, {.cafile = cert_path("ca.pem")}); }

// Options with a context are made by these plain functions, never as a braced list inside a
// co_await expression: g++ 12 destroys such temporaries twice (see concur/asyncio/streams.hpp).

// (Set member by member: g++ 12 -O2 reports a false -Wmaybe-uninitialized for a disengaged
// std::optional<std::string> passed on by value.)
/// open_connection's options for TLS with `ctx`.
inline asyncio::StreamOptions client_tls_with(SSLContext ctx) {
  asyncio::StreamOptions options;
  options.ssl = std::move(ctx);
  return options;
}
/// The same, checking the server's certificate against `server_hostname`.
inline asyncio::StreamOptions client_tls_with(SSLContext ctx, const std::string& server_hostname) {
  asyncio::StreamOptions options = client_tls_with(std::move(ctx));
  options.server_hostname = server_hostname;
  return options;
}
/// open_connection's options for TLS trusting the test CA.
inline asyncio::StreamOptions client_tls() { return client_tls_with(client_context()); }
inline asyncio::StreamOptions client_tls(const std::string& server_hostname) {
  return client_tls_with(client_context(), server_hostname);
}
/// start_server's options for TLS with `ctx`.
inline asyncio::ServerOptions server_tls_with(SSLContext ctx) { return {.ssl = std::move(ctx)}; }
/// start_server's options for TLS with the certificate `name`.
inline asyncio::ServerOptions server_tls(const std::string& name = "server") { return server_tls_with(server_context(name)); }

}  // namespace concur::ssl::testing_support
