// The daemon's actors, all on one io_context thread, each started with
// spawn_actor (core/actor.hpp) so that one that throws ends the process with
// kExitActorFailed instead of vanishing:
//  - the scheduler: sleeps until the earliest due unit (or one idle tick),
//    takes every unit due by then, runs their checks as one batch
//    (runner::run_checks, co_spawned with a cancellation slot so stop and
//    reload can cancel it), feeds the results to the tracking, writes the
//    state file if a hard state changed, and loops. Batches never overlap, so
//    the engine's caps hold over the whole daemon; a late batch shows up as
//    scheduler lag. Before each wait and each batch it sets the time by which
//    it must be back (`progress_deadline`).
//  - the watchdog (when systemd asks for one): WATCHDOG=1 every ping interval,
//    but only while the scheduler is within its progress deadline. A stuck
//    batch, a dead scheduler or a stalled loop all stop the pings.
//  - the summary: one info line every summary interval.
//  - the signal handler (run()): SIGHUP -> reload(), SIGTERM/SIGINT -> stop().
//  - the metrics server (metrics.cpp).
// States: starting -> running <-> reloading -> stopping -> finished. A reload
// is built on a worker thread (configuration.hpp) and applied on the loop
// between two awaits; applying cancels the batch in flight (its results
// belong to the old plan; its units run again at once).

#include "portdrift/daemon/daemon.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "configuration.hpp"
#include "daemon_metrics.hpp"
#include "portdrift/core/actor.hpp"
#include "portdrift/daemon/metrics.hpp"
#include "portdrift/daemon/scheduler.hpp"
#include "portdrift/daemon/state_file.hpp"
#include "portdrift/daemon/systemd.hpp"
#include "portdrift/daemon/tracking.hpp"
#include "portdrift/report/events.hpp"

namespace portdrift::daemon {
namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

Fault parse_fault(std::string_view text) noexcept {
  if (text == "stall-scheduler") return Fault::stall_scheduler;
  if (text == "throw-scheduler") return Fault::throw_scheduler;
  return Fault::none;
}

namespace {

// How long stop() waits for a cancelled batch, and then for a reload worker.
constexpr auto kStopBatchBound = 500ms;
constexpr auto kStopReloadBound = 300ms;
// The longest idle wait: an idle scheduler still turns (and proves it) once a second.
constexpr auto kIdleTick = 1s;
constexpr auto kTrimEvery = 60s;  // how often a batch hands freed heap pages back

std::string endpoint_text(const tcp::endpoint& ep) {
  if (ep.address().is_v6()) return fmt::format("[{}]:{}", ep.address().to_string(), ep.port());
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

double to_seconds(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1e6; }

// Loading a large topology (YAML nodes, the typed topology, the state file)
// leaves tens of MiB of freed small blocks that glibc keeps in the heap; the
// daemon lives for months, so after the first load it hands them back to the
// kernel (after a reload, ConfigLoader::dispose does it off the loop).
// Measured at 100k checks: RSS 203 MiB without, 34 MiB with.
void release_freed_memory() { ::malloc_trim(0); }

}  // namespace

struct Daemon::Impl {
  Impl(asio::io_context& io_, Options o, std::shared_ptr<spdlog::logger> l)
      : io(io_), options(std::move(o)), log(std::move(l)), notifier(options.notify_socket),
        scheduler(options.seed != 0 ? options.seed : std::random_device{}()), tracking(log, options.selection.instance()),
        loader(io_.get_executor()), wake(io_), stall(io_), watchdog_timer(io_), summary_timer(io_),
        stop_deadline(io_) {}

  asio::io_context& io;
  Options options;
  std::shared_ptr<spdlog::logger> log;
  Notifier notifier;
  Scheduler scheduler;
  Tracking tracking;
  ConfigLoader loader;
  asio::steady_timer wake, stall, watchdog_timer, summary_timer, stop_deadline;
  std::shared_ptr<const Config> config;
  std::uint64_t generation = 0;  // of `config`: a batch of an older one is not fed back
  std::optional<std::filesystem::path> state_file;
  std::unique_ptr<MetricsServer> metrics;
  std::string metrics_listen;
  DaemonStats stats;
  // timing: adaptive: each address's round-trip estimate, carried from batch to batch; addresses
  // no batch has probed for kRttMemoryKeep are forgotten (checked once per kRttMemoryKeep / 6).
  probe::RttMemory rtt_memory;
  std::chrono::steady_clock::time_point rtt_memory_pruned{};
  std::string last_status;
  bool stopping = false, finished = false;
  bool dirty = false;         // hard states changed since the state file was written
  bool reload_again = false;  // a SIGHUP came during a reload
  int exit_code = 0;

