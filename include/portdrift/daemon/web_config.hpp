#pragma once
// The metrics endpoint's web configuration file (`--web.config.file`), in the
// format Prometheus exporters (node_exporter, blackbox_exporter: the
// exporter-toolkit) read, so that a central Prometheus can scrape portdrift at
// other sites over TLS with client certificates and basic auth:
//
//   tls_server_config:
//     cert_file: server.crt          # relative to this file
//     key_file: server.key
//     client_auth_type: RequireAndVerifyClientCert   # or NoClientCert (default),
//                      # RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven
//     client_ca_file: clients-ca.crt
//     min_version: TLS12             # TLS10..TLS13 (default TLS12)
//     max_version: TLS13
//   basic_auth_users:
//     prometheus: $2y$10$...         # bcrypt (htpasswd -nBC 10 "" | tr -d ':\n')
//
// Loading reads and checks everything (the certificate and key load into a
// TLS context, the CA file too, every hash is a bcrypt hash), so a bad file is
// a diagnostic with file:line:column before it replaces a good one. It must
// not: accept a key it does not implement (http_server_config and
// cipher_suites are refused by name rather than ignored), or compare a
// password any way but through bcrypt.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "portdrift/core/diagnostic.hpp"

namespace boost::asio::ssl {
class context;
}

namespace portdrift::daemon {

enum class ClientAuth { none, request, require_any, verify_if_given, require_and_verify };

struct WebConfig {
  std::filesystem::path file;
  // Null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  ClientAuth client_auth = ClientAuth::none;
  // user -> bcrypt hash; empty: no authentication.
  std::map<std::string, std::string, std::less<>> users;
};

struct WebConfigResult {
  std::optional<WebConfig> config;
  Diagnostics diagnostics;
};

WebConfigResult load_web_config(const std::filesystem::path& file);

// Does `password` match the bcrypt `hash`? (crypt(3) of libxcrypt; slow by design: 2^cost rounds.)
bool bcrypt_matches(const std::string& hash, const std::string& password);

}  // namespace portdrift::daemon
