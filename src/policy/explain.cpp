// `portdrift explain`: why a port is expected open or blocked on a host, read
// off the same terms `portdrift policy` writes, with the flows' seed documents
// and components, who may initiate, and whether this instance probes it.
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "portdrift/policy/policy.hpp"

namespace portdrift::policy {
namespace {

bool has_role(const config::Host& h, const std::string& role) {
  return std::any_of(h.roles.begin(), h.roles.end(), [&](const config::Named& r) { return r.value == role; });
}

// Who may initiate: hosts and groups holding the role, `anyone`, or the vantage.
std::vector<std::string> initiators(const config::Topology& t, const std::string& from) {
  if (from == catalog::kAnyRole) return {"anyone"};
  std::vector<std::string> out;
  if (from == "vantage") {
    if (t.vantage.host) out.push_back(t.vantage.host->value);
    for (const auto& r : t.vantage.roles) out.push_back("role " + r.value);
    return out;
  }
  for (const auto& h : t.hosts) {
    if (has_role(h, from)) out.push_back(h.name);
  }
  for (const auto& g : t.groups) {
    if (has_role(g.settings, from)) out.push_back("group " + g.settings.name);
  }
  return out;
}

// The filter that speaks for `host`: a listener by name, the group of `GROUP/ADDRESS`, or a group naming the host.
const Filter* filter_for(const Policy& p, const config::Topology& t, std::string_view host) {
  if (const auto* f = p.filter(host)) return f;
  if (const auto slash = host.find('/'); slash != std::string_view::npos) return p.filter(host.substr(0, slash));
  for (const auto& g : t.groups) {
    for (const auto& m : g.members) {
      if (m.text.value == host) return p.filter(g.settings.name);
    }
  }
  return nullptr;
}

bool probed(const plan::Plan& plan, std::string_view host, const Filter& f, const Term& t) {
  return std::any_of(plan.checks.begin(), plan.checks.end(), [&](const plan::Check& c) {
    if (c.protocol != t.protocol) return false;
    if (c.host != host && !(f.group && c.group == f.listener)) return false;
    if (t.protocol != Protocol::icmp && !t.ports.contains(c.port)) return false;
    if (t.kind == Term::Kind::check) return c.catalog_ids.empty() && c.label == t.label;
    return std::find(c.catalog_ids.begin(), c.catalog_ids.end(), t.flow_id) != c.catalog_ids.end();
  });
}

std::string ports_of(const Term& t) { return t.protocol == Protocol::icmp ? "echo" : t.ports.to_string(); }

}  // namespace

Explanation explain(const Policy& policy, const catalog::Catalog& catalog, const plan::Plan& plan,
                    const config::Topology& topology, std::string_view host, std::optional<std::uint16_t> port,
                    DefaultAction default_action) {
  Explanation e;
  e.host = std::string(host);
  e.port = port;
  e.default_action = default_action;
  const Filter* f = filter_for(policy, topology, host);
  e.found_host = f != nullptr || std::any_of(topology.hosts.begin(), topology.hosts.end(),
                                             [&](const config::Host& h) { return h.name == host; });
  if (f == nullptr) return e;
  for (const auto& t : f->terms) {
    if (t.kind != Term::Kind::flow && t.kind != Term::Kind::check) continue;
    if (port && (t.protocol == Protocol::icmp || !t.ports.contains(*port))) continue;
    // One reason per flow or check, not per address family of an icmp term.
    if (std::any_of(e.reasons.begin(), e.reasons.end(),
                    [&](const Reason& r) {
                      return r.flow_id == t.flow_id && r.component == t.label && r.from == t.from_role;
                    })) {
      continue;
    }
    Reason r;
    r.host = f->listener;
    r.protocol = t.protocol;
    r.ports = ports_of(t);
    r.expect = t.expect;
    r.flow_id = t.flow_id;
    r.component = t.label;
    r.from = t.from_role;
    r.from_hosts = initiators(topology, t.from_role);
    r.dynamic = t.dynamic;
    r.probed = probed(plan, host, *f, t);
    r.term = t.name;
    if (const auto* flow = catalog.flow(t.flow_id); flow != nullptr && t.kind == Term::Kind::flow) {
      r.product = flow->product;
      r.source = flow->source;
      r.purpose = flow->purpose;
    } else {
      const auto bar = t.comment.find(" | ");
      const auto bar2 = t.comment.find(" | ", bar + 3);
      r.source = bar == std::string::npos ? topology.file : t.comment.substr(bar + 3, bar2 - bar - 3);
      r.purpose = "explicit check of the topology";
    }
    e.reasons.push_back(std::move(r));
  }
  return e;
}

std::string explain_text(const Explanation& e) {
  std::string out;
  const std::string what = e.port ? fmt::format("{} port {}", e.host, *e.port) : e.host;
  if (!e.found_host) return fmt::format("{}: no such host or group in the topology\n", e.host);
  if (e.reasons.empty()) {
    return fmt::format("{}: no documented flow (the policy's final term: {})\n", what, to_string(e.default_action));
  }
  out += fmt::format("{}: {} documented reason{}\n", what, e.reasons.size(), e.reasons.size() == 1 ? "" : "s");
  for (const auto& r : e.reasons) {
    out += fmt::format("  {} {}/{} expected {} from {} ({})\n", r.host, to_string(r.protocol), r.ports,
                       to_string(r.expect), r.from,
                       r.from_hosts.empty() ? "nobody in the topology" : fmt::format("{}", fmt::join(r.from_hosts, ", ")));
    if (r.flow_id.empty()) {
      out += fmt::format("    explicit check \"{}\" ({})\n", r.component, r.source);
    } else {
      out += fmt::format("    flow {} ({}), component \"{}\", seed document {}\n", r.flow_id, r.product, r.component,
                         r.source);
    }
    if (!r.purpose.empty()) out += fmt::format("    purpose: {}\n", r.purpose);
    if (r.dynamic) out += "    dynamic range: the document gives the range; the ports in use are chosen at run time\n";
    out += fmt::format("    policy term {}; {} from this vantage\n", r.term, r.probed ? "probed" : "not probed");
  }
  return out;
}

nlohmann::json explain_json(const Explanation& e) {
  nlohmann::json j;
  j["host"] = e.host;
  j["port"] = e.port ? nlohmann::json(*e.port) : nlohmann::json(nullptr);
  j["found"] = e.found_host;
  j["default"] = std::string(to_string(e.default_action));
  j["documented"] = !e.reasons.empty();
  auto& list = j["reasons"] = nlohmann::json::array();
  for (const auto& r : e.reasons) {
    list.push_back({{"host", r.host},
                    {"protocol", std::string(to_string(r.protocol))},
                    {"ports", r.ports},
                    {"expect", std::string(to_string(r.expect))},
                    {"flow", r.flow_id},
                    {"product", r.product},
                    {"component", r.component},
                    {"source", r.source},
                    {"purpose", r.purpose},
                    {"from", r.from},
                    {"from_hosts", r.from_hosts},
                    {"dynamic", r.dynamic},
                    {"probed", r.probed},
                    {"term", r.term}});
  }
  return j;
}

}  // namespace portdrift::policy
