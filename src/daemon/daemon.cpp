// The daemon's actors, all on one io_context thread:
//  - the scheduler loop: sleeps until the earliest due check, takes every
//    check due by then, runs them as one batch (runner::run_checks, so the
//    engine's global, per-host and rate caps hold for the batch), feeds the
//    results to the trackers, logs the events, writes the state file if a
//    hard state changed, and loops. Batches never overlap, so the caps hold
//    over the whole daemon; a late batch shows up as scheduler lag.
//  - the signal handler: SIGHUP -> reload(), SIGTERM/SIGINT -> stop().
//  - the watchdog loop (when systemd asks for one): WATCHDOG=1 every half
//    timeout, from this same loop, so a stuck loop stops the pings.
//  - the summary loop: one info line every summary interval.
//  - the metrics server (metrics.cpp).
// States: starting -> running <-> reloading -> stopping. A reload swaps the
// configuration between batches or under a running batch; a batch's results
// are matched to the new configuration by check key.

#include "portdrift/daemon/daemon.hpp"

#include <unistd.h>

#include <algorithm>
#include <random>
#include <unordered_map>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "portdrift/catalog/catalog.hpp"
#include "portdrift/config/topology.hpp"
#include "portdrift/daemon/log.hpp"
#include "portdrift/daemon/metrics.hpp"
#include "portdrift/daemon/scheduler.hpp"
#include "portdrift/daemon/state_file.hpp"
#include "portdrift/daemon/systemd.hpp"
#include "portdrift/daemon/tracker.hpp"
#include "portdrift/runner/runner.hpp"

