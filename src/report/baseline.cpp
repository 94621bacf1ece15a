#include "portdrift/report/baseline.hpp"

#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "portdrift/report/report.hpp"

namespace portdrift::report {
namespace {

using Json = nlohmann::ordered_json;

std::string text_of(const Json& item, const char* key) {
  const auto it = item.find(key);
  return it != item.end() && it->is_string() ? it->get<std::string>() : std::string();
}

using Key = std::tuple<std::string, std::string, std::string, int, std::string>;
Key key_of(const RunCheck& c) { return {c.host, c.address, c.protocol, c.port, c.expected}; }

std::string where(const RunCheck& c) {
  const std::string flow = c.port < 0 ? c.protocol : fmt::format("{}/{}", c.protocol, c.port);
  return fmt::format("{} {} {} expected {}", c.host, c.address, flow, c.expected);
}

std::string seen(const RunCheck& c) { return fmt::format("{} {} ({})", c.verdict, c.observed, c.reason); }

Json check_json(const RunCheck& c) {
  return {{"host", c.host},         {"address", c.address},   {"protocol", c.protocol},
          {"port", c.port < 0 ? Json(nullptr) : Json(c.port)}, {"expected", c.expected},
          {"observed", c.observed}, {"reason", c.reason},     {"verdict", c.verdict},
          {"severity", c.severity}, {"catalog_id", c.catalog.empty() ? Json(nullptr) : Json(c.catalog)}};
}

}  // namespace

std::string_view to_string(ChangeKind k) noexcept {
  switch (k) {
    case ChangeKind::new_problem: return "new";
    case ChangeKind::cleared: return "cleared";
    case ChangeKind::changed: return "changed";
    case ChangeKind::added: return "added";
    case ChangeKind::removed: return "removed";
  }
  return "?";
}

RunRecordResult parse_run(std::string_view json_text) {
  Json doc = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return {std::nullopt, "not JSON"};
  if (!doc.is_object()) return {std::nullopt, "not a JSON object"};
  if (doc.contains("run") && doc["run"].is_object()) doc = Json(doc["run"]);  // a diff document
  const auto status = text_of(doc, "status");
  if (status != "OK" && status != "WARNING" && status != "CRITICAL") {
    if (status == "UNKNOWN") return {std::nullopt, "a run that probed nothing (UNKNOWN)"};
    return {std::nullopt, "no \"status\" of a portdrift --check --format json result"};
  }
  const auto checks = doc.find("checks");
  if (checks == doc.end() || !checks->is_array()) return {std::nullopt, "no \"checks\" array"};
  RunRecord r;
  r.status = status;
  r.vantage = text_of(doc, "vantage");
  if (const auto t = doc.find("topology"); t != doc.end() && t->is_object()) r.topology_hash = text_of(*t, "hash");
  std::size_t i = 0;
  for (const auto& item : *checks) {
    RunCheck c;
    c.host = text_of(item, "host");
    c.address = text_of(item, "address");
    c.protocol = text_of(item, "protocol");
    c.expected = text_of(item, "expected");
    c.observed = text_of(item, "observed");
    c.reason = text_of(item, "reason");
    c.verdict = text_of(item, "verdict");
    c.severity = text_of(item, "severity");
    c.catalog = text_of(item, "catalog_id");
    if (const auto p = item.find("port"); p != item.end() && p->is_number_integer()) c.port = p->get<int>();
    if (c.host.empty() || c.protocol.empty() || c.expected.empty() || c.verdict.empty()) {
      return {std::nullopt, fmt::format("checks[{}] lacks host, protocol, expected or verdict", i)};
    }
    r.checks.push_back(std::move(c));
    ++i;
  }
  return {std::move(r), {}};
}

BaselineDiffResult compare(const RunRecord& before, const RunRecord& after) {
  if (before.vantage != after.vantage) {
    auto name = [](const std::string& v) { return v.empty() ? std::string("the topology's own vantage") : v; };
    return {std::nullopt, fmt::format("the baseline was checked from {}, this run from {}: their flows differ",
                                      name(before.vantage), name(after.vantage))};
  }
  BaselineDiff d;
  d.topology_changed = before.topology_hash != after.topology_hash;
  std::map<Key, const RunCheck*> old;
  for (const auto& c : before.checks) old.emplace(key_of(c), &c);
  std::set<Key> current;
  for (const auto& c : after.checks) {
    const auto key = key_of(c);
    if (!current.insert(key).second) continue;  // one entry per key, as in the baseline
    const auto it = old.find(key);
    if (it == old.end()) {
      d.changes.push_back({ChangeKind::added, std::nullopt, c});
      ++d.added;
      if (c.problem()) {
        ++d.new_problems;
        if (c.severity == "critical") ++d.new_critical;
      }
      continue;
    }
    const RunCheck& b = *it->second;
    if (!b.problem() && c.problem()) {
      d.changes.push_back({ChangeKind::new_problem, b, c});
      ++d.new_problems;
      if (c.severity == "critical") ++d.new_critical;
    } else if (b.problem() && !c.problem()) {
      d.changes.push_back({ChangeKind::cleared, b, c});
      ++d.cleared;
    } else if (b.verdict != c.verdict || b.observed != c.observed || b.reason != c.reason ||
               b.severity != c.severity) {
      d.changes.push_back({ChangeKind::changed, b, c});
      ++d.changed;
    }
  }
  for (const auto& c : before.checks) {
    if (current.contains(key_of(c))) continue;
    d.changes.push_back({ChangeKind::removed, c, std::nullopt});
    ++d.removed;
  }
  if (d.new_critical > 0) d.status = verdict::Status::critical;
  else if (!d.changes.empty()) d.status = verdict::Status::warning;
  return {std::move(d), {}};
}

std::string diff_text(const BaselineDiff& d, std::string_view baseline_file) {
  const std::string summary =
      d.changes.empty()
          ? fmt::format("no change since {}", baseline_file)
          : fmt::format("since {}: {} new problem{} ({} critical), {} cleared, {} changed, {} added, {} removed{}",
                        baseline_file, d.new_problems, d.new_problems == 1 ? "" : "s", d.new_critical, d.cleared,
                        d.changed, d.added, d.removed, d.topology_changed ? "; the topology file changed" : "");
  auto n = [](std::size_t v) { return fmt::format("{}", v); };
  std::string out = fmt::format("PORTDRIFT {} - {} | {} {} {} {} {} {}\n", verdict::to_string(d.status), summary,
                                perfdata("new", n(d.new_problems)), perfdata("new_critical", n(d.new_critical)),
                                perfdata("cleared", n(d.cleared)), perfdata("changed", n(d.changed)),
                                perfdata("added", n(d.added)), perfdata("removed", n(d.removed)));
  for (const auto& c : d.changes) {
    switch (c.kind) {
      case ChangeKind::new_problem:
        out += fmt::format("+ new {}: {}: was {}, now {}\n", c.after->severity, where(*c.after), seen(*c.before),
                           seen(*c.after));
        break;
      case ChangeKind::cleared:
        out += fmt::format("- cleared: {}: was {}, now {}\n", where(*c.after), seen(*c.before), seen(*c.after));
        break;
      case ChangeKind::changed:
        out += fmt::format("~ changed: {}: was {}, now {}\n", where(*c.after), seen(*c.before), seen(*c.after));
        break;
      case ChangeKind::added: out += fmt::format("+ added: {}: {}\n", where(*c.after), seen(*c.after)); break;
      case ChangeKind::removed: out += fmt::format("- removed: {}: was {}\n", where(*c.before), seen(*c.before)); break;
    }
  }
  return out;
}

std::string diff_json(const BaselineDiff& d, std::string_view baseline_file, std::string_view run_json) {
  Json changes = Json::array();
  for (const auto& c : d.changes) {
    changes.push_back({{"change", to_string(c.kind)},
                       {"before", c.before ? check_json(*c.before) : Json(nullptr)},
                       {"after", c.after ? check_json(*c.after) : Json(nullptr)}});
  }
  Json doc = {{"status", verdict::to_string(d.status)},
              {"exit_code", static_cast<int>(d.status)},
              {"baseline", baseline_file},
              {"summary",
               {{"new", d.new_problems},
                {"new_critical", d.new_critical},
                {"cleared", d.cleared},
                {"changed", d.changed},
                {"added", d.added},
                {"removed", d.removed},
                {"topology_changed", d.topology_changed}}},
              {"changes", changes},
              {"run", Json::parse(run_json, nullptr, false)}};
  return doc.dump(2) + "\n";
}

}  // namespace portdrift::report
