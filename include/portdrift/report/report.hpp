#pragma once
// Reports: turn a judged run into text for people and machines. Nagios plugin
// output (status line, perfdata, long output), JSON, and catalog listings.
// Formatting only: no I/O, no decisions (the verdict module made them).

#include <chrono>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>

#include "portdrift/catalog/catalog.hpp"
#include "portdrift/core/diagnostic.hpp"
#include "portdrift/plan/fleet.hpp"
#include "portdrift/plan/plan.hpp"
#include "portdrift/verdict/verdict.hpp"

namespace portdrift::report {

// Which topology a run planned from, so results of many instances can be
// merged only when they share one file ("topology" in JSON; empty: not written).
struct TopologyId {
  std::string file;  // the file's name, without its directory
  std::string hash;  // plan::stable_hash of the file's bytes, 16 hex digits
};

struct RunView {
  std::span<const verdict::CheckResult> results;
  const plan::Plan& plan;
  verdict::Summary summary;
  std::chrono::microseconds duration{0};
  plan::Instance instance;  // the vantage and shard this run was for ("vantage", "shard" in JSON)
  TopologyId topology{};
};

enum class Detail { problems, all };

// `PORTDRIFT STATUS - summary | perfdata` then one line per drift/error
// (every check with Detail::all), then a line on what was not probed.
std::string nagios(const RunView& run, Detail detail);
// JSON, streamed: one compact line per check, so 100k checks never sit in
// memory as a document.
void write_json(const RunView& run, std::ostream& out);
std::string json(const RunView& run);

// Output for a run that could not start (bad configuration): UNKNOWN.
std::string nagios_unknown(std::string_view summary, const Diagnostics& diagnostics);
std::string json_unknown(std::string_view summary, const Diagnostics& diagnostics);

// One perfdata item: 'label'=value[uom];warn;crit;min;max (empty fields kept).
std::string perfdata(std::string_view label, std::string_view value, std::string_view uom = "",
                     std::string_view warn = "", std::string_view crit = "", std::string_view min = "0",
                     std::string_view max = "");

std::string catalog_table(const catalog::Catalog& catalog);
std::string catalog_json(const catalog::Catalog& catalog);

}  // namespace portdrift::report
