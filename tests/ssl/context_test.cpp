// SPDX-License-Identifier: MIT
// Tests of concur/ssl.hpp's SSLContext: Python's defaults, the attribute rules, loading
// certificates and trust anchors, and the errors for bad input.
#include "concur/ssl.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tls_test_support.hpp"

namespace ssl = concur::ssl;
using ssl::testing_support::cert_path;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(SSLContext, AClientsDefaultContextRequiresACertificateAndChecksTheHostname) {
  ssl::SSLContext ctx = ssl::create_default_context(ssl::Purpose::SERVER_AUTH, {.cafile = cert_path("ca.pem")});
  EXPECT_EQ(ctx.protocol(), ssl::PROTOCOL_TLS_CLIENT);
  EXPECT_EQ(ctx.verify_mode(), ssl::CERT_REQUIRED);
  EXPECT_TRUE(ctx.check_hostname());
  EXPECT_EQ(ctx.minimum_version(), ssl::TLSVersion::TLSv1_2);
  EXPECT_EQ(ctx.maximum_version(), ssl::TLSVersion::MAXIMUM_SUPPORTED);
}

TEST(SSLContext, AServersDefaultContextAsksForNoCertificate) {
  ssl::SSLContext ctx = ssl::create_default_context(ssl::Purpose::CLIENT_AUTH);
  EXPECT_EQ(ctx.protocol(), ssl::PROTOCOL_TLS_SERVER);
  EXPECT_EQ(ctx.verify_mode(), ssl::CERT_NONE);
  EXPECT_FALSE(ctx.check_hostname());
}

TEST(SSLContext, VerifyModeAndCheckHostnameFollowPythonsRules) {
  ssl::SSLContext ctx(ssl::PROTOCOL_TLS_CLIENT);
  try {
    ctx.set_verify_mode(ssl::CERT_NONE);
    ADD_FAILURE() << "CERT_NONE was accepted with check_hostname on";
  } catch (const concur::ValueError& e) {
    EXPECT_STREQ(e.what(), "Cannot set verify_mode to CERT_NONE when check_hostname is enabled.");
  }
  ctx.set_check_hostname(false);
  ctx.set_verify_mode(ssl::CERT_NONE);
  EXPECT_EQ(ctx.verify_mode(), ssl::CERT_NONE);
  ctx.set_check_hostname(true);  // turns verification back on, as Python does
  EXPECT_EQ(ctx.verify_mode(), ssl::CERT_REQUIRED);

  ssl::SSLContext server(ssl::PROTOCOL_TLS_SERVER);
  server.set_verify_mode(ssl::CERT_OPTIONAL);
  EXPECT_EQ(server.verify_mode(), ssl::CERT_OPTIONAL);
  server.set_verify_mode(ssl::CERT_REQUIRED);
  EXPECT_EQ(server.verify_mode(), ssl::CERT_REQUIRED);
}

TEST(SSLContext, VersionsCanBeBoundedAndReadBack) {
  ssl::SSLContext ctx(ssl::PROTOCOL_TLS_CLIENT);
  ctx.set_minimum_version(ssl::TLSVersion::TLSv1_3);
  EXPECT_EQ(ctx.minimum_version(), ssl::TLSVersion::TLSv1_3);
  ctx.set_maximum_version(ssl::TLSVersion::TLSv1_3);
  EXPECT_EQ(ctx.maximum_version(), ssl::TLSVersion::TLSv1_3);
  ctx.set_minimum_version(ssl::TLSVersion::MINIMUM_SUPPORTED);
  EXPECT_EQ(ctx.minimum_version(), ssl::TLSVersion::MINIMUM_SUPPORTED);
}

TEST(SSLContext, LoadCertChainReportsMissingFilesAndMismatchedKeys) {
  ssl::SSLContext ctx(ssl::PROTOCOL_TLS_SERVER);
  EXPECT_THROW(ctx.load_cert_chain(cert_path("missing.pem")), concur::FileNotFoundError);
  EXPECT_THROW(ctx.load_cert_chain(cert_path("server.pem"), cert_path("missing.key")), concur::FileNotFoundError);
  try {
    ctx.load_cert_chain(cert_path("server.pem"), cert_path("client.key"));
    ADD_FAILURE() << "a key that does not match was accepted";
  } catch (const ssl::SSLError& e) {
    EXPECT_EQ(e.library(), "X509");
    EXPECT_EQ(e.reason(), "KEY_VALUES_MISMATCH");
    EXPECT_STREQ(e.what(), "[X509: KEY_VALUES_MISMATCH] key values mismatch");
  }
  EXPECT_THROW(ctx.load_cert_chain(cert_path("make.sh")), ssl::SSLError);  // not PEM
  ctx.load_cert_chain(cert_path("server.pem"), cert_path("server.key"));   // and a good pair loads
}

TEST(SSLContext, LoadCertChainReadsAKeyEncryptedWithItsPassword) {
  const std::string encrypted = cert_path("encrypted.key");
  const std::string cmd = "openssl pkey -in '" + cert_path("server.key") + "' -aes256 -passout pass:sesame -out '" +
                          encrypted + "' 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ssl::SSLContext ctx(ssl::PROTOCOL_TLS_SERVER);
  EXPECT_THROW(ctx.load_cert_chain(cert_path("server.pem"), encrypted, "wrong"), ssl::SSLError);
  ctx.load_cert_chain(cert_path("server.pem"), encrypted, "sesame");
}

TEST(SSLContext, LoadVerifyLocationsTakesFilesOrPemTextAndRejectsNothingAtAll) {
  ssl::SSLContext ctx(ssl::PROTOCOL_TLS_CLIENT);
  EXPECT_THROW(ctx.load_verify_locations({}), concur::ValueError);
  EXPECT_THROW(ctx.load_verify_locations({.cafile = cert_path("missing.pem")}), concur::FileNotFoundError);
  EXPECT_THROW(ctx.load_verify_locations({.cadata = "not a certificate"}), ssl::SSLError);
  ctx.load_verify_locations({.cadata = read_file(cert_path("ca.pem"))});
  ctx.load_verify_locations({.cafile = cert_path("ca.pem")});
  ctx.set_default_verify_paths();
}

TEST(SSLContext, CiphersAndAlpnProtocolsAreChecked) {
  ssl::SSLContext ctx(ssl::PROTOCOL_TLS_CLIENT);
  ctx.set_ciphers("ECDHE+AESGCM");
  try {
    ctx.set_ciphers("NO-SUCH-CIPHER");
    ADD_FAILURE() << "an empty cipher list was accepted";
  } catch (const ssl::SSLError& e) {
    EXPECT_STREQ(e.what(), "No cipher can be selected.");
  }
  ctx.set_alpn_protocols({"h2", "http/1.1"});
  EXPECT_THROW(ctx.set_alpn_protocols({""}), concur::ValueError);
  EXPECT_THROW(ctx.set_alpn_protocols({std::string(256, 'x')}), concur::ValueError);
}

TEST(SSLContext, ErrorsAreOSErrorsWithPythonsMessages) {
  const ssl::SSLCertVerificationError e(10, "certificate has expired");
  EXPECT_STREQ(e.what(), "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired");
  EXPECT_EQ(e.verify_code(), 10);
  EXPECT_EQ(e.verify_message(), "certificate has expired");
  EXPECT_EQ(e.reason(), "CERTIFICATE_VERIFY_FAILED");
  const concur::OSError& os = e;  // Python: SSLError is an OSError
  EXPECT_STREQ(os.what(), e.what());
}

}  // namespace
