// The metrics server's actors:
//  - the acceptor loop: accepts while fewer than kMaxConnections are open;
//    stops when the acceptor is closed;
//  - one session per connection: reads requests under a 5 s deadline each,
//    answers, and closes on error, timeout, `Connection: close` or stop.
// All share one State through shared_ptr, so a stop() while sessions are
// suspended is safe: they wake with operation_aborted and end.

#include "portdrift/daemon/metrics.hpp"

#include <charconv>
#include <cmath>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace portdrift::daemon {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

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
  if (!labels.empty()) {
    text_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      text_ += fmt::format("{}{}=\"{}\"", first ? "" : ",", k, escape_label(v));
      first = false;
    }
    text_ += '}';
  }
  if (std::isnan(value)) text_ += " NaN\n";
  else if (std::isinf(value)) text_ += value > 0 ? " +Inf\n" : " -Inf\n";
  else text_ += fmt::format(" {}\n", value);
}

struct MetricsServer::State : std::enable_shared_from_this<MetricsServer::State> {
  State(const asio::any_io_executor& ex, const tcp::endpoint& at, Provider p)
      : acceptor(ex), provider(std::move(p)) {
    acceptor.open(at.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen();
  }
  tcp::acceptor acceptor;
  Provider provider;
  std::size_t open = 0;
  std::uint64_t scrapes = 0;
  bool stopped = false;
  std::vector<std::weak_ptr<beast::tcp_stream>> streams;

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopped) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || stopped) co_return;
        continue;  // EMFILE and the like: try the next one
      }
      if (open >= kMaxConnections) continue;  // the socket closes as it goes out of scope
      ++open;
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      std::erase_if(streams, [](const auto& w) { return w.expired(); });
      streams.push_back(stream);
      asio::co_spawn(acceptor.get_executor(), session(stream), asio::detached);
    }
  }

  asio::awaitable<void> session(std::shared_ptr<beast::tcp_stream> stream) {
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      stream->expires_after(std::chrono::seconds(5));
      auto [rec, rn] = co_await http::async_read(*stream, buffer, req, asio::as_tuple(asio::use_awaitable));
      if (rec || stopped) break;
      http::response<http::string_body> res;
      res.version(req.version());
      res.set(http::field::server, "portdrift");
      const auto target = req.target();
      const bool metrics = target == "/metrics" || target.starts_with("/metrics?");
      if (req.method() != http::verb::get && req.method() != http::verb::head) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::allow, "GET, HEAD");
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "only GET /metrics is served\n";
      } else if (metrics) {
        ++scrapes;
        res.result(http::status::ok);
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = provider();
      } else {
        res.result(http::status::not_found);
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.body() = "portdrift serves /metrics only\n";
      }
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      if (req.method() == http::verb::head) res.body().clear();
      stream->expires_after(std::chrono::seconds(5));
      auto [wec, wn] = co_await http::async_write(*stream, res, asio::as_tuple(asio::use_awaitable));
      if (wec || !res.keep_alive() || stopped) break;
    }
    boost::system::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->close();
    --open;
  }
};

MetricsServer::MetricsServer(const asio::any_io_executor& ex, const tcp::endpoint& at, Provider provider)
    : state_(std::make_shared<State>(ex, at, std::move(provider))) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start() { asio::co_spawn(state_->acceptor.get_executor(), state_->accept_loop(), asio::detached); }

void MetricsServer::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  for (auto& w : state_->streams) {
    if (auto s = w.lock()) s->cancel();
  }
  state_->streams.clear();
}

tcp::endpoint MetricsServer::local_endpoint() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

std::uint64_t MetricsServer::scrapes() const noexcept { return state_->scrapes; }

}  // namespace portdrift::daemon
