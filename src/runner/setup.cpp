#include "portdrift/runner/setup.hpp"

#include <future>
#include <unordered_set>

#include "portdrift/catalog/catalog.hpp"
#include "portdrift/probe/source.hpp"

namespace portdrift::runner {

Options engine_options(const config::ProbeDefaults& d, const EngineOverrides& e) {
  Options o;
  o.probe.timeout = std::chrono::milliseconds(e.timeout_ms.value_or(d.timeout_ms));
  o.probe.retries = e.retries.value_or(d.retries);
  o.probe.concurrency = e.concurrency.value_or(d.concurrency);
  o.probe.per_host_concurrency = e.per_host.value_or(d.per_host_concurrency);
  o.probe.max_rate = e.max_rate.value_or(d.max_rate);
  o.probe.timing = e.timing.value_or(d.timing.value_or(kCheckTiming));
  o.probe.time_budget = std::chrono::seconds(e.time_budget_s.value_or(0));
  if (e.source) o.source = *e.source;
  return o;
}

SetupResult load_setup(const std::filesystem::path& topology, const std::filesystem::path& catalog_dir,
                       const EngineOverrides& overrides, const Selection& selection) {
  SetupResult r;
  // The two files share nothing until the plan, and yaml-cpp reads about 4-5 MB/s here: the catalog
  // (128 KB) is read on a second thread while this one reads the topology (a 10k-check topology is
  // about as large), which takes ~25 ms off every start. The thread ends before this returns.
  auto catalog_read = std::async(std::launch::async, [&catalog_dir] { return catalog::load_catalog(catalog_dir); });
  auto topo = config::load_topology(topology.string());
  auto cat = catalog_read.get();
  r.diagnostics = std::move(cat.diagnostics);
  r.diagnostics.insert(r.diagnostics.end(), topo.diagnostics.begin(), topo.diagnostics.end());
  auto& t = topo.topology;
  auto chosen = plan::select_vantage(t, selection.vantage, selection.vantage_required);
  r.diagnostics.insert(r.diagnostics.end(), chosen.begin(), chosen.end());
  // Plan-level checks (roles, products, overrides) need both files readable.
  const bool topology_read = !t.hosts.empty() || !t.groups.empty();
  if (topology_read && !cat.catalog.products.empty()) {
    auto p = plan::build_plan(t, cat.catalog);
    r.diagnostics.insert(r.diagnostics.end(), p.diagnostics.begin(), p.diagnostics.end());
    auto coverage = plan::vantage_coverage(t, cat.catalog, selection.vantage);
    r.diagnostics.insert(r.diagnostics.end(), coverage.errors.begin(), coverage.errors.end());
    r.warnings = std::move(coverage.warnings);
    r.notes = std::move(p.notes);
    r.setup.plan = std::move(p.plan);
  }
  r.setup.vantage_checks = r.setup.plan.checks.size();
  if (selection.shard) plan::keep_shard(r.setup.plan, *selection.shard);
  r.setup.selection = selection;
  r.setup.engine = engine_options(t.defaults.probe, overrides);
  r.setup.topology = std::move(t);
  r.setup.catalog = std::move(cat.catalog);
  return r;
}

Diagnostics check_sources(const config::Topology& topology, const EngineOverrides& overrides) {
  Diagnostics out;
  if (overrides.source) {
    if (auto found = probe::find_source(*overrides.source); !found.ok()) out.push_back({"--source", {}, "", found.error});
    return out;
  }
  std::unordered_set<std::string> seen;
  auto check = [&](const std::optional<config::Named>& source) {
    if (!source || source->value.empty() || !seen.insert(source->value).second) return;
    if (auto found = probe::find_source(source->value); !found.ok()) {
      out.push_back({topology.file, source->pos, source->key_path, found.error});
    }
  };
  check(topology.defaults.source);
  for (const auto& h : topology.hosts) check(h.source);
  for (const auto& g : topology.groups) check(g.settings.source);
  return out;
}

}  // namespace portdrift::runner
