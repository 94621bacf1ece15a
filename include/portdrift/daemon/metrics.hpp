#pragma once
// The Prometheus endpoint: text exposition format 0.0.4 served over HTTP/1.1
// by Boost.Beast on the daemon's own io_context (no extra thread). GET
// /metrics returns what the provider renders at that moment; anything else is
// 404. Each connection is one coroutine with a deadline, and at most
// kMaxConnections are served at once, so a slow or hostile client cannot
// stall the event loop or the probes.

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

namespace portdrift::daemon {

inline constexpr std::size_t kMaxConnections = 16;

// "127.0.0.1:9617", "[::1]:9617", "0.0.0.0:0"; nullopt and `error` on anything else.
std::optional<boost::asio::ip::tcp::endpoint> parse_listen(std::string_view text, std::string& error);

// Builds exposition text: # HELP / # TYPE once per family, then samples.
class Exposition {
 public:
  using Labels = std::vector<std::pair<std::string_view, std::string>>;
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

 private:
  std::string text_;
};

// Escapes a label value (backslash, double quote, newline).
std::string escape_label(std::string_view value);

class MetricsServer {
 public:
  using Provider = std::function<std::string()>;
  // Binds and listens at once (throws boost::system::system_error when it cannot).
  MetricsServer(const boost::asio::any_io_executor& ex, const boost::asio::ip::tcp::endpoint& at, Provider provider);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  void start();
  void stop();
  [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;
  [[nodiscard]] std::uint64_t scrapes() const noexcept;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace portdrift::daemon
