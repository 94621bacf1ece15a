#include "portdrift/plan/plan.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

namespace portdrift::plan {
namespace {

using config::Host;
using config::Named;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += fmt::format("{}{}", out.empty() ? "" : ", ", s);
  return out;
}

class Builder {
 public:
  Builder(const config::Topology& t, const catalog::Catalog& c) : t_(t), c_(c) {}

  PlanResult run() {
    select_products();
    check_flow_settings();
    resolve_vantage();
    for (std::uint32_t i = 0; i < t_.hosts.size(); ++i) plan_host(i);
    // Stable output: by host order, then protocol, port, address.
    std::vector<Check> checks;
    checks.reserve(slots_.size());
    for (auto& [key, slot] : slots_) checks.push_back(std::move(slot.check));
    result_.plan.checks = std::move(checks);
    return std::move(result_);
  }

 private:
  struct Slot {
    Check check;
    bool explicit_ = false;
    bool specific_from = false;  // came from a flow whose `from` is a vantage role, not `any`
  };
  using Key = std::tuple<std::uint32_t, std::uint32_t, Protocol, std::uint16_t>;  // host, address#, proto, port

  void error(SourcePos pos, std::string path, std::string message) {
    result_.diagnostics.push_back(Diagnostic{t_.file, pos, std::move(path), std::move(message)});
  }

  void select_products() {
    if (t_.products.empty()) {
      for (const auto& p : c_.products) products_.insert(p.id);
      return;
    }
    std::vector<std::string> known;
    for (const auto& p : c_.products) known.push_back(p.id);
    for (const auto& p : t_.products) {
      if (c_.product(p.value) == nullptr) {
        error(p.pos, p.key_path, fmt::format("unknown product '{}' (known: {})", p.value, join(known)));
      } else {
        products_.insert(p.value);
      }
    }
  }

  bool role_known(const Named& role) {
    for (const auto& id : products_) {
      if (c_.product(id)->roles.contains(role.value)) return true;
    }
    for (const auto& p : c_.products) {
      if (p.roles.contains(role.value)) {
        error(role.pos, role.key_path,
              fmt::format("role '{}' belongs to product '{}', which is not listed in `products`", role.value, p.id));
        return false;
      }
    }
    error(role.pos, role.key_path,
          fmt::format("unknown role '{}' (see `portdrift --catalog` for the roles of each product)", role.value));
    return false;
  }

  void check_flow_settings() {
    for (const auto& f : t_.flows) {
      const auto* flow = c_.flow(f.id.value);
      if (flow == nullptr) {
        error(f.id.pos, f.id.key_path, fmt::format("unknown catalog flow id '{}'", f.id.value));
      } else {
        settings_[flow->id] = &f;
      }
    }
  }

  void resolve_vantage() {
    for (const auto& r : t_.vantage.roles) {
      if (role_known(r)) vantage_roles_.insert(r.value);
    }
    if (const auto& vh = t_.vantage.host) {
      auto it = std::find_if(t_.hosts.begin(), t_.hosts.end(), [&](const Host& h) { return h.name == vh->value; });
      if (it == t_.hosts.end()) {
        error(vh->pos, vh->key_path, fmt::format("vantage host '{}' is not one of `hosts`", vh->value));
      } else {
        vantage_host_ = static_cast<std::uint32_t>(it - t_.hosts.begin());
        for (const auto& r : it->roles) vantage_roles_.insert(r.value);
      }
    }
  }

  Severity severity_for(const Host& h, const catalog::Flow* flow, const config::FlowSetting* setting) const {
    if (setting != nullptr && setting->severity) return *setting->severity;
    if (h.severity) return *h.severity;
    if (flow != nullptr && flow->optional) return Severity::warning;
    return t_.defaults.severity;
  }

  void skip(const Host& h, const catalog::Flow* flow, Protocol p, std::string ports, std::string why) {
    result_.plan.skipped.push_back(Skipped{h.name, flow ? flow->id : "", p, std::move(ports), std::move(why)});
  }

  static std::string unsupported_why(Protocol p) {
    return fmt::format("{} probes are not implemented in this version", to_string(p));
  }

  void add(std::uint32_t host_index, const Host& h, Protocol proto, std::uint16_t port, Expect expect, Severity sev,
           const catalog::Flow* flow, const std::string& label, bool is_explicit) {
    for (std::uint32_t a = 0; a < h.addresses.size(); ++a) {
      const Key key{host_index, a, proto, port};
      auto [it, fresh] = slots_.try_emplace(key);
      Slot& slot = it->second;
      const bool specific = flow != nullptr && flow->from != catalog::kAnyRole;
      const bool replaces = fresh || is_explicit || (!slot.explicit_ && specific && !slot.specific_from);
      if (replaces) {
        // The deciding flow's id comes first; flows it overrides stay listed after it.
        std::vector<std::string> ids;
        if (flow != nullptr) ids.push_back(flow->id);
        if (!fresh && !is_explicit) ids.insert(ids.end(), slot.check.catalog_ids.begin(), slot.check.catalog_ids.end());
        slot.check = Check{host_index, h.name, h.addresses[a].value, proto, port, expect, sev, std::move(ids), label};
        slot.explicit_ = is_explicit;
        slot.specific_from = specific;
      } else if (!slot.explicit_) {
        if (flow != nullptr) slot.check.catalog_ids.push_back(flow->id);
        if (sev == Severity::critical) slot.check.severity = Severity::critical;  // the stricter severity holds
      }
    }
  }

