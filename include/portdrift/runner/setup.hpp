#pragma once
// What `--check`, `--validate` and the daemon all do before the first pass:
// load the catalog and the topology, build the plan, and settle the engine's
// settings (the topology's defaults, overridden by command-line flags); pick
// the named vantage and keep this instance's shard of the plan.
// Written once so that the one-shot and the daemon cannot disagree on a plan.
// Every problem is collected, none thrown.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "portdrift/catalog/catalog.hpp"
#include "portdrift/config/topology.hpp"
#include "portdrift/core/diagnostic.hpp"
#include "portdrift/plan/fleet.hpp"
#include "portdrift/plan/plan.hpp"
#include "portdrift/runner/runner.hpp"

namespace portdrift::runner {

// --check's timing when neither --timing nor the topology's `defaults.timing` says: adaptive, since
// it met every accuracy gate of the bench (docs/performance.md). The daemon keeps fixed
// (daemon::kDaemonTiming).
inline constexpr Timing kCheckTiming = Timing::adaptive;

// Command-line values that override the topology's defaults.
struct EngineOverrides {
  std::optional<std::uint32_t> timeout_ms, retries, concurrency, per_host, max_rate;
  std::optional<std::string> source;  // --source: where every probe leaves from
  std::optional<Timing> timing;       // --timing; unset: the topology's, else kCheckTiming (the daemon: fixed)
  // --time-budget: seconds UDP confirmations may wait for ICMP rate limiters; 0 = no limit.
  // Unset: no limit for --check, kDaemonTimeBudget for the daemon.
  std::optional<std::uint32_t> time_budget_s;
};

// Which part of a fleet's work this instance does: --vantage NAME (or
// PORTDRIFT_VANTAGE, read by cli) and --shard K/N.
struct Selection {
  std::string vantage;               // a name of `vantages:`; empty: the topology's `vantage:`
  std::optional<plan::Shard> shard;  // none: the whole plan
  // --check and the daemon must know where they stand when the topology names only `vantages:`;
  // --validate may look at the file as a whole.
  bool vantage_required = true;
  [[nodiscard]] plan::Instance instance() const { return plan::instance_of(vantage, shard); }
};

struct Setup {
  catalog::Catalog catalog;  // for what reads the flows behind the plan (policy, explain)
  config::Topology topology;
  plan::Plan plan;
  Options engine;
  Selection selection;
  std::size_t vantage_checks = 0;  // the vantage's checks before sharding
};

struct SetupResult {
  Setup setup;
  Diagnostics diagnostics;  // catalog, topology, then plan problems, in that order
  Diagnostics notes;        // the plan's notes: which of two sources won a port (--validate -v)
  Diagnostics warnings;     // not problems that stop a run: flows no declared vantage checks
  [[nodiscard]] bool ok() const noexcept { return diagnostics.empty(); }
};

SetupResult load_setup(const std::filesystem::path& topology, const std::filesystem::path& catalog_dir,
                       const EngineOverrides& overrides, const Selection& selection = {});

Options engine_options(const config::ProbeDefaults& defaults, const EngineOverrides& overrides);

// Every source probes would leave from must exist on this machine, checked
// before anything is probed (by --check, and by the daemon at start and on
// each reload; not by --validate, which may run elsewhere): --source alone
// when given (it overrides the file), else each `source:` the topology writes
// (defaults, hosts, groups), reported at its file:line:column.
Diagnostics check_sources(const config::Topology& topology, const EngineOverrides& overrides);

}  // namespace portdrift::runner