  // The batch in flight.
  bool batch_in_flight = false;
  bool batch_cancelled = false;
  asio::cancellation_signal batch_signal;

  // The watchdog rule: the scheduler must be back from its current wait or batch by then.
  SteadyClock::time_point progress_deadline{};
  bool watchdog_silent = false;
  SteadyClock::time_point next_trim{};  // of the heap, after a batch

  SteadyClock::time_point steady() const { return options.clock.steady(); }
  WallTime wall() const { return options.clock.wall(); }
  std::chrono::milliseconds grace() const {
    return 1000ms + std::chrono::duration_cast<std::chrono::milliseconds>(options.watchdog.value_or(0us));
  }

  // ---- configuration ------------------------------------------------------

  // Switches to `next`; returns {added, removed, kept}.
  std::tuple<std::size_t, std::size_t, std::size_t> apply(Loaded next) {
    const auto& cfg = *next.config;
    std::vector<UnitSpec> specs(cfg.units.size());
    for (std::size_t u = 0; u < specs.size(); ++u) {
      specs[u].interval = std::chrono::seconds(cfg.units[u].interval_s);
      if (next.previous_unit[u] != kNoIndex) specs[u].due = scheduler.due_of(next.previous_unit[u]);
    }
    cancel_batch();  // its results belong to the plan being replaced
    const std::size_t before = config ? config->setup.plan.checks.size() : 0;
    const auto kept = static_cast<std::size_t>(
        std::count_if(next.previous_check.begin(), next.previous_check.end(), [](auto j) { return j != kNoIndex; }));
    tracking.adopt(cfg.setup.plan, next.previous_check, cfg.thresholds);
    scheduler.assign(specs, steady());
    config = std::move(next.config);
    ++generation;
    wake.cancel();  // the earliest due time may have moved
    return {config->setup.plan.checks.size() - kept, before - kept, kept};
  }

  std::optional<std::filesystem::path> choose_state_file(const Config& c) const {
    if (options.state_file) return options.state_file;
    if (c.setup.topology.daemon.state_file) return std::filesystem::path(*c.setup.topology.daemon.state_file);
    if (options.state_directory) return *options.state_directory / kStateFileName;
    return std::nullopt;
  }

  std::string choose_metrics_listen(const Config& c) const {
    if (options.metrics_listen) return *options.metrics_listen;
    if (c.setup.topology.daemon.metrics_listen) return *c.setup.topology.daemon.metrics_listen;
    return std::string(kDefaultMetricsListen);
  }

  // ---- state file -----------------------------------------------------------

  void restore_state() {
    if (!state_file) {
      log->warn("no state file (neither --state-file, daemon.state_file nor $STATE_DIRECTORY): "
                "after a restart, ongoing drifts will be announced again");
      return;
    }
    const auto r = load_state(*state_file);
    if (r.status == LoadStatus::missing) {
      log->info("no state file at {} yet; every check starts as ok", state_file->string());
      dirty = true;
      return;
    }
    if (r.status == LoadStatus::corrupt) {
      log->warn("state file {} is corrupt ({}); starting from scratch and replacing it", state_file->string(),
                r.error);
      dirty = true;
      return;
    }
    const auto restored = tracking.restore(r.state);
    const auto& drifting = restored.drifting;
    std::string list;
    for (std::size_t i = 0; i < drifting.size() && i < 5; ++i) list += (i ? "; " : ": ") + drifting[i];
    if (drifting.size() > 5) list += fmt::format("; and {} more", drifting.size() - 5);
    log->info("resumed from {} (written {}): {} of {} checks known, {} drifting{} (ongoing drifts are not "
              "announced again)",
              state_file->string(), report::iso_time(r.state.written), restored.known, tracking.counts().checks,
              drifting.size(), list);
    dirty = restored.known != r.state.checks.size() || restored.known != tracking.slots();
  }

  void write_state() {
    if (!state_file || !config) return;
    if (auto ec = save_state(*state_file, tracking.save(wall()))) {
      ++stats.state_writes_failed;
      log->error("cannot write the state file {}: {}", state_file->string(), ec.message());
      return;
    }
    ++stats.state_writes_ok;
    dirty = false;
  }

  // ---- the scheduler --------------------------------------------------------------

