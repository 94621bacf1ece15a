#include "portdrift/report/pipeline.hpp"

#include <fmt/format.h>

#include "check_text.hpp"

namespace portdrift::report {
namespace {

enum class Kind { pass, failure, error };

// Absent addresses of an `absent: ok` group are counted, never a failure (as the Nagios output says OK).
Kind kind_of(const verdict::CheckResult& r) {
  if (r.outcome == verdict::Outcome::ok) return Kind::pass;
  if (r.outcome == verdict::Outcome::absent && r.check->absent == Absent::ok) return Kind::pass;
  return r.outcome == verdict::Outcome::error ? Kind::error : Kind::failure;
}

std::string address_of(const verdict::CheckResult& r) {
  return r.observation.address.empty() ? std::string(r.check->target) : r.observation.address;
}

// The vantage the run was for ("local": the topology's own `vantage:`).
std::string vantage_of(const RunView& run) {
  return run.instance.vantage.empty() ? std::string("local") : run.instance.vantage;
}

// classname: vantage, then the role the flow goes to, then the host: CI servers group by its dots.
std::string class_of(const RunView& run, const plan::Check& c) {
  const auto& roles = run.plan.roles_of(c);
  if (roles.to.empty() || roles.to == "any") return fmt::format("{}.{}", vantage_of(run), c.host);
  return fmt::format("{}.{}.{}", vantage_of(run), roles.to, c.host);
}

// The flow: what was probed where, unique within a run (a name has one result per address).
std::string name_of(const verdict::CheckResult& r) {
  const auto& c = *r.check;
  return fmt::format("{} expected {} at {} [{}]", what_of(c), to_string(c.expect), address_of(r), ids_of(c));
}

std::string message_of(const verdict::CheckResult& r) {
  const auto& o = r.observation;
  if (r.outcome == verdict::Outcome::absent) return fmt::format("{} absent: no answer to any probe", address_of(r));
  if (r.outcome == verdict::Outcome::error) {
    return fmt::format("not probed: {} ({})", o.detail.empty() ? "error" : o.detail, to_string(o.reason));
  }
  return fmt::format("expected {}, observed {} ({})", to_string(r.check->expect), to_string(o.state),
                     to_string(o.reason));
}

// The facts behind a verdict, as key: value lines (the JUnit failure's text, TAP's YAML block).
std::vector<std::pair<std::string, std::string>> facts_of(const verdict::CheckResult& r) {
  const auto& c = *r.check;
  const auto& o = r.observation;
  std::vector<std::pair<std::string, std::string>> f{
      {"host", std::string(c.host)},
      {"address", address_of(r)},
      {"flow", what_of(c)},
      {"expected", std::string(to_string(c.expect))},
      {"observed", std::string(to_string(o.state))},
      {"reason", std::string(to_string(o.reason))},
      {"verdict", std::string(verdict::to_string(r.outcome))},
      {"severity", std::string(to_string(verdict::severity_of(r)))},
      {"attempts", fmt::format("{}", o.attempts)},
      {"catalog", ids_of(c)},
  };
  if (o.rtt) f.emplace_back("rtt_ms", fmt::format("{:.3f}", static_cast<double>(o.rtt->count()) / 1000.0));
  if (!o.detail.empty()) f.emplace_back("detail", o.detail);
  if (!o.reply.empty()) f.emplace_back("reply", o.reply);
  if (!r.note.empty()) f.emplace_back("note", r.note);
  return f;
}

std::string skipped_name(const plan::Skipped& k) {
  return fmt::format("{}/{} not probed [{}]", to_string(k.protocol), k.ports, k.flow_id.empty() ? "explicit" : k.flow_id);
}

// ---- JUnit -----------------------------------------------------------------------------------

// Text for an attribute or element: the five entities, and characters XML 1.0 forbids replaced.
std::string xml(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\n': out += "&#10;"; break;
      case '\t': out += "&#9;"; break;
      default: out += (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ? '?' : ch;
    }
  }
  return out;
}

double seconds(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1e6; }

// ---- TAP -------------------------------------------------------------------------------------

// A description may not carry a '#' (it would start a directive) nor a line break.
std::string tap_text(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '#') out += "\\#";
    else if (ch == '\n' || ch == '\r') out += ' ';
    else out += ch;
  }
  return out;
}

// A YAML double-quoted scalar.
std::string yaml(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(static_cast<unsigned char>(ch)));
      continue;
    }
    out += ch;
  }
  return out + "\"";
}

}  // namespace

