#include "portdrift/plan/fleet.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <unordered_set>

#include <fmt/format.h>

namespace portdrift::plan {
namespace {

std::optional<std::uint32_t> whole(std::string_view text) {
  std::uint32_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

std::string declared_names(const config::Topology& t) {
  std::string out;
  for (const auto& v : t.vantages) out += fmt::format("{}{}", out.empty() ? "" : ", ", v.name.value);
  return out;
}

}  // namespace

std::optional<Shard> parse_shard(std::string_view text, std::string& error) {
  const auto slash = text.find('/');
  const auto k = slash == std::string_view::npos ? std::nullopt : whole(text.substr(0, slash));
  const auto n = slash == std::string_view::npos ? std::nullopt : whole(text.substr(slash + 1));
  if (!k || !n || *k < 1 || *k > *n || *n > 1'000'000) {
    error = fmt::format("'{}' is not K/N with 1 <= K <= N (e.g. 2/3)", text);
    return std::nullopt;
  }
  return Shard{*k, *n};
}

std::string to_string(Shard s) { return fmt::format("{}/{}", s.index, s.count); }

std::uint64_t stable_hash(std::string_view text) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a offset basis
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;  // FNV prime
  }
  // splitmix64's finalizer: FNV alone leaves the low bits of similar strings (addresses) correlated.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

std::uint32_t shard_of(std::string_view target, std::uint32_t count) noexcept {
  if (count <= 1) return 1;
  return static_cast<std::uint32_t>(stable_hash(target) % count) + 1;
}

Instance instance_of(std::string_view vantage, const std::optional<Shard>& shard) {
  return Instance{std::string(vantage), shard ? to_string(*shard) : std::string()};
}

void keep_shard(Plan& plan, Shard shard) {
  if (shard.count <= 1) return;
  std::erase_if(plan.checks, [&](const Check& c) { return shard_of(c.target, shard.count) != shard.index; });
}

Diagnostics select_vantage(config::Topology& t, std::string_view name, bool required) {
  if (name.empty()) {
    if (!required || t.vantages.empty() || t.vantage.declared()) return {};
    return {Diagnostic{t.file, t.vantages_pos, "vantages",
                       fmt::format("declares vantages ({}) and no `vantage:`; pick one with --vantage NAME or "
                                   "PORTDRIFT_VANTAGE",
                                   declared_names(t))}};
  }
  const auto it = std::find_if(t.vantages.begin(), t.vantages.end(),
                               [&](const config::NamedVantage& v) { return v.name.value == name; });
  if (it == t.vantages.end()) {
    if (t.vantages.empty()) {
      return {Diagnostic{t.file, {}, "--vantage",
                         fmt::format("unknown vantage '{}': the topology declares no `vantages:`", name)}};
    }
    return {Diagnostic{t.file, t.vantages_pos, "vantages",
                       fmt::format("unknown vantage '{}' (declared: {})", name, declared_names(t))}};
  }
  t.vantage = it->vantage;
  if (it->source) t.defaults.source = it->source;
  return {};
}

Coverage vantage_coverage(const config::Topology& t, const catalog::Catalog& c, std::string_view selected) {
  Coverage out;
  if (t.vantages.empty()) return out;
  std::set<std::string, std::less<>> products;
  if (t.products.empty()) {
    for (const auto& p : c.products) products.insert(p.id);
  } else {
    for (const auto& p : t.products) products.insert(p.value);  // unknown ones are the plan's diagnostics
  }
  const auto role_exists = [&](std::string_view role) {
    return std::any_of(products.begin(), products.end(), [&](const std::string& id) {
      const auto* p = c.product(id);
      return p != nullptr && p->roles.contains(role);
    });
  };
  // Who can initiate: the roles of every declared vantage (its own and its host's).
  std::unordered_set<std::string> initiators;
  const auto add_vantage = [&](const config::Vantage& v, bool diagnose) {
    for (const auto& r : v.roles) {
      if (role_exists(r.value)) {
        initiators.insert(r.value);
      } else if (diagnose) {
        out.errors.push_back(Diagnostic{
            t.file, r.pos, r.key_path,
            fmt::format("unknown role '{}' (see `portdrift --catalog` for the roles of each product)", r.value)});
      }
    }
    if (!v.host) return;
    const auto h =
        std::find_if(t.hosts.begin(), t.hosts.end(), [&](const config::Host& x) { return x.name == v.host->value; });
    if (h == t.hosts.end()) {
      if (diagnose) {
        out.errors.push_back(Diagnostic{t.file, v.host->pos, v.host->key_path,
                                        fmt::format("vantage host '{}' is not one of `hosts`", v.host->value)});
      }
      return;
    }
    for (const auto& r : h->roles) initiators.insert(r.value);
  };
  add_vantage(t.vantage, false);  // the plan reports the vantage in use
  for (const auto& v : t.vantages) add_vantage(v.vantage, v.name.value != selected);
  // Who listens: every role a host, group or inventory row of the topology has.
  std::unordered_set<std::string> listeners;
  const auto add_roles = [&](const std::vector<config::Named>& roles) {
    for (const auto& r : roles) listeners.insert(r.value);
  };
  for (const auto& h : t.hosts) add_roles(h.roles);
  for (const auto& g : t.groups) {
    add_roles(g.settings.roles);
    for (const auto& inv : g.inventories) {
      for (const auto& row : inv.rows) add_roles(row.roles);
    }
  }
  std::unordered_set<std::string> disabled;
  for (const auto& f : t.flows) {
    if (!f.enabled) disabled.insert(f.id.value);
  }
  for (const auto& f : c.flows) {
    if (!products.contains(f.product) || f.from == catalog::kAnyRole || !listeners.contains(f.to)) continue;
    if (initiators.contains(f.from) || disabled.contains(f.id)) continue;
    // Flows no vantage would probe port by port anyway are listed as skipped by the plan, not here.
    if (f.protocol != Protocol::icmp && (f.dynamic || f.ports.count() > kMaxCatalogRangePorts)) continue;
    const auto what = f.protocol == Protocol::icmp ? std::string("icmp")
                                                   : fmt::format("{}/{}", portdrift::to_string(f.protocol), f.ports_text);
    out.warnings.push_back(Diagnostic{t.file, t.vantages_pos, "vantages",
                                      fmt::format("nobody checks {} {} -> {} (flow {}; declared vantages: {})", what,
                                                  f.from, f.to, f.id, declared_names(t))});
  }
  return out;
}

}  // namespace portdrift::plan
