#include "portdrift/plan/plan.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <string_view>
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

// Storage for the plan's strings that never moves once written, so that checks can view it.
class TextStore {
 public:
  std::string_view add(std::string_view s) {
    if (s.empty()) return {};
    if (s.size() > left_) {
      const std::size_t size = std::max(s.size(), kBlock);
      blocks_.push_back(std::make_unique<char[]>(size));
      next_ = blocks_.back().get();
      left_ = size;
    }
    char* p = next_;
    std::copy(s.begin(), s.end(), p);
    next_ += s.size();
    left_ -= s.size();
    return {p, s.size()};
  }

 private:
  static constexpr std::size_t kBlock = 64 * 1024;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;
  std::size_t left_ = 0;
};

class Builder {
 public:
  Builder(const config::Topology& t, const catalog::Catalog& c) : t_(t), c_(c) {}

  PlanResult run() {
    select_products();
    check_flow_settings();
    resolve_vantage();
    // The flows this vantage initiates in the listed products, in catalog order; each host takes those to its roles.
    for (const auto& f : c_.flows) {
      if (!products_.contains(f.product)) continue;
      if (f.from != catalog::kAnyRole && !vantage_roles_.contains(f.from)) continue;
      vantage_flows_.push_back(&f);
    }
    result_.plan.checks.reserve(upper_bound());
    for (std::uint32_t i = 0; i < t_.hosts.size(); ++i) plan_host(i);
    result_.plan.text = std::move(text_);
    return std::move(result_);
  }

 private:
  struct Slot {
    Check check;
    std::uint64_t key = 0;
    bool explicit_ = false;
    bool specific_from = false;  // came from a flow whose `from` is a vantage role, not `any`
  };
  // Checks are merged per host: address#, protocol and port packed so that the
  // key's order is the plan's order within a host.
  static std::uint64_t key_of(std::uint32_t address, Protocol proto, std::uint16_t port) noexcept {
    return (std::uint64_t{address} << 24) | (std::uint64_t{static_cast<std::uint8_t>(proto)} << 16) | port;
  }

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

  // What a UDP or ICMP check carries besides its port: how it probes and how silence counts.
  using ChoicePtr = std::shared_ptr<const payloads::Choice>;
  struct Extras {
    Silence silence = Silence::warning;
    ChoicePtr payload = no_payload();
    std::uint32_t echo_count = 3;
    std::uint32_t icmp_ratelimit_ms = 1000;
  };

  // A `payload:` value from the topology, checked against the registry; null (and a diagnostic) if invalid.
  ChoicePtr payload_of(const config::Named& n) {
    std::string why;
    auto choice = payloads::parse_choice(n.value, why);
    if (!choice) {
      error(n.pos, n.key_path, why);
      return nullptr;
    }
    return std::make_shared<const payloads::Choice>(std::move(*choice));
  }

  // The registry's choice for a documented port, made once per port and shared.
  const ChoicePtr& default_payload(std::uint16_t port) {
    auto& p = default_payloads_[port];
    if (!p) p = std::make_shared<const payloads::Choice>(payloads::default_choice(port));
    return p;
  }

  Extras extras_for(const Host& h, Protocol proto, std::uint16_t documented_port) {
    Extras x;
    x.icmp_ratelimit_ms = h.icmp_ratelimit_ms.value_or(t_.defaults.probe.icmp_ratelimit_ms);
    x.echo_count = t_.defaults.probe.echoes;
    if (proto == Protocol::udp) x.payload = default_payload(documented_port);
    return x;
  }

  // Catalog flows speak of ports; an icmp flow's expectation becomes one about the host.
  static Expect host_expect(Expect e) noexcept {
    switch (e) {
      case Expect::open: case Expect::reachable: return Expect::reachable;
      default: return Expect::unreachable;
    }
  }

