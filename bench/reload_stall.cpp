// pd-reload-stall: the longest event-loop stall while the daemon reloads a
// large topology. It writes a topology of N checks (default 100,000: hosts
// of 20 closed ports on 127.0.0.0/8, interval one hour, so that hardly any
// probe runs), starts the daemon in process, and keeps a 10 ms ticker on the
// daemon's loop that records the largest gap between two ticks. Then it posts
// a reload and runs until "reloaded" is logged. It prints the reload's wall
// time and the largest gap during it. The same source builds against an
// older library (the daemon's public interface is the same), which gives the
// "before" figure.
//
//   build/bench/pd-reload-stall [CHECKS]

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include "portdrift/daemon/daemon.hpp"

namespace {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

class Watch final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::atomic<int> reloaded{0};

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (text.starts_with("reloaded ")) ++reloaded;
  }
  void flush_() override {}
};

}  // namespace

int main(int argc, char** argv) {
  const long checks = argc > 1 ? std::stol(argv[1]) : 100000;
  const auto dir = std::filesystem::temp_directory_path() / ("pd-reload-stall-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto topology = dir / "topology.yaml";
  {
    std::ofstream out(topology);
    out << "defaults: {interval_s: 3600, timeout_ms: 200, retries: 0}\nhosts:\n";
    for (long h = 0; h < checks / 20; ++h) {
      out << "  - {name: h" << h << ", address: 127." << 1 + h / 62500 << '.' << (h / 250) % 250 << '.'
          << h % 250 + 1 << ", checks: [{protocol: tcp, port: \"40001-40020\", expect: closed}]}\n";
    }
  }
  auto watch = std::make_shared<Watch>();
  auto log = std::make_shared<spdlog::logger>("portdrift", watch);
  log->set_level(spdlog::level::info);
  portdrift::daemon::Options o;
  o.config = topology;
  o.catalog_dir = PORTDRIFT_CATALOG_DIR;
  o.metrics_listen = "off";
  o.seed = 1;

  asio::io_context io(1);
  portdrift::daemon::Daemon daemon(io, o, log);
  const auto started = Clock::now();
  if (!daemon.start()) return 1;
  const auto start_s = std::chrono::duration<double>(Clock::now() - started).count();

  asio::steady_timer ticker(io);
  Clock::duration max_gap{};
  auto last = Clock::now();
  bool measuring = false;
  std::function<void()> tick = [&] {
    const auto now = Clock::now();
    if (measuring) max_gap = std::max(max_gap, now - last);
    last = now;
    ticker.expires_after(std::chrono::milliseconds(10));
    ticker.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  };
  tick();
  io.run_for(std::chrono::milliseconds(300));
  Clock::time_point reload_at;
  asio::post(io, [&] {
    measuring = true;
    last = Clock::now();
    reload_at = last;
    daemon.reload();
  });
  const auto deadline = Clock::now() + std::chrono::minutes(2);
  while (watch->reloaded.load() == 0 && Clock::now() < deadline) io.run_for(std::chrono::milliseconds(10));
  const auto reload_s = std::chrono::duration<double>(Clock::now() - reload_at).count();
  io.run_for(std::chrono::milliseconds(50));  // the ticker's first tick after a reload that blocked the loop
  daemon.stop();
  io.run_for(std::chrono::seconds(2));
  std::filesystem::remove_all(dir);
  if (watch->reloaded.load() == 0) {
    std::fprintf(stderr, "pd-reload-stall: no reload within 2 minutes\n");
    return 1;
  }
  std::printf("%ld checks: start (on the loop, before it runs) %.2f s; reload %.2f s; longest loop stall during the "
              "reload %.1f ms (10 ms ticker)\n",
              checks, start_s, reload_s, std::chrono::duration<double, std::milli>(max_gap).count());
  return 0;
}
