// The Prometheus exposition and its HTTP server, over real loopback sockets.

#include <gtest/gtest.h>

#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "http_get.hpp"
#include "recording_sink.hpp"
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
  auto missing = std::async(std::launch::async, [&] { return testing::http_get("127.0.0.1", port, "/nope"); });
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

// --- the request handling, without a socket ----------------------------------

std::string provider_text() { return "portdrift_checks 3\n"; }

TEST(Metrics, AnswerRequestRoutesByMethodAndPath) {
  int calls = 0;
  const std::function<std::string()> provider = [&] {
    ++calls;
    return provider_text();
  };
  auto a = answer_request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", provider);
  EXPECT_EQ(a.status, 200U);
  EXPECT_EQ(a.body, provider_text());
  EXPECT_EQ(a.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(answer_request("GET /metrics?name[]=x HTTP/1.0\r\n\r\n", provider).status, 200U);
  EXPECT_EQ(calls, 2);

  a = answer_request("GET / HTTP/1.1\r\nHost: x\r\n\r\n", provider);
  EXPECT_EQ(a.status, 200U);
  EXPECT_NE(a.body.find("href=\"/metrics\""), std::string::npos) << a.body;
  EXPECT_EQ(answer_request("GET /metricsx HTTP/1.1\r\n\r\n", provider).status, 404U);
  EXPECT_EQ(answer_request("GET /favicon.ico HTTP/1.1\r\n\r\n", provider).status, 404U);
  for (const char* method : {"POST", "PUT", "DELETE", "HEAD", "OPTIONS"}) {
    a = answer_request(std::string(method) + " /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", provider);
    EXPECT_EQ(a.status, 405U) << method;
    ASSERT_EQ(a.headers.size(), 1U);
    EXPECT_EQ(a.headers[0], (std::pair<std::string, std::string>{"Allow", "GET"}));
  }
  EXPECT_EQ(calls, 2) << "the provider renders for GET /metrics only";
}

TEST(Metrics, AnswerRequestRefusesWhatDoesNotParseOrIsTooLarge) {
  const std::function<std::string()> provider = provider_text;
  EXPECT_EQ(answer_request("", provider).status, 400U);
  EXPECT_EQ(answer_request("GET /metrics HTTP/1.1\r\nHost: x\r\n", provider).status, 400U) << "head not whole";
  EXPECT_EQ(answer_request("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", provider).status, 400U) << "TLS";
  EXPECT_EQ(answer_request("GET /metrics HTTP/2.0\r\n\r\n", provider).status, 400U);
  EXPECT_EQ(answer_request("GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n", provider).status, 400U);
  const std::string long_header = "GET /metrics HTTP/1.1\r\nX: " + std::string(kMaxRequestHead, 'a') + "\r\n\r\n";
  EXPECT_EQ(answer_request(long_header, provider).status, 431U);
  EXPECT_EQ(answer_request("GET /metrics HTTP/1.1\r\nX: " + std::string(kMaxRequestHead + 10, 'a'), provider).status, 431U)
      << "an unfinished head over the limit";
  EXPECT_EQ(answer_request("POST /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", provider).status, 413U);
  // A body within the limit, partly in, does not matter to GET.
  EXPECT_EQ(answer_request("GET /metrics HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", provider).status, 200U);
}

TEST(Metrics, SerializedAnswerClosesTheConnection) {
  HttpAnswer a{405, "text/plain", "no\n", {{"Allow", "GET"}}};
  EXPECT_EQ(serialize(a),
            "HTTP/1.1 405 Method Not Allowed\r\nServer: portdrift\r\nContent-Type: text/plain\r\nAllow: GET\r\n"
            "Content-Length: 3\r\nConnection: close\r\n\r\nno\n");
}

// --- the server under hostile clients -------------------------------------------

int raw_status(std::uint16_t port, const std::string& bytes) { return testing::http_send("127.0.0.1", port, bytes).status; }

// The server on its own thread, as in the daemon; stopped and joined at the end.
struct ServerThread {
  asio::io_context io;
  MetricsServer server{io.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                       [] { return std::string("x 1\n"); }};
  std::thread thread;
  std::size_t open_at_end = 0;
  ServerThread() {
    server.start();
    thread = std::thread([this] { io.run(); });
  }
  [[nodiscard]] std::uint16_t port() const { return server.local_endpoint().port(); }
  // Stops the loop, then the server on this thread (the loop is idle then).
  void finish() {
    io.stop();
    thread.join();
    open_at_end = server.connections();
    server.stop();
    io.restart();
    io.run_for(std::chrono::milliseconds(100));
  }
};

TEST(Metrics, BadAndOversizedRequestsOverTheWire) {
  ServerThread t;
  EXPECT_EQ(raw_status(t.port(), "GARBAGE\r\n\r\n"), 400);
  EXPECT_EQ(raw_status(t.port(), "GET /metrics HTTP/1.1\r\nX: " + std::string(kMaxRequestHead + 100, 'a') + "\r\n\r\n"),
            431);
  EXPECT_EQ(raw_status(t.port(), "POST /metrics HTTP/1.1\r\nContent-Length: 999999\r\n\r\n"), 413);
  EXPECT_EQ(raw_status(t.port(), "DELETE /metrics HTTP/1.1\r\n\r\n"), 405);
  EXPECT_EQ(raw_status(t.port(), "GET /x HTTP/1.1\r\n\r\n"), 404);
  EXPECT_EQ(raw_status(t.port(), "GET / HTTP/1.1\r\n\r\n"), 200);
  t.finish();
}

// The lowest descriptor number not in use: with the limit set to it, no new descriptor can be made.
rlim_t lowest_free_fd() {
  const int fd = ::dup(0);
  ::close(fd);
  return static_cast<rlim_t>(fd);
}

// Out of descriptors, accept() fails at once for every pending connection. The
// loop must back off on a timer (not spin), say so once, and accept again
// when descriptors are free.
TEST(Metrics, AcceptBacksOffWhenOutOfDescriptors) {
  asio::io_context io;
  auto sink = std::make_shared<testing::RecordingSink>();
  auto log = std::make_shared<spdlog::logger>("metrics-test", sink);
  MetricsServer server(io.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                       [] { return std::string("x 1\n"); }, MetricsServer::Options{log, {}});
  server.start();
  io.poll();
  // Client sockets made now; connecting them later needs no new descriptor on this side.
  std::vector<std::unique_ptr<tcp::socket>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<tcp::socket>(io));
    clients.back()->open(tcp::v4());
  }
  rlimit saved{};
  ::getrlimit(RLIMIT_NOFILE, &saved);
  rlimit tight = saved;
  tight.rlim_cur = lowest_free_fd();  // not one more descriptor
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  for (auto& c : clients) c->connect(server.local_endpoint());
  rusage before{};
  ::getrusage(RUSAGE_THREAD, &before);
  io.run_for(std::chrono::milliseconds(400));  // an observation window: a spinning loop would burn all of it
  rusage after{};
  ::getrusage(RUSAGE_THREAD, &after);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  const auto cpu_us = (after.ru_utime.tv_sec - before.ru_utime.tv_sec + after.ru_stime.tv_sec - before.ru_stime.tv_sec) *
                          1000000 +
                      (after.ru_utime.tv_usec - before.ru_utime.tv_usec) + (after.ru_stime.tv_usec - before.ru_stime.tv_usec);
  EXPECT_LT(cpu_us, 100000) << "the accept loop spun";
  EXPECT_EQ(sink->count_containing("metrics: cannot accept a connection: Too many open files"), 1U) << sink->dump();
  // Descriptors are free again: the waiting connections are served.
  const std::string req = "GET /metrics HTTP/1.1\r\n\r\n";
  asio::write(*clients[0], asio::buffer(req));
  std::string answer;
  bool answered = false;
  std::array<char, 512> buf{};
  std::function<void()> read = [&] {
    clients[0]->async_read_some(asio::buffer(buf), [&](const boost::system::error_code& ec, std::size_t n) {
      answer.append(buf.data(), n);
      if (ec) {
        answered = true;
        return;
      }
      read();
    });
  };
  read();
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!answered && std::chrono::steady_clock::now() < end) io.run_for(std::chrono::milliseconds(10));
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0U) << answer;
  EXPECT_EQ(sink->count_containing("metrics: accepting connections again"), 1U) << sink->dump();
  server.stop();
  io.run_for(std::chrono::milliseconds(50));
}

