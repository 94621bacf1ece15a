// The metrics endpoint's web configuration: the file's diagnostics, bcrypt
// and basic credentials, and the real server over TLS (with and without
// client certificates) and basic auth, with a TLS client of OpenSSL's on
// loopback. The test PKI is tests/data/tls (made by its `make` script).

#include <gtest/gtest.h>

#include <crypt.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "http_get.hpp"
#include "portdrift/daemon/metrics.hpp"
#include "portdrift/daemon/web_config.hpp"

namespace portdrift::daemon {
namespace {
namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
using asio::ip::tcp;

const fs::path kTls = fs::path(PORTDRIFT_TEST_DATA_DIR) / "tls";

std::string bcrypt_hash(const std::string& password, unsigned long cost = 5) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(::crypt_gensalt_rn("$2y$", cost, nullptr, 0, salt, sizeof salt), nullptr);
  crypt_data data{};
  return ::crypt_rn(password.c_str(), salt, &data, sizeof data);
}

struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& name)
      : dir(fs::path(::testing::TempDir()) / fmt::format("pd-web-{}-{}", name, ::getpid())) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
    return dir / name;
  }
};

std::string tls_block(const std::string& extra = "") {
  return fmt::format("tls_server_config:\n  cert_file: {}\n  key_file: {}\n{}", (kTls / "server.crt").string(),
                     (kTls / "server.key").string(), extra);
}

std::string messages(const Diagnostics& d) {
  std::string out;
  for (const auto& x : d) out += format(x) + "\n";
  return out;
}

TEST(WebConfig, LoadsTlsAndUsersWithPathsRelativeToTheFile) {
  TempDir t("good");
  fs::copy_file(kTls / "server.crt", t.dir / "server.crt");
  fs::copy_file(kTls / "server.key", t.dir / "server.key");
  fs::copy_file(kTls / "ca.crt", t.dir / "ca.crt");
  const auto hash = bcrypt_hash("s3cret");
  const auto file = t.write("web.yml", fmt::format("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                                   "  client_auth_type: RequireAndVerifyClientCert\n"
                                                   "  client_ca_file: ca.crt\n  min_version: TLS13\n"
                                                   "basic_auth_users:\n  prometheus: {}\n",
                                                   hash));
  const auto r = load_web_config(file);
  ASSERT_TRUE(r.config) << messages(r.diagnostics);
  EXPECT_TRUE(r.config->tls);
  EXPECT_EQ(r.config->client_auth, ClientAuth::require_and_verify);
  ASSERT_EQ(r.config->users.size(), 1U);
  EXPECT_EQ(r.config->users.at("prometheus"), hash);
}

TEST(WebConfig, EveryProblemIsADiagnosticAtItsLine) {
  TempDir t("bad");
  const auto file = t.write("web.yml", "tls_server_config:\n  cert_file: /nonexistent/server.crt\n"
                                       "  client_auth_type: Sometimes\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"
                                       "basic_auth_users:\n  alice: plaintext\n"
                                       "tls_config: {}\n");
  const auto r = load_web_config(file);
  EXPECT_FALSE(r.config);
  const auto text = messages(r.diagnostics);
  const auto f = file.string();
  EXPECT_NE(text.find(f + ":7:1: tls_config: unknown key"), std::string::npos) << text;
  EXPECT_NE(text.find(f + ":3:21: tls_server_config.client_auth_type: unknown value 'Sometimes'"), std::string::npos)
      << text;
  EXPECT_NE(text.find(f + ":4:18: tls_server_config.cipher_suites: not supported"), std::string::npos) << text;
  EXPECT_NE(text.find("tls_server_config.key_file: missing"), std::string::npos) << text;
  EXPECT_NE(text.find(f + ":6:10: basic_auth_users.alice: expected a bcrypt hash"), std::string::npos) << text;
}

