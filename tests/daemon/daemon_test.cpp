// The daemon in process, against real loopback sockets: a listener the test
// opens and closes, a notify socket, a state file, the metrics endpoint
// scraped over HTTP, and a recording log sink. Intervals are 1 s, so each test
// takes a few seconds. Filtering and packet loss need a network namespace and
// are covered by tests/netns/daemon_test.cpp.

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>

#include "datagram_socket.hpp"
#include "http_get.hpp"
#include "portdrift/daemon/daemon.hpp"
#include "portdrift/daemon/state_file.hpp"
#include "recording_sink.hpp"

namespace portdrift::daemon {
namespace {
namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::ip::tcp;
using namespace std::chrono_literals;
using testing::DatagramSocket;
using testing::RecordingSink;

const auto kLoopback = asio::ip::make_address("127.0.0.1");

// Prometheus text to {"name{labels}": value}.
std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const auto line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

struct Bed {
  fs::path dir;
  fs::path config;
  fs::path state;
  std::uint16_t port = 0;    // the listener's port, open or closed as the test says
  std::uint16_t closed = 0;  // nothing ever listens here
  std::uint16_t spare = 0;   // nor here
  std::optional<DatagramSocket> notify;
  std::unique_ptr<asio::io_context> io;
  std::unique_ptr<tcp::acceptor> listener;
  std::shared_ptr<RecordingSink> sink;
  std::unique_ptr<Daemon> daemon;

  explicit Bed(const std::string& name) {
    dir = fs::path(::testing::TempDir()) / fmt::format("pd-daemon-{}-{}", name, ::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    config = dir / "topology.yaml";
    state = dir / "state.json";
    notify.emplace((dir / "notify.sock").string());
    io = std::make_unique<asio::io_context>();
    open_listener();
    port = listener->local_endpoint().port();
    tcp::acceptor reserve(*io, tcp::endpoint(kLoopback, 0));
    tcp::acceptor reserve2(*io, tcp::endpoint(kLoopback, 0));
    closed = reserve.local_endpoint().port();
    spare = reserve2.local_endpoint().port();
  }
  ~Bed() {
    daemon.reset();
    listener.reset();
    io.reset();
    fs::remove_all(dir);
  }

  void open_listener() {
    listener = std::make_unique<tcp::acceptor>(*io);
    listener->open(tcp::v4());
    listener->set_option(asio::socket_base::reuse_address(true));
    listener->bind(tcp::endpoint(kLoopback, port));
    listener->listen();
  }
  void close_listener() { listener.reset(); }

  void write_config(const std::string& extra_checks = "") {
    std::ofstream(config, std::ios::trunc) << fmt::format(
        "defaults: {{interval_s: 1, confirm: 2, clear: 2, timeout_ms: 300, retries: 0, max_rate: 0}}\n"
        "daemon: {{summary_interval_s: 1}}\n"
        "hosts:\n"
        "  - name: lo\n"
        "    address: 127.0.0.1\n"
        "    checks:\n"
        "      - {{protocol: tcp, port: {}, expect: open, name: web}}\n"
        "      - {{protocol: tcp, port: {}, expect: closed}}\n{}",
        port, closed, extra_checks);
  }

  Options options() const {
    Options o;
    o.config = config;
    o.catalog_dir = PORTDRIFT_CATALOG_DIR;
    o.state_file = state;
    o.metrics_listen = "127.0.0.1:0";
    o.notify_socket = notify->path();
    o.seed = 1;
    return o;
  }

  bool start(spdlog::level::level_enum level = spdlog::level::info, Options o = {}) {
    if (o.config.empty()) o = options();
    sink = std::make_shared<RecordingSink>();
    auto log = std::make_shared<spdlog::logger>("portdrift", sink);
    log->set_level(level);
    daemon = std::make_unique<Daemon>(*io, std::move(o), log);
    return daemon->start();
  }

  // Runs the event loop until `done` or the timeout; returns `done()`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline && !io->stopped()) io->run_for(20ms);
    return done();
  }
  // Runs the loop until the daemon has recorded `more` results beyond those
  // it has now: the event to wait on before saying "nothing else happened".
  bool run_results(std::uint64_t more, std::chrono::milliseconds timeout = 10s) {
    const auto target = daemon->results() + more;
    return run_until([&] { return daemon->results() >= target; }, timeout);
  }

