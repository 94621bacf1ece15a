#include "daemon_metrics.hpp"

#include "portdrift/daemon/metrics.hpp"
#include "portdrift/daemon/tracking.hpp"

namespace portdrift::daemon {

std::string render_metrics(const DaemonStats& s, const Tracking& tracking) {
  Exposition x;
  // Every sample names the instance, so that one Prometheus can tell a fleet's vantages and shards apart.
  Exposition::Labels instance;
  if (!tracking.instance().vantage.empty()) instance.emplace_back("vantage", tracking.instance().vantage);
  if (!tracking.instance().shard.empty()) instance.emplace_back("shard", tracking.instance().shard);
  x.constant_labels(std::move(instance));
  const auto c = tracking.counts();
  const auto& e = tracking.events();
  const auto one = [&x](std::string_view name, std::string_view type, std::string_view help, double value) {
    x.family(name, type, help);
    x.sample(name, value);
  };
  const auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  one("portdrift_checks", "gauge", "Checks in the running plan.", d(c.checks));
  one("portdrift_checks_drifting", "gauge", "Checks in a hard drift state.", d(c.drifting));
  one("portdrift_checks_flapping", "gauge", "Checks whose results keep changing.", d(c.flapping));
  one("portdrift_drift_events_total", "counter", "Drifts confirmed (DRIFT lines) since start.", d(e.drift));
  one("portdrift_resolved_events_total", "counter", "Drifts cleared (RESOLVED lines) since start.", d(e.resolved));
  one("portdrift_flapping_events_total", "counter", "Checks that started flapping since start.", d(e.flapping));
  one("portdrift_icmp_ratelimited_total", "counter",
      "UDP results left unconfirmed since start: the target's ICMP error rate limit held no token within the time budget.",
      d(e.icmp_ratelimited));
  one("portdrift_results_total", "counter", "Check results (one per scheduled run of a check).", d(s.results_total));
  one("portdrift_probe_attempts_total", "counter", "Connection attempts, retries included.", d(s.attempts_total));
  one("portdrift_scheduler_batches_total", "counter", "Batches of due checks run.", d(s.batches));
  one("portdrift_scheduler_lag_seconds", "gauge", "How late the last batch started, for its most overdue check.",
      s.last_lag_s);
  one("portdrift_scheduler_lag_max_seconds", "gauge", "The largest batch lag since start.", s.max_lag_s);
  one("portdrift_scheduler_skipped_runs_total", "counter",
      "Runs dropped because a check fell more than an interval behind.", d(s.skipped_runs));
  x.family("portdrift_config_reloads_total", "counter", "SIGHUP reloads by result.");
  x.sample("portdrift_config_reloads_total", {{"result", "ok"}}, d(s.reloads_ok));
  x.sample("portdrift_config_reloads_total", {{"result", "failed"}}, d(s.reloads_failed));
  one("portdrift_config_last_reload_successful", "gauge", "0 when the last reload was rejected.",
      s.last_reload_ok ? 1 : 0);
  x.family("portdrift_state_writes_total", "counter", "State file writes by result.");
  x.sample("portdrift_state_writes_total", {{"result", "ok"}}, d(s.state_writes_ok));
  x.sample("portdrift_state_writes_total", {{"result", "failed"}}, d(s.state_writes_failed));
  tracking.render(x);
  return x.text();
}

}  // namespace portdrift::daemon