namespace portdrift::daemon {
namespace asio = boost::asio;
using asio::ip::tcp;
using spdlog::level::level_enum;

std::string check_key(const plan::Check& c) {
  return fmt::format("{}|{}|{}|{}|{}", c.host, c.target, to_string(c.protocol), c.port, to_string(c.expect));
}

namespace {

// journalctl MESSAGE_ID= per event kind, so that `journalctl MESSAGE_ID=...` finds every drift.
constexpr std::string_view kDriftId = "3f6b1d2c8e7a4b59a0c1d2e3f4a5b6c7";
constexpr std::string_view kResolvedId = "9c2e4a6b8d0f4e1aa3b5c7d9e1f3a5b7";
constexpr std::string_view kFlappingId = "5d7f9b1c3e5a4c6e8a0b2d4f6a8c0e2f";
constexpr std::string_view kFlappingStoppedId = "1b3d5f7a9c1e4b3d5f7a9c1e3b5d7f9a";

std::string iso(WallTime t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", std::chrono::time_point_cast<std::chrono::seconds>(t));
}

std::string human_duration(std::chrono::seconds d) {
  auto s = d.count();
  if (s < 0) s = 0;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

std::string join_ids(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

struct Config {
  config::Topology topology;
  plan::Plan plan;
  std::vector<std::string> keys;                       // per plan check
  std::unordered_map<std::string, std::size_t> index;  // key -> plan check
  runner::Options engine;
  Thresholds thresholds;
};

struct Tracked {
  CheckState state;
  bool has_result = false;
  verdict::Outcome outcome = verdict::Outcome::ok;
  Observation last;
  double duration_s = 0;  // of the last probe: the RTT, or the time spent waiting on silence
  std::uint64_t results = 0;
};

}  // namespace

struct Daemon::Impl {
  Impl(asio::io_context& io_, Options o, std::shared_ptr<spdlog::logger> l)
      : io(io_), options(std::move(o)), log(std::move(l)), notifier(options.notify_socket),
        scheduler(options.seed != 0 ? options.seed : std::random_device{}()), wake(io_), watchdog_timer(io_),
        summary_timer(io_) {}

  asio::io_context& io;
  Options options;
  std::shared_ptr<spdlog::logger> log;
  Notifier notifier;
  Scheduler scheduler;
  asio::steady_timer wake;
  asio::steady_timer watchdog_timer;
  asio::steady_timer summary_timer;
  std::shared_ptr<const Config> config;
  std::unordered_map<std::string, Tracked> tracked;
  std::optional<std::filesystem::path> state_file;
  std::unique_ptr<MetricsServer> metrics;
  std::string metrics_listen;
  bool stopping = false;
  bool dirty = false;  // hard states changed since the state file was written
  std::string last_status;

  // Counters for metrics and the summary.
  std::uint64_t drift_events = 0, resolved_events = 0, flapping_events = 0;
  std::uint64_t results_total = 0, attempts_total = 0, batches = 0;
  std::uint64_t reloads_ok = 0, reloads_failed = 0;
  bool last_reload_ok = true;
  std::uint64_t state_writes_ok = 0, state_writes_failed = 0;
  double last_lag_s = 0, max_lag_s = 0;
  std::uint64_t results_since_summary = 0;
  double max_lag_since_summary_s = 0;

  // ---- configuration ------------------------------------------------------

  using LoadOutcome = std::variant<std::shared_ptr<const Config>, Diagnostics>;

  LoadOutcome load_config() const {
    auto cat = catalog::load_catalog(options.catalog_dir);
    auto topo = config::load_topology(options.config.string());
    Diagnostics d = cat.diagnostics;
    d.insert(d.end(), topo.diagnostics.begin(), topo.diagnostics.end());
    plan::PlanResult p;
    if ((!topo.topology.hosts.empty() || !topo.topology.groups.empty()) && !cat.catalog.products.empty()) {
      p = plan::build_plan(topo.topology, cat.catalog);
      d.insert(d.end(), p.diagnostics.begin(), p.diagnostics.end());
    }
    if (!d.empty()) return d;
    auto c = std::make_shared<Config>();
    c->topology = std::move(topo.topology);
    c->plan = std::move(p.plan);
    for (std::size_t i = 0; i < c->plan.checks.size(); ++i) {
      c->keys.push_back(check_key(c->plan.checks[i]));
      c->index.emplace(c->keys.back(), i);
    }
    const auto& pd = c->topology.defaults.probe;
    const auto& e = options.engine;
    c->engine.probe.timeout = std::chrono::milliseconds(e.timeout_ms.value_or(pd.timeout_ms));
    c->engine.probe.retries = e.retries.value_or(pd.retries);
    c->engine.probe.concurrency = e.concurrency.value_or(pd.concurrency);
    c->engine.probe.per_host_concurrency = e.per_host.value_or(pd.per_host_concurrency);
    c->engine.probe.max_rate = e.max_rate.value_or(pd.max_rate);
    c->thresholds = Thresholds{c->topology.defaults.schedule.confirm, c->topology.defaults.schedule.clear};
    return std::shared_ptr<const Config>(std::move(c));
  }

  static std::chrono::milliseconds interval_of(const plan::Check& check) {
    return std::chrono::seconds(check.interval_s);
  }

  // Switches to `next`; returns {added, removed, kept}.
  std::tuple<std::size_t, std::size_t, std::size_t> apply_config(std::shared_ptr<const Config> next) {
    std::unordered_map<std::string, Tracked> kept_states;
    std::size_t kept = 0;
    std::vector<Slot> slots;
    slots.reserve(next->plan.checks.size());
    for (std::size_t i = 0; i < next->plan.checks.size(); ++i) {
      const auto& key = next->keys[i];
      auto it = tracked.find(key);
      if (it != tracked.end()) {
        kept_states.emplace(key, std::move(it->second));
        ++kept;
      } else {
        kept_states.emplace(key, Tracked{});
      }
      slots.push_back(Slot{key, interval_of(next->plan.checks[i])});
    }
    const std::size_t removed = tracked.size() - kept;
    const std::size_t added = next->plan.checks.size() - kept;
    tracked = std::move(kept_states);
    config = std::move(next);
    scheduler.assign(slots, SteadyClock::now());
    wake.cancel();  // the earliest due time may have moved
    return {added, removed, kept};
  }

  std::optional<std::filesystem::path> choose_state_file(const Config& c) const {
    if (options.state_file) return options.state_file;
    if (c.topology.daemon.state_file) return std::filesystem::path(*c.topology.daemon.state_file);
    if (options.state_directory) return *options.state_directory / kStateFileName;
    return std::nullopt;
  }

  std::string choose_metrics_listen(const Config& c) const {
    if (options.metrics_listen) return *options.metrics_listen;
    if (c.topology.daemon.metrics_listen) return *c.topology.daemon.metrics_listen;
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
    std::size_t known = 0;
    std::vector<std::string> drifting;
    for (const auto& s : r.state.checks) {
      auto it = tracked.find(s.key);
      if (it == tracked.end()) continue;
      ++known;
      auto& st = it->second.state;
      st.hard = s.hard;
      st.announced = s.hard;
      st.since = s.since;
      st.flapping = s.flapping;
      if (s.hard == Hard::drift) {
        drifting.push_back(fmt::format("{} {} {}/{} since {}", s.host, s.address.empty() ? s.target : s.address,
                                       to_string(s.protocol), s.port, iso(s.since)));
      }
    }
    std::string list;
    for (std::size_t i = 0; i < drifting.size() && i < 5; ++i) list += (i ? "; " : ": ") + drifting[i];
    if (drifting.size() > 5) list += fmt::format("; and {} more", drifting.size() - 5);
    log->info("resumed from {} (written {}): {} of {} checks known, {} drifting{} (ongoing drifts are not "
              "announced again)",
              state_file->string(), iso(r.state.written), known, tracked.size(), drifting.size(), list);
    dirty = known != r.state.checks.size() || known != tracked.size();
  }

  void write_state() {
    if (!state_file || !config) return;
    SavedState s;
    s.written = WallClock::now();
    for (std::size_t i = 0; i < config->plan.checks.size(); ++i) {
      const auto& c = config->plan.checks[i];
      const auto& t = tracked.at(config->keys[i]);
      SavedCheck sc;
      sc.key = config->keys[i];
      sc.host = c.host;
      sc.target = c.target;
      sc.address = t.last.address;
      sc.protocol = c.protocol;
      sc.port = c.port;
      sc.expect = c.expect;
      sc.hard = t.state.hard;
      sc.since = t.state.since;
      sc.flapping = t.state.flapping;
      if (t.has_result) {
        sc.observed = std::string(to_string(t.last.state));
        sc.reason = std::string(to_string(t.last.reason));
      }
      s.checks.push_back(std::move(sc));
    }
    if (auto ec = save_state(*state_file, s)) {
      ++state_writes_failed;
      log->error("cannot write the state file {}: {}", state_file->string(), ec.message());
      return;
    }
    ++state_writes_ok;
    dirty = false;
  }

  // ---- events -----------------------------------------------------------------

  std::string where(const plan::Check& c, const Tracked& t) const {
    const auto& address = t.last.address.empty() ? c.target : t.last.address;
    if (address == c.target) return fmt::format("{} {} {}/{}", c.host, address, to_string(c.protocol), c.port);
    return fmt::format("{} {} ({}) {}/{}", c.host, address, c.target, to_string(c.protocol), c.port);
  }

  std::string observed(const Tracked& t) const {
    return fmt::format("{} ({})", to_string(t.last.state), to_string(t.last.reason));
  }

  void announce(const plan::Check& c, const Tracked& t, const Event& e, WallTime now) {
    const std::string ids = c.catalog_ids.empty() ? std::string(c.label.empty() ? "explicit check" : c.label)
                                                  : join_ids(c.catalog_ids);
    std::string text;
    std::string_view kind;
    std::string_view message_id;
    level_enum level = spdlog::level::info;
    // Silence on a UDP port expected open is judged at the check's `silence` severity.
    const Severity severity = verdict::severity_of(verdict::CheckResult{&c, t.last, t.outcome});
    switch (e.kind) {
      case EventKind::drift:
        ++drift_events;
        kind = "drift";
        message_id = kDriftId;
        level = severity == Severity::critical ? spdlog::level::err : spdlog::level::warn;
        text = fmt::format("DRIFT {}: expected {}, observed {} since {}, confirmed by {} consecutive results [{}]",
                           where(c, t), to_string(c.expect), observed(t), iso(e.since), e.results, ids);
        break;
      case EventKind::resolved:
        ++resolved_events;
        kind = "resolved";
        message_id = kResolvedId;
        text = fmt::format("RESOLVED {}: expected {}, observed {} again; had drifted since {} ({}) [{}]", where(c, t),
                           to_string(c.expect), observed(t), iso(e.since),
                           human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - e.since)), ids);
        break;
      case EventKind::flapping:
        ++flapping_events;
        kind = "flapping";
        message_id = kFlappingId;
        level = spdlog::level::warn;
        text = fmt::format("FLAPPING {}: expected {}, last observed {}; {}% of the last {} results changed state; "
                           "its drift and resolved lines are held back until it settles [{}]",
                           where(c, t), to_string(c.expect), observed(t), e.flap_percent, kFlapWindow, ids);
        break;
      case EventKind::flapping_stopped:
        kind = "flapping-stopped";
        message_id = kFlappingStoppedId;
        level = e.hard == Hard::drift ? spdlog::level::warn : spdlog::level::info;
        text = fmt::format("FLAPPING STOPPED {}: settled as {}: expected {}, observed {} [{}]", where(c, t),
                           e.hard == Hard::drift ? "drift" : "ok", to_string(c.expect), observed(t), ids);
        break;
    }
    const Field fields[] = {
        {"MESSAGE_ID", std::string(message_id)},
        {"PORTDRIFT_EVENT", std::string(kind)},
        {"PORTDRIFT_HOST", std::string(c.host)},
        {"PORTDRIFT_TARGET", std::string(c.target)},
        {"PORTDRIFT_ADDRESS", t.last.address.empty() ? std::string(c.target) : t.last.address},
        {"PORTDRIFT_PROTOCOL", std::string(to_string(c.protocol))},
        {"PORTDRIFT_PORT", std::to_string(c.port)},
        {"PORTDRIFT_EXPECTED", std::string(to_string(c.expect))},
        {"PORTDRIFT_OBSERVED", std::string(to_string(t.last.state))},
        {"PORTDRIFT_REASON", std::string(to_string(t.last.reason))},
        {"PORTDRIFT_SINCE", iso(e.since)},
        {"PORTDRIFT_SEVERITY", std::string(to_string(severity))},
        {"PORTDRIFT_CATALOG_IDS", join_ids(c.catalog_ids)},
    };
    log_event(*log, level, text, fields);
  }