// 1,000 idle connections and 1,000 slow ones (a byte every ~100 ms), renewed
// when the server closes them, and a real scrape still gets its answer. The
// latency under this load is measured by bench/metrics-starve.
TEST(Metrics, IdleAndSlowClientsCannotStarveAScrape) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 5000 && lim.rlim_max >= 5000) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 8192);
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur < 5000) GTEST_SKIP() << "needs 5,000 descriptors";
  ServerThread t;
  const auto at = tcp::endpoint(asio::ip::make_address("127.0.0.1"), t.port());
  asio::io_context client_io;
  auto connect = [&] {
    auto s = std::make_unique<tcp::socket>(client_io);
    boost::system::error_code ec;
    s->connect(at, ec);
    return s;
  };
  std::vector<std::unique_ptr<tcp::socket>> idle;
  std::vector<std::unique_ptr<tcp::socket>> slow;
  for (int i = 0; i < 1000; ++i) idle.push_back(connect());
  for (int i = 0; i < 1000; ++i) slow.push_back(connect());
  // The slow clients trickle "GET /metrics HTTP/1.1\r\n..." a byte at a time; one the server
  // closed is replaced by a new connection, so the pressure stays on. Bounded: 30 s at most.
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    std::size_t at_byte = 0;
    for (int round = 0; round < 300 && !done; ++round) {
      for (auto& s : slow) {
        if (::send(s->native_handle(), &req[at_byte % req.size()], 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) s = connect();
      }
      for (auto& s : idle) {  // an idle one the server closed reads as EOF: replace it
        char c;
        if (::recv(s->native_handle(), &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0) s = connect();
      }
      ++at_byte;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the pace of a slow client, not synchronisation
    }
  });
  int ok = 0;
  for (int i = 0; i < 5; ++i) {
    const auto r = testing::http_get("127.0.0.1", t.port(), "/metrics");
    if (r.status == 200 && r.body == "x 1\n") ++ok;
  }
  done = true;
  trickle.join();
  t.finish();
  EXPECT_EQ(ok, 5);
  EXPECT_GT(t.server.evicted(), 0U);
  EXPECT_LE(t.open_at_end, kMaxConnections);
}

}  // namespace
}  // namespace portdrift::daemon
