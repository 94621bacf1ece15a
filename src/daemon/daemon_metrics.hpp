#pragma once
// The daemon's own counters, and the Prometheus text rendered from them and
// from the tracking states. Rendered only when scraped: nothing per result.

#include <cstdint>
#include <string>

namespace portdrift::daemon {

class Tracking;

struct DaemonStats {
  std::uint64_t results_total = 0, attempts_total = 0, batches = 0, skipped_runs = 0;
  std::uint64_t reloads_ok = 0, reloads_failed = 0;
  bool last_reload_ok = true;
  std::uint64_t state_writes_ok = 0, state_writes_failed = 0;
  double last_lag_s = 0, max_lag_s = 0;
  // Since the last summary line.
  std::uint64_t results_since_summary = 0;
  double max_lag_since_summary_s = 0;
};

std::string render_metrics(const DaemonStats& stats, const Tracking& tracking);

}  // namespace portdrift::daemon