  void plan_flow(std::uint32_t hi, const Host& h, const catalog::Flow& f, std::vector<bool>& override_used) {
    const auto sit = settings_.find(f.id);
    const config::FlowSetting* setting = sit == settings_.end() ? nullptr : sit->second;
    if (setting != nullptr && !setting->enabled) return;
    if (f.protocol != Protocol::tcp) {
      skip(h, &f, f.protocol, f.ports_text, unsupported_why(f.protocol));
      return;
    }
    if (f.dynamic) {
      skip(h, &f, f.protocol, f.ports_text, "dynamic port range: never probed port by port");
      return;
    }
    if (f.ports.count() > kMaxCatalogRangePorts) {
      skip(h, &f, f.protocol, f.ports_text,
           fmt::format("range of {} ports: not probed port by port (add explicit checks for the ports in use)",
                       f.ports.count()));
      return;
    }
    const Expect expect = setting != nullptr && setting->expect ? *setting->expect : f.expect;
    const Severity sev = severity_for(h, &f, setting);
    for (const auto& range : f.ports.ranges) {
      for (std::uint32_t p = range.first; p <= range.last; ++p) {
        auto port = static_cast<std::uint16_t>(p);
        if (f.configurable) {
          for (std::size_t o = 0; o < h.port_overrides.size(); ++o) {
            if (h.port_overrides[o].documented == port) {
              port = h.port_overrides[o].actual;
              override_used[o] = true;
              break;
            }
          }
        }
        add(hi, h, Protocol::tcp, port, expect, sev, &f, f.component, false);
      }
    }
  }

  void check_overrides(const Host& h, const std::vector<bool>& used) {
    for (std::size_t o = 0; o < h.port_overrides.size(); ++o) {
      if (used[o]) continue;
      const auto& ov = h.port_overrides[o];
      // Valid if some configurable flow to this host uses the port, even one this vantage does not probe.
      bool configurable = false;
      const catalog::Flow* fixed = nullptr;
      for (const auto& f : c_.flows) {
        if (!products_.contains(f.product) || !f.ports.contains(ov.documented)) continue;
        const bool to_host = std::any_of(h.roles.begin(), h.roles.end(), [&](const Named& r) { return r.value == f.to; });
        if (!to_host) continue;
        if (f.configurable) configurable = true;
        else fixed = &f;
      }
      if (configurable) continue;
      if (fixed != nullptr) {
        error(ov.pos, ov.key_path,
              fmt::format("port {} of flow '{}' is not configurable according to the vendor document", ov.documented,
                          fixed->id));
      } else {
        error(ov.pos, ov.key_path,
              fmt::format("no catalog flow to the roles of host '{}' uses port {}", h.name, ov.documented));
      }
    }
  }

  void plan_host(std::uint32_t hi) {
    const Host& h = t_.hosts[hi];
    std::unordered_set<std::string> roles;
    for (const auto& r : h.roles) {
      if (role_known(r)) roles.insert(r.value);
    }
    std::vector<bool> override_used(h.port_overrides.size(), false);
    if (vantage_host_ != hi) {
      for (const auto& f : c_.flows) {
        if (!products_.contains(f.product) || !roles.contains(f.to)) continue;
        if (f.from != catalog::kAnyRole && !vantage_roles_.contains(f.from)) continue;
        plan_flow(hi, h, f, override_used);
      }
    }
    check_overrides(h, override_used);
    for (const auto& c : h.checks) {
      if (c.ports.count() > kMaxExplicitPorts) {
        error(c.pos, join_path_port(c.key_path),
              fmt::format("{} ports in one check; at most {} may be probed port by port", c.ports.count(),
                          kMaxExplicitPorts));
        continue;
      }
      if (c.protocol != Protocol::tcp) {
        skip(h, nullptr, c.protocol, c.ports.to_string(), unsupported_why(c.protocol));
        continue;
      }
      const Severity sev = c.severity ? *c.severity : severity_for(h, nullptr, nullptr);
      const std::string label = c.name.empty() ? "explicit check" : c.name;
      for (const auto& range : c.ports.ranges) {
        for (std::uint32_t p = range.first; p <= range.last; ++p) {
          add(hi, h, c.protocol, static_cast<std::uint16_t>(p), c.expect, sev, nullptr, label, true);
        }
      }
    }
  }

  static std::string join_path_port(const std::string& path) { return path + ".port"; }

  const config::Topology& t_;
  const catalog::Catalog& c_;
  PlanResult result_;
  std::set<std::string, std::less<>> products_;
  std::unordered_set<std::string> vantage_roles_;
  std::uint32_t vantage_host_ = UINT32_MAX;
  std::unordered_map<std::string, const config::FlowSetting*> settings_;
  std::map<Key, Slot> slots_;
};

}  // namespace

PlanResult build_plan(const config::Topology& topology, const catalog::Catalog& catalog) {
  return Builder(topology, catalog).run();
}

}  // namespace portdrift::plan
