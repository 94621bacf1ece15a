// The Prometheus exposition and its HTTP server, over real loopback sockets.

#include <gtest/gtest.h>

#include <future>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "http_get.hpp"
#include "portdrift/daemon/metrics.hpp"

namespace portdrift::daemon {
namespace {
namespace asio = boost::asio;
using asio::ip::tcp;

TEST(Metrics, ParseListen) {
  std::string error;
  auto ep = parse_listen("127.0.0.1:9617", error);
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->address().to_string(), "127.0.0.1");
  EXPECT_EQ(ep->port(), 9617);
  ep = parse_listen("[::1]:0", error);
  ASSERT_TRUE(ep);
  EXPECT_TRUE(ep->address().is_v6());
  EXPECT_EQ(ep->port(), 0);
  for (const char* bad : {"127.0.0.1", "localhost:9617", "127.0.0.1:99999", "::1:80", "[::1:80", ":80", "1.2.3.4:x"}) {
    EXPECT_FALSE(parse_listen(bad, error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

TEST(Metrics, ExpositionEscapesLabelValues) {
  Exposition x;
  x.family("portdrift_check_drifting", "gauge", "help text");
  x.sample("portdrift_check_drifting", {{"host", "a\"b\\c\nd"}, {"port", "443"}}, 1);
  x.sample("portdrift_checks", 412);
  x.sample("portdrift_lag", 0.25);
  EXPECT_EQ(x.text(),
            "# HELP portdrift_check_drifting help text\n# TYPE portdrift_check_drifting gauge\n"
            "portdrift_check_drifting{host=\"a\\\"b\\\\c\\nd\",port=\"443\"} 1\n"
            "portdrift_checks 412\nportdrift_lag 0.25\n");
}

TEST(Metrics, ServesMetricsOverHttpOnLoopback) {
  asio::io_context io;
  int calls = 0;
  MetricsServer server(io.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), [&] {
    ++calls;
    return std::string("portdrift_checks 3\n");
  });
  server.start();
  const auto port = server.local_endpoint().port();
  ASSERT_NE(port, 0);
  auto ok = std::async(std::launch::async, [&] { return testing::http_get("127.0.0.1", port, "/metrics"); });
  auto missing = std::async(std::launch::async, [&] { return testing::http_get("127.0.0.1", port, "/"); });
  auto post = std::async(std::launch::async, [&] { return testing::http_get("127.0.0.1", port, "/metrics", "POST"); });
  while (ok.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready ||
         missing.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready ||
         post.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
    io.run_for(std::chrono::milliseconds(20));
  }
  const auto r = ok.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("text/plain; version=0.0.4"), std::string::npos) << r.headers;
  EXPECT_EQ(r.body, "portdrift_checks 3\n");
  EXPECT_EQ(missing.get().status, 404);
  EXPECT_EQ(post.get().status, 405);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(server.scrapes(), 1U);
  server.stop();
  io.run_for(std::chrono::milliseconds(50));
  // Stopped: the port no longer accepts.
  EXPECT_EQ(testing::http_get("127.0.0.1", port, "/metrics").status, -1);
}

TEST(Metrics, ASilentClientDoesNotBlockOthers) {
  asio::io_context io;
  MetricsServer server(io.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                       [] { return std::string("x 1\n"); });
  server.start();
  const auto port = server.local_endpoint().port();
  // Connects and says nothing.
  asio::io_context client_io;
  tcp::socket idle(client_io);
  idle.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  auto ok = std::async(std::launch::async, [&] { return testing::http_get("127.0.0.1", port, "/metrics"); });
  while (ok.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) io.run_for(std::chrono::milliseconds(20));
  EXPECT_EQ(ok.get().status, 200);
  server.stop();
  io.run_for(std::chrono::milliseconds(50));
}

}  // namespace
}  // namespace portdrift::daemon