  // ---- the scheduler loop ---------------------------------------------------------

  asio::awaitable<void> schedule_loop() {
    while (!stopping) {
      const auto now = SteadyClock::now();
      const auto next = scheduler.next_due();
      if (!next || *next > now) {
        wake.expires_at(next.value_or(SteadyClock::time_point::max()));
        co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      auto due = scheduler.take_due(now);
      if (due.empty()) continue;
      auto cfg = config;  // this batch's configuration, even if a reload swaps it meanwhile
      std::vector<std::size_t> indices;
      double lag = 0;
      for (auto& d : due) {
        lag = std::max(lag, static_cast<double>(d.lag.count()) / 1e6);
        auto it = cfg->index.find(d.key);
        if (it == cfg->index.end()) {
          scheduler.done(d.key, now);
          continue;
        }
        indices.push_back(it->second);
      }
      last_lag_s = lag;
      max_lag_s = std::max(max_lag_s, lag);
      max_lag_since_summary_s = std::max(max_lag_since_summary_s, lag);
      auto pass = co_await runner::run_checks(cfg->plan, indices, cfg->engine);
      if (stopping) co_return;
      const auto done_at = SteadyClock::now();
      const auto wall = WallClock::now();
      ++batches;
      attempts_total += pass.stats.attempts;
      // A check on a DNS name has one result per address (issue 10); until
      // tracking is per (check, address), each result finds its key by its check.
      for (const auto& r : pass.results) {
        const auto& key = cfg->keys[static_cast<std::size_t>(r.check - cfg->plan.checks.data())];
        scheduler.done(key, done_at);
        on_result(key, r, *cfg, wall);
      }
      if (dirty) write_state();
      update_status();
    }
  }

  void on_result(const std::string& key, const verdict::CheckResult& r, const Config& batch_config, WallTime now) {
    // Match by key: a reload may have replaced the configuration while the batch ran.
    auto pos = config->index.find(key);
    auto it = tracked.find(key);
    if (pos == config->index.end() || it == tracked.end()) return;
    const auto& check = config->plan.checks[pos->second];
    Tracked& t = it->second;
    t.has_result = true;
    t.outcome = r.outcome;
    t.last = r.observation;
    t.duration_s = r.observation.rtt
                       ? static_cast<double>(r.observation.rtt->count()) / 1e6
                       : static_cast<double>(r.observation.attempts) *
                             static_cast<double>(batch_config.engine.probe.timeout.count()) / 1e3;
    ++t.results;
    ++results_total;
    ++results_since_summary;
    const Hard hard_before = t.state.hard;
    const bool flapping_before = t.state.flapping;
    const auto event = apply(t.state, r.outcome, now, config->thresholds);
    if (t.state.hard != hard_before || t.state.flapping != flapping_before) dirty = true;
    if (log->should_log(spdlog::level::debug)) {
      log->debug("probe {}: {} in {:.1f} ms, {}; hard {}{}, {} against it", where(check, t), observed(t),
                 t.duration_s * 1e3, verdict::to_string(r.outcome), t.state.hard == Hard::drift ? "drift" : "ok",
                 t.state.flapping ? " (flapping)" : "", t.state.streak);
    }
    if (event) announce(check, t, *event, now);
  }

  // ---- status, summary, watchdog ------------------------------------------------------

  struct Counts {
    std::size_t checks = 0, drifting = 0, flapping = 0, errors = 0;
  };

  Counts counts() const {
    Counts c;
    c.checks = tracked.size();
    for (const auto& [key, t] : tracked) {
      if (t.state.hard == Hard::drift) ++c.drifting;
      if (t.state.flapping) ++c.flapping;
      if (t.has_result && t.outcome == verdict::Outcome::error) ++c.errors;
    }
    return c;
  }

  std::string status_line() const {
    const auto c = counts();
    std::string s = fmt::format("{} checks, {} drifting", c.checks, c.drifting);
    if (c.flapping > 0) s += fmt::format(", {} flapping", c.flapping);
    if (!last_reload_ok) s += "; last reload failed, running the previous configuration";
    return s;
  }

  void update_status() {
    auto s = status_line();
    if (s == last_status) return;
    last_status = s;
    notifier.notify("STATUS=" + s);
  }

  asio::awaitable<void> watchdog_loop(std::chrono::microseconds every) {
    while (!stopping) {
      notifier.notify("WATCHDOG=1");
      watchdog_timer.expires_after(every);
      auto [ec] = co_await watchdog_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
    }
  }

  asio::awaitable<void> summary_loop() {
    while (!stopping) {
      const auto every = std::chrono::seconds(config->topology.daemon.summary_interval_s);
      summary_timer.expires_after(every);
      auto [ec] = co_await summary_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec || stopping) co_return;
      const auto c = counts();
      log->info("summary: {} checks, {} drifting, {} flapping, {} not probed (errors); {} results in the last {} s, "
                "scheduler lag max {:.0f} ms",
                c.checks, c.drifting, c.flapping, c.errors, results_since_summary, every.count(),
                max_lag_since_summary_s * 1e3);
      results_since_summary = 0;
      max_lag_since_summary_s = 0;
    }
  }