  void add(std::uint32_t host_index, const Host& h, Protocol proto, std::uint16_t port, Expect expect, Severity sev,
           const catalog::Flow* flow, const std::string& label, bool is_explicit, const Extras& extras) {
    for (std::uint32_t a = 0; a < h.addresses.size(); ++a) {
      const std::uint64_t key = key_of(a, proto, port);
      auto [it, fresh] = host_index_.try_emplace(key, static_cast<std::uint32_t>(host_slots_.size()));
      if (fresh) host_slots_.push_back(Slot{Check{}, key, false, false});
      Slot& slot = host_slots_[it->second];
      const bool specific = flow != nullptr && flow->from != catalog::kAnyRole;
      const bool replaces = fresh || is_explicit || (!slot.explicit_ && specific && !slot.specific_from);
      if (replaces) {
        // The deciding flow's id comes first; flows it overrides stay listed after it.
        std::vector<std::string> ids;
        if (flow != nullptr) ids.push_back(flow->id);
        if (!fresh && !is_explicit) ids.insert(ids.end(), slot.check.catalog_ids.begin(), slot.check.catalog_ids.end());
        slot.check = Check{.host_index = host_index,
                           .port = port,
                           .protocol = proto,
                           .expect = expect,
                           .severity = sev,
                           .silence = extras.silence,
                           .echo_count = extras.echo_count,
                           .icmp_ratelimit_ms = extras.icmp_ratelimit_ms,
                           .interval_s = h.interval_s.value_or(t_.defaults.schedule.interval_s),
                           .host = host_text_,
                           .target = address_text_[a],
                           .catalog_ids = std::move(ids),
                           .label = label_text(label),
                           .group = {},
                           .source = {},
                           .payload = extras.payload};
        slot.explicit_ = is_explicit;
        slot.specific_from = specific;
      } else if (!slot.explicit_) {
        if (flow != nullptr) slot.check.catalog_ids.push_back(flow->id);
        if (sev == Severity::critical) slot.check.severity = Severity::critical;  // the stricter severity holds
      }
    }
  }

  // One copy of each label (flow components, check names) for the whole plan.
  std::string_view label_text(const std::string& label) {
    auto [it, fresh] = labels_.try_emplace(label);
    if (fresh) it->second = text_->add(label);
    return it->second;
  }

  // Moves the host's merged checks, in key order, to the plan.
  void finish_host() {
    std::sort(host_slots_.begin(), host_slots_.end(), [](const Slot& x, const Slot& y) { return x.key < y.key; });
    for (auto& slot : host_slots_) result_.plan.checks.push_back(std::move(slot.check));
    host_slots_.clear();
    host_index_.clear();
  }

  // At least as many checks as plan_host() will make (merging only makes fewer), so that the
  // plan's vector is allocated once instead of growing by copies. Only capacity depends on it:
  // a low count would cost a reallocation, never a check.
  std::size_t upper_bound() const {
    std::unordered_map<std::string_view, std::size_t> per_role;  // checks a flow to this role can make
    for (const auto* f : vantage_flows_) {
      std::size_t n = 1;
      if (f->protocol != Protocol::icmp) n = f->dynamic || f->ports.count() > kMaxCatalogRangePorts ? 0 : f->ports.count();
      per_role[f->to] += n;
    }
    std::size_t total = 0;
    for (std::uint32_t hi = 0; hi < t_.hosts.size(); ++hi) {
      const Host& h = t_.hosts[hi];
      std::size_t n = 0;
      if (hi != vantage_host_) {
        for (std::size_t r = 0; r < h.roles.size(); ++r) {
          const auto& role = h.roles[r].value;
          const bool repeated = std::any_of(h.roles.begin(), h.roles.begin() + static_cast<std::ptrdiff_t>(r),
                                            [&](const Named& x) { return x.value == role; });
          if (const auto it = per_role.find(role); !repeated && it != per_role.end()) n += it->second;
        }
      }
      for (const auto& c : h.checks) {
        if (c.protocol == Protocol::icmp) n += 1;
        else if (c.ports.count() <= kMaxExplicitPorts) n += c.ports.count();
      }
      total += n * h.addresses.size();
    }
    return total;
  }