TEST(WebConfig, UnreadableOrMismatchedFilesAreDiagnostics) {
  TempDir t("files");
  const auto missing = t.write("a.yml", "tls_server_config:\n  cert_file: nope.crt\n  key_file: " +
                                            (kTls / "server.key").string() + "\n");
  auto r = load_web_config(missing);
  EXPECT_FALSE(r.config);
  EXPECT_NE(messages(r.diagnostics).find(":2:14: tls_server_config.cert_file: cannot use the certificate " +
                                         (t.dir / "nope.crt").string()),
            std::string::npos)
      << messages(r.diagnostics);
  const auto mismatched = t.write("b.yml", "tls_server_config:\n  cert_file: " + (kTls / "server.crt").string() +
                                               "\n  key_file: " + (kTls / "other.key").string() + "\n");
  r = load_web_config(mismatched);
  EXPECT_FALSE(r.config);
  EXPECT_NE(messages(r.diagnostics).find("tls_server_config.key_file: "), std::string::npos)
      << messages(r.diagnostics);
  const auto no_ca = t.write("c.yml", tls_block("  client_auth_type: RequireAndVerifyClientCert\n"));
  r = load_web_config(no_ca);
  EXPECT_FALSE(r.config);
  EXPECT_NE(messages(r.diagnostics).find("tls_server_config.client_ca_file: missing"), std::string::npos)
      << messages(r.diagnostics);
}

TEST(WebConfig, BcryptAndBasicCredentials) {
  const auto hash = bcrypt_hash("s3cret");
  EXPECT_TRUE(bcrypt_matches(hash, "s3cret"));
  EXPECT_FALSE(bcrypt_matches(hash, "s3cret "));
  EXPECT_FALSE(bcrypt_matches(hash, ""));
  EXPECT_FALSE(bcrypt_matches("not a hash", "s3cret"));
  // "prometheus:pa:ss" (the password may hold ':'), "u:", "a:b" with padding.
  EXPECT_EQ(basic_credentials("Basic cHJvbWV0aGV1czpwYTpzcw=="), (std::pair<std::string, std::string>{"prometheus", "pa:ss"}));
  EXPECT_EQ(basic_credentials("basic dTo="), (std::pair<std::string, std::string>{"u", ""}));
  EXPECT_EQ(basic_credentials("Basic YTpi"), (std::pair<std::string, std::string>{"a", "b"}));
  EXPECT_FALSE(basic_credentials("Bearer YTpi"));
  EXPECT_FALSE(basic_credentials("Basic YWJj"));      // "abc": no colon
  EXPECT_FALSE(basic_credentials("Basic YT=6Yg=="));  // data after padding
  EXPECT_FALSE(basic_credentials("Basic Y!pi"));
  EXPECT_FALSE(basic_credentials(""));
}

// --- the server over TLS ------------------------------------------------------

struct TlsAnswer {
  bool handshake = false;
  int status = -1;
  std::string body;
};

// One request over TLS, verifying the server against the test CA; optionally with the client certificate.
TlsAnswer tls_get(std::uint16_t port, const std::string& authorization, bool client_cert) {
  TlsAnswer out;
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file((kTls / "ca.crt").string());
  ctx.set_verify_mode(ssl::verify_peer);
  if (client_cert) {
    ctx.use_certificate_chain_file((kTls / "client.crt").string());
    ctx.use_private_key_file((kTls / "client.key").string(), ssl::context::pem);
  }
  ssl::stream<tcp::socket> s(io, ctx);
  boost::system::error_code ec;
  s.lowest_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return out;
  timeval tv{5, 0};
  ::setsockopt(s.lowest_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  s.handshake(ssl::stream_base::client, ec);
  if (ec) return out;
  out.handshake = true;
  std::string req = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  if (!authorization.empty()) req += "Authorization: " + authorization + "\r\n";
  req += "\r\n";
  asio::write(s, asio::buffer(req), ec);
  std::string all;
  char buf[4096];
  for (;;) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    all.append(buf, n);
    if (ec) break;
  }
  // With TLS 1.3 a refused client certificate shows up as an alert on the first read, not in the handshake.
  if (all.size() < 12) {
    out.handshake = false;
    return out;
  }
  out.status = std::stoi(all.substr(9, 3));
  const auto end = all.find("\r\n\r\n");
  if (end != std::string::npos) out.body = all.substr(end + 4);
  return out;
}