  // ---- metrics ---------------------------------------------------------------------------

  std::string render_metrics() const {
    Exposition x;
    const auto c = counts();
    x.family("portdrift_checks", "gauge", "Checks in the running plan.");
    x.sample("portdrift_checks", static_cast<double>(c.checks));
    x.family("portdrift_checks_drifting", "gauge", "Checks in a hard drift state.");
    x.sample("portdrift_checks_drifting", static_cast<double>(c.drifting));
    x.family("portdrift_checks_flapping", "gauge", "Checks whose results keep changing.");
    x.sample("portdrift_checks_flapping", static_cast<double>(c.flapping));
    x.family("portdrift_drift_events_total", "counter", "Drifts confirmed (DRIFT lines) since start.");
    x.sample("portdrift_drift_events_total", static_cast<double>(drift_events));
    x.family("portdrift_resolved_events_total", "counter", "Drifts cleared (RESOLVED lines) since start.");
    x.sample("portdrift_resolved_events_total", static_cast<double>(resolved_events));
    x.family("portdrift_flapping_events_total", "counter", "Checks that started flapping since start.");
    x.sample("portdrift_flapping_events_total", static_cast<double>(flapping_events));
    x.family("portdrift_results_total", "counter", "Check results (one per scheduled run of a check).");
    x.sample("portdrift_results_total", static_cast<double>(results_total));
    x.family("portdrift_probe_attempts_total", "counter", "Connection attempts, retries included.");
    x.sample("portdrift_probe_attempts_total", static_cast<double>(attempts_total));
    x.family("portdrift_scheduler_batches_total", "counter", "Batches of due checks run.");
    x.sample("portdrift_scheduler_batches_total", static_cast<double>(batches));
    x.family("portdrift_scheduler_lag_seconds", "gauge",
             "How late the last batch started, for its most overdue check.");
    x.sample("portdrift_scheduler_lag_seconds", last_lag_s);
    x.family("portdrift_scheduler_lag_max_seconds", "gauge", "The largest batch lag since start.");
    x.sample("portdrift_scheduler_lag_max_seconds", max_lag_s);
    x.family("portdrift_scheduler_skipped_runs_total", "counter",
             "Runs dropped because a check fell more than an interval behind.");
    x.sample("portdrift_scheduler_skipped_runs_total", static_cast<double>(scheduler.skipped()));
    x.family("portdrift_config_reloads_total", "counter", "SIGHUP reloads by result.");
    x.sample("portdrift_config_reloads_total", {{"result", "ok"}}, static_cast<double>(reloads_ok));
    x.sample("portdrift_config_reloads_total", {{"result", "failed"}}, static_cast<double>(reloads_failed));
    x.family("portdrift_config_last_reload_successful", "gauge", "0 when the last reload was rejected.");
    x.sample("portdrift_config_last_reload_successful", last_reload_ok ? 1 : 0);
    x.family("portdrift_state_writes_total", "counter", "State file writes by result.");
    x.sample("portdrift_state_writes_total", {{"result", "ok"}}, static_cast<double>(state_writes_ok));
    x.sample("portdrift_state_writes_total", {{"result", "failed"}}, static_cast<double>(state_writes_failed));

    if (!config) return x.text();
    x.family("portdrift_check_drifting", "gauge",
             "1 while the check is in a hard drift state; `observed` is the last observed state.");
    for (std::size_t i = 0; i < config->plan.checks.size(); ++i) {
      const auto& ch = config->plan.checks[i];
      const auto& t = tracked.at(config->keys[i]);
      x.sample("portdrift_check_drifting", labels(ch, t, true), t.state.hard == Hard::drift ? 1 : 0);
    }
    x.family("portdrift_check_flapping", "gauge", "1 while the check is flapping.");
    for (std::size_t i = 0; i < config->plan.checks.size(); ++i) {
      const auto& ch = config->plan.checks[i];
      const auto& t = tracked.at(config->keys[i]);
      x.sample("portdrift_check_flapping", labels(ch, t, false), t.state.flapping ? 1 : 0);
    }
    x.family("portdrift_check_probe_duration_seconds", "gauge",
             "The last probe: round-trip time of the deciding answer, or the time spent waiting on silence.");
    for (std::size_t i = 0; i < config->plan.checks.size(); ++i) {
      const auto& ch = config->plan.checks[i];
      const auto& t = tracked.at(config->keys[i]);
      if (t.has_result) x.sample("portdrift_check_probe_duration_seconds", labels(ch, t, false), t.duration_s);
    }
    return x.text();
  }

