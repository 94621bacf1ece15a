#include "portdrift/policy/policy.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <fmt/format.h>

#include "portdrift/config/addresses.hpp"

namespace portdrift::policy {
namespace {

using config::Host;

__extension__ using U128 = unsigned __int128;

constexpr std::size_t kTermNameMax = 24;     // capirca's iptables limit
constexpr std::size_t kCommentMax = 127;     // nftables: 128 bytes with the terminator
constexpr std::string_view kLocalhost = "LOCALHOST";
constexpr std::string_view kVantage = "VANTAGE";
constexpr std::string_view kAnySourcePort = "ANY_SOURCE_PORT";
constexpr std::string_view kAnywhere = "ANYWHERE";

// Capirca names: upper case letters, digits and `_`.
std::string token(std::string_view prefix, std::string_view name) {
  std::string out(prefix);
  out += '_';
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    out += std::isalnum(u) != 0 ? static_cast<char>(std::toupper(u)) : '_';
  }
  return out;
}

// File stems and term names: lower case letters, digits and `-`.
std::string slug(std::string_view name) {
  std::string out;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0) out += static_cast<char>(std::tolower(u));
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? std::string("x") : out;
}

// A capirca comment is a double-quoted string: no double quotes inside.
std::string quote_safe(std::string_view s) {
  std::string out(s);
  std::replace(out.begin(), out.end(), '"', '\'');
  return out;
}

U128 as_number(const config::IpAddress& a) {
  return a.v6 ? (static_cast<U128>(a.hi) << 64) | a.lo : static_cast<U128>(a.lo);
}

config::IpAddress from_number(U128 n, bool v6) {
  config::IpAddress a;
  a.v6 = v6;
  a.hi = v6 ? static_cast<std::uint64_t>(n >> 64) : 0;
  a.lo = static_cast<std::uint64_t>(n);
  return a;
}

// The fewest CIDR blocks that cover first..last exactly (the whole IPv6 space comes out as two /1s).
// Sizes are compared as `last - at`, so that nothing overflows or shifts by 128.
std::vector<std::string> cidrs_of(const config::IpAddress& first, const config::IpAddress& last) {
  std::vector<std::string> out;
  const int bits = first.v6 ? 128 : 32;
  U128 at = as_number(first);
  const U128 end = as_number(last);
  if (end < at) return out;
  for (;;) {
    int k = 0;  // the block is 2^k addresses
    while (k + 1 < 128 && k < bits) {
      const U128 size = static_cast<U128>(1) << (k + 1);
      if ((at & (size - 1)) != 0 || end - at < size - 1) break;
      ++k;
    }
    out.push_back(fmt::format("{}/{}", config::to_string(from_number(at, first.v6)), bits - k));
    const U128 span = (static_cast<U128>(1) << k) - 1;  // the block's last address is at + span
    if (end - at <= span) break;
    at += span + 1;
  }
  return out;
}

std::string host_cidr(const config::IpAddress& a) {
  return fmt::format("{}/{}", config::to_string(a), a.v6 ? 128 : 32);
}

// Whether a network has addresses of that family; a missing one (anywhere) has both.
bool has_family(const Definition* d, bool v6) {
  if (d == nullptr) return true;
  return std::any_of(d->cidrs.begin(), d->cidrs.end(),
                     [&](const std::string& c) { return (c.find(':') != std::string::npos) == v6; });
}
bool has_v6(const Definition* d) { return has_family(d, true); }
bool has_v4(const Definition* d) { return has_family(d, false); }

class Builder {
 public:
  Builder(const config::Topology& t, const catalog::Catalog& c, const Options& o) : t_(t), c_(c), o_(o) {}

  PolicyResult run() {
    scope();
    define_hosts();
    define_groups();
    define_roles();
    define_fixed();
    for (const auto& h : t_.hosts) filter_for(h, nullptr);
    for (const auto& g : t_.groups) filter_for(g.settings, &g);
    for (const auto& [role, what] : unheld_) {
      note(fmt::format("role {} has no address in the topology (no host or group with an IP address holds it): "
                       "its {} accepted flow{} to {} ha{} no term (add a host or group with the role to write them)",
                       role, what.first, what.first == 1 ? "" : "s", fmt::join(what.second, ", "),
                       what.first == 1 ? "s" : "ve"));
    }
    std::sort(r_.policy.networks.begin(), r_.policy.networks.end(),
              [](const Definition& a, const Definition& b) { return a.name < b.name; });
    return std::move(r_);
  }