  // Scrapes the daemon's endpoint over HTTP while the loop keeps running.
  std::map<std::string, double> scrape() {
    const auto ep = daemon->metrics_endpoint();
    EXPECT_TRUE(ep);
    auto f = std::async(std::launch::async, [p = ep->port()] { return testing::http_get("127.0.0.1", p, "/metrics"); });
    run_until([&] { return f.wait_for(0ms) == std::future_status::ready; }, 5s);
    const auto r = f.get();
    EXPECT_EQ(r.status, 200);
    return parse_metrics(r.body);
  }

  std::string series(std::string_view name, std::uint16_t p, std::string_view expected, std::string_view observed) const {
    // Explicit checks: no flow, no roles.
    return fmt::format("{}{{host=\"lo\",address=\"127.0.0.1\",protocol=\"tcp\",port=\"{}\",expected=\"{}\",observed=\"{}\","
                       "flow=\"\",from_role=\"\",to_role=\"\",severity=\"critical\"}}",
                       name, p, expected, observed);
  }
};

bool any_starts(const std::vector<std::string>& v, std::string_view prefix) {
  for (const auto& s : v) {
    if (s.starts_with(prefix)) return true;
  }
  return false;
}

TEST(Daemon, TellsTheStoryOfOneDriftReloadsAndStops) {
  Bed bed("story");
  bed.write_config();
  ASSERT_TRUE(bed.start());
  const auto ready = bed.notify->receive();
  EXPECT_TRUE(ready.starts_with("READY=1\nSTATUS=2 checks, 0 drifting")) << ready;

  // Everything as expected over two rounds and a summary: no drift line, and nothing per probe at info level.
  ASSERT_TRUE(bed.run_results(4));
  ASSERT_TRUE(bed.run_until([&] { return bed.sink->count_containing("summary: ") > 0; }, 5s));
  EXPECT_TRUE(bed.sink->starting("DRIFT").empty()) << bed.sink->dump();
  EXPECT_EQ(bed.sink->count_containing("probe "), 0U);
  EXPECT_GE(bed.sink->count_containing("summary: 2 checks, 0 drifting"), 1U);

  // The port goes away: one DRIFT line after `confirm` results, and no more.
  bed.close_listener();
  const auto dropped_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(bed.run_until([&] { return !bed.sink->starting("DRIFT ").empty(); }, 6s)) << bed.sink->dump();
  const auto took = std::chrono::steady_clock::now() - dropped_at;
  EXPECT_GE(took, 1s);  // two results one interval apart, never the first one alone
  ASSERT_TRUE(bed.run_results(4));  // two more rounds: the drift is not announced again
  auto drifts = bed.sink->starting("DRIFT ");
  ASSERT_EQ(drifts.size(), 1U) << bed.sink->dump();
  const auto& d = drifts[0];
  EXPECT_EQ(d.level, spdlog::level::err);
  EXPECT_NE(d.text.find(fmt::format("lo 127.0.0.1 tcp/{}: expected open, observed closed (conn-refused) since ", bed.port)),
            std::string::npos)
      << d.text;
  EXPECT_NE(d.text.find("[web]"), std::string::npos) << d.text;
  EXPECT_EQ(d.field("PORTDRIFT_EVENT"), "drift");
  EXPECT_EQ(d.field("PORTDRIFT_HOST"), "lo");
  EXPECT_EQ(d.field("PORTDRIFT_ADDRESS"), "127.0.0.1");
  EXPECT_EQ(d.field("PORTDRIFT_PROTOCOL"), "tcp");
  EXPECT_EQ(d.field("PORTDRIFT_PORT"), std::to_string(bed.port));
  EXPECT_EQ(d.field("PORTDRIFT_EXPECTED"), "open");
  EXPECT_EQ(d.field("PORTDRIFT_OBSERVED"), "closed");
  EXPECT_EQ(d.field("PORTDRIFT_REASON"), "conn-refused");
  EXPECT_FALSE(d.field("PORTDRIFT_SINCE").empty());
  EXPECT_TRUE(any_starts(bed.notify->drain(), "STATUS=2 checks, 1 drifting"));

  auto m = bed.scrape();
  EXPECT_EQ(m[bed.series("portdrift_check_drifting", bed.port, "open", "closed")], 1);
  EXPECT_EQ(m[bed.series("portdrift_check_drifting", bed.closed, "closed", "closed")], 0);
  EXPECT_EQ(m["portdrift_checks"], 2);
  EXPECT_EQ(m["portdrift_checks_drifting"], 1);
  EXPECT_EQ(m["portdrift_drift_events_total"], 1);
  EXPECT_GT(m["portdrift_results_total"], 6);
  EXPECT_LT(m["portdrift_scheduler_lag_seconds"], 0.5);
  EXPECT_TRUE(m.contains(
      fmt::format("portdrift_check_probe_duration_seconds{{host=\"lo\",address=\"127.0.0.1\",protocol=\"tcp\",port=\"{}\","
                  "expected=\"open\",flow=\"\",from_role=\"\",to_role=\"\",severity=\"critical\"}}",
                  bed.port)));

  // It comes back: one RESOLVED line.
  bed.open_listener();
  ASSERT_TRUE(bed.run_until([&] { return !bed.sink->starting("RESOLVED ").empty(); }, 6s)) << bed.sink->dump();
  ASSERT_TRUE(bed.run_results(4));
  const auto resolved = bed.sink->starting("RESOLVED ");
  ASSERT_EQ(resolved.size(), 1U) << bed.sink->dump();
  EXPECT_NE(resolved[0].text.find("expected open, observed open (syn-ack) again; had drifted since "), std::string::npos)
      << resolved[0].text;
  EXPECT_EQ(resolved[0].field("PORTDRIFT_EVENT"), "resolved");
  EXPECT_EQ(bed.sink->starting("DRIFT ").size(), 1U);

  // A broken configuration on reload: rejected, the old one keeps probing.
  bed.notify->drain();
  std::ofstream(bed.config, std::ios::trunc) << "hosts:\n  - name: lo\n    adress: 127.0.0.1\n";
  bed.daemon->reload();
  EXPECT_TRUE(bed.notify->receive().starts_with("RELOADING=1\nMONOTONIC_USEC="));
  ASSERT_TRUE(bed.run_until([&] { return !bed.daemon->reloading(); }, 5s));  // parsed on a worker thread
  EXPECT_TRUE(bed.notify->receive().starts_with("READY=1\nSTATUS=2 checks, 0 drifting; last reload failed"));
  EXPECT_EQ(bed.sink->count_containing("reload rejected"), 1U) << bed.sink->dump();
  EXPECT_GE(bed.sink->count_containing("topology.yaml:3:5: hosts[0].adress: unknown key"), 1U) << bed.sink->dump();
  const double before = bed.scrape()["portdrift_results_total"];
  ASSERT_TRUE(bed.run_results(4));
  m = bed.scrape();
  EXPECT_GE(m["portdrift_results_total"], before + 3);  // still probing both checks
  EXPECT_EQ(m["portdrift_config_last_reload_successful"], 0);
  EXPECT_EQ(m["portdrift_config_reloads_total{result=\"failed\"}"], 1);

  // A good reload with one more check: the two old ones keep their state.
  bed.write_config(fmt::format("      - {{protocol: tcp, port: {}, expect: blocked}}\n", bed.spare));
  bed.daemon->reload();
  ASSERT_TRUE(bed.run_until([&] { return !bed.daemon->reloading(); }, 5s));
  EXPECT_EQ(bed.sink->count_containing("3 checks (1 new, 0 removed, 2 kept with their state)"), 1U) << bed.sink->dump();
  ASSERT_TRUE(bed.run_results(3));  // the new plan probed

  // Stop: STOPPING=1, the state written with all three checks.
  bed.notify->drain();
  bed.daemon->stop();
  // A batch in flight is cancelled and waited for, within a bound.
  EXPECT_TRUE(bed.run_until([&] { return bed.io->stopped(); }, 1s));
  EXPECT_TRUE(any_starts(bed.notify->drain(), "STOPPING=1"));
  const auto saved = load_state(bed.state);
  ASSERT_EQ(saved.status, LoadStatus::ok) << saved.error;
  EXPECT_EQ(saved.state.checks.size(), 3U);
  for (const auto& c : saved.state.checks) EXPECT_EQ(c.hard, Hard::ok) << c.key;
}

TEST(Daemon, ARestartDoesNotAnnounceAnOngoingDriftAgain) {
  Bed bed("restart");
  bed.close_listener();  // drifting from the start
  bed.write_config();
  ASSERT_TRUE(bed.start());
  ASSERT_TRUE(bed.run_until([&] { return !bed.sink->starting("DRIFT ").empty(); }, 6s)) << bed.sink->dump();
  bed.daemon->stop();
  ASSERT_TRUE(bed.run_until([&] { return bed.io->stopped(); }, 1s));
  ASSERT_EQ(load_state(bed.state).status, LoadStatus::ok);

  // A new process, in effect: a new loop, daemon and log.
  bed.daemon.reset();
  bed.io = std::make_unique<asio::io_context>();
  ASSERT_TRUE(bed.start());
  EXPECT_EQ(bed.sink->count_containing("1 drifting: lo 127.0.0.1 tcp/"), 1U) << bed.sink->dump();
  ASSERT_TRUE(bed.run_results(6));  // three rounds, more than `confirm`
  EXPECT_TRUE(bed.sink->starting("DRIFT ").empty()) << bed.sink->dump();
  EXPECT_EQ(bed.scrape()["portdrift_checks_drifting"], 1);
  bed.open_listener();
  ASSERT_TRUE(bed.run_until([&] { return !bed.sink->starting("RESOLVED ").empty(); }, 6s)) << bed.sink->dump();
}

TEST(Daemon, ACorruptStateFileIsReportedAndReplaced) {
  Bed bed("corrupt");
  bed.write_config();
  std::ofstream(bed.state) << "{\"format\": 1, \"checks\": [tru";
  ASSERT_TRUE(bed.start());
  EXPECT_EQ(bed.sink->count_containing("is corrupt"), 1U) << bed.sink->dump();
  const auto r = load_state(bed.state);
  ASSERT_EQ(r.status, LoadStatus::ok) << r.error;
  EXPECT_EQ(r.state.checks.size(), 2U);
}

TEST(Daemon, AnInvalidConfigurationDoesNotStart) {
  Bed bed("invalid");
  std::ofstream(bed.config) << "hosts: []\n";
  EXPECT_FALSE(bed.start());
  EXPECT_GE(bed.sink->count_containing("cannot start: "), 1U) << bed.sink->dump();
  EXPECT_EQ(bed.notify->receive(200), "<nothing>");  // never READY
}

// A source address this machine does not have would fail every probe: the
// daemon refuses to start on it, and a reload that brings one is rejected
// with the file:line:column of the `source:` key (issue 10).
TEST(Daemon, ASourceNotOnThisMachineStopsTheStartAndIsRejectedOnReload) {
  Bed bed("source");
  std::ofstream(bed.config) << fmt::format(
      "defaults: {{interval_s: 1, timeout_ms: 300, retries: 0, source: 198.51.100.77}}\n"
      "hosts:\n  - {{name: lo, address: 127.0.0.1, checks: [{{protocol: tcp, port: {}, expect: open}}]}}\n",
      bed.port);
  EXPECT_FALSE(bed.start());
  EXPECT_EQ(bed.sink->count_containing("topology.yaml:1:64: defaults.source: "), 1U) << bed.sink->dump();
  EXPECT_EQ(bed.notify->receive(200), "<nothing>");  // never READY

  Bed good("source-reload");
  good.write_config();
  ASSERT_TRUE(good.start());
  std::ofstream(good.config, std::ios::app) << "    source: 198.51.100.77\n";
  good.daemon->reload();
  ASSERT_TRUE(good.run_until([&] { return !good.daemon->reloading(); }, 5s));
  EXPECT_EQ(good.sink->count_containing("reload rejected"), 1U) << good.sink->dump();
  EXPECT_EQ(good.sink->count_containing("topology.yaml:9:13: hosts[0].source: "), 1U) << good.sink->dump();
}

// One instance of a fleet: its vantage and shard in the started line, the DRIFT line, the journal
// fields and every metric sample; an unknown vantage does not start and names the declared ones.
TEST(Daemon, AFleetInstanceNamesItsVantageAndShard) {
  Bed bed("fleet");
  bed.write_config();
  std::ofstream(bed.config, std::ios::app) << "vantages:\n  here: {roles: [agent]}\n  there: {roles: [sepm]}\n";
  auto o = bed.options();
  o.selection.vantage = "here";
  o.selection.shard = plan::Shard{1, 1};
  ASSERT_TRUE(bed.start(spdlog::level::info, o)) << bed.sink->dump();
  EXPECT_EQ(bed.sink->count_containing("started: 2 checks (vantage here, shard 1/1), "), 1U) << bed.sink->dump();
  bed.close_listener();
  ASSERT_TRUE(bed.run_until([&] { return !bed.sink->starting("DRIFT ").empty(); }, 6s)) << bed.sink->dump();
  const auto d = bed.sink->starting("DRIFT ").at(0);
  EXPECT_TRUE(d.text.ends_with("[web] (vantage here, shard 1/1)")) << d.text;
  EXPECT_EQ(d.field("PORTDRIFT_VANTAGE"), "here");
  EXPECT_EQ(d.field("PORTDRIFT_SHARD"), "1/1");
  auto m = bed.scrape();
  EXPECT_EQ(m["portdrift_checks{vantage=\"here\",shard=\"1/1\"}"], 2);
  EXPECT_EQ(m[fmt::format("portdrift_check_drifting{{vantage=\"here\",shard=\"1/1\",host=\"lo\",address=\"127.0.0.1\","
                          "protocol=\"tcp\",port=\"{}\",expected=\"open\",observed=\"closed\",flow=\"\",from_role=\"\","
                          "to_role=\"\",severity=\"critical\"}}",
                          bed.port)],
            1);
  bed.daemon.reset();

  Bed other("fleet-unknown");
  other.write_config();
  std::ofstream(other.config, std::ios::app) << "vantages:\n  here: {roles: [agent]}\n";
  auto u = other.options();
  u.selection.vantage = "dmz";
  EXPECT_FALSE(other.start(spdlog::level::info, u));
  EXPECT_GE(other.sink->count_containing("unknown vantage 'dmz' (declared: here)"), 1U) << other.sink->dump();
}

TEST(Daemon, WatchdogPingsFromTheLoopAndDebugLogsEachProbe) {
  Bed bed("watchdog");
  bed.write_config();
  auto o = bed.options();
  o.watchdog = 200ms;
  o.metrics_listen = "off";
  ASSERT_TRUE(bed.start(spdlog::level::debug, o));
  EXPECT_FALSE(bed.daemon->metrics_endpoint());
  // Six pings, one per interval: never two in one interval (five intervals at least between the first and the last).
  std::vector<std::chrono::steady_clock::time_point> at;
  ASSERT_TRUE(bed.run_until(
      [&] {
        for (const auto& d : bed.notify->drain()) {
          if (d == "WATCHDOG=1") at.push_back(std::chrono::steady_clock::now());
        }
        return at.size() >= 6;
      },
      5s));
  EXPECT_GE(at.back() - at.front(), 5 * 200ms - 100ms);  // 20 ms of loop turns either side of each ping
  ASSERT_TRUE(bed.run_results(2));
  EXPECT_GE(bed.sink->count_containing("probe lo 127.0.0.1 tcp/"), 2U) << bed.sink->dump();
}

// timing: adaptive in the daemon: each batch starts from what the earlier ones learnt of the
// address. One closed port answers once a batch, so no single batch has the three answers an
// estimate needs; only the estimate carried across batches lets the silent port (a listener whose
// accept queue is full drops the SYN) be given up at the 100 ms floor instead of the 600 ms timeout.
TEST(Daemon, AdaptiveTimingCarriesEachAddresssEstimateAcrossBatches) {
  Bed bed("rttmem");
  tcp::acceptor full(*bed.io, tcp::endpoint(kLoopback, 0));
  full.listen(0);
  tcp::socket filler(*bed.io);
  filler.connect(full.local_endpoint());  // fills the queue; never accepted
  const auto silent = full.local_endpoint().port();
  std::ofstream(bed.config, std::ios::trunc) << fmt::format(
      "defaults: {{interval_s: 1, timeout_ms: 600, retries: 0, max_rate: 0, timing: adaptive}}\n"
      "hosts:\n  - name: lo\n    address: 127.0.0.1\n    checks:\n"
      "      - {{protocol: tcp, port: {}, expect: closed}}\n"
      "      - {{protocol: tcp, port: {}, expect: filtered}}\n",
      bed.closed, silent);
  auto o = bed.options();
  o.metrics_listen = "off";
  ASSERT_TRUE(bed.start(spdlog::level::debug, o));
  const auto prefix = fmt::format("probe lo 127.0.0.1 tcp/{}: filtered (no-response) in ", silent);
  ASSERT_TRUE(bed.run_until([&] { return bed.sink->starting(prefix).size() >= 5; }, 15s)) << bed.sink->dump();
  std::vector<double> waited;
  for (const auto& r : bed.sink->starting(prefix)) waited.push_back(std::stod(r.text.substr(prefix.size())));
  EXPECT_GE(waited.front(), 550.0) << "the first batch has one answer: the full timeout";
  EXPECT_LT(waited.back(), 400.0) << "by the fifth batch the carried estimate is trusted from the start\n"
                                  << bed.sink->dump();
  EXPECT_TRUE(bed.sink->starting("DRIFT").empty()) << bed.sink->dump();
}

// The watchdog means "still probing": a scheduler whose batch never completes
// (PORTDRIFT_FAULT=stall-scheduler) stops the pings while the loop itself runs on.
TEST(DaemonWatchdog, AStalledSchedulerStopsThePings) {
  Bed bed("stall");
  bed.write_config();
  auto o = bed.options();
  o.watchdog = 100ms;
  o.fault = Fault::stall_scheduler;
  ASSERT_TRUE(bed.start(spdlog::level::debug, o));
  ASSERT_TRUE(bed.run_until([&] { return bed.sink->count_containing("watchdog pings stop") > 0; }, 10s))
      << bed.sink->dump();
  int pings = 0;
  for (const auto& d : bed.notify->drain()) pings += d == "WATCHDOG=1" ? 1 : 0;
  EXPECT_GE(pings, 3);  // it pinged while the scheduler was within its window
  // From now on, silence: five ping times come and each is withheld.
  ASSERT_TRUE(bed.run_until([&] { return bed.sink->count_containing("watchdog: ping withheld") >= 5; }, 5s))
      << bed.sink->dump();
  for (const auto& d : bed.notify->drain()) EXPECT_NE(d, "WATCHDOG=1");
  EXPECT_FALSE(bed.io->stopped());  // the loop is fine; systemd kills the process
}

// A scheduler that throws ends run() with a non-zero code, the cause logged at critical.
TEST(DaemonWatchdog, AThrownSchedulerEndsRunNonZero) {
  Bed bed("throw");
  bed.write_config();
  auto o = bed.options();
  o.fault = Fault::throw_scheduler;
  auto sink = std::make_shared<RecordingSink>();
  auto log = std::make_shared<spdlog::logger>("portdrift", sink);
  EXPECT_EQ(run(o, log), kExitActorFailed);
  EXPECT_EQ(sink->count_containing("the scheduler failed: injected fault (PORTDRIFT_FAULT=throw-scheduler)"), 1U)
      << sink->dump();
  EXPECT_EQ(load_state(bed.state).status, LoadStatus::ok);  // the state is still written on the way out
}

// Three SIGHUPs in a row: one reload runs, the others are coalesced into one more after it.
TEST(DaemonReload, ReloadsDuringAReloadAreCoalesced) {
  Bed bed("coalesce");
  bed.write_config();
  ASSERT_TRUE(bed.start());
  bed.daemon->reload();
  bed.daemon->reload();
  bed.daemon->reload();
  EXPECT_TRUE(bed.daemon->reloading());
  ASSERT_TRUE(bed.run_until([&] { return bed.sink->count_containing("reloaded ") == 2 && !bed.daemon->reloading(); },
                            10s))
      << bed.sink->dump();
  EXPECT_EQ(bed.sink->count_containing("one more follows"), 1U) << bed.sink->dump();
  EXPECT_EQ(bed.sink->count_containing("2 checks (0 new, 0 removed, 2 kept with their state)"), 2U);
  ASSERT_TRUE(bed.run_results(2));  // a round of probing later, no third reload
  EXPECT_EQ(bed.sink->count_containing("reloaded "), 2U);
}

// SIGTERM while a reload's worker runs: the daemon stops in bounded time and the result is dropped.
TEST(DaemonReload, AStopDuringAReloadEndsInBoundedTime) {
  Bed bed("stopreload");
  bed.write_config();
  ASSERT_TRUE(bed.start());
  bed.daemon->reload();
  bed.daemon->stop();
  EXPECT_TRUE(bed.run_until([&] { return bed.io->stopped(); }, 1s));
  EXPECT_EQ(bed.sink->count_containing("reloaded "), 0U);
  EXPECT_EQ(load_state(bed.state).status, LoadStatus::ok);
}

}  // namespace
}  // namespace portdrift::daemon
