#include <sstream>
#include <unordered_set>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "portdrift/report/report.hpp"

namespace portdrift::report {

void write_json(const RunView& run, std::ostream& out) {
  using json = nlohmann::ordered_json;
  const auto& s = run.summary;
  json head = {
      {"status", verdict::to_string(s.status)},
      {"exit_code", static_cast<int>(s.status)},
      {"summary",
       {{"checks", s.checks},
        {"ok", s.ok},
        {"drift_critical", s.drift_critical},
        {"drift_warning", s.drift_warning},
        {"errors", s.errors},
        {"unconfirmed", s.unconfirmed},
        {"absent", s.absent},
        {"skipped", run.plan.skipped.size()}}},
      {"duration_ms", static_cast<double>(run.duration.count()) / 1000.0},
      {"vantage", run.instance.vantage.empty() ? json(nullptr) : json(run.instance.vantage)},
      {"shard", run.instance.shard.empty() ? json(nullptr) : json(run.instance.shard)},
  };
  if (!run.topology.hash.empty()) head["topology"] = {{"file", run.topology.file}, {"hash", run.topology.hash}};
  std::string text = head.dump(2);
  text.pop_back();  // reopen the object: "\n}" -> "\n"
  text.pop_back();
  out << text << ",\n  \"checks\": [";
  const char* sep = "\n    ";
  for (const auto& r : run.results) {
    const auto& c = *r.check;
    const auto& o = r.observation;
    json item = {
        {"host", c.host},
        {"target", c.target},
        {"address", o.address.empty() ? c.target : o.address},
        {"protocol", to_string(c.protocol)},
        {"port", c.protocol == Protocol::icmp ? json(nullptr) : json(c.port)},
        {"expected", to_string(c.expect)},
        {"observed", to_string(o.state)},
        {"reason", to_string(o.reason)},
        {"verdict", verdict::to_string(r.outcome)},
        {"severity", to_string(verdict::severity_of(r))},
        {"rtt_ms", o.rtt ? json(static_cast<double>(o.rtt->count()) / 1000.0) : json(nullptr)},
        {"attempts", o.attempts},
        {"catalog_id", c.catalog_ids.empty() ? json(nullptr) : json(c.catalog_ids.front())},
        {"catalog_ids", c.catalog_ids},
        {"label", c.label},
    };
    if (!o.detail.empty()) item["detail"] = o.detail;
    if (!r.note.empty()) item["note"] = r.note;
    if (!c.group.empty()) item["group"] = c.group;
    if (const auto& roles = run.plan.roles_of(c); !roles.from.empty()) {
      item["from_role"] = roles.from;
      item["to_role"] = roles.to;
    }
    if (c.protocol == Protocol::udp) {
      item["payload"] = c.payload->label;
      item["silence"] = to_string(c.silence);
    }
    if (!o.reply.empty()) item["reply"] = o.reply;
    if (o.echo) {
      const auto ms = [](std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1000.0; };
      const bool any = o.echo->received > 0;
      item["echo"] = {{"sent", o.echo->sent},
                      {"received", o.echo->received},
                      {"loss_percent", o.echo->loss_percent()},
                      {"rtt_min_ms", any ? json(ms(o.echo->rtt_min)) : json(nullptr)},
                      {"rtt_avg_ms", any ? json(ms(o.echo->rtt_avg)) : json(nullptr)},
                      {"rtt_max_ms", any ? json(ms(o.echo->rtt_max)) : json(nullptr)}};
    }
    out << sep << item.dump();
    sep = ",\n    ";
  }
  out << (run.results.empty() ? "]" : "\n  ]") << ",\n  \"absent\": [";
  // Each absent address once (its checks are in "checks" with the verdict "absent").
  sep = "\n    ";
  {
    std::unordered_set<std::string> seen;
    for (const auto& r : run.results) {
      if (r.outcome != verdict::Outcome::absent) continue;
      const auto& c = *r.check;
      const std::string address = r.observation.address.empty() ? std::string(c.target) : r.observation.address;
      if (!seen.insert(fmt::format("{}\t{}", c.host, address)).second) continue;
      const json item = {{"host", c.host}, {"address", address}, {"group", c.group},
                         {"severity", to_string(c.absent)}};
      out << sep << item.dump();
      sep = ",\n    ";
    }
  }
  out << (sep[0] == ',' ? "\n  ]" : "]") << ",\n  \"skipped\": [";
  sep = "\n    ";
  for (const auto& k : run.plan.skipped) {
    const json item = {{"host", k.host},
                       {"catalog_id", k.flow_id.empty() ? json(nullptr) : json(k.flow_id)},
                       {"protocol", to_string(k.protocol)},
                       {"ports", k.ports},
                       {"why", k.why}};
    out << sep << item.dump();
    sep = ",\n    ";
  }
  out << (run.plan.skipped.empty() ? "]" : "\n  ]") << "\n}\n";
}

std::string json(const RunView& run) {
  std::ostringstream out;
  write_json(run, out);
  return out.str();
}

std::string json_unknown(std::string_view summary, const Diagnostics& diagnostics) {
  using json = nlohmann::ordered_json;
  json diags = json::array();
  for (const auto& d : diagnostics) {
    diags.push_back({{"file", d.file},
                     {"line", d.pos.line},
                     {"column", d.pos.column},
                     {"key", d.key_path},
                     {"message", d.message},
                     {"text", format(d)}});
  }
  json doc = {{"status", "UNKNOWN"}, {"exit_code", 3},        {"message", summary},
              {"diagnostics", diags}, {"checks", json::array()}};
  return doc.dump(2) + "\n";
}

}  // namespace portdrift::report
