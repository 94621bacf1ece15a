#include "portdrift/runner/setup.hpp"

#include "portdrift/catalog/catalog.hpp"

namespace portdrift::runner {

Options engine_options(const config::ProbeDefaults& d, const EngineOverrides& e) {
  Options o;
  o.probe.timeout = std::chrono::milliseconds(e.timeout_ms.value_or(d.timeout_ms));
  o.probe.retries = e.retries.value_or(d.retries);
  o.probe.concurrency = e.concurrency.value_or(d.concurrency);
  o.probe.per_host_concurrency = e.per_host.value_or(d.per_host_concurrency);
  o.probe.max_rate = e.max_rate.value_or(d.max_rate);
  if (e.source) o.source = *e.source;
  return o;
}

SetupResult load_setup(const std::filesystem::path& topology, const std::filesystem::path& catalog_dir,
                       const EngineOverrides& overrides) {
  SetupResult r;
  auto cat = catalog::load_catalog(catalog_dir);
  auto topo = config::load_topology(topology.string());
  r.diagnostics = std::move(cat.diagnostics);
  r.diagnostics.insert(r.diagnostics.end(), topo.diagnostics.begin(), topo.diagnostics.end());
  // Plan-level checks (roles, products, overrides) need both files readable.
  const bool topology_read = !topo.topology.hosts.empty() || !topo.topology.groups.empty();
  if (topology_read && !cat.catalog.products.empty()) {
    auto p = plan::build_plan(topo.topology, cat.catalog);
    r.diagnostics.insert(r.diagnostics.end(), p.diagnostics.begin(), p.diagnostics.end());
    r.notes = std::move(p.notes);
    r.setup.plan = std::move(p.plan);
  }
  r.setup.engine = engine_options(topo.topology.defaults.probe, overrides);
  r.setup.topology = std::move(topo.topology);
  r.setup.catalog = std::move(cat.catalog);
  return r;
}

}  // namespace portdrift::runner
