#pragma once
// The Prometheus endpoint: text exposition format 0.0.4 served over HTTP/1.1
// on the daemon's own io_context (no extra thread). GET /metrics returns what
// the provider renders at that moment, GET / a small page linking to it;
// other paths are 404, other methods 405. One request per connection (the
// answer says Connection: close).
//
// It cannot be starved by idle or slow clients: at most kMaxConnections are
// open; when a new one comes at the cap, the oldest connection that has not
// sent a whole request yet is closed to admit it. A request must arrive whole
// within kRequestDeadline and hold at most kMaxRequestHead bytes of head and
// kMaxRequestBody of body; an answer must be written within kWriteDeadline.
// When accept() fails for want of descriptors (EMFILE, ENFILE) the accept
// loop backs off (100 ms doubling to 1 s) instead of spinning, and says so
// once in the log.
//
// With a web configuration (web_config.hpp, `--web.config.file`) it speaks
// TLS (the handshake within the same request deadline) and asks for basic
// auth: a request without valid credentials gets 401 and never reaches the
// provider. bcrypt runs on a worker thread of its own, never on the loop;
// credentials that matched are remembered (as a SHA-256 digest) so a
// Prometheus scraping every 15 s costs one bcrypt, not one per scrape.
// set_web() swaps the configuration for the connections that come after it.
//
// It must not: block the event loop, let a client hold a slot past its
// deadlines, or answer anything but GET /metrics with the metrics.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include "portdrift/core/actor.hpp"
#include "portdrift/daemon/web_config.hpp"

namespace spdlog {
class logger;
}

namespace portdrift::daemon {

inline constexpr std::size_t kMaxConnections = 64;
inline constexpr std::size_t kMaxRequestHead = 8192;  // request line and headers
inline constexpr std::size_t kMaxRequestBody = 4096;
inline constexpr std::chrono::milliseconds kRequestDeadline{2000};  // from accept to the whole request
inline constexpr std::chrono::milliseconds kWriteDeadline{5000};

// One answer of the endpoint, before it is put on the wire.
struct HttpAnswer {
  unsigned status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones, e.g. Allow
};

// Parses one raw HTTP/1.x request as received (request line and headers, maybe a body) and answers it:
// 200 for GET /metrics (the provider's text), 200 with a link for GET /, 404 for other paths,
// 405 (with Allow: GET) for other methods on /metrics, 400 for what does not parse, 431/413 over the size limit.
// Pure: no I/O; the provider is called only for GET /metrics.
HttpAnswer answer_request(std::string_view raw, const std::function<std::string()>& provider);

// An Authorization header's basic credentials: "Basic dXNlcjpwYXNz" -> {"user", "pass"};
// nullopt for any other scheme, bad base64 or no ':'. Pure, like answer_request.
std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view authorization);

// The answer as bytes on the wire, with Content-Length and Connection: close.
std::string serialize(const HttpAnswer& answer);

// "127.0.0.1:9617", "[::1]:9617", "0.0.0.0:0"; nullopt and `error` on anything else.
std::optional<boost::asio::ip::tcp::endpoint> parse_listen(std::string_view text, std::string& error);

// Builds exposition text: # HELP / # TYPE once per family, then samples.
class Exposition {
 public:
  using Labels = std::vector<std::pair<std::string_view, std::string>>;
  // Labels every later sample starts with (the instance's vantage and shard).
  void constant_labels(Labels labels) { constant_ = std::move(labels); }
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

 private:
  std::string text_;
  Labels constant_;
};

// Escapes a label value (backslash, double quote, newline).
std::string escape_label(std::string_view value);

class MetricsServer {
 public:
  using Provider = std::function<std::string()>;
  struct Options {
    std::shared_ptr<spdlog::logger> log;  // null: spdlog's default logger
    ActorFailure on_failure;              // the accept loop died of an exception (null: logged only)
  };
  // Binds and listens at once (throws boost::system::system_error when it cannot).
  MetricsServer(const boost::asio::any_io_executor& ex, const boost::asio::ip::tcp::endpoint& at, Provider provider,
                Options options = {});
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  void start();
  void stop();
  // TLS and basic auth from now on (null: plain HTTP, no authentication).
  void set_web(std::shared_ptr<const WebConfig> web);
  [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;
  [[nodiscard]] std::uint64_t scrapes() const noexcept;
  [[nodiscard]] std::size_t connections() const noexcept;  // open now
  [[nodiscard]] std::uint64_t evicted() const noexcept;     // closed to admit a newer one
  [[nodiscard]] std::uint64_t unauthorized() const noexcept;  // 401 answers and failed TLS handshakes

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::unique_ptr<boost::asio::thread_pool> hasher_;  // bcrypt, off the loop (made when users are set)
};

}  // namespace portdrift::daemon