  static Exposition::Labels labels(const plan::Check& c, const Tracked& t, bool with_observed) {
    Exposition::Labels l{{"host", std::string(c.host)},
                         {"address", t.last.address.empty() ? std::string(c.target) : t.last.address},
                         {"protocol", std::string(to_string(c.protocol))},
                         {"port", std::to_string(c.port)},
                         {"expected", std::string(to_string(c.expect))}};
    if (with_observed) l.emplace_back("observed", t.has_result ? std::string(to_string(t.last.state)) : "none");
    return l;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  bool start() {
    auto loaded = load_config();
    if (auto* d = std::get_if<Diagnostics>(&loaded)) {
      for (const auto& x : *d) log->error("{}", format(x));
      log->error("cannot start: {} configuration problem{} in {}", d->size(), d->size() == 1 ? "" : "s",
                 options.config.string());
      return false;
    }
    auto cfg = std::get<std::shared_ptr<const Config>>(std::move(loaded));
    state_file = choose_state_file(*cfg);
    metrics_listen = choose_metrics_listen(*cfg);
    if (metrics_listen != "off") {
      std::string error;
      const auto ep = parse_listen(metrics_listen, error);
      if (!ep) {
        log->error("cannot start: metrics listen address {}", error);
        return false;
      }
      try {
        metrics = std::make_unique<MetricsServer>(io.get_executor(), *ep, [this] { return render_metrics(); });
      } catch (const boost::system::system_error& e) {
        log->error("cannot start: cannot listen on {} for metrics: {}", metrics_listen, e.code().message());
        return false;
      }
    }
    if (cfg->plan.checks.empty()) log->warn("the plan has no checks: nothing will be probed until a reload adds some");
    const auto& sd = cfg->topology.defaults.schedule;
    const auto thresholds = cfg->thresholds;
    apply_config(std::move(cfg));
    restore_state();
    if (dirty) write_state();
    log->info("started: {} checks, interval {} s (hosts may set their own), confirm {}, clear {}; metrics {}; "
              "state {}",
              tracked.size(), sd.interval_s, thresholds.confirm, thresholds.clear,
              metrics ? fmt::format("on http://{}/metrics", endpoint_text(metrics->local_endpoint())) : "off",
              state_file ? state_file->string() : "not kept");
    if (metrics) metrics->start();
    asio::co_spawn(io, schedule_loop(), asio::detached);
    asio::co_spawn(io, summary_loop(), asio::detached);
    if (options.watchdog) asio::co_spawn(io, watchdog_loop(*options.watchdog), asio::detached);
    last_status = status_line();
    notifier.notify("READY=1\nSTATUS=" + last_status + fmt::format("\nMAINPID={}", ::getpid()));
    return true;
  }

  static std::string endpoint_text(const tcp::endpoint& ep) {
    if (ep.address().is_v6()) return fmt::format("[{}]:{}", ep.address().to_string(), ep.port());
    return fmt::format("{}:{}", ep.address().to_string(), ep.port());
  }

  void reload() {
    if (stopping || !config) return;
    const auto mono = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now().time_since_epoch());
    notifier.notify(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", mono.count()));
    log->info("reloading {}", options.config.string());
    auto loaded = load_config();
    if (auto* d = std::get_if<Diagnostics>(&loaded)) {
      for (const auto& x : *d) log->error("{}", format(x));
      log->error("reload rejected: {} configuration problem{} in {}; the running configuration stays ({} checks)",
                 d->size(), d->size() == 1 ? "" : "s", options.config.string(), tracked.size());
      ++reloads_failed;
      last_reload_ok = false;
    } else {
      auto cfg = std::get<std::shared_ptr<const Config>>(std::move(loaded));
      if (choose_metrics_listen(*cfg) != metrics_listen || choose_state_file(*cfg) != state_file) {
        log->warn("daemon.metrics_listen and daemon.state_file take effect at the next restart");
      }
      const auto [added, removed, kept] = apply_config(std::move(cfg));
      log->info("reloaded {}: {} checks ({} new, {} removed, {} kept with their state)", options.config.string(),
                tracked.size(), added, removed, kept);
      ++reloads_ok;
      last_reload_ok = true;
      if (added > 0 || removed > 0) dirty = true;
      if (dirty) write_state();
    }
    last_status = status_line();
    notifier.notify("READY=1\nSTATUS=" + last_status);
  }

  void stop() {
    if (stopping) return;
    stopping = true;
    notifier.notify("STOPPING=1");
    log->info("stopping: {}", status_line());
    write_state();
    if (metrics) metrics->stop();
    wake.cancel();
    watchdog_timer.cancel();
    summary_timer.cancel();
    io.stop();  // abandons a batch in flight: its results would only be written next time anyway
  }
};

Daemon::Daemon(asio::io_context& io, Options options, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<Impl>(io, std::move(options), std::move(log))) {}

Daemon::~Daemon() = default;

bool Daemon::start() { return impl_->start(); }
void Daemon::reload() { impl_->reload(); }
void Daemon::stop() { impl_->stop(); }
std::string Daemon::metrics_text() const { return impl_->render_metrics(); }
std::string Daemon::status() const { return impl_->status_line(); }
std::optional<tcp::endpoint> Daemon::metrics_endpoint() const {
  if (!impl_->metrics) return std::nullopt;
  return impl_->metrics->local_endpoint();
}

int run(Options options, std::shared_ptr<spdlog::logger> log) {
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
    log->info("stopped");
    log->flush();
  }
  return exit_code;
}

}  // namespace portdrift::daemon