std::string junit(const RunView& run) {
  std::size_t failures = 0, errors = 0;
  for (const auto& r : run.results) {
    const auto k = kind_of(r);
    failures += k == Kind::failure ? 1 : 0;
    errors += k == Kind::error ? 1 : 0;
  }
  const auto skipped = run.plan.skipped.size();
  const auto tests = run.results.size() + skipped;
  const double time = seconds(run.duration);
  const std::string suite = fmt::format("portdrift check from {}", vantage_of(run));
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"portdrift\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3f}\">\n",
                     tests, failures, errors, time);
  out += fmt::format(
      "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
      xml(suite), tests, failures, errors, skipped, time);
  out += "    <properties>\n";
  auto property = [&](std::string_view name, std::string_view value) {
    out += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", xml(name), xml(value));
  };
  property("status", verdict::to_string(run.summary.status));
  property("vantage", vantage_of(run));
  if (!run.instance.shard.empty()) property("shard", run.instance.shard);
  if (!run.topology.file.empty()) property("topology", run.topology.file);
  if (!run.topology.hash.empty()) property("topology_hash", run.topology.hash);
  out += "    </properties>\n";
  for (const auto& r : run.results) {
    const auto k = kind_of(r);
    const double t = r.observation.rtt ? seconds(*r.observation.rtt) : 0.0;
    out += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.6f}\"", xml(class_of(run, *r.check)),
                       xml(name_of(r)), t);
    if (k == Kind::pass) {
      out += "/>\n";
      continue;
    }
    std::string body;
    for (const auto& [key, value] : facts_of(r)) body += fmt::format("{}: {}\n", key, value);
    out += fmt::format(">\n      <{} type=\"{}\" message=\"{}\">{}</{}>\n    </testcase>\n",
                       k == Kind::error ? "error" : "failure", verdict::to_string(r.outcome), xml(message_of(r)),
                       xml(body), k == Kind::error ? "error" : "failure");
  }
  for (const auto& s : run.plan.skipped) {
    out += fmt::format("    <testcase classname=\"{}.{}\" name=\"{}\" time=\"0\">\n      <skipped>{}</skipped>\n"
                       "    </testcase>\n",
                       xml(vantage_of(run)), xml(s.host), xml(skipped_name(s)), xml(s.why));
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string tap(const RunView& run) {
  std::string out = "TAP version 13\n";
  out += fmt::format("1..{}\n", run.results.size() + run.plan.skipped.size());
  std::size_t n = 0;
  for (const auto& r : run.results) {
    const bool pass = kind_of(r) == Kind::pass;
    out += fmt::format("{} {} - {} {}\n", pass ? "ok" : "not ok", ++n, tap_text(class_of(run, *r.check)),
                       tap_text(name_of(r)));
    if (pass) continue;
    out += "  ---\n";
    out += fmt::format("  message: {}\n", yaml(message_of(r)));
    for (const auto& [key, value] : facts_of(r)) out += fmt::format("  {}: {}\n", key, yaml(value));
    out += "  ...\n";
  }
  for (const auto& s : run.plan.skipped) {
    out += fmt::format("ok {} - {}.{} {} # SKIP {}\n", ++n, tap_text(vantage_of(run)), tap_text(s.host),
                       tap_text(skipped_name(s)), tap_text(s.why));
  }
  const auto& s = run.summary;
  out += fmt::format("# portdrift {}: {} checks, {} ok, {} drifted, {} errors, {} not probed, {:.3f} s\n",
                     verdict::to_string(s.status), s.checks, s.ok, s.drifted(), s.errors, run.plan.skipped.size(),
                     seconds(run.duration));
  return out;
}

std::string junit_unknown(std::string_view summary, const Diagnostics& diagnostics) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  const auto n = diagnostics.empty() ? std::size_t{1} : diagnostics.size();
  out += fmt::format("<testsuites name=\"portdrift\" tests=\"{}\" failures=\"0\" errors=\"{}\">\n", n, n);
  out += fmt::format("  <testsuite name=\"portdrift check\" tests=\"{}\" failures=\"0\" errors=\"{}\" skipped=\"0\">\n",
                     n, n);
  auto error_case = [&](std::string_view name, std::string_view text) {
    out += fmt::format("    <testcase classname=\"portdrift.configuration\" name=\"{}\">\n"
                       "      <error type=\"unknown\" message=\"{}\">{}</error>\n    </testcase>\n",
                       xml(name), xml(summary), xml(text));
  };
  if (diagnostics.empty()) error_case("portdrift check", summary);
  for (const auto& d : diagnostics) error_case(d.key_path.empty() ? d.file : d.key_path, format(d));
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string tap_unknown(std::string_view summary, const Diagnostics& diagnostics) {
  std::string out = "TAP version 13\n";
  for (const auto& d : diagnostics) out += fmt::format("# {}\n", tap_text(format(d)));
  return out + fmt::format("Bail out! {}\n", tap_text(summary));
}

}  // namespace portdrift::report
