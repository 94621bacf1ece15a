#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "portdrift/report/report.hpp"
#include "check_text.hpp"

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
  if (o.reason == Reason::icmp_ratelimited) {
    s += fmt::format(": unconfirmed, the target's ICMP errors were rate-limited past the time budget ({} attempts)",
                     o.attempts);
  } else if (r.outcome == verdict::Outcome::unconfirmed) {
    s += fmt::format(": unconfirmed, no answer to {} attempts ({} payload)", o.attempts, r.check->payload->label);
  }
  return s;
}

std::string tag_of(const verdict::CheckResult& r) {
  if (r.outcome == verdict::Outcome::ok) return "OK";
  if (r.outcome == verdict::Outcome::absent && r.check->absent == Absent::ok) return "OK";
  return verdict::severity_of(r) == Severity::critical ? "CRITICAL" : "WARNING";
}

std::string line_for(const verdict::CheckResult& r) {
  const auto& c = *r.check;
  std::string line = fmt::format("{}: {} {} {} expected {}, {} [{}]", tag_of(r), c.host, target_of(c, r.observation),
                                 what_of(c), to_string(c.expect), observed_text(r), ids_of(c));
  if (!r.note.empty()) line += fmt::format("; {}", r.note);
  return line;
}

std::string address_of(const verdict::CheckResult& r) {
  return r.observation.address.empty() ? std::string(r.check->target) : r.observation.address;
}

// 1234567 -> "1,234,567": group counts are read by people.
std::string thousands(std::size_t v) {
  std::string digits = fmt::format("{}", v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

constexpr std::size_t kFirstShown = 3;  // hosts named on a condensed line

// The long output. Named hosts (no group) get a line per result, as always.
// Results of group members are condensed: one line per group and flow and
// observation ("agents-lan: tcp/52028 expected open, filtered (no-response)
// on 312 of 1,024 addresses; first: ..."), and one line per group for its
// absent addresses. Detail::all prints a line per result instead, and one per
// absent address.
std::string long_output(const RunView& run, Detail detail) {
  std::string out;
  // Absent addresses are reported once each, however many checks they have.
  std::unordered_set<std::string> absent_seen;
  auto absent_line = [&](const verdict::CheckResult& r) {
    const auto address = address_of(r);
    if (!absent_seen.insert(fmt::format("{}\t{}", r.check->host, address)).second) return;
    out += fmt::format("{}: {} {} absent: no answer to any probe [{}]\n", tag_of(r), r.check->host, address,
                       r.check->group.empty() ? std::string_view("absent") : r.check->group);
  };
  if (detail == Detail::all) {
    for (const auto& r : run.results) {
      if (r.outcome == verdict::Outcome::absent) absent_line(r);
      else out += line_for(r) + "\n";
    }
    return out;
  }

  // A flow of a group: the addresses it was probed at are the denominator.
  using FlowKey = std::tuple<std::string_view, Protocol, std::uint16_t, Expect>;
  std::map<FlowKey, std::size_t> probed;
  // One condensed line: a flow, what was seen there, and how it counts.
  using LineKey = std::tuple<std::string_view, Protocol, std::uint16_t, Expect, PortState, Reason, std::string>;
  struct Condensed {
    const verdict::CheckResult* first = nullptr;
    std::size_t count = 0;
    std::vector<std::string> hosts;  // the first few
  };
  std::map<LineKey, std::size_t> line_index;
  std::vector<Condensed> lines;  // in order of first appearance
  struct AbsentGroup {
    const verdict::CheckResult* first = nullptr;
    std::unordered_set<std::string_view> hosts;
    std::vector<std::string> shown;
  };
  std::map<std::string_view, AbsentGroup> absent;  // per group
  std::map<std::string_view, std::unordered_set<std::string_view>> members;  // per group: hosts probed
  for (const auto& r : run.results) {
    const auto& c = *r.check;
    if (c.group.empty()) {
      if (r.outcome != verdict::Outcome::ok) out += line_for(r) + "\n";
      continue;
    }
    ++probed[{c.group, c.protocol, c.port, c.expect}];
    members[c.group].insert(c.host);
    if (r.outcome == verdict::Outcome::ok) continue;
    if (r.outcome == verdict::Outcome::absent) {
      auto& a = absent[c.group];
      if (a.first == nullptr) a.first = &r;
      if (a.hosts.insert(c.host).second && a.shown.size() < kFirstShown) a.shown.emplace_back(c.host);
      continue;
    }
    const LineKey key{c.group, c.protocol, c.port, c.expect, r.observation.state, r.observation.reason, tag_of(r)};
    auto [it, fresh] = line_index.try_emplace(key, lines.size());
    if (fresh) lines.push_back({&r, 0, {}});
    auto& l = lines[it->second];
    ++l.count;
    if (l.hosts.size() < kFirstShown) l.hosts.push_back(fmt::format("{} {}", c.host, address_of(r)));
  }
  for (const auto& l : lines) {
    const auto& r = *l.first;
    const auto& c = *r.check;
    if (l.count == 1) {  // a single drift reads best as the usual line
      out += line_for(r) + "\n";
      continue;
    }
    std::string first;
    for (const auto& h : l.hosts) first += fmt::format("{}{}", first.empty() ? "" : ", ", h);
    if (l.count > l.hosts.size()) first += ", ...";
    out += fmt::format("{}: {}: {} expected {}, {} ({}) on {} of {} addresses; first: {} [{}]\n", tag_of(r), c.group,
                       what_of(c), to_string(c.expect), to_string(r.observation.state),
                       to_string(r.observation.reason), thousands(l.count),
                       thousands(probed[{c.group, c.protocol, c.port, c.expect}]), first, ids_of(c));
  }
  for (const auto& [group, a] : absent) {
    if (a.first->check->absent == Absent::ok) continue;  // counted in the status line only
    std::string first;
    for (const auto& h : a.shown) first += fmt::format("{}{}", first.empty() ? "" : ", ", h);
    if (a.hosts.size() > a.shown.size()) first += ", ...";
    out += fmt::format("{}: {}: {} of {} addresses absent (no answer to any probe); first: {}\n", tag_of(*a.first),
                       group, thousands(a.hosts.size()), thousands(members[group].size()), first);
  }
  return out;
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
  if (s.absent > 0) summary += fmt::format("; {} addresses absent", thousands(s.absent));
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
  bool any_block = false;  // checks of group block members, which may be absent
  for (const auto& r : run.results) {
    any_udp = any_udp || r.check->protocol == Protocol::udp;
    any_block = any_block || r.check->absent != Absent::drift;
    extra += echo_perfdata(r);
  }
  if (any_udp) extra = " " + perfdata("unconfirmed", n(s.unconfirmed), "", "1", "", "0", max) + extra;
  if (any_block) extra = " " + perfdata("absent", n(s.absent)) + extra;
  if (!extra.empty()) out.insert(out.size() - 1, extra);  // before the status line's newline
  out += long_output(run, detail);
  if (auto skipped = skipped_line(run.plan); !skipped.empty()) out += skipped + "\n";
  return out;
}

std::string nagios_unknown(std::string_view summary, const Diagnostics& diagnostics) {
  std::string out = fmt::format("PORTDRIFT UNKNOWN - {}\n", summary);
  for (const auto& d : diagnostics) out += format(d) + "\n";
  return out;
}

}  // namespace portdrift::report