template <typename F>
auto while_serving(asio::io_context& io, F f) {
  auto fut = std::async(std::launch::async, std::move(f));
  while (fut.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) io.run_for(std::chrono::milliseconds(10));
  return fut.get();
}

TEST(WebConfig, TheServerSpeaksTlsAndAsksForBasicAuth) {
  TempDir t("server");
  const auto file = t.write("web.yml", tls_block(fmt::format("basic_auth_users:\n  prometheus: {}\n", bcrypt_hash("s3cret"))));
  auto loaded = load_web_config(file);
  ASSERT_TRUE(loaded.config) << messages(loaded.diagnostics);
  asio::io_context io;
  int calls = 0;
  MetricsServer server(io.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), [&] {
    ++calls;
    return std::string("portdrift_checks 3\n");
  });
  server.set_web(std::make_shared<const WebConfig>(std::move(*loaded.config)));
  server.start();
  const auto port = server.local_endpoint().port();

  auto none = while_serving(io, [&] { return tls_get(port, "", false); });
  EXPECT_TRUE(none.handshake);
  EXPECT_EQ(none.status, 401);
  auto wrong = while_serving(io, [&] { return tls_get(port, "Basic cHJvbWV0aGV1czp3cm9uZw==", false); });  // prometheus:wrong
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(calls, 0) << "the metrics were rendered for an unauthorized request";
  const std::string good = "Basic cHJvbWV0aGV1czpzM2NyZXQ=";  // prometheus:s3cret
  auto ok = while_serving(io, [&] { return tls_get(port, good, false); });
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "portdrift_checks 3\n");
  EXPECT_EQ(while_serving(io, [&] { return tls_get(port, good, false); }).status, 200);  // from the remembered match
  // Plain HTTP to the TLS port: no answer.
  EXPECT_EQ(while_serving(io, [&] { return testing::http_get("127.0.0.1", port, "/metrics"); }).status, -1);
  EXPECT_EQ(calls, 2);
  EXPECT_GE(server.unauthorized(), 3U);

  // A configuration swapped in: plain HTTP without auth from the next connection on.
  server.set_web(nullptr);
  EXPECT_EQ(while_serving(io, [&] { return testing::http_get("127.0.0.1", port, "/metrics"); }).status, 200);
  server.stop();
  io.run_for(std::chrono::milliseconds(50));
}

TEST(WebConfig, RequireAndVerifyClientCertRefusesClientsWithoutOne) {
  TempDir t("mtls");
  const auto file = t.write("web.yml", tls_block("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: " +
                                                 (kTls / "ca.crt").string() + "\n"));
  auto loaded = load_web_config(file);
  ASSERT_TRUE(loaded.config) << messages(loaded.diagnostics);
  asio::io_context io;
  MetricsServer server(io.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                       [] { return std::string("x 1\n"); });
  server.set_web(std::make_shared<const WebConfig>(std::move(*loaded.config)));
  server.start();
  const auto port = server.local_endpoint().port();
  const auto without = while_serving(io, [&] { return tls_get(port, "", false); });
  EXPECT_FALSE(without.handshake);
  EXPECT_EQ(without.status, -1);
  const auto with = while_serving(io, [&] { return tls_get(port, "", true); });
  EXPECT_EQ(with.status, 200);
  EXPECT_EQ(with.body, "x 1\n");
  server.stop();
  io.run_for(std::chrono::milliseconds(50));
}

}  // namespace
}  // namespace portdrift::daemon
