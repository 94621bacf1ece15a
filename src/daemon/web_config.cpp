#include "portdrift/daemon/web_config.hpp"

#include <crypt.h>
#include <openssl/ssl.h>

#include <cstring>

#include <boost/asio/ssl/context.hpp>
#include <fmt/format.h>

#include "portdrift/config/yaml_reader.hpp"

namespace portdrift::daemon {
namespace ssl = boost::asio::ssl;
using config::Node;
using config::YamlReader;

namespace {

std::optional<ClientAuth> parse_client_auth(std::string_view s) {
  if (s == "NoClientCert") return ClientAuth::none;
  if (s == "RequestClientCert") return ClientAuth::request;
  if (s == "RequireAnyClientCert") return ClientAuth::require_any;
  if (s == "VerifyClientCertIfGiven") return ClientAuth::verify_if_given;
  if (s == "RequireAndVerifyClientCert") return ClientAuth::require_and_verify;
  return std::nullopt;
}

std::optional<int> parse_tls_version(std::string_view s) {
  if (s == "TLS10") return TLS1_VERSION;
  if (s == "TLS11") return TLS1_1_VERSION;
  if (s == "TLS12") return TLS1_2_VERSION;
  if (s == "TLS13") return TLS1_3_VERSION;
  return std::nullopt;
}

bool is_bcrypt(std::string_view h) {
  // $2a$ / $2b$ / $2y$, a two-digit cost, '$', 53 characters of salt and hash.
  return h.size() == 60 && h[0] == '$' && h[1] == '2' && (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') &&
         h[3] == '$' && h[6] == '$';
}

// Certificate verification that accepts any client certificate (RequireAnyClientCert, RequestClientCert).
bool accept_any(bool /*preverified*/, ssl::verify_context& /*ctx*/) { return true; }

struct TlsSettings {
  std::optional<std::pair<std::string, SourcePos>> cert, key, ca;
  ClientAuth auth = ClientAuth::none;
  SourcePos auth_pos;
  int min_version = TLS1_2_VERSION, max_version = 0;
};

std::string openssl_reason(const boost::system::system_error& e) {
  auto s = e.code().message();
  return s.empty() ? e.what() : s;
}

std::filesystem::path beside(const std::filesystem::path& file, const std::string& p) {
  const std::filesystem::path path(p);
  return path.is_absolute() ? path : file.parent_path() / path;
}

}  // namespace

WebConfigResult load_web_config(const std::filesystem::path& file) {
  WebConfigResult r;
  YamlReader y(file.string(), r.diagnostics);
  const auto root = y.load_file(file.string());
  if (!root) return r;
  const auto top = y.mapping(*root, "", {"tls_server_config", "basic_auth_users", "http_server_config"});
  if (!top) return r;
  WebConfig out;
  out.file = file;

  std::optional<TlsSettings> tls;
  if (auto node = top->get("tls_server_config")) {
    const auto m = y.mapping(*node, "tls_server_config",
                             {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version",
                              "max_version", "cipher_suites", "curve_preferences", "prefer_server_cipher_suites"});
    if (m) {
      TlsSettings t;
      auto str = [&](std::string_view key) -> std::optional<std::pair<std::string, SourcePos>> {
        const auto n = m->get(key);
        if (!n) return std::nullopt;
        const auto path = fmt::format("tls_server_config.{}", key);
        auto v = y.string(*n, path);
        if (!v) return std::nullopt;
        return std::pair{*v, YamlReader::pos(*n)};
      };
      t.cert = str("cert_file");
      t.key = str("key_file");
      t.ca = str("client_ca_file");
      if (auto a = str("client_auth_type")) {
        if (auto v = parse_client_auth(a->first)) t.auth = *v;
        else {
          y.error(a->second, "tls_server_config.client_auth_type",
                  fmt::format("unknown value '{}' (expected one of: NoClientCert, RequestClientCert, "
                              "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)",
                              a->first));
        }
        t.auth_pos = a->second;
      }
      for (auto [key, target] : {std::pair{"min_version", &t.min_version}, std::pair{"max_version", &t.max_version}}) {
        if (auto v = str(key)) {
          if (auto ver = parse_tls_version(v->first)) *target = *ver;
          else {
            y.error(v->second, fmt::format("tls_server_config.{}", key),
                    fmt::format("unknown value '{}' (expected one of: TLS10, TLS11, TLS12, TLS13)", v->first));
          }
        }
      }
      for (const auto* unsupported : {"cipher_suites", "curve_preferences", "prefer_server_cipher_suites"}) {
        if (auto n = m->get(unsupported)) {
          y.error(*n, fmt::format("tls_server_config.{}", unsupported),
                  "not supported by portdrift (OpenSSL's defaults for the TLS version apply); remove it");
        }
      }
      if (!t.cert) y.error(*node, "tls_server_config.cert_file", "missing: the server certificate (PEM)");
      if (!t.key) y.error(*node, "tls_server_config.key_file", "missing: the server's private key (PEM)");
      const bool verifies = t.auth == ClientAuth::verify_if_given || t.auth == ClientAuth::require_and_verify;
      if (verifies && !t.ca) {
        y.error(t.auth_pos, "tls_server_config.client_ca_file", "missing: client_auth_type verifies client "
                                                                "certificates against this CA file");
      }
      if (t.max_version != 0 && t.max_version < t.min_version) {
        y.error(*node, "tls_server_config.max_version", "is below min_version");
      }
      tls = t;
    }
  }
  if (auto node = top->get("http_server_config")) {
    y.error(*node, "http_server_config", "not supported by portdrift (HTTP/1.1 only, no extra headers); remove it");
  }
  if (auto node = top->get("basic_auth_users")) {
    if (auto users = y.any_mapping(*node, "basic_auth_users")) {
      for (const auto& e : users->entries()) {
        const auto path = fmt::format("basic_auth_users.{}", e.key);
        auto hash = y.string(e.value, path);
        if (!hash) continue;
        if (!is_bcrypt(*hash)) {
          y.error(e.value, path, "expected a bcrypt hash ($2y$10$... from htpasswd -nBC 10), not a password");
          continue;
        }
        if (e.key.find(':') != std::string::npos) {
          y.error(e.key_node, path, "a user name cannot hold ':' (basic auth splits on it)");
          continue;
        }
        out.users.emplace(e.key, *hash);
      }
    }
  }
  if (!r.diagnostics.empty()) return r;

  if (tls) {
    // Build the context now, so that an unreadable or mismatched file is this file's diagnostic.
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    auto fail = [&](const std::pair<std::string, SourcePos>& at, std::string_view key, std::string_view what,
                    const boost::system::system_error& e) {
      y.error(at.second, fmt::format("tls_server_config.{}", key),
              fmt::format("cannot use {} {}: {}", what, beside(file, at.first).string(), openssl_reason(e)));
    };
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    ::SSL_CTX_set_min_proto_version(ctx->native_handle(), tls->min_version);
    if (tls->max_version != 0) ::SSL_CTX_set_max_proto_version(ctx->native_handle(), tls->max_version);
    try {
      ctx->use_certificate_chain_file(beside(file, tls->cert->first).string());
    } catch (const boost::system::system_error& e) {
      fail(*tls->cert, "cert_file", "the certificate", e);
    }
    try {
      ctx->use_private_key_file(beside(file, tls->key->first).string(), ssl::context::pem);
      if (r.diagnostics.empty() && ::SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
        y.error(tls->key->second, "tls_server_config.key_file", "does not match the certificate in cert_file");
      }
    } catch (const boost::system::system_error& e) {
      fail(*tls->key, "key_file", "the key", e);
    }
    if (tls->ca) {
      try {
        ctx->load_verify_file(beside(file, tls->ca->first).string());
      } catch (const boost::system::system_error& e) {
        fail(*tls->ca, "client_ca_file", "the CA file", e);
      }
    }
    switch (tls->auth) {
      case ClientAuth::none: ctx->set_verify_mode(ssl::verify_none); break;
      case ClientAuth::request: ctx->set_verify_mode(ssl::verify_peer); ctx->set_verify_callback(accept_any); break;
      case ClientAuth::require_any:
        ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
        ctx->set_verify_callback(accept_any);
        break;
      case ClientAuth::verify_if_given: ctx->set_verify_mode(ssl::verify_peer); break;
      case ClientAuth::require_and_verify:
        ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
        break;
    }
    out.tls = std::move(ctx);
    out.client_auth = tls->auth;
  }
  if (!r.diagnostics.empty()) return r;
  r.config = std::move(out);
  return r;
}

bool bcrypt_matches(const std::string& hash, const std::string& password) {
  crypt_data data{};
  const char* out = ::crypt_rn(password.c_str(), hash.c_str(), &data, sizeof(data));
  if (out == nullptr || out[0] == '*') return false;
  // Constant time over the whole hash.
  const std::size_t n = std::strlen(out);
  if (n != hash.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(out[i] ^ hash[i]);
  return diff == 0;
}

}  // namespace portdrift::daemon