 private:
  void note(std::string line) {
    if (std::find(r_.policy.notes.begin(), r_.policy.notes.end(), line) == r_.policy.notes.end()) {
      r_.policy.notes.push_back(std::move(line));
    }
  }

  void scope() {
    if (t_.products.empty()) {
      for (const auto& p : c_.products) products_.insert(p.id);
    } else {
      for (const auto& p : t_.products) products_.insert(p.value);
    }
  }

  bool role_in_scope(const std::string& role) const {
    return std::any_of(products_.begin(), products_.end(), [&](const std::string& id) {
      const auto* p = c_.product(id);
      return p != nullptr && p->roles.contains(role);
    });
  }

  Definition& add_network(std::string name, std::string comment) {
    auto& d = r_.policy.networks.emplace_back();
    d.name = std::move(name);
    d.comment = std::move(comment);
    return d;
  }

  // One address or DNS name of a host: its CIDR, or a note that capirca cannot take a name.
  void add_address(Definition& d, const std::string& text, std::string_view owner) {
    if (const auto ip = config::parse_ip(text)) {
      const auto c = host_cidr(*ip);
      d.items.push_back(c);
      d.cidrs.push_back(c);
    } else {
      note(fmt::format("{}: '{}' is a DNS name; capirca's naming definitions take addresses only, so it is not "
                       "in network {}", owner, text, d.name));
    }
  }

  void define_hosts() {
    for (const auto& h : t_.hosts) {
      Definition d;
      d.name = token("HOST", h.name);
      d.comment = fmt::format("host {} ({}:{})", h.name, t_.file, h.pos.line);
      for (const auto& a : h.addresses) add_address(d, a.value, fmt::format("host {}", h.name));
      if (d.items.empty()) {
        note(fmt::format("host {}: no IP literal, so its terms have no destination address", h.name));
        continue;
      }
      host_net_[h.name] = d.name;
      r_.policy.networks.push_back(std::move(d));
    }
  }

  void define_groups() {
    for (const auto& g : t_.groups) {
      Definition d;
      const auto& name = g.settings.name;
      d.name = token("GROUP", name);
      d.comment = fmt::format("group {} ({}:{})", name, t_.file, g.settings.pos.line);
      const std::string owner = fmt::format("group {}", name);
      for (const auto& m : g.members) {
        using Kind = config::MemberSpec::Kind;
        if (m.spec.kind == Kind::block || m.spec.kind == Kind::range) {
          for (auto& c : cidrs_of(m.spec.first, m.spec.last)) {
            d.items.push_back(c);
            d.cidrs.push_back(std::move(c));
          }
        } else if (const auto it = host_net_.find(m.text.value); it != host_net_.end()) {
          d.items.push_back(it->second);
          const auto* hn = find_network(it->second);
          d.cidrs.insert(d.cidrs.end(), hn->cidrs.begin(), hn->cidrs.end());
        } else {
          add_address(d, m.text.value, owner);
        }
      }
      for (const auto& inv : g.inventories) {
        for (const auto& row : inv.rows) {
          add_address(d, row.address.empty() ? row.name : row.address, fmt::format("{} ({})", owner, inv.path));
          if (!row.roles.empty()) note(fmt::format("{}: inventory rows' own roles are not written as role networks "
                                                   "({}: {}); their addresses are in {}", owner, inv.path, row.name,
                                                   d.name));
        }
      }
      if (d.items.empty()) {
        note(fmt::format("{}: no member with an address, so its terms have no destination address", owner));
        continue;
      }
      group_net_[name] = d.name;
      r_.policy.networks.push_back(std::move(d));
    }
  }

