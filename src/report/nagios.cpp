#include <map>

#include <fmt/format.h>

#include "portdrift/report/report.hpp"

namespace portdrift::report {
namespace {

std::string target_of(const plan::Check& c, const Observation& o) {
  if (o.address.empty() || o.address == c.target) return c.target;
  return fmt::format("{} ({})", o.address, c.target);
}

std::string observed_text(const Observation& o) {
  if (o.state == PortState::unknown) {
    return fmt::format("not probed: {} ({})", o.detail.empty() ? "error" : o.detail, to_string(o.reason));
  }
  std::string s = fmt::format("observed {} ({})", to_string(o.state), to_string(o.reason));
  if (o.rtt) s += fmt::format(" in {:.1f} ms", static_cast<double>(o.rtt->count()) / 1000.0);
  return s;
}

std::string line_for(const verdict::CheckResult& r) {
  const auto& c = *r.check;
  const std::string tag = r.outcome == verdict::Outcome::ok
                              ? "OK"
                              : (c.severity == Severity::critical ? "CRITICAL" : "WARNING");
  std::string ids;
  for (const auto& id : c.catalog_ids) ids += fmt::format("{}{}", ids.empty() ? "" : ",", id);
  return fmt::format("{}: {} {} {}/{} expected {}, {} [{}]", tag, c.host, target_of(c, r.observation),
                     to_string(c.protocol), c.port, to_string(c.expect), observed_text(r.observation),
                     ids.empty() ? c.label : ids);
}

std::string skipped_line(const plan::Plan& plan) {
  if (plan.skipped.empty()) return {};
  std::map<std::string, std::size_t> by_why;
  for (const auto& s : plan.skipped) ++by_why[s.why];
  std::string out = fmt::format("Not probed: {} catalog flows (", plan.skipped.size());
  bool first = true;
  for (const auto& [why, n] : by_why) {
    out += fmt::format("{}{}: {}", first ? "" : "; ", why, n);
    first = false;
  }
  return out + ")";
}

}  // namespace

std::string perfdata(std::string_view label, std::string_view value, std::string_view uom, std::string_view warn,
                     std::string_view crit, std::string_view min, std::string_view max) {
  std::string out = fmt::format("'{}'={}{};{};{};{}", label, value, uom, warn, crit, min);
  if (!max.empty()) out += fmt::format(";{}", max);
  return out;
}

std::string nagios(const RunView& run, Detail detail) {
  const auto& s = run.summary;
  std::string summary;
  if (s.checks == 0) {
    summary = "no checks to run for this vantage point";
  } else if (s.drifted() == 0 && s.errors == 0) {
    summary = fmt::format("{} checks as documented", s.checks);
  } else {
    summary = fmt::format("{} of {} checks drifted ({} critical, {} warning)", s.drifted(), s.checks,
                          s.drift_critical, s.drift_warning);
    if (s.errors > 0) summary += fmt::format(", {} could not be probed", s.errors);
  }
  const auto n = [](std::size_t v) { return fmt::format("{}", v); };
  const std::string max = n(s.checks);
  std::string out = fmt::format(
      "PORTDRIFT {} - {} | {} {} {} {} {} {} {}\n", verdict::to_string(s.status), summary,
      perfdata("checks", n(s.checks)), perfdata("ok", n(s.ok), "", "", "", "0", max),
      perfdata("drift_critical", n(s.drift_critical), "", "", "1", "0", max),
      perfdata("drift_warning", n(s.drift_warning), "", "1", "", "0", max),
      perfdata("errors", n(s.errors), "", "", "", "0", max), perfdata("skipped", n(run.plan.skipped.size())),
      perfdata("duration", fmt::format("{:.3f}", static_cast<double>(run.duration.count()) / 1e6), "s"));
  for (const auto& r : run.results) {
    if (detail == Detail::all || r.outcome != verdict::Outcome::ok) out += line_for(r) + "\n";
  }
  if (auto skipped = skipped_line(run.plan); !skipped.empty()) out += skipped + "\n";
  return out;
}

std::string nagios_unknown(std::string_view summary, const Diagnostics& diagnostics) {
  std::string out = fmt::format("PORTDRIFT UNKNOWN - {}\n", summary);
  for (const auto& d : diagnostics) out += format(d) + "\n";
  return out;
}

}  // namespace portdrift::report
