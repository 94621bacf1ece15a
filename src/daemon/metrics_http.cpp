// The metrics endpoint's pure parts: parsing a request as received, the
// answer to it (answer_request), the answer on the wire (serialize), listen
// addresses and the exposition text. No socket, no coroutine: the server in
// metrics.cpp and the fuzzer (tests/fuzz/metrics_request_fuzz.cpp) run the
// same code.

#include "metrics_http.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <initializer_list>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>

namespace portdrift::daemon {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

Parsed parse_request(std::string_view raw) {
  Parsed out;
  http::request_parser<http::string_body> p;
  p.header_limit(static_cast<std::uint32_t>(kMaxRequestHead));
  p.body_limit(kMaxRequestBody);
  p.eager(true);
  beast::error_code ec;
  std::size_t used = 0;
  while (!p.is_done() && used < raw.size()) {
    const auto n = p.put(asio::buffer(raw.data() + used, raw.size() - used), ec);
    used += n;
    if (ec || n == 0) break;
  }
  out.head_done = p.is_header_done();
  if (ec == http::error::header_limit || (!out.head_done && raw.size() > kMaxRequestHead)) {
    out.stage = Parsed::Stage::head_too_large;
  } else if (ec == http::error::body_limit) {
    out.stage = Parsed::Stage::body_too_large;
  } else if (ec && ec != http::error::need_more) {
    out.stage = Parsed::Stage::bad;
  } else if (p.is_done()) {
    out.stage = Parsed::Stage::done;
  }
  if (out.head_done) {
    const auto& req = p.get();
    if (req.version() != 10 && req.version() != 11) out.stage = Parsed::Stage::bad;
    out.method = req.method();
    out.target = std::string(req.target());
    if (const auto it = req.find(http::field::authorization); it != req.end()) out.authorization = std::string(it->value());
  }
  return out;
}

namespace {

HttpAnswer plain(unsigned status, std::string body) {
  return HttpAnswer{status, "text/plain; charset=utf-8", std::move(body), {}};
}

}  // namespace

HttpAnswer answer_request(std::string_view raw, const std::function<std::string()>& provider) {
  const auto p = parse_request(raw);
  switch (p.stage) {
    case Parsed::Stage::head_too_large: return plain(431, "request head too large\n");
    case Parsed::Stage::body_too_large: return plain(413, "request body too large\n");
    case Parsed::Stage::bad: return plain(400, "bad request\n");
    case Parsed::Stage::need_more:
      if (!p.head_done) return plain(400, "incomplete request\n");
      break;  // the head is whole; the rest of the body does not matter
    case Parsed::Stage::done: break;
  }
  const std::string_view target = p.target;
  const auto path = target.substr(0, target.find('?'));
  const bool get = p.method == http::verb::get;
  if (path == "/metrics") {
    if (!get) {
      auto a = plain(405, "only GET /metrics is served\n");
      a.headers.emplace_back("Allow", "GET");
      return a;
    }
    return HttpAnswer{200, "text/plain; version=0.0.4; charset=utf-8", provider ? provider() : std::string(), {}};
  }
  if (path == "/") {
    if (!get) {
      auto a = plain(405, "only GET is served\n");
      a.headers.emplace_back("Allow", "GET");
      return a;
    }
    return HttpAnswer{200, "text/html; charset=utf-8",
                      "<!DOCTYPE html>\n<html><head><title>portdrift</title></head>"
                      "<body><h1>portdrift</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>\n",
                      {}};
  }
  return plain(404, "portdrift serves /metrics only\n");
}

std::string serialize(const HttpAnswer& a) {
  const auto reason = http::obsolete_reason(http::int_to_status(a.status));
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nServer: portdrift\r\n", a.status,
                                reason.empty() ? std::string_view("Unknown") : std::string_view(reason.data(), reason.size()));
  if (!a.content_type.empty()) out += fmt::format("Content-Type: {}\r\n", a.content_type);
  for (const auto& [k, v] : a.headers) out += fmt::format("{}: {}\r\n", k, v);
  out += fmt::format("Content-Length: {}\r\nConnection: close\r\n\r\n", a.body.size());
  out += a.body;
  return out;
}

std::optional<tcp::endpoint> parse_listen(std::string_view text, std::string& error) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    error = fmt::format("'{}' is not ADDRESS:PORT or [IPV6]:PORT", text);
    return std::nullopt;
  }
  auto host = text.substr(0, colon);
  const auto port_text = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.back() != ']') {
      error = fmt::format("'{}': an IPv6 address needs [brackets] around it", text);
      return std::nullopt;
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    error = fmt::format("'{}': write an IPv6 address in [brackets], e.g. [::1]:9617", text);
    return std::nullopt;
  }
  std::uint16_t port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || ptr != port_text.data() + port_text.size()) {
    error = fmt::format("'{}': '{}' is not a port 0-65535", text, port_text);
    return std::nullopt;
  }
  boost::system::error_code aec;
  const auto addr = asio::ip::make_address(std::string(host), aec);
  if (aec) {
    error = fmt::format("'{}': '{}' is not an IP address (names are not resolved here)", text, host);
    return std::nullopt;
  }
  return tcp::endpoint(addr, port);
}

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Exposition::sample(std::string_view name, const Labels& labels, double value) {
  text_ += name;
  if (!labels.empty() || !constant_.empty()) {
    text_ += '{';
    bool first = true;
    for (const Labels* set : std::initializer_list<const Labels*>{&constant_, &labels}) {
      for (const auto& [k, v] : *set) {
        text_ += fmt::format("{}{}=\"{}\"", first ? "" : ",", k, escape_label(v));
        first = false;
      }
    }
    text_ += '}';
  }
  if (std::isnan(value)) text_ += " NaN\n";
  else if (std::isinf(value)) text_ += value > 0 ? " +Inf\n" : " -Inf\n";
  else text_ += fmt::format(" {}\n", value);
}

std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view authorization) {
  constexpr std::string_view scheme = "Basic ";
  if (authorization.size() < scheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i) {  // the scheme is case-insensitive (RFC 7617)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(scheme[i]))) {
      return std::nullopt;
    }
  }
  auto b64 = authorization.substr(scheme.size());
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  while (!b64.empty() && b64.back() == ' ') b64.remove_suffix(1);
  if (b64.empty() || b64.size() % 4 != 0 || b64.size() > 4096) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string decoded;
  for (std::size_t i = 0; i < b64.size(); i += 4) {
    std::array<int, 4> v{};
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = b64[i + static_cast<std::size_t>(k)];
      if (c == '=' && i + 4 == b64.size() && k >= 2) {
        ++pad;
        v[static_cast<std::size_t>(k)] = 0;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[static_cast<std::size_t>(k)] = value(c);
      if (v[static_cast<std::size_t>(k)] < 0) return std::nullopt;
    }
    const unsigned bits = static_cast<unsigned>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
    decoded += static_cast<char>((bits >> 16) & 0xFFU);
    if (pad < 2) decoded += static_cast<char>((bits >> 8) & 0xFFU);
    if (pad < 1) decoded += static_cast<char>(bits & 0xFFU);
  }
  const auto colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::pair{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

}  // namespace portdrift::daemon