  // The roles of a listener: its own, and for a `hosts:` entry those of the groups that name it.
  std::vector<std::string> roles_of(const Host& h, const config::Group* group) const {
    std::vector<std::string> out;
    auto take = [&](const std::vector<config::Named>& list) {
      for (const auto& r : list) {
        if (role_in_scope(r.value) && std::find(out.begin(), out.end(), r.value) == out.end()) out.push_back(r.value);
      }
    };
    take(h.roles);
    if (group == nullptr) {
      for (const auto& g : t_.groups) {
        const bool named = std::any_of(g.members.begin(), g.members.end(), [&](const config::Member& m) {
          if (m.text.value == h.name) return true;
          return std::any_of(h.addresses.begin(), h.addresses.end(),
                             [&](const config::Named& a) { return a.value == m.text.value; });
        });
        if (named) take(g.settings.roles);
      }
    }
    return out;
  }

  void define_roles() {
    std::map<std::string, std::vector<std::string>> members;  // role -> host/group network names
    std::map<std::string, std::vector<std::string>> holders;  // role -> host/group names
    for (const auto& h : t_.hosts) {
      for (const auto& role : roles_of(h, nullptr)) {
        holders[role].push_back(h.name);
        if (const auto it = host_net_.find(h.name); it != host_net_.end()) members[role].push_back(it->second);
      }
    }
    for (const auto& g : t_.groups) {
      for (const auto& role : roles_of(g.settings, &g)) {
        holders[role].push_back(g.settings.name);
        if (const auto it = group_net_.find(g.settings.name); it != group_net_.end()) members[role].push_back(it->second);
      }
    }
    for (auto& [role, nets] : members) {
      auto& d = add_network(token("ROLE", role), fmt::format("role {}: {}", role, fmt::join(holders[role], ", ")));
      for (const auto& n : nets) {
        d.items.push_back(n);
        const auto* nd = find_network(n);
        d.cidrs.insert(d.cidrs.end(), nd->cidrs.begin(), nd->cidrs.end());
      }
      role_net_[role] = d.name;
    }
  }

  void define_fixed() {
    auto& lo = add_network(std::string(kLocalhost), "the host itself, over loopback");
    lo.items = {"127.0.0.0/8", "::1/128"};
    lo.cidrs = lo.items;
    auto& anywhere = add_network(std::string(kAnywhere), "every address");
    anywhere.items = {"0.0.0.0/0", "::/0"};
    anywhere.cidrs = anywhere.items;
    // Whoever probes as this instance: the vantage host and the vantage roles' networks.
    Definition v;
    v.name = std::string(kVantage);
    v.comment = "this instance's vantage point (topology `vantage:`): explicit checks are accepted from here";
    if (const auto& vh = t_.vantage.host) {
      if (const auto it = host_net_.find(vh->value); it != host_net_.end()) v.items.push_back(it->second);
    }
    for (const auto& r : t_.vantage.roles) {
      if (const auto it = role_net_.find(r.value); it != role_net_.end()) v.items.push_back(it->second);
    }
    for (const auto& n : v.items) {
      const auto* nd = find_network(n);
      v.cidrs.insert(v.cidrs.end(), nd->cidrs.begin(), nd->cidrs.end());
    }
    if (!v.items.empty()) r_.policy.networks.push_back(std::move(v));
    // capirca 2.0.6's nftables generator drops the destination port of an IPv4 term that has no source
    // port (it writes `ip protocol tcp`); every port term names this one so that both are written.
    auto& any = r_.policy.services.emplace_back();
    any.name = std::string(kAnySourcePort);
    any.items = {"1-65535/tcp", "1-65535/udp"};
    any.comment = "every source port: capirca's nftables generator needs a source port to write the destination port";
  }

  const Definition* find_network(std::string_view name) const {
    for (const auto& d : r_.policy.networks) {
      if (d.name == name) return &d;
    }
    return nullptr;
  }

  // A flow's per-listener setting: a group's over the top-level one.
  const config::FlowSetting* setting_for(const config::Group* g, const std::string& id) const {
    if (g != nullptr) {
      for (const auto& f : g->flows) {
        if (f.id.value == id) return &f;
      }
    }
    for (const auto& f : t_.flows) {
      if (f.id.value == id) return &f;
    }
    return nullptr;
  }