  void plan_flow(std::uint32_t hi, const Host& h, const catalog::Flow& f, std::vector<bool>& override_used) {
    const auto sit = settings_.find(f.id);
    const config::FlowSetting* setting = sit == settings_.end() ? nullptr : sit->second;
    if (setting != nullptr && !setting->enabled) return;
    if (f.protocol == Protocol::icmp) {
      // One echo check per host address.
      Extras x = extras_for(h, Protocol::icmp, 0);
      if (setting != nullptr && setting->echoes) x.echo_count = *setting->echoes;
      const Expect expect = host_expect(setting != nullptr && setting->expect ? *setting->expect : f.expect);
      add(hi, h, Protocol::icmp, 0, expect, severity_for(h, &f, setting), &f, f.component, false, x);
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
    if (expect == Expect::reachable || expect == Expect::unreachable) {
      if (setting != nullptr && setting->expect) {
        error(setting->id.pos, setting->id.key_path + ".expect",
              fmt::format("'{}' is for icmp flows; flow '{}' is {}", to_string(expect), f.id, to_string(f.protocol)));
      } else {
        skip(h, &f, f.protocol, f.ports_text, fmt::format("the catalog expects a port to be {}", to_string(expect)));
      }
      return;
    }
    const Severity sev = severity_for(h, &f, setting);
    ChoicePtr flow_payload;
    if (setting != nullptr && setting->payload && f.protocol == Protocol::udp) {
      flow_payload = payload_of(*setting->payload);
      if (!flow_payload) return;
    }
    for (const auto& range : f.ports.ranges) {
      for (std::uint32_t p = range.first; p <= range.last; ++p) {
        auto port = static_cast<std::uint16_t>(p);
        // The payload follows the documented port: a DNS server moved to another port still speaks DNS.
        Extras x = extras_for(h, f.protocol, port);
        if (flow_payload) x.payload = flow_payload;
        if (setting != nullptr && setting->silence) x.silence = *setting->silence;
        if (f.configurable) {
          for (std::size_t o = 0; o < h.port_overrides.size(); ++o) {
            if (h.port_overrides[o].documented == port) {
              port = h.port_overrides[o].actual;
              override_used[o] = true;
              break;
            }
          }
        }
        add(hi, h, f.protocol, port, expect, sev, &f, f.component, false, x);
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
    host_text_ = text_->add(h.name);
    address_text_.clear();
    for (const auto& a : h.addresses) address_text_.push_back(text_->add(a.value));
    std::unordered_set<std::string> roles;
    for (const auto& r : h.roles) {
      if (role_known(r)) roles.insert(r.value);
    }
    std::vector<bool> override_used(h.port_overrides.size(), false);
    if (vantage_host_ != hi && !roles.empty()) {
      for (const auto* f : vantage_flows_) {
        if (roles.contains(f->to)) plan_flow(hi, h, *f, override_used);
      }
    }
    check_overrides(h, override_used);
    for (const auto& c : h.checks) {
      if (c.ports.count() > kMaxExplicitPorts) {
        error(c.pos, join_path_port(config::key_path(h, c)),
              fmt::format("{} ports in one check; at most {} may be probed port by port", c.ports.count(),
                          kMaxExplicitPorts));
        continue;
      }
      const Severity sev = c.severity ? *c.severity : severity_for(h, nullptr, nullptr);
      const std::string label = c.name.empty() ? "explicit check" : c.name;
      if (c.protocol == Protocol::icmp) {
        Extras x = extras_for(h, Protocol::icmp, 0);
        if (c.echoes) x.echo_count = *c.echoes;
        add(hi, h, Protocol::icmp, 0, c.expect, sev, nullptr, label, true, x);
        continue;
      }
      ChoicePtr own;
      if (c.payload) {
        own = payload_of(*c.payload);
        if (!own) continue;
      }
      for (const auto& range : c.ports.ranges) {
        for (std::uint32_t p = range.first; p <= range.last; ++p) {
          const auto port = static_cast<std::uint16_t>(p);
          Extras x = extras_for(h, c.protocol, port);
          if (own) x.payload = own;
          if (c.silence) x.silence = *c.silence;
          add(hi, h, c.protocol, port, c.expect, sev, nullptr, label, true, x);
        }
      }
    }
    finish_host();
  }

  static std::string join_path_port(const std::string& path) { return path + ".port"; }

  const config::Topology& t_;
  const catalog::Catalog& c_;
  PlanResult result_;
  std::set<std::string, std::less<>> products_;
  std::unordered_set<std::string> vantage_roles_;
  std::uint32_t vantage_host_ = UINT32_MAX;
  std::vector<const catalog::Flow*> vantage_flows_;
  std::unordered_map<std::string, const config::FlowSetting*> settings_;
  std::unordered_map<std::uint16_t, ChoicePtr> default_payloads_;
  std::shared_ptr<TextStore> text_ = std::make_shared<TextStore>();
  std::unordered_map<std::string, std::string_view> labels_;
  std::string_view host_text_;                // the current host's name, in text_
  std::vector<std::string_view> address_text_;  // and its addresses
  std::vector<Slot> host_slots_;                            // the current host's checks
  std::unordered_map<std::uint64_t, std::uint32_t> host_index_;  // key -> host_slots_ index
};

}  // namespace

std::shared_ptr<const payloads::Choice> no_payload() {
  static const auto empty = std::make_shared<const payloads::Choice>();
  return empty;
}

PlanResult build_plan(const config::Topology& topology, const catalog::Catalog& catalog) {
  return Builder(topology, catalog).run();
}

}  // namespace portdrift::plan
