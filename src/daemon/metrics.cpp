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
//    (portdrift/core/deadline.hpp). With TLS the handshake comes first,
//    within the same request deadline; with basic auth users, credentials
//    are checked (bcrypt on the hasher thread, matches remembered as a
//    SHA-256 digest) before the request is answered.
// All share one State through shared_ptr, so a stop() while sessions are
// suspended is safe: their sockets are closed, they wake with
// operation_aborted and end.

#include "portdrift/daemon/metrics.hpp"

#include "metrics_http.hpp"

#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <list>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "portdrift/core/deadline.hpp"

namespace portdrift::daemon {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == boost::system::error_code(EMFILE, boost::system::system_category()) ||
         ec == boost::system::error_code(ENFILE, boost::system::system_category()) ||
         ec == boost::system::error_code(ENOBUFS, boost::system::system_category()) ||
         ec == boost::system::error_code(ENOMEM, boost::system::system_category());
}

using Digest = std::array<unsigned char, 32>;

Digest digest(const std::string& user, const std::string& password, const std::string& hash) {
  std::string all = user;
  all += '\0';
  all += password;
  all += '\0';
  all += hash;
  Digest d{};
  unsigned int n = 0;
  ::EVP_Digest(all.data(), all.size(), d.data(), &n, ::EVP_sha256(), nullptr);
  return d;
}

// Runs on the hasher thread; its arguments are copied into its own frame.
asio::awaitable<bool> bcrypt_check(std::string hash, std::string password) {
  co_return bcrypt_matches(hash, password);
}

HttpAnswer unauthorized_answer() {
  return HttpAnswer{401, "text/plain; charset=utf-8", "unauthorized\n", {{"WWW-Authenticate", "Basic realm=\"portdrift\""}}};
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
    std::shared_ptr<const WebConfig> web;  // as it was at accept; keeps the TLS context alive
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;
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
  std::uint64_t unauthorized = 0;
  bool stopped = false;
  std::shared_ptr<const WebConfig> web;
  asio::thread_pool* hasher = nullptr;  // owned by the MetricsServer, which joins it after stop()
  std::set<Digest> verified;            // credentials that matched a user's hash

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
      c->web = web;
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
    const auto deadline = std::chrono::steady_clock::now() + kRequestDeadline;
    if (!c.web || !c.web->tls) {
      co_await exchange(c.socket, c, deadline);
      co_return;
    }
    c.tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(c.socket, *c.web->tls);
    auto [r, expired] =
        co_await until(deadline, c.tls->async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::deferred)));
    auto [ec] = r;
    if (ec || expired || stopped) {
      if (!stopped && ec && ec != asio::error::operation_aborted && ec != asio::error::eof) ++unauthorized;
      log->debug("metrics: TLS handshake with {} failed: {}", peer(c), expired ? "too slow" : ec.message());
      co_return;
    }
    co_await exchange(*c.tls, c, deadline);
  }

  static std::string peer(const Conn& c) {
    boost::system::error_code ec;
    const auto ep = c.socket.remote_endpoint(ec);
    return ec ? std::string("a client") : fmt::format("{}:{}", ep.address().to_string(), ep.port());
  }

  // Reads one request from `stream` (plain or TLS), checks credentials when asked to, answers and writes.
  template <typename Stream>
  asio::awaitable<void> exchange(Stream& stream, Conn& c, std::chrono::steady_clock::time_point deadline) {
    std::string raw;
    std::array<char, 2048> buf{};
    for (;;) {
      auto [r, expired] = co_await until(deadline, stream.async_read_some(asio::buffer(buf), asio::as_tuple(asio::deferred)));
      auto [ec, n] = r;
      raw.append(buf.data(), n);
      const auto stage = parse_request(raw).stage;
      if (stage != Parsed::Stage::need_more) break;  // whole, or never going to be
      if (ec || expired || stopped) co_return;       // gone, too slow, or stopping: no answer
    }
    c.requested = true;
    HttpAnswer answer;
    if (c.web && !c.web->users.empty() && !co_await authorized(*c.web, parse_request(raw).authorization)) {
      ++unauthorized;
      answer = unauthorized_answer();
    } else {
      try {
        answer = answer_request(raw, [this] {
          ++scrapes;
          return provider();
        });
      } catch (const std::exception& e) {
        answer = HttpAnswer{500, "text/plain; charset=utf-8", fmt::format("cannot render the metrics: {}\n", e.what()), {}};
      }
    }
    const auto wire = serialize(answer);
    co_await within(kWriteDeadline, asio::async_write(stream, asio::buffer(wire), asio::as_tuple(asio::deferred)));
  }

  asio::awaitable<bool> authorized(const WebConfig& w, const std::string& header) {
    const auto cred = basic_credentials(header);
    if (!cred) co_return false;
    const auto user = w.users.find(cred->first);
    if (user == w.users.end() || stopped || hasher == nullptr) co_return false;
    const auto key = digest(cred->first, cred->second, user->second);
    if (verified.contains(key)) co_return true;
    const bool ok = co_await asio::co_spawn(hasher->get_executor(), bcrypt_check(user->second, cred->second),
                                            asio::use_awaitable);
    if (ok) {
      if (verified.size() >= 256) verified.clear();  // bounded: a forgotten match costs one bcrypt
      verified.insert(key);
    }
    co_return ok;
  }
};

MetricsServer::MetricsServer(const asio::any_io_executor& ex, const tcp::endpoint& at, Provider provider,
                             Options options)
    : state_(std::make_shared<State>(ex, at, std::move(provider), std::move(options))) {}

MetricsServer::~MetricsServer() {
  stop();
  if (hasher_) hasher_->join();  // a bcrypt in progress ends; its session sees the stop
}

void MetricsServer::set_web(std::shared_ptr<const WebConfig> web) {
  if (web && !web->users.empty() && !hasher_) {
    hasher_ = std::make_unique<asio::thread_pool>(1);
    state_->hasher = hasher_.get();
  }
  state_->verified.clear();  // the users or their hashes may have changed
  state_->web = std::move(web);
}

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
std::uint64_t MetricsServer::unauthorized() const noexcept { return state_->unauthorized; }

}  // namespace portdrift::daemon