  // The service NAME with these ports: made on first use (names are unique per port set by construction).
  std::string service_for(const std::string& name, Protocol proto, const PortSpec& ports, const std::string& comment) {
    for (const auto& s : r_.policy.services) {
      if (s.name == name) return s.name;
    }
    auto& d = r_.policy.services.emplace_back();
    d.name = name;
    for (const auto& r : ports.ranges) {
      d.items.push_back(r.first == r.last ? fmt::format("{}/{}", r.first, to_string(proto))
                                          : fmt::format("{}-{}/{}", r.first, r.last, to_string(proto)));
    }
    d.comment = comment;
    return d.name;
  }

  // A configurable flow's ports on this listener: its port_overrides move single ports; ranges stay as documented.
  static PortSpec override_ports(const catalog::Flow& f, const Host& h) {
    if (!f.configurable || h.port_overrides.empty()) return f.ports;
    PortSpec out;
    for (const auto& r : f.ports.ranges) {
      if (r.size() > plan::kMaxCatalogRangePorts) {
        out.ranges.push_back(r);
        continue;
      }
      for (std::uint32_t p = r.first; p <= r.last; ++p) {
        auto port = static_cast<std::uint16_t>(p);
        for (const auto& o : h.port_overrides) {
          if (o.documented == port) {
            port = o.actual;
            break;
          }
        }
        out.ranges.push_back({port, port});
      }
    }
    return out;
  }

  static std::string comment_line(std::string_view what, std::string_view seed, std::string_view component) {
    std::string head = fmt::format("{} | {} | ", what, seed);
    std::string comp(component);
    if (head.size() + comp.size() > kCommentMax) {
      const std::size_t room = kCommentMax > head.size() + 3 ? kCommentMax - head.size() - 3 : 0;
      comp = comp.substr(0, room) + "...";
    }
    return quote_safe(head + comp);
  }

  std::string term_name(char action, std::size_t n, std::string_view what) const {
    std::string name = fmt::format("{}{:02}-{}", action, n, slug(what));
    if (name.size() > kTermNameMax) name.resize(kTermNameMax);
    while (name.back() == '-') name.pop_back();
    return name;
  }

  // Adds the icmp term(s) of one flow or check: one per family the destination has.
  void add_icmp(std::vector<Term>& out, const Term& base, const Definition* dest) {
    if (has_v4(dest)) {
      Term t = base;
      t.protocols = {"icmp"};
      t.icmp_types = {"echo-request", "echo-reply"};
      out.push_back(std::move(t));
    }
    if (has_v6(dest)) {
      Term t = base;
      t.name = base.name.size() + 2 <= kTermNameMax ? base.name + "-6" : base.name.substr(0, kTermNameMax - 2) + "-6";
      t.protocols = {"icmpv6"};
      t.icmp_types = {"echo-request", "echo-reply"};
      out.push_back(std::move(t));
    }
  }