  // The longest a batch of `checks` checks can take when the engine works: its
  // attempts in waves of `concurrency`, paced at max_rate, after the DNS wait.
  static std::chrono::milliseconds batch_bound(const Config& c, std::size_t checks, bool dns, bool udp) {
    const auto& p = c.setup.engine.probe;
    const auto attempt = p.timeout * static_cast<std::int64_t>(p.retries + 1);
    const auto waves = 1 + checks / std::max<std::uint32_t>(1, p.concurrency);
    auto bound = attempt * static_cast<std::int64_t>(3 * waves);  // x3: ICMP echoes and UDP error budgets
    if (p.max_rate > 0) bound += std::chrono::milliseconds(static_cast<std::int64_t>(1000 * checks / p.max_rate));
    if (udp) bound += p.time_budget;  // UDP confirmations may wait this long for ICMP rate limiters
    if (dns) bound += c.setup.engine.dns_timeout;
    return bound;
  }

  asio::awaitable<void> schedule_loop() {
    while (!stopping) {
      const auto now = steady();
      const auto next = scheduler.next_due();
      if (!next || *next > now) {
        const auto until = std::min(next.value_or(now + kIdleTick), now + kIdleTick);
        progress_deadline = until + grace();
        wake.expires_at(until);
        co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      co_await run_batch(now);
    }
    finish();
  }

  asio::awaitable<void> run_batch(SteadyClock::time_point now) {
    auto due = scheduler.take_due(now);
    if (due.empty()) co_return;
    if (options.fault == Fault::throw_scheduler) {
      throw std::runtime_error("injected fault (PORTDRIFT_FAULT=throw-scheduler)");
    }
    const auto cfg = config;  // this batch's configuration, even if a reload swaps it meanwhile
    const auto gen = generation;
    std::vector<std::size_t> indices;
    bool dns = false;
    bool udp = false;
    std::chrono::microseconds lag{0};
    for (const auto& d : due) {
      const auto& unit = cfg->units[d.unit];
      for (auto k = unit.first; k < unit.first + unit.count; ++k) {
        indices.push_back(k);
        udp = udp || cfg->setup.plan.checks[k].protocol == Protocol::udp;
      }
      dns = dns || !unit.literal;
      lag = std::max(lag, d.lag);
    }
    stats.last_lag_s = to_seconds(lag);
    stats.max_lag_s = std::max(stats.max_lag_s, stats.last_lag_s);
    stats.max_lag_since_summary_s = std::max(stats.max_lag_since_summary_s, stats.last_lag_s);
    progress_deadline = now + batch_bound(*cfg, indices.size(), dns, udp) + grace();
    log->debug("batch: {} checks of {} host targets, {:.0f} ms late", indices.size(), due.size(),
               stats.last_lag_s * 1e3);

    if (options.fault == Fault::stall_scheduler) {
      // For tests: a batch that never completes (only stop ends the wait).
      stall.expires_at(SteadyClock::time_point::max());
      co_await stall.async_wait(asio::as_tuple(asio::use_awaitable));
      co_return;
    }

    batch_in_flight = true;
    batch_cancelled = false;
    std::optional<runner::Pass> pass;
    // Each batch starts every address at another of its ports, so the ports a time budget left
    // unconfirmed (icmp-ratelimited) are among the first the next time.
    auto engine = cfg->setup.engine;
    engine.probe.rotation = static_cast<std::uint32_t>(stats.batches);
    engine.probe.rtt_memory = &rtt_memory;  // batches never overlap: one run at a time
    try {
      pass = co_await asio::co_spawn(
          io, runner::run_checks(cfg->setup.plan, std::move(indices), std::move(engine)),
          asio::bind_cancellation_slot(batch_signal.slot(), asio::use_awaitable));
    } catch (const boost::system::system_error& e) {
      if (e.code() != asio::error::operation_aborted) throw;
    }
    batch_in_flight = false;
    batch_signal.slot().clear();
    if (stopping || batch_cancelled || !pass) {
      if (gen == generation) {
        for (const auto& d : due) scheduler.release(d.unit);
      }
      co_return;
    }

    const auto done_at = steady();
    const auto when = wall();
    ++stats.batches;
    // The engine stamps its estimates on the real steady clock, not on the daemon's (a test's) clock.
    if (const auto real = std::chrono::steady_clock::now(); real - rtt_memory_pruned >= kRttMemoryKeep / 6) {
      rtt_memory.forget_before(real - kRttMemoryKeep);
      rtt_memory_pruned = real;
    }
    stats.attempts_total += pass->stats.attempts;
    for (const auto& d : due) scheduler.done(d.unit, done_at);
    stats.skipped_runs = scheduler.skipped();
    const auto* first = cfg->setup.plan.checks.data();
    const double timeout_s = static_cast<double>(cfg->setup.engine.probe.timeout.count()) / 1e3;
    for (const auto& r : pass->results) {
      const auto& o = r.observation;
      // Silence: what its attempts waited (adaptive timing waits less than attempts x timeout).
      const double duration = o.rtt                                   ? to_seconds(*o.rtt)
                              : o.waited > std::chrono::microseconds{0} ? to_seconds(o.waited)
                                                                      : static_cast<double>(o.attempts) * timeout_s;
      if (tracking.on_result(static_cast<std::uint32_t>(r.check - first), r, duration, when)) dirty = true;
    }
    stats.results_total += pass->results.size();
    stats.results_since_summary += pass->results.size();
    if (dirty) write_state();
    update_status();
    // Batches, state writes and reloads free and reallocate all day in a heap
    // that glibc keeps; once a minute the free pages go back to the kernel, so
    // RSS does not creep over months (bench/daemon --soak).
    if (done_at >= next_trim) {
      release_freed_memory();
      next_trim = done_at + kTrimEvery;
    }
  }

  // Stop and reload end a batch in flight by emitting terminal cancellation
  // into it: runner::run_checks and probe::probe_all stop launching, close
  // what is in flight and return with Pass::cancelled (docs/architecture.md,
  // the deadline and cancellation contract). A cancelled batch's results are
  // not recorded: the checks it did not finish are no observation.
  void cancel_batch() {
    if (!batch_in_flight) return;
    batch_cancelled = true;
    batch_signal.emit(asio::cancellation_type::terminal);
  }

  // ---- status, summary, watchdog ------------------------------------------------------

  std::string status_line() const {
    const auto c = tracking.counts();
    std::string s = fmt::format("{} checks, {} drifting", c.checks, c.drifting);
    if (c.flapping > 0) s += fmt::format(", {} flapping", c.flapping);
    if (!stats.last_reload_ok) s += "; last reload failed, running the previous configuration";
    return s;
  }

  void update_status() {
    auto s = status_line();
    if (s == last_status) return;
    last_status = std::move(s);
    notifier.notify("STATUS=" + last_status);
  }

  asio::awaitable<void> watchdog_loop(std::chrono::microseconds every) {
    while (!stopping) {
      if (steady() <= progress_deadline) {
        notifier.notify("WATCHDOG=1");
        watchdog_silent = false;
      } else {
        if (!watchdog_silent) {
          watchdog_silent = true;
          log->error("the scheduler has not completed a batch or a wait in its expected time; watchdog pings stop "
                     "so that systemd restarts portdrift");
        }
        log->debug("watchdog: ping withheld, {} ms past the scheduler's progress deadline",
                   std::chrono::duration_cast<std::chrono::milliseconds>(steady() - progress_deadline).count());
      }
      watchdog_timer.expires_after(every);
      auto [ec] = co_await watchdog_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
    }
  }

  asio::awaitable<void> summary_loop() {
    while (!stopping) {
      const auto every = std::chrono::seconds(config->setup.topology.daemon.summary_interval_s);
      summary_timer.expires_after(every);
      auto [ec] = co_await summary_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec || stopping) co_return;
      const auto c = tracking.counts();
      log->info("summary: {} checks, {} drifting, {} flapping, {} not probed (errors); {} results in the last {} s, "
                "scheduler lag max {:.0f} ms{}",
                c.checks, c.drifting, c.flapping, c.errors, stats.results_since_summary, every.count(),
                stats.max_lag_since_summary_s * 1e3, report::instance_suffix(tracking.instance()));
      stats.results_since_summary = 0;
      stats.max_lag_since_summary_s = 0;
    }
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  void on_actor_failure(std::string_view actor, std::exception_ptr cause) {
    log->critical("the {} failed: {}; exiting with status {} so that systemd restarts portdrift", actor,
                  describe(cause), kExitActorFailed);
    exit_code = kExitActorFailed;
    stop();
  }

  void spawn(std::string name, asio::awaitable<void> body) {
    spawn_actor(io.get_executor(), std::move(name), std::move(body),
                [this](std::string_view actor, std::exception_ptr cause) { on_actor_failure(actor, cause); });
  }

  bool start() {
    auto loaded = loader.load_now(options);
    if (auto* d = std::get_if<Diagnostics>(&loaded)) {
      for (const auto& x : *d) log->error("{}", format(x));
      log->error("cannot start: {} configuration problem{} in {}", d->size(), d->size() == 1 ? "" : "s",
                 options.config.string());
      return false;
    }
    auto next = std::get<Loaded>(std::move(loaded));
    const auto& cfg = *next.config;
    state_file = choose_state_file(cfg);
    metrics_listen = choose_metrics_listen(cfg);
    if (metrics_listen != "off") {
      std::string error;
      const auto ep = parse_listen(metrics_listen, error);
      if (!ep) {
        log->error("cannot start: metrics listen address {}", error);
        return false;
      }
      std::shared_ptr<const WebConfig> web;
      if (options.web_config) {
        web = load_web(*options.web_config);
        if (!web) {
          log->error("cannot start: the web configuration {} has problems", options.web_config->string());
          return false;
        }
      }
      try {
        metrics = std::make_unique<MetricsServer>(io.get_executor(), *ep, [this] { return render_metrics(); });
      } catch (const boost::system::system_error& e) {
        log->error("cannot start: cannot listen on {} for metrics: {}", metrics_listen, e.code().message());
        return false;
      }
      metrics->set_web(std::move(web));
    } else if (options.web_config) {
      log->warn("--web.config.file is ignored: the metrics endpoint is off");
    }
    if (cfg.setup.plan.checks.empty()) {
      log->warn("the plan has no checks: nothing will be probed until a reload adds some");
    }
    const auto interval_s = cfg.setup.topology.defaults.schedule.interval_s;
    const auto thresholds = cfg.thresholds;
    apply(std::move(next));
    restore_state();
    if (dirty) write_state();
    log->info("started: {} checks{}, interval {} s (hosts may set their own), confirm {}, clear {}; metrics {}; "
              "state {}",
              tracking.counts().checks, report::instance_suffix(tracking.instance()), interval_s, thresholds.confirm, thresholds.clear,
              metrics ? fmt::format("on http://{}/metrics", endpoint_text(metrics->local_endpoint())) : "off",
              state_file ? state_file->string() : "not kept");
    if (metrics) metrics->start();
    release_freed_memory();
    progress_deadline = steady() + grace();
    spawn("scheduler", schedule_loop());
    spawn("summary", summary_loop());
    if (options.watchdog) spawn("watchdog", watchdog_loop(*options.watchdog));
    last_status = status_line();
    notifier.notify("READY=1\nSTATUS=" + last_status + fmt::format("\nMAINPID={}", ::getpid()));
    return true;
  }

  std::string render_metrics() const { return daemon::render_metrics(stats, tracking); }

  // Reads the web configuration (a few small files: on the loop); null after logging its problems.
  std::shared_ptr<const WebConfig> load_web(const std::filesystem::path& file) {
    auto r = load_web_config(file);
    for (const auto& d : r.diagnostics) log->error("{}", format(d));
    if (!r.config) return nullptr;
    return std::make_shared<const WebConfig>(std::move(*r.config));
  }

  // SIGHUP re-reads the web configuration too; a bad one keeps the one in use.
  void reload_web() {
    if (!options.web_config || !metrics) return;
    if (auto web = load_web(*options.web_config)) {
      const bool tls = web->tls != nullptr;
      const auto users = web->users.size();
      metrics->set_web(std::move(web));
      log->info("web configuration {} reloaded: {}, {} basic auth user{}", options.web_config->string(),
                tls ? "TLS" : "no TLS", users, users == 1 ? "" : "s");
    } else {
      log->error("web configuration {} rejected; the endpoint keeps the one in use", options.web_config->string());
    }
  }

  void reload() {
    if (stopping || !config) return;
    if (loader.busy()) {
      if (!reload_again) log->info("a reload is running; one more follows when it ends");
      reload_again = true;
      return;
    }
    const auto mono = std::chrono::duration_cast<std::chrono::microseconds>(steady().time_since_epoch());
    notifier.notify(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", mono.count()));
    reload_web();
    log->info("reloading {}", options.config.string());
    loader.start(options, config, [this](LoadOutcome outcome) { finish_reload(std::move(outcome)); });
  }

  void finish_reload(LoadOutcome outcome) {
    if (stopping) return;
    if (auto* d = std::get_if<Diagnostics>(&outcome)) {
      for (const auto& x : *d) log->error("{}", format(x));
      log->error("reload rejected: {} configuration problem{} in {}; the running configuration stays ({} checks)",
                 d->size(), d->size() == 1 ? "" : "s", options.config.string(), tracking.counts().checks);
      ++stats.reloads_failed;
      stats.last_reload_ok = false;
    } else {
      auto next = std::get<Loaded>(std::move(outcome));
      if (choose_metrics_listen(*next.config) != metrics_listen || choose_state_file(*next.config) != state_file) {
        log->warn("daemon.metrics_listen and daemon.state_file take effect at the next restart");
      }
      auto replaced = config;
      const auto [added, removed, kept] = apply(std::move(next));
      log->info("reloaded {}: {} checks ({} new, {} removed, {} kept with their state)", options.config.string(),
                tracking.counts().checks, added, removed, kept);
      ++stats.reloads_ok;
      stats.last_reload_ok = true;
      if (added > 0 || removed > 0) dirty = true;
      if (dirty) write_state();
      // Last, so that the loader's trim also returns what the state write just
      // freed (its JSON document is as large as the state file).
      loader.dispose(std::move(replaced));
    }
    last_status = status_line();
    notifier.notify("READY=1\nSTATUS=" + last_status);
    if (reload_again) {
      reload_again = false;
      reload();
    }
  }

  void stop() {
    if (stopping) return;
    stopping = true;
    notifier.notify("STOPPING=1");
    log->info("stopping: {}", status_line());
    if (metrics) metrics->stop();
    wake.cancel();
    stall.cancel();
    watchdog_timer.cancel();
    summary_timer.cancel();
    if (!batch_in_flight) {
      finish();
      return;
    }
    // Cancel the batch and give it a bounded time to end; the scheduler calls finish() when it does.
    cancel_batch();
    stop_deadline.expires_after(kStopBatchBound);
    stop_deadline.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      log->warn("the batch in flight did not end within {} ms of the stop; abandoning it", kStopBatchBound.count());
      finish();
    });
  }

