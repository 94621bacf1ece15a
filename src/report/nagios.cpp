#include <map>

#include <fmt/format.h>

#include "portdrift/report/report.hpp"

namespace portdrift::report {
namespace {

std::string target_of(const plan::Check& c, const Observation& o) {
  if (o.address.empty() || o.address == c.target) return std::string(c.target);
  return fmt::format("{} ({})", o.address, c.target);
}

double ms(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1000.0; }

std::string observed_text(const verdict::CheckResult& r) {
  const auto& o = r.observation;
  if (o.state == PortState::unknown) {
    return fmt::format("not probed: {} ({})", o.detail.empty() ? "error" : o.detail, to_string(o.reason));
  }
  std::string s = fmt::format("observed {} ({})", to_string(o.state), to_string(o.reason));
  if (o.echo) {
    s += fmt::format(", {} of {} replies ({:.0f}% loss)", o.echo->received, o.echo->sent, o.echo->loss_percent());
    if (o.echo->received > 0) {
      s += fmt::format(", rtt min/avg/max {:.2f}/{:.2f}/{:.2f} ms", ms(o.echo->rtt_min), ms(o.echo->rtt_avg),
                       ms(o.echo->rtt_max));
    }
    return s;
  }
  if (o.rtt) s += fmt::format(" in {:.1f} ms", ms(*o.rtt));
  if (!o.reply.empty()) s += fmt::format(": {}", o.reply);
  if (r.outcome == verdict::Outcome::unconfirmed) {
    s += fmt::format(": unconfirmed, no answer to {} attempts ({} payload)", o.attempts, r.check->payload->label);
  }
  return s;
}

std::string line_for(const verdict::CheckResult& r) {
  const auto& c = *r.check;
  const std::string tag = r.outcome == verdict::Outcome::ok
                              ? "OK"
                              : (verdict::severity_of(r) == Severity::critical ? "CRITICAL" : "WARNING");
  std::string ids;
  for (const auto& id : c.catalog_ids) ids += fmt::format("{}{}", ids.empty() ? "" : ",", id);
  const std::string what =
      c.protocol == Protocol::icmp ? std::string("icmp echo") : fmt::format("{}/{}", to_string(c.protocol), c.port);
  return fmt::format("{}: {} {} {} expected {}, {} [{}]", tag, c.host, target_of(c, r.observation), what,
                     to_string(c.expect), observed_text(r), ids.empty() ? c.label : ids);
}

// ICMP echo figures as check_icmp names them: rta (ms) and pl (%), plus rtmin and rtmax.
std::string echo_perfdata(const verdict::CheckResult& r) {
  const auto& o = r.observation;
  if (!o.echo) return {};
  const std::string who = fmt::format("{} {}", r.check->host, o.address.empty() ? r.check->target : o.address);
  std::string out = " " + perfdata(who + " pl", fmt::format("{:.0f}", o.echo->loss_percent()), "%", "", "", "0", "100");
  if (o.echo->received > 0) {
    out += " " + perfdata(who + " rta", fmt::format("{:.3f}", ms(o.echo->rtt_avg)), "ms");
    out += " " + perfdata(who + " rtmin", fmt::format("{:.3f}", ms(o.echo->rtt_min)), "ms");
    out += " " + perfdata(who + " rtmax", fmt::format("{:.3f}", ms(o.echo->rtt_max)), "ms");
  }
  return out;
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
  } else if (s.drifted() == 0 && s.errors == 0 && s.unconfirmed == 0) {
    summary = fmt::format("{} checks as documented", s.checks);
  } else {
    summary = fmt::format("{} of {} checks drifted ({} critical, {} warning)", s.drifted(), s.checks,
                          s.drift_critical, s.drift_warning);
    if (s.errors > 0) summary += fmt::format(", {} could not be probed", s.errors);
    if (s.unconfirmed > 0) summary += fmt::format(", {} unconfirmed (silent UDP ports)", s.unconfirmed);
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
  // Items for what only UDP and ICMP checks have, appended when the run has such checks.
  std::string extra;
  bool any_udp = false;
  for (const auto& r : run.results) {
    any_udp = any_udp || r.check->protocol == Protocol::udp;
    extra += echo_perfdata(r);
  }
  if (any_udp) extra = " " + perfdata("unconfirmed", n(s.unconfirmed), "", "1", "", "0", max) + extra;
  if (!extra.empty()) out.insert(out.size() - 1, extra);  // before the status line's newline
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
