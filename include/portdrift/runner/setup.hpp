#pragma once
// What `--check`, `--validate` and the daemon all do before the first pass:
// load the catalog and the topology, build the plan, and settle the engine's
// settings (the topology's defaults, overridden by command-line flags).
// Written once so that the one-shot and the daemon cannot disagree on a plan.
// Every problem is collected, none thrown.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "portdrift/catalog/catalog.hpp"
#include "portdrift/config/topology.hpp"
#include "portdrift/core/diagnostic.hpp"
#include "portdrift/plan/plan.hpp"
#include "portdrift/runner/runner.hpp"

namespace portdrift::runner {

// Command-line values that override the topology's defaults.
struct EngineOverrides {
  std::optional<std::uint32_t> timeout_ms, retries, concurrency, per_host, max_rate;
  std::optional<std::string> source;  // --source: where every probe leaves from
};

struct Setup {
  catalog::Catalog catalog;  // for what reads the flows behind the plan (policy, explain)
  config::Topology topology;
  plan::Plan plan;
  Options engine;
};

struct SetupResult {
  Setup setup;
  Diagnostics diagnostics;  // catalog, topology, then plan problems, in that order
  Diagnostics notes;        // the plan's notes: which of two sources won a port (--validate -v)
  [[nodiscard]] bool ok() const noexcept { return diagnostics.empty(); }
};

SetupResult load_setup(const std::filesystem::path& topology, const std::filesystem::path& catalog_dir,
                       const EngineOverrides& overrides);

Options engine_options(const config::ProbeDefaults& defaults, const EngineOverrides& overrides);

}  // namespace portdrift::runner