  void filter_for(const Host& h, const config::Group* group) {
    Filter f;
    f.listener = h.name;
    f.group = group != nullptr;
    f.file_stem = slug(h.name);
    const auto& nets = group != nullptr ? group_net_ : host_net_;
    if (const auto it = nets.find(h.name); it != nets.end()) f.destination = it->second;
    f.roles = roles_of(h, group);
    if (f.roles.empty() && h.checks.empty()) return;
    const Definition* dest = f.destination.empty() ? nullptr : find_network(f.destination);
    std::vector<Term> accepts, denies;
    std::size_t n = 0;
    for (const auto& flow : c_.flows) {
      if (!products_.contains(flow.product)) continue;
      if (std::find(f.roles.begin(), f.roles.end(), flow.to) == f.roles.end()) continue;
      const auto* setting = setting_for(group, flow.id);
      if (setting != nullptr && !setting->enabled) continue;
      Term t;
      t.kind = Term::Kind::flow;
      t.flow_id = flow.id;
      t.from_role = flow.from;
      t.label = flow.component;
      t.protocol = flow.protocol;
      t.expect = setting != nullptr && setting->expect ? *setting->expect : flow.expect;
      t.dynamic = flow.dynamic;
      const bool allow = t.expect == Expect::open || t.expect == Expect::reachable;
      t.action = allow ? Action::accept : Action::deny;
      t.name = term_name(allow ? 'a' : 'd', ++n, flow.id);
      t.destination = f.destination;
      t.comment = comment_line(fmt::format("flow {}", flow.id), flow.source, flow.component);
      t.notes.push_back(fmt::format("{} {} {} from {} to {} ({}): {}", flow.product, to_string(flow.protocol),
                                    flow.protocol == Protocol::icmp ? "echo" : flow.ports_text, flow.from, flow.to,
                                    to_string(t.expect), flow.purpose));
      if (flow.from != catalog::kAnyRole) {
        if (const auto it = role_net_.find(flow.from); it != role_net_.end()) {
          t.sources.push_back(it->second);
          // A role talking to itself includes the host talking to itself, over loopback too.
          if (std::find(f.roles.begin(), f.roles.end(), flow.from) != f.roles.end()) {
            t.sources.emplace_back(kLocalhost);
          }
        } else if (allow) {
          auto& [count, listeners] = unheld_[flow.from];
          ++count;
          if (std::find(listeners.begin(), listeners.end(), h.name) == listeners.end()) listeners.push_back(h.name);
          --n;
          continue;
        } else {
          t.notes.push_back(fmt::format("no host or group holds role {}: denied from anywhere not accepted above",
                                        flow.from));
        }
      }
      if (flow.protocol == Protocol::icmp) {
        add_icmp(allow ? accepts : denies, t, dest);
        continue;
      }
      t.ports = override_ports(flow, h);
      if (t.dynamic) {
        t.notes.push_back(fmt::format("dynamic range: written as the document gives it ({}); the ports in use are "
                                      "chosen at run time", flow.ports_text));
      }
      // The documented ports keep the flow's own service; a listener's port_overrides make a variant of it.
      const bool overridden = t.ports.to_string() != flow.ports.to_string();
      const std::string svc =
          overridden ? service_for(token("FLOW", flow.id + "--" + h.name), flow.protocol, t.ports,
                                   fmt::format("flow {} ({}) with the port_overrides of {}", flow.id, flow.source, h.name))
                     : service_for(token("FLOW", flow.id), flow.protocol, t.ports,
                                   fmt::format("flow {} ({})", flow.id, flow.source));
      t.service = svc;
      t.protocols = {std::string(to_string(flow.protocol))};
      (allow ? accepts : denies).push_back(std::move(t));
    }
    std::size_t ci = 0;
    for (const auto& c : h.checks) {
      ++ci;
      const std::string name = c.name.empty() ? fmt::format("check {}", ci) : c.name;
      Term t;
      t.kind = Term::Kind::check;
      t.from_role = "vantage";
      t.label = name;
      t.protocol = c.protocol;
      t.expect = c.expect;
      t.ports = c.ports;
      const bool allow = c.expect == Expect::open || c.expect == Expect::reachable;
      t.action = allow ? Action::accept : Action::deny;
      t.name = term_name(allow ? 'a' : 'd', ++n, name);
      t.destination = f.destination;
      const std::string where = fmt::format("{}:{}", t_.file, c.pos.line);
      t.comment = comment_line(fmt::format("check {}", config::key_path(h, c)), where, name);
      if (allow) {
        if (find_network(kVantage) != nullptr) t.sources.emplace_back(kVantage);
        else t.notes.emplace_back("the topology names no vantage with addresses: accepted from anywhere");
      }
      if (c.protocol == Protocol::icmp) {
        add_icmp(allow ? accepts : denies, t, dest);
        continue;
      }
      t.service = service_for(token("CHECK", h.name) + fmt::format("_{}", ci), c.protocol, c.ports,
                              fmt::format("explicit check {} of {} ({})", name, h.name, where));
      t.protocols = {std::string(to_string(c.protocol))};
      (allow ? accepts : denies).push_back(std::move(t));
    }
    // Under a default deny, IPv6 stops working without neighbour discovery (solicitations go to a multicast address).
    if (has_v6(dest) && o_.default_action != DefaultAction::accept) {
      Term nd;
      nd.kind = Term::Kind::infrastructure;
      nd.name = "ipv6-nd";
      nd.protocols = {"icmpv6"};
      nd.icmp_types = {"neighbor-solicit", "neighbor-advertisement"};
      nd.comment = "IPv6 neighbour discovery: no documented flow, but IPv6 needs it";
      nd.notes.emplace_back("capirca's nftables generator adds `ct state new` to every accept, and the kernel leaves "
                            "neighbour discovery untracked: in nftables this term never matches");
      f.terms.push_back(std::move(nd));
      if (std::find(o_.targets.begin(), o_.targets.end(), "nftables") != o_.targets.end()) {
        note("IPv6 under a default deny: capirca's nftables accept terms all match `ct state new` only, and neighbour "
             "discovery is untracked, so no term can let it in; IPv6 addresses need static neighbours or an edit "
             "of the rendered chain (see docs/policy.md)");
      }
    }
    f.terms.insert(f.terms.end(), std::make_move_iterator(accepts.begin()), std::make_move_iterator(accepts.end()));
    f.terms.insert(f.terms.end(), std::make_move_iterator(denies.begin()), std::make_move_iterator(denies.end()));
    if (o_.default_action != DefaultAction::none) {
      Term d;
      d.kind = Term::Kind::fallback;
      d.action = o_.default_action == DefaultAction::deny ? Action::deny : Action::accept;
      d.name = o_.default_action == DefaultAction::deny ? "default-deny" : "default-accept";
      // capirca 2.0.6 writes an nftables accept that matches nothing as `ct state newaccept` (and ignores
      // platform-exclude there): the accepting default names every address instead.
      if (d.action == Action::accept) d.sources.emplace_back(kAnywhere);
      d.comment = fmt::format("portdrift policy --default {}: everything no term above names",
                              to_string(o_.default_action));
      f.terms.push_back(std::move(d));
    }
    // Two listeners with one slug would share a file: number the second.
    std::string stem = f.file_stem;
    for (int i = 2; std::any_of(r_.policy.filters.begin(), r_.policy.filters.end(),
                                [&](const Filter& x) { return x.file_stem == stem; });
         ++i) {
      stem = fmt::format("{}-{}", f.file_stem, i);
    }
    f.file_stem = stem;
    r_.policy.filters.push_back(std::move(f));
  }

