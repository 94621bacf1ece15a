// The metrics server's actors:
//  - the accept loop (started through spawn_actor, so an exception that
//    escapes it reaches the owner's failure callback): accepts; at the cap it
//    closes the oldest connection that has not sent a whole request, or
//    refuses the new one when every open one is being answered; on EMFILE or
//    ENFILE it waits on a timer (100 ms doubling to 1 s) and logs once;
//    stops when the acceptor is closed;
//  - one session per connection: reads one request under kRequestDeadline
//    (counted from the accept, not per byte, so a client sending a byte now
//    and then gains nothing), answers it through answer_request(), writes
//    under kWriteDeadline and closes. Both waits go through until()
//    (portdrift/core/deadline.hpp).
// All share one State through shared_ptr, so a stop() while sessions are
// suspended is safe: their sockets are closed, they wake with
// operation_aborted and end.

#include "portdrift/daemon/metrics.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <list>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "portdrift/core/deadline.hpp"

namespace portdrift::daemon {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

struct Parsed {
  enum class Stage : std::uint8_t { need_more, done, bad, head_too_large, body_too_large };
  Stage stage = Stage::need_more;
  bool head_done = false;
  http::verb method = http::verb::unknown;
  std::string target;
};

Parsed parse(std::string_view raw) {
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
  }
  return out;
}

HttpAnswer plain(unsigned status, std::string body) {
  return HttpAnswer{status, "text/plain; charset=utf-8", std::move(body), {}};
}

}  // namespace

HttpAnswer answer_request(std::string_view raw, const std::function<std::string()>& provider) {
  const auto p = parse(raw);
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

namespace {

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == boost::system::error_code(EMFILE, boost::system::system_category()) ||
         ec == boost::system::error_code(ENFILE, boost::system::system_category()) ||
         ec == boost::system::error_code(ENOBUFS, boost::system::system_category()) ||
         ec == boost::system::error_code(ENOMEM, boost::system::system_category());
}

}  // namespace

struct MetricsServer::State : std::enable_shared_from_this<MetricsServer::State> {
  State(const asio::any_io_executor& ex, const tcp::endpoint& at, Provider p, Options o)
      : acceptor(ex), backoff(ex), provider(std::move(p)), options(std::move(o)),
        log(options.log ? options.log : spdlog::default_logger()) {
    acceptor.open(at.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen(asio::socket_base::max_listen_connections);
  }

  struct Conn {
    explicit Conn(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    bool requested = false;  // a whole request is in: it is answered, never evicted
    bool listed = true;
    std::list<std::shared_ptr<Conn>>::iterator at;
  };

  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  Provider provider;
  Options options;
  std::shared_ptr<spdlog::logger> log;
  std::list<std::shared_ptr<Conn>> conns;  // oldest first
  std::uint64_t scrapes = 0;
  std::uint64_t evicted = 0;
  bool stopped = false;

  void unlist(const std::shared_ptr<Conn>& c) {
    if (!c->listed) return;
    c->listed = false;
    conns.erase(c->at);
  }

  // Closes the oldest connection that has not sent a whole request; false if every one has.
  bool evict_one() {
    for (auto& c : conns) {
      if (c->requested) continue;
      const auto victim = c;  // keep it alive while unlisting
      boost::system::error_code ignored;
      victim->socket.close(ignored);
      unlist(victim);
      ++evicted;
      return true;
    }
    return false;
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    auto pause = std::chrono::milliseconds(100);
    bool starved = false;
    while (!stopped) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (stopped || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        if (!out_of_descriptors(ec)) continue;  // ECONNABORTED and the like: the next one
        if (!starved) {
          log->warn("metrics: cannot accept a connection: {}; retrying every {} ms to 1 s until descriptors are free",
                    ec.message(), pause.count());
          starved = true;
        }
        backoff.expires_after(pause);
        co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
        pause = std::min(pause * 2, std::chrono::milliseconds(1000));
        continue;
      }
      if (starved) {
        log->info("metrics: accepting connections again");
        starved = false;
      }
      pause = std::chrono::milliseconds(100);
      if (conns.size() >= kMaxConnections && !evict_one()) continue;  // all busy answering: the new one closes
      auto c = std::make_shared<Conn>(std::move(socket));
      c->at = conns.insert(conns.end(), c);
      asio::co_spawn(acceptor.get_executor(), session(c), asio::detached);
    }
  }

  asio::awaitable<void> session(std::shared_ptr<Conn> c) {
    auto self = shared_from_this();
    try {
      co_await serve(*c);
    } catch (const std::exception& e) {
      log->warn("metrics: a connection ended with an error: {}", e.what());
    }
    boost::system::error_code ignored;
    c->socket.shutdown(tcp::socket::shutdown_both, ignored);
    c->socket.close(ignored);
    unlist(c);
  }

  asio::awaitable<void> serve(Conn& c) {
    std::string raw;
    std::array<char, 2048> buf{};
    const auto deadline = std::chrono::steady_clock::now() + kRequestDeadline;
    for (;;) {
      auto [r, expired] = co_await until(deadline, c.socket.async_read_some(asio::buffer(buf), asio::as_tuple(asio::deferred)));
      auto [ec, n] = r;
      raw.append(buf.data(), n);
      const auto stage = parse(raw).stage;
      if (stage != Parsed::Stage::need_more) break;  // whole, or never going to be
      if (ec || expired || stopped) co_return;       // gone, too slow, or stopping: no answer
    }
    c.requested = true;
    HttpAnswer answer;
    try {
      answer = answer_request(raw, [this] {
        ++scrapes;
        return provider();
      });
    } catch (const std::exception& e) {
      answer = HttpAnswer{500, "text/plain; charset=utf-8", fmt::format("cannot render the metrics: {}\n", e.what()), {}};
    }
    const auto wire = serialize(answer);
    co_await within(kWriteDeadline, asio::async_write(c.socket, asio::buffer(wire), asio::as_tuple(asio::deferred)));
  }
};

MetricsServer::MetricsServer(const asio::any_io_executor& ex, const tcp::endpoint& at, Provider provider,
                             Options options)
    : state_(std::make_shared<State>(ex, at, std::move(provider), std::move(options))) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start() {
  auto on_failure = state_->options.on_failure;
  if (!on_failure) {
    on_failure = [log = state_->log](std::string_view actor, std::exception_ptr cause) {
      log->critical("{} failed: {}", actor, describe(cause));
    };
  }
  spawn_actor(state_->acceptor.get_executor(), "metrics accept loop", state_->accept_loop(), std::move(on_failure));
}

void MetricsServer::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  state_->backoff.cancel();
  const auto conns = std::move(state_->conns);
  state_->conns.clear();
  for (const auto& c : conns) {
    c->listed = false;
    c->socket.close(ignored);
  }
}

tcp::endpoint MetricsServer::local_endpoint() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

std::uint64_t MetricsServer::scrapes() const noexcept { return state_->scrapes; }
std::size_t MetricsServer::connections() const noexcept { return state_->conns.size(); }
std::uint64_t MetricsServer::evicted() const noexcept { return state_->evicted; }

}  // namespace portdrift::daemon
