#pragma once
// The daemon: `portdrift -c FILE` without --check. It runs every check of the
// plan on its interval (see scheduler.hpp), feeds each result into the
// soft/hard state machine (tracking.hpp), and logs one line when a drift is
// confirmed and one when it clears. It keeps the hard states in a state file,
// reloads on SIGHUP (the new configuration is validated first; if it is
// invalid the old one keeps running), stops on SIGTERM/SIGINT, talks to
// systemd (READY, RELOADING, STOPPING, WATCHDOG, STATUS) and serves
// Prometheus metrics, all on one io_context thread.
//
// It must not: probe outside the plan, announce a drift again after a restart,
// die on a bad state file or a bad reload, or log per probe unless at debug level.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <spdlog/logger.h>

#include "portdrift/plan/plan.hpp"
#include "portdrift/runner/setup.hpp"

namespace portdrift::daemon {

inline constexpr std::string_view kDefaultMetricsListen = "127.0.0.1:9617";
inline constexpr std::string_view kStateFileName = "state.json";
// How long a batch's silent UDP ports may wait for ICMP rate limiters unless --time-budget says.
inline constexpr std::chrono::milliseconds kDaemonTimeBudget{10'000};
// The daemon's timing when neither --timing nor the topology's `defaults.timing` says: fixed. A
// batch on an interval gains nothing from ending sooner, and what pages is a drift that is not one.
inline constexpr Timing kDaemonTiming = Timing::fixed;
// timing: adaptive: how long an address's round-trip estimate is kept for later batches unprobed.
inline constexpr std::chrono::minutes kRttMemoryKeep{60};

using EngineOverrides = runner::EngineOverrides;

// Faults injected on purpose, for tests only (PORTDRIFT_FAULT, read by cli):
// they prove that a stuck or dead scheduler is noticed.
enum class Fault : std::uint8_t {
  none,
  stall_scheduler,  // "stall-scheduler": the next batch never completes; the watchdog pings must stop
  throw_scheduler,  // "throw-scheduler": the scheduler throws; the process must exit non-zero
};
// "stall-scheduler", "throw-scheduler"; anything else is Fault::none.
Fault parse_fault(std::string_view text) noexcept;

// The exit code after a long-lived actor failed (EX_SOFTWARE): systemd's Restart=on-failure restarts it.
inline constexpr int kExitActorFailed = 70;

// Where the daemon reads time. Tests may pass their own; the event loop's
// timers still run on the real steady clock, so a steady source must share its epoch.
struct Clock {
  std::function<std::chrono::steady_clock::time_point()> steady = [] { return std::chrono::steady_clock::now(); };
  std::function<std::chrono::system_clock::time_point()> wall = [] { return std::chrono::system_clock::now(); };
};

struct Options {
  std::filesystem::path config;
  std::filesystem::path catalog_dir;
  EngineOverrides engine;
  runner::Selection selection;  // --vantage / PORTDRIFT_VANTAGE and --shard, the same on every reload
  // The state file: this, else the topology's daemon.state_file, else
  // STATE_DIRECTORY/state.json; without any of them states are not kept.
  std::optional<std::filesystem::path> state_file;
  std::optional<std::filesystem::path> state_directory;  // $STATE_DIRECTORY (first entry)
  // "ADDRESS:PORT" or "off": this, else daemon.metrics_listen, else kDefaultMetricsListen.
  std::optional<std::string> metrics_listen;
  // --web.config.file: TLS and basic auth for the endpoint (web_config.hpp), re-read on SIGHUP.
  std::optional<std::filesystem::path> web_config;
  std::string notify_socket;                           // $NOTIFY_SOCKET; empty: no sd_notify
  std::optional<std::chrono::microseconds> watchdog;   // ping interval, from $WATCHDOG_USEC
  std::uint64_t seed = 0;                              // the scheduler's jitter; 0 picks a random one
  Fault fault = Fault::none;
  Clock clock;
};

class Daemon {
 public:
  Daemon(boost::asio::io_context& io, Options options, std::shared_ptr<spdlog::logger> log);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Loads the configuration, restores the state file, binds the metrics
  // endpoint, starts the schedule and sends READY=1. False when it cannot
  // start (the reasons are logged).
  bool start();
  // SIGHUP: validate the files again on a worker thread; on the loop, switch
  // to them if valid, keep the old configuration if not. A SIGHUP during a
  // reload is coalesced into one more reload after it.
  void reload();
  // SIGTERM: STOPPING=1, cancel the batch in flight and wait for it (bounded),
  // write the state, stop the io_context.
  void stop();

  // 0, or kExitActorFailed once an actor failed (the daemon then stops itself).
  [[nodiscard]] int exit_code() const noexcept;
  [[nodiscard]] bool reloading() const noexcept;
  // The scheduler's heap work since start (see Scheduler::touched).
  [[nodiscard]] std::uint64_t scheduler_work() const noexcept;
  // Results recorded since start (portdrift_results_total): what tests wait on.
  [[nodiscard]] std::uint64_t results() const noexcept;

  [[nodiscard]] std::string metrics_text() const;
  [[nodiscard]] std::string status() const;  // the STATUS= line: "412 checks, 2 drifting"
  [[nodiscard]] std::optional<boost::asio::ip::tcp::endpoint> metrics_endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs the daemon until SIGTERM/SIGINT, with SIGHUP for reload. Returns the
// exit code: 0 after a clean stop, 3 when it could not start, kExitActorFailed
// when a long-lived actor (scheduler, summary, watchdog) failed.
int run(Options options, std::shared_ptr<spdlog::logger> log);

}  // namespace portdrift::daemon