  const config::Topology& t_;
  const catalog::Catalog& c_;
  const Options& o_;
  PolicyResult r_;
  std::set<std::string, std::less<>> products_;
  std::map<std::string, std::string, std::less<>> host_net_, group_net_, role_net_;
  std::map<std::string, std::pair<std::size_t, std::vector<std::string>>> unheld_;  // role -> flows, listeners
};

std::string header_target(const std::string& platform, const Filter& f, DefaultAction d) {
  if (platform == "nftables") {
    return d == DefaultAction::accept ? "nftables mixed INPUT ACCEPT" : "nftables mixed INPUT";
  }
  if (platform == "iptables") {
    switch (d) {
      case DefaultAction::deny: return "iptables INPUT DROP";
      case DefaultAction::accept: return "iptables INPUT ACCEPT";
      case DefaultAction::none: return "iptables INPUT";
    }
  }
  if (platform == "windows_advfirewall") return "windows_advfirewall in";
  // Most other generators take a filter name first.
  return fmt::format("{} {}", platform, f.file_stem);
}

void render_definitions(std::string& out, const std::vector<Definition>& defs) {
  for (const auto& d : defs) {
    if (!d.comment.empty()) out += fmt::format("# {}\n", d.comment);
    const std::string indent(d.name.size() + 3, ' ');
    for (std::size_t i = 0; i < d.items.size(); ++i) {
      out += i == 0 ? fmt::format("{} = {}\n", d.name, d.items[i]) : fmt::format("{}{}\n", indent, d.items[i]);
    }
    out += '\n';
  }
}

