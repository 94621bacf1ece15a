// pd-metrics-starve: how long a Prometheus scrape takes while idle and slow
// clients hold connections to the metrics endpoint. Loopback only.
//
//   pd-metrics-starve                                # serves this build's MetricsServer in-process
//   pd-metrics-starve --connect 127.0.0.1:9617       # any running endpoint (e.g. main's daemon)
//   --idle N (1000)  --slow N (1000)  --scrapes N (20)  --gap-ms N (250)
//
// The idle clients connect and say nothing; the slow ones send a request one
// byte every 100 ms. A client whose connection the server closed connects
// again, so the pressure stays on for the whole run. Meanwhile the tool
// scrapes GET /metrics --scrapes times, --gap-ms apart, each with a 5 s
// limit, and prints how many succeeded and their latency (connect to last
// byte): p50, p90, max. RLIMIT_NOFILE is raised as needed.

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>

#include "portdrift/daemon/metrics.hpp"

#include <boost/asio/io_context.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Endpoint {
  sockaddr_in addr{};
};

std::optional<Endpoint> parse(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  Endpoint e;
  e.addr.sin_family = AF_INET;
  const std::string host(text.substr(0, colon));
  if (::inet_pton(AF_INET, host.c_str(), &e.addr.sin_addr) != 1) return std::nullopt;
  if ((ntohl(e.addr.sin_addr.s_addr) >> 24) != 127) return std::nullopt;  // loopback only
  unsigned port = 0;
  const auto p = text.substr(colon + 1);
  if (std::from_chars(p.data(), p.data() + p.size(), port).ec != std::errc{} || port == 0 || port > 65535) {
    return std::nullopt;
  }
  e.addr.sin_port = htons(static_cast<std::uint16_t>(port));
  return e;
}

int connect_to(const Endpoint& e) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&e.addr), sizeof e.addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One scrape: status 200 and a body, within 5 s. Returns the latency, or nullopt.
std::optional<Clock::duration> scrape(const Endpoint& e) {
  const auto start = Clock::now();
  const int fd = connect_to(e);
  if (fd < 0) return std::nullopt;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string all;
  char buf[8192];
  for (;;) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto took = Clock::now() - start;
  if (all.rfind("HTTP/1.1 200", 0) != 0 && all.rfind("HTTP/1.0 200", 0) != 0) return std::nullopt;
  return took;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::optional<Endpoint> target;
  int idle_n = 1000;
  int slow_n = 1000;
  int scrapes = 20;
  int gap_ms = 250;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto next = [&]() -> std::string_view {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    auto number = [&] { return std::stoi(std::string(next())); };
    if (a == "--connect") {
      target = parse(next());
      if (!target) {
        std::fprintf(stderr, "--connect: need 127.x.y.z:PORT\n");
        return 2;
      }
    } else if (a == "--idle") {
      idle_n = number();
    } else if (a == "--slow") {
      slow_n = number();
    } else if (a == "--scrapes") {
      scrapes = number();
    } else if (a == "--gap-ms") {
      gap_ms = number();
    } else {
      std::fprintf(stderr, "usage: %s [--connect 127.0.0.1:PORT] [--idle N] [--slow N] [--scrapes N] [--gap-ms N]\n",
                   argv[0]);
      return 2;
    }
  }
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);

  // In-process: this build's server on its own thread.
  std::unique_ptr<boost::asio::io_context> io;
  std::unique_ptr<portdrift::daemon::MetricsServer> server;
  std::thread loop;
  if (!target) {
    io = std::make_unique<boost::asio::io_context>();
    std::string text;
    for (int i = 0; i < 200; ++i) text += "portdrift_check_state{host=\"h" + std::to_string(i) + "\"} 1\n";
    server = std::make_unique<portdrift::daemon::MetricsServer>(
        io->get_executor(),
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0), [text] { return text; });
    server->start();
    target = parse("127.0.0.1:" + std::to_string(server->local_endpoint().port()));
    loop = std::thread([&] { io->run(); });
  }

  std::vector<int> idle(static_cast<std::size_t>(idle_n), -1);
  std::vector<int> slow(static_cast<std::size_t>(slow_n), -1);
  for (auto& fd : idle) fd = connect_to(*target);
  for (auto& fd : slow) fd = connect_to(*target);
  std::atomic<bool> done{false};
  std::atomic<long> reconnects{0};
  std::thread pressure([&] {
    const std::string req = "GET /metrics HTTP/1.1\r\nHost: slow\r\n\r\n";
    std::size_t byte = 0;
    while (!done) {
      for (auto& fd : slow) {
        if (fd < 0 || ::send(fd, &req[byte % req.size()], 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
          if (fd >= 0) ::close(fd);
          fd = connect_to(*target);
          ++reconnects;
        }
      }
      for (auto& fd : idle) {
        char c;
        if (fd < 0 || ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0) {
          if (fd >= 0) ::close(fd);
          fd = connect_to(*target);
          ++reconnects;
        }
      }
      ++byte;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  std::vector<Clock::duration> took;
  int failed = 0;
  for (int i = 0; i < scrapes; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
    if (auto t = scrape(*target)) {
      took.push_back(*t);
    } else {
      ++failed;
    }
  }
  done = true;
  pressure.join();
  for (const int fd : idle) if (fd >= 0) ::close(fd);
  for (const int fd : slow) if (fd >= 0) ::close(fd);
  if (server) {
    io->stop();
    loop.join();
  }

  std::sort(took.begin(), took.end());
  auto pct = [&](double p) {
    if (took.empty()) return -1.0;
    return ms(took[std::min(took.size() - 1, static_cast<std::size_t>(p * static_cast<double>(took.size())))]);
  };
  std::printf("idle=%d slow=%d scrapes=%d ok=%zu failed=%d reconnects=%ld latency_ms p50=%.2f p90=%.2f max=%.2f\n",
              idle_n, slow_n, scrapes, took.size(), failed, reconnects.load(), pct(0.5), pct(0.9),
              took.empty() ? -1.0 : ms(took.back()));
  return failed == 0 ? 0 : 1;
}