  void finish() {
    if (finished) return;
    finished = true;
    stop_deadline.cancel();
    loader.shutdown(kStopReloadBound);
    write_state();
    io.stop();
  }
};

Daemon::Daemon(asio::io_context& io, Options options, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<Impl>(io, std::move(options), std::move(log))) {}

Daemon::~Daemon() = default;

bool Daemon::start() { return impl_->start(); }
void Daemon::reload() { impl_->reload(); }
void Daemon::stop() { impl_->stop(); }
int Daemon::exit_code() const noexcept { return impl_->exit_code; }
bool Daemon::reloading() const noexcept { return impl_->loader.busy(); }
std::uint64_t Daemon::scheduler_work() const noexcept { return impl_->scheduler.touched(); }
std::uint64_t Daemon::results() const noexcept { return impl_->stats.results_total; }
std::string Daemon::metrics_text() const { return impl_->render_metrics(); }
std::string Daemon::status() const { return impl_->status_line(); }
std::optional<tcp::endpoint> Daemon::metrics_endpoint() const {
  if (!impl_->metrics) return std::nullopt;
  return impl_->metrics->local_endpoint();
}

int run(Options options, std::shared_ptr<spdlog::logger> log) {
  // The process lives for months and reloads: glibc raises its mmap threshold
  // after each large free (up to 32 MiB), so a reload's and each state write's
  // large transient buffers land in the heap and fragment it. Measured at 20k
  // checks, 2% loss (bench/daemon --soak): RSS 13.6 -> 32.2 MiB over 30 min and
  // 8 reloads as it was; with the threshold fixed at 256 KiB such buffers are
  // mapped and unmapped whole, and RSS went 15.4 -> 16.2 MiB (docs/daemon.md).
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  asio::io_context io(1);
  asio::signal_set signals(io, SIGHUP, SIGTERM, SIGINT);
  int exit_code = 0;
  {
    Daemon daemon(io, std::move(options), log);
    if (!daemon.start()) return 3;
    std::function<void()> arm;
    arm = [&] {
      signals.async_wait([&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        if (signo == SIGHUP) {
          daemon.reload();
          arm();
        } else {
          log->info("received {}", signo == SIGTERM ? "SIGTERM" : "SIGINT");
          daemon.stop();
        }
      });
    };
    arm();
    io.run();
    exit_code = daemon.exit_code();
    log->info("stopped");
    log->flush();
  }
  return exit_code;
}

}  // namespace portdrift::daemon