std::string render_filter(const Filter& f, const Options& o) {
  std::string out;
  out += fmt::format("# Written by `portdrift policy`: the inbound terms of {} {} (roles: {}).\n",
                     f.group ? "group" : "host", f.listener,
                     f.roles.empty() ? "-" : fmt::format("{}", fmt::join(f.roles, ", ")));
  out += "# Each term's comment: flow or check | seed document or topology line | component.\n";
  out += "header {\n";
  out += fmt::format("  comment:: \"portdrift: inbound to {} {}\"\n", f.group ? "group" : "host", f.listener);
  for (const auto& t : o.targets) out += fmt::format("  target:: {}\n", header_target(t, f, o.default_action));
  out += "}\n";
  for (const auto& t : f.terms) {
    out += '\n';
    for (const auto& n : t.notes) out += fmt::format("# {}\n", n);
    out += fmt::format("term {} {{\n", t.name);
    if (!t.comment.empty()) out += fmt::format("  comment:: \"{}\"\n", t.comment);
    if (!t.sources.empty()) out += fmt::format("  source-address:: {}\n", fmt::join(t.sources, " "));
    if (!t.destination.empty()) out += fmt::format("  destination-address:: {}\n", t.destination);
    if (!t.service.empty()) {
      out += fmt::format("  source-port:: {}\n", kAnySourcePort);
      out += fmt::format("  destination-port:: {}\n", t.service);
    }
    if (!t.protocols.empty()) out += fmt::format("  protocol:: {}\n", fmt::join(t.protocols, " "));
    if (!t.icmp_types.empty()) out += fmt::format("  icmp-type:: {}\n", fmt::join(t.icmp_types, " "));
    out += fmt::format("  action:: {}\n", t.action == Action::accept ? "accept" : "deny");
    out += "}\n";
  }
  return out;
}

}  // namespace

std::optional<DefaultAction> parse_default_action(std::string_view s) noexcept {
  if (s == "deny") return DefaultAction::deny;
  if (s == "accept") return DefaultAction::accept;
  if (s == "none") return DefaultAction::none;
  return std::nullopt;
}

std::string_view to_string(DefaultAction a) noexcept {
  switch (a) {
    case DefaultAction::deny: return "deny";
    case DefaultAction::accept: return "accept";
    case DefaultAction::none: return "none";
  }
  return "?";
}

const Definition* Policy::network(std::string_view name) const noexcept {
  for (const auto& d : networks) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const Filter* Policy::filter(std::string_view listener) const noexcept {
  for (const auto& f : filters) {
    if (f.listener == listener) return &f;
  }
  return nullptr;
}

std::size_t Policy::term_count() const noexcept {
  std::size_t n = 0;
  for (const auto& f : filters) {
    n += static_cast<std::size_t>(std::count_if(f.terms.begin(), f.terms.end(), [](const Term& t) {
      return t.kind == Term::Kind::flow || t.kind == Term::Kind::check;
    }));
  }
  return n;
}

PolicyResult build_policy(const config::Topology& topology, const catalog::Catalog& catalog, const Options& options) {
  return Builder(topology, catalog, options).run();
}

std::vector<std::pair<std::string, std::string>> render(const Policy& policy, const Options& options) {
  std::vector<std::pair<std::string, std::string>> files;
  std::string net = "# Written by `portdrift policy`: one network per host, group and role of the topology.\n"
                    "# Role networks name the hosts and groups that hold the role.\n\n";
  render_definitions(net, policy.networks);
  files.emplace_back("def/NETWORK.net", std::move(net));
  std::string svc = "# Written by `portdrift policy`: one service per catalog flow (ports after port_overrides)\n"
                    "# and per explicit check of the topology.\n\n";
  render_definitions(svc, policy.services);
  files.emplace_back("def/SERVICES.svc", std::move(svc));
  for (const auto& f : policy.filters) {
    files.emplace_back(fmt::format("policies/pol/{}.pol", f.file_stem), render_filter(f, options));
  }
  return files;
}

}  // namespace portdrift::policy
