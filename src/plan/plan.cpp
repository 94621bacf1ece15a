#include "portdrift/plan/plan.hpp"

#include <algorithm>
#include <map>
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
    identify_hosts();
    std::size_t group_checks = 0;
    for (std::uint32_t g = 0; g < t_.groups.size(); ++g) group_checks += build_group_templates(g);
    result_.plan.checks.reserve(upper_bound() + group_checks);
    for (std::uint32_t i = 0; i < t_.hosts.size(); ++i) plan_host(i);
    next_host_index_ = static_cast<std::uint32_t>(t_.hosts.size());
    for (std::uint32_t g = 0; g < t_.groups.size(); ++g) emit_group(g);
    result_.plan.host_count = next_host_index_;
    result_.plan.text = std::move(text_);
    return std::move(result_);
  }

 private:
  // Who decides a check where several sources speak of one port, lowest first.
  enum class Rank : std::uint8_t { flow_any, flow_specific, group_check, host_check };
  struct Origin {
    const Host* owner = nullptr;                   // the host or group whose explicit check it is
    const config::ExplicitCheck* check = nullptr;  // null for catalog flows
  };
  struct Slot {
    Check check;
    std::uint64_t key = 0;
    Rank rank = Rank::flow_any;
    Origin origin;
  };
  // What one planning pass is about: a `hosts:` entry, or a group (for its template).
  struct Subject {
    const Host* settings = nullptr;                // the host entry, or the group's settings
    const config::Group* group = nullptr;          // a group's template: its flow settings apply
    std::vector<const config::Group*> absorbed;    // a host entry named as a group member: those groups' roles and checks
    const std::vector<Named>* extra_roles = nullptr;  // an inventory row's roles
    std::vector<std::string_view> targets;         // one per address (one empty target for a template)
    std::string what;                              // "host ns01", "group agents-lan" (notes)
    bool diagnose = true;                          // report problems and notes (once per group, not per template)
  };
  // A group member that is a named host (a name, a single address, an inventory row).
  struct NamedMember {
    std::string_view name;
    std::string_view target;
    const std::vector<Named>* roles = nullptr;  // an inventory row's own roles
    std::uint32_t tmpl = 0;                     // into templates_
  };
  // Part of a block or range that this group plans (not claimed by an earlier group).
  struct Piece {
    config::IpAddress first;
    config::IpAddress last;
  };
  struct GroupPlan {
    std::vector<NamedMember> named;
    std::vector<Piece> pieces;
    std::uint32_t base_tmpl = 0;
  };

  // Checks are merged per host: address#, protocol and port packed so that the
  // key's order is the plan's order within a host.
  static std::uint64_t key_of(std::uint32_t address, Protocol proto, std::uint16_t port) noexcept {
    return (std::uint64_t{address} << 24) | (std::uint64_t{static_cast<std::uint8_t>(proto)} << 16) | port;
  }

  void error(SourcePos pos, std::string path, std::string message) {
    result_.diagnostics.push_back(Diagnostic{t_.file, pos, std::move(path), std::move(message)});
  }
  void note(SourcePos pos, std::string path, std::string message) {
    result_.notes.push_back(Diagnostic{t_.file, pos, std::move(path), std::move(message)});
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

  // Whether a role exists in a listed product; a diagnostic in `file` (the topology or an inventory) if not.
  bool role_known(const Named& role, const std::string& file) {
    for (const auto& id : products_) {
      if (c_.product(id)->roles.contains(role.value)) return true;
    }
    std::string message;
    for (const auto& p : c_.products) {
      if (p.roles.contains(role.value)) {
        message = fmt::format("role '{}' belongs to product '{}', which is not listed in `products`", role.value, p.id);
        break;
      }
    }
    if (message.empty()) {
      message = fmt::format("unknown role '{}' (see `portdrift --catalog` for the roles of each product)", role.value);
    }
    result_.diagnostics.push_back(Diagnostic{file, role.pos, role.key_path, std::move(message)});
    return false;
  }
  bool role_known(const Named& role) { return role_known(role, t_.file); }

  void check_flow_settings() {
    auto check = [&](const std::vector<config::FlowSetting>& settings,
                     std::unordered_map<std::string, const config::FlowSetting*>& into) {
      for (const auto& f : settings) {
        const auto* flow = c_.flow(f.id.value);
        if (flow == nullptr) {
          error(f.id.pos, f.id.key_path, fmt::format("unknown catalog flow id '{}'", f.id.value));
        } else {
          into[flow->id] = &f;
        }
      }
    };
    check(t_.flows, settings_);
    group_settings_.resize(t_.groups.size());
    for (std::size_t g = 0; g < t_.groups.size(); ++g) check(t_.groups[g].flows, group_settings_[g]);
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

  // --- who is which host -----------------------------------------------------------

  // One spelling per target: an IP literal's canonical text, a DNS name in lower case.
  static std::string identity(std::string_view target) {
    if (const auto ip = config::parse_ip(target)) return config::to_string(*ip);
    std::string out(target);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
  }

  struct Owner {
    std::uint32_t host = UINT32_MAX;  // a `hosts:` entry, or
    std::uint32_t group = UINT32_MAX;  // the group of a named member
    std::string_view name;
    SourcePos pos;
    const std::string* file = nullptr;
  };

  // Decides, before anything is planned, which host each named member and block address is.
  void identify_hosts() {
    std::unordered_map<std::string, Owner> owners;       // target identity -> its host
    std::unordered_map<std::string_view, std::string> names;  // host name -> target identity
    std::unordered_map<std::string_view, std::uint32_t> host_names;  // `hosts:` entry name -> index
    for (std::uint32_t hi = 0; hi < t_.hosts.size(); ++hi) {
      const Host& h = t_.hosts[hi];
      for (const auto& a : h.addresses) {
        owners.try_emplace(identity(a.value), Owner{hi, UINT32_MAX, h.name, a.pos, &t_.file});
        if (const auto ip = config::parse_ip(a.value)) named_ips_.push_back(*ip);
      }
      names.try_emplace(h.name, h.addresses.empty() ? std::string() : identity(h.addresses[0].value));
      host_names.try_emplace(h.name, hi);
    }
    absorbed_.resize(t_.hosts.size());
    groups_.resize(t_.groups.size());
    for (std::uint32_t gi = 0; gi < t_.groups.size(); ++gi) {
      const auto& g = t_.groups[gi];
      auto add_named = [&](std::string_view name, std::string_view target, SourcePos pos, const std::string& file,
                           const std::string& path, const std::vector<Named>* roles) {
        auto id = identity(target);
        if (const auto h = host_names.find(target); h != host_names.end() && name == target) {
          id = identity(t_.hosts[h->second].addresses.empty() ? target : t_.hosts[h->second].addresses[0].value);
        }
        if (const auto it = owners.find(id); it != owners.end()) {
          const Owner& o = it->second;
          if (o.host != UINT32_MAX) {
            // A `hosts:` entry named as a member: one host, with the entry's settings and the group's roles and checks too.
            auto& groups = absorbed_[o.host];
            if (std::find(groups.begin(), groups.end(), &g) == groups.end()) {
              groups.push_back(&g);
              result_.notes.push_back(Diagnostic{
                  file, pos, path,
                  fmt::format("'{}' is host '{}' ({}:{}): planned once, as that host, with the roles and checks of "
                              "group '{}' added below its own",
                              target, o.name, *o.file, o.pos.line, g.settings.name)});
            }
          } else {
            result_.notes.push_back(Diagnostic{
                file, pos, path,
                fmt::format("'{}' is already a member{} ({}:{}): planned once, there (the first mention wins)", target,
                            o.group == gi ? "" : fmt::format(" of group '{}'", t_.groups[o.group].settings.name),
                            *o.file, o.pos.line)});
          }
          return;
        }
        if (auto [nit, new_name] = names.try_emplace(name, id); !new_name && nit->second != id) {
          result_.diagnostics.push_back(
              Diagnostic{file, pos, path, fmt::format("host name '{}' is already used for another address ({})", name,
                                                      nit->second)});
          return;
        }
        owners.emplace(id, Owner{UINT32_MAX, gi, name, pos, &file});
        if (const auto ip = config::parse_ip(target)) named_ips_.push_back(*ip);
        if (roles != nullptr) {
          bool ok = true;
          for (const auto& r : *roles) ok = role_known(r, file) && ok;
          if (!ok) return;
        }
        groups_[gi].named.push_back(NamedMember{name, target, roles, 0});
      };
      for (const auto& m : g.members) {
        if (m.spec.kind == config::MemberSpec::Kind::name || m.spec.kind == config::MemberSpec::Kind::address) {
          add_named(m.text.value, m.text.value, m.text.pos, t_.file, m.text.key_path, nullptr);
        }
      }
      for (const auto& inv : g.inventories) {
        for (const auto& row : inv.rows) {
          const std::string_view target = row.address.empty() ? row.name : row.address;
          const std::string_view name = row.name.empty() ? row.address : row.name;
          add_named(name, target, row.pos, inv.path, "", row.roles.empty() ? nullptr : &row.roles);
        }
      }
    }
    std::sort(named_ips_.begin(), named_ips_.end());
    // Blocks and ranges: the first group (in file order) keeps an address; named hosts keep theirs.
    std::map<config::IpAddress, std::pair<config::IpAddress, std::uint32_t>> claimed;  // first -> (last, group)
    for (std::uint32_t gi = 0; gi < t_.groups.size(); ++gi) {
      for (const auto& m : t_.groups[gi].members) {
        if (m.spec.kind != config::MemberSpec::Kind::block && m.spec.kind != config::MemberSpec::Kind::range) continue;
        claim(gi, m, claimed);
      }
    }
  }

  void claim(std::uint32_t gi, const config::Member& m,
             std::map<config::IpAddress, std::pair<config::IpAddress, std::uint32_t>>& claimed) {
    const auto first = m.spec.first;
    const auto last = m.spec.last;
    std::vector<Piece> gaps;
    std::uint64_t overlapped = 0;
    std::uint32_t other = UINT32_MAX;
    auto it = claimed.upper_bound(first);
    if (it != claimed.begin() && std::prev(it)->second.first >= first) --it;
    config::IpAddress at = first;
    bool done = false;
    for (; it != claimed.end() && it->first <= last && !done; ++it) {
      const auto& [c_first, c_rest] = *it;
      const auto& c_last = c_rest.first;
      if (other == UINT32_MAX) other = c_rest.second;
      if (at < c_first) gaps.push_back(Piece{at, prev_of(c_first)});
      const auto o_first = std::max(at, c_first);
      const auto o_last = std::min(last, c_last);
      overlapped += config::span_size(o_first, o_last);
      if (c_last >= last) {
        done = true;
      } else {
        at = config::next(c_last);
      }
    }
    if (!done) gaps.push_back(Piece{at, last});
    for (const auto& p : gaps) {
      claimed.emplace(p.first, std::make_pair(p.last, gi));
      groups_[gi].pieces.push_back(p);
    }
    if (overlapped > 0) {
      note(m.text.pos, m.text.key_path,
           fmt::format("{} address{} of {} {} already in {}: planned once, there (the first in the file wins)",
                       overlapped, overlapped == 1 ? "" : "es", m.text.value, overlapped == 1 ? "is" : "are",
                       other == gi ? "an earlier member of this group"
                                   : fmt::format("group '{}'", t_.groups[other].settings.name)));
    }
    std::uint64_t named = 0;
    for (const auto& p : gaps) {
      const auto lo = std::lower_bound(named_ips_.begin(), named_ips_.end(), p.first);
      const auto hi = std::upper_bound(lo, named_ips_.end(), p.last);
      named += count_distinct(lo, hi);
    }
    if (named > 0) {
      note(m.text.pos, m.text.key_path,
           fmt::format("{} address{} of {} {} named host{}: planned as {}, not as block addresses", named,
                       named == 1 ? "" : "es", m.text.value, named == 1 ? "is a" : "are", named == 1 ? "" : "s",
                       named == 1 ? "that host" : "those hosts"));
    }
  }

  static std::uint64_t count_distinct(std::vector<config::IpAddress>::const_iterator lo,
                                      std::vector<config::IpAddress>::const_iterator hi) {
    std::uint64_t n = 0;
    for (auto it = lo; it != hi; ++it) {
      if (it == lo || *it != *std::prev(it)) ++n;
    }
    return n;
  }

  static config::IpAddress prev_of(const config::IpAddress& a) noexcept {
    config::IpAddress p = a;
    if (!a.v6) {
      p.lo = (a.lo - 1) & 0xffffffffULL;
      return p;
    }
    if (a.lo == 0) p.hi = a.hi - 1;
    p.lo = a.lo - 1;
    return p;
  }

  // --- planning one subject ------------------------------------------------------

  Severity severity_for(const Host& h, const catalog::Flow* flow, const config::FlowSetting* setting) const {
    if (setting != nullptr && setting->severity) return *setting->severity;
    if (h.severity) return *h.severity;
    if (flow != nullptr && flow->optional) return Severity::warning;
    return t_.defaults.severity;
  }

  void skip(std::string_view who, const catalog::Flow* flow, Protocol p, std::string ports, std::string why) {
    result_.plan.skipped.push_back(Skipped{std::string(who), flow ? flow->id : "", p, std::move(ports), std::move(why)});
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
  ChoicePtr payload_of(const config::Named& n, bool diagnose) {
    std::string why;
    auto choice = payloads::parse_choice(n.value, why);
    if (!choice) {
      if (diagnose) error(n.pos, n.key_path, why);
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

  std::string describe(Rank rank, const Origin& o, const Check& c) const {
    if (o.check != nullptr) {
      return fmt::format("{} check {} (line {}, expects {})", rank == Rank::host_check ? "the host's" : "the group's",
                         config::key_path(*o.owner, *o.check), o.check->pos.line, to_string(c.expect));
    }
    return fmt::format("catalog flow {} (expects {})", c.catalog_ids.empty() ? "?" : c.catalog_ids.front(),
                       to_string(c.expect));
  }

  static std::string port_text(Protocol proto, std::uint16_t port) {
    return proto == Protocol::icmp ? std::string("icmp") : fmt::format("{}/{}", to_string(proto), port);
  }

  void add(const Subject& s, Protocol proto, std::uint16_t port, Expect expect, Severity sev,
           const catalog::Flow* flow, const std::string& label, Rank rank, Origin origin, const Extras& extras) {
    const Host& h = *s.settings;
    for (std::uint32_t a = 0; a < s.targets.size(); ++a) {
      const std::uint64_t key = key_of(a, proto, port);
      auto [it, fresh] = host_index_.try_emplace(key, static_cast<std::uint32_t>(host_slots_.size()));
      if (fresh) host_slots_.push_back(Slot{Check{}, key, rank, {}});
      Slot& slot = host_slots_[it->second];
      const bool speak = a == 0 && s.diagnose && !fresh;  // notes and diagnostics once per subject, not per address
      if (!fresh && rank == slot.rank && origin.check != nullptr) {
        // Two explicit checks of one rank on one port: they agree, or the topology contradicts itself.
        if (speak && slot.check.expect != expect) {
          error(origin.check->pos, config::key_path(*origin.owner, *origin.check),
                fmt::format("{} {} expects {} here but {} at line {} ({}); one port has one expectation",
                            s.what, port_text(proto, port), to_string(expect), to_string(slot.check.expect),
                            slot.origin.check->pos.line, config::key_path(*slot.origin.owner, *slot.origin.check)));
        }
        continue;
      }
      const bool replaces = fresh || rank > slot.rank;
      if (speak && (rank >= Rank::group_check || slot.rank >= Rank::group_check) && rank != slot.rank) {
        Check incoming;
        incoming.expect = expect;
        if (flow != nullptr) incoming.catalog_ids.push_back(flow->id);
        const auto& win_origin = replaces ? origin : slot.origin;
        const std::string winner = replaces ? describe(rank, origin, incoming) : describe(slot.rank, slot.origin, slot.check);
        const std::string loser = replaces ? describe(slot.rank, slot.origin, slot.check) : describe(rank, origin, incoming);
        note(win_origin.check->pos, config::key_path(*win_origin.owner, *win_origin.check),
             fmt::format("{} {}: {} wins over {}", s.what, port_text(proto, port), winner, loser));
      }
      if (replaces) {
        // The deciding flow's id comes first; flows it overrides stay listed after it.
        std::vector<std::string> ids;
        if (flow != nullptr) ids.push_back(flow->id);
        if (!fresh && origin.check == nullptr) {
          ids.insert(ids.end(), slot.check.catalog_ids.begin(), slot.check.catalog_ids.end());
        }
        slot.check = Check{.host_index = 0,
                           .port = port,
                           .protocol = proto,
                           .expect = expect,
                           .severity = sev,
                           .silence = extras.silence,
                           .echo_count = extras.echo_count,
                           .icmp_ratelimit_ms = extras.icmp_ratelimit_ms,
                           .interval_s = h.interval_s.value_or(t_.defaults.schedule.interval_s),
                           .family = h.address_family.value_or(t_.defaults.address_family),
                           .absent = Absent::drift,
                           .roles = flow != nullptr ? roles_index(*flow) : std::uint16_t{0},
                           .host = {},
                           .target = s.targets[a],
                           .catalog_ids = std::move(ids),
                           .label = label_text(label),
                           .group = {},
                           .source = source_text(h),
                           .payload = extras.payload};
        slot.rank = rank;
        slot.origin = origin;
      } else if (slot.rank < Rank::group_check && origin.check == nullptr) {
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

  // The flow's roles as a Plan::roles index, one entry per distinct pair (a catalog has a few hundred).
  std::uint16_t roles_index(const catalog::Flow& f) {
    auto [it, fresh] = roles_index_.try_emplace(std::make_pair(f.from, f.to), std::uint16_t{0});
    if (fresh) {
      it->second = static_cast<std::uint16_t>(result_.plan.roles.size());
      result_.plan.roles.push_back(FlowRoles{label_text(f.from), label_text(f.to)});
    }
    return it->second;
  }

  std::string_view source_text(const Host& h) {
    const auto& src = h.source ? h.source : t_.defaults.source;
    return src ? label_text(src->value) : std::string_view{};
  }

  // Moves the subject's merged checks, in key order, to `out`.
  void finish(std::vector<Check>& out) {
    std::sort(host_slots_.begin(), host_slots_.end(), [](const Slot& x, const Slot& y) { return x.key < y.key; });
    for (auto& slot : host_slots_) out.push_back(std::move(slot.check));
    host_slots_.clear();
    host_index_.clear();
  }

  // At least as many checks as plan_host() will make for `hosts:` entries (merging only makes fewer), so that
  // the plan's vector is allocated once instead of growing by copies. Only capacity depends on it.
  std::size_t upper_bound() const {
    std::unordered_map<std::string_view, std::size_t> per_role;  // checks a flow to this role can make
    for (const auto* f : vantage_flows_) {
      std::size_t n = 1;
      if (f->protocol != Protocol::icmp) n = f->dynamic || f->ports.count() > kMaxCatalogRangePorts ? 0 : f->ports.count();
      per_role[f->to] += n;
    }
    auto count = [&](const Host& h, bool flows) {
      std::size_t n = 0;
      if (flows) {
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
      return n;
    };
    std::size_t total = 0;
    for (std::uint32_t hi = 0; hi < t_.hosts.size(); ++hi) {
      const Host& h = t_.hosts[hi];
      std::size_t n = count(h, hi != vantage_host_);
      for (const auto* g : absorbed_[hi]) n += count(g->settings, hi != vantage_host_);
      total += n * h.addresses.size();
    }
    return total;
  }

  const config::FlowSetting* setting_for(const Subject& s, const catalog::Flow& f) {
    if (s.group != nullptr) {
      const auto& gs = group_settings_[static_cast<std::size_t>(s.group - t_.groups.data())];
      if (const auto it = gs.find(f.id); it != gs.end()) return merged_setting(s.group, *it->second);
    }
    const auto sit = settings_.find(f.id);
    return sit == settings_.end() ? nullptr : sit->second;
  }

  // A group's flow setting over the top-level one for the same flow: keys the group leaves out come from the top.
  const config::FlowSetting* merged_setting(const config::Group* g, const config::FlowSetting& own) {
    auto [it, fresh] = merged_.try_emplace(std::make_pair(g, own.id.value));
    if (fresh) {
      config::FlowSetting m = own;
      if (const auto top = settings_.find(own.id.value); top != settings_.end()) {
        const auto& t = *top->second;
        if (!m.severity) m.severity = t.severity;
        if (!m.expect) m.expect = t.expect;
        if (!m.silence) m.silence = t.silence;
        if (!m.payload) m.payload = t.payload;
        if (!m.echoes) m.echoes = t.echoes;
      }
      it->second = std::make_unique<config::FlowSetting>(std::move(m));
    }
    return it->second.get();
  }

  void plan_flow(const Subject& s, const catalog::Flow& f, std::vector<bool>& override_used) {
    const Host& h = *s.settings;
    const config::FlowSetting* setting = setting_for(s, f);
    if (setting != nullptr && !setting->enabled) return;
    const Rank rank = f.from != catalog::kAnyRole ? Rank::flow_specific : Rank::flow_any;
    if (f.protocol == Protocol::icmp) {
      // One echo check per host address.
      Extras x = extras_for(h, Protocol::icmp, 0);
      if (setting != nullptr && setting->echoes) x.echo_count = *setting->echoes;
      const Expect expect = host_expect(setting != nullptr && setting->expect ? *setting->expect : f.expect);
      add(s, Protocol::icmp, 0, expect, severity_for(h, &f, setting), &f, f.component, rank, {}, x);
      return;
    }
    if (f.dynamic) {
      if (s.diagnose) skip(h.name, &f, f.protocol, f.ports_text, "dynamic port range: never probed port by port");
      return;
    }
    if (f.ports.count() > kMaxCatalogRangePorts) {
      if (s.diagnose) {
        skip(h.name, &f, f.protocol, f.ports_text,
             fmt::format("range of {} ports: not probed port by port (add explicit checks for the ports in use)",
                         f.ports.count()));
      }
      return;
    }
    const Expect expect = setting != nullptr && setting->expect ? *setting->expect : f.expect;
    if (expect == Expect::reachable || expect == Expect::unreachable) {
      if (setting != nullptr && setting->expect) {
        if (s.diagnose) {
          error(setting->id.pos, setting->id.key_path + ".expect",
                fmt::format("'{}' is for icmp flows; flow '{}' is {}", to_string(expect), f.id, to_string(f.protocol)));
        }
      } else if (s.diagnose) {
        skip(h.name, &f, f.protocol, f.ports_text, fmt::format("the catalog expects a port to be {}", to_string(expect)));
      }
      return;
    }
    const Severity sev = severity_for(h, &f, setting);
    ChoicePtr flow_payload;
    if (setting != nullptr && setting->payload && f.protocol == Protocol::udp) {
      flow_payload = payload_of(*setting->payload, s.diagnose);
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
        add(s, f.protocol, port, expect, sev, &f, f.component, rank, {}, x);
      }
    }
  }

  void check_overrides(const Subject& s, const std::unordered_set<std::string>& roles, const std::vector<bool>& used) {
    const Host& h = *s.settings;
    for (std::size_t o = 0; o < h.port_overrides.size(); ++o) {
      if (used[o]) continue;
      const auto& ov = h.port_overrides[o];
      // Valid if some configurable flow to this host uses the port, even one this vantage does not probe.
      bool configurable = false;
      const catalog::Flow* fixed = nullptr;
      for (const auto& f : c_.flows) {
        if (!products_.contains(f.product) || !f.ports.contains(ov.documented)) continue;
        if (!roles.contains(f.to)) continue;
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
              fmt::format("no catalog flow to the roles of {} '{}' uses port {}", s.group != nullptr ? "group" : "host",
                          h.name, ov.documented));
      }
    }
  }

  void plan_checks(const Subject& s, const Host& owner, Rank rank) {
    const Host& h = *s.settings;  // settings (severity, rate limit) are the subject's
    for (const auto& c : owner.checks) {
      if (c.ports.count() > kMaxExplicitPorts) {
        if (s.diagnose) {
          error(c.pos, join_path_port(config::key_path(owner, c)),
                fmt::format("{} ports in one check; at most {} may be probed port by port", c.ports.count(),
                            kMaxExplicitPorts));
        }
        continue;
      }
      const Severity sev = c.severity ? *c.severity : owner.severity ? *owner.severity : severity_for(h, nullptr, nullptr);
      const std::string label = c.name.empty() ? "explicit check" : c.name;
      const Origin origin{&owner, &c};
      if (c.protocol == Protocol::icmp) {
        Extras x = extras_for(h, Protocol::icmp, 0);
        if (c.echoes) x.echo_count = *c.echoes;
        add(s, Protocol::icmp, 0, c.expect, sev, nullptr, label, rank, origin, x);
        continue;
      }
      ChoicePtr own;
      if (c.payload) {
        own = payload_of(*c.payload, s.diagnose);
        if (!own) continue;
      }
      for (const auto& range : c.ports.ranges) {
        for (std::uint32_t p = range.first; p <= range.last; ++p) {
          const auto port = static_cast<std::uint16_t>(p);
          Extras x = extras_for(h, c.protocol, port);
          if (own) x.payload = own;
          if (c.silence) x.silence = *c.silence;
          add(s, c.protocol, port, c.expect, sev, nullptr, label, rank, origin, x);
        }
      }
    }
  }

  // Plans one subject into host_slots_: catalog flows to its roles, then explicit checks.
  void plan_subject(const Subject& s, bool vantage) {
    const Host& h = *s.settings;
    std::unordered_set<std::string> roles;
    auto take_roles = [&](const std::vector<Named>& list, bool check) {
      for (const auto& r : list) {
        if (!check || role_known(r)) roles.insert(r.value);
      }
    };
    take_roles(h.roles, s.diagnose);
    for (const auto* g : s.absorbed) take_roles(g->settings.roles, false);  // reported with the group
    if (s.extra_roles != nullptr) take_roles(*s.extra_roles, false);       // reported with the row
    // Unknown roles are reported once, where they are written; they make no checks anywhere.
    std::erase_if(roles, [&](const std::string& r) { return !any_product_has(r); });
    std::vector<bool> override_used(h.port_overrides.size(), false);
    if (!vantage && !roles.empty()) {
      for (const auto* f : vantage_flows_) {
        if (roles.contains(f->to)) plan_flow(s, *f, override_used);
      }
    }
    if (s.diagnose) check_overrides(s, roles, override_used);
    plan_checks(s, h, s.group != nullptr ? Rank::group_check : Rank::host_check);
    for (const auto* g : s.absorbed) plan_checks(s, g->settings, Rank::group_check);
  }

  bool any_product_has(const std::string& role) const {
    return std::any_of(products_.begin(), products_.end(),
                       [&](const std::string& id) { return c_.product(id)->roles.contains(role); });
  }

  void plan_host(std::uint32_t hi) {
    const Host& h = t_.hosts[hi];
    Subject s;
    s.settings = &h;
    s.absorbed = absorbed_[hi];
    for (const auto& a : h.addresses) s.targets.push_back(text_->add(a.value));
    s.what = fmt::format("host {}", h.name);
    // Only valid roles make checks; unknown ones are reported here.
    plan_subject(s, vantage_host_ == hi);
    const std::size_t first = result_.plan.checks.size();
    finish(result_.plan.checks);
    const auto name = text_->add(h.name);
    for (std::size_t i = first; i < result_.plan.checks.size(); ++i) {
      result_.plan.checks[i].host_index = hi;
      result_.plan.checks[i].host = name;
    }
  }

  // --- groups ------------------------------------------------------------------------

  // Plans the group once (and once per distinct set of inventory roles); returns the checks its members will get.
  std::size_t build_group_templates(std::uint32_t gi) {
    const auto& g = t_.groups[gi];
    auto& gp = groups_[gi];
    auto build = [&](const std::vector<Named>* extra, bool diagnose) {
      Subject s;
      s.settings = &g.settings;
      s.group = &g;
      s.extra_roles = extra;
      s.targets.push_back({});
      s.what = fmt::format("group {}", g.settings.name);
      s.diagnose = diagnose;
      plan_subject(s, false);
      templates_.emplace_back();
      finish(templates_.back());
      return static_cast<std::uint32_t>(templates_.size() - 1);
    };
    gp.base_tmpl = build(nullptr, true);
    std::unordered_map<std::string, std::uint32_t> by_roles;  // an inventory's role sets repeat: one template each
    std::size_t total = 0;
    for (auto& m : gp.named) {
      const auto* roles = m.roles;
      m.tmpl = gp.base_tmpl;
      if (roles != nullptr) {
        std::string key;
        for (const auto& r : *roles) key += r.value + ' ';
        auto [it, fresh] = by_roles.try_emplace(key, 0);
        if (fresh) it->second = build(roles, false);
        m.tmpl = it->second;
      }
      total += templates_[m.tmpl].size();
    }
    for (const auto& p : gp.pieces) total += templates_[gp.base_tmpl].size() * config::span_size(p.first, p.last);
    return total;
  }

  void stamp(const std::vector<Check>& tmpl, std::string_view host, std::string_view target, std::string_view group,
             Absent absent) {
    for (const auto& c : tmpl) {
      Check& out = result_.plan.checks.emplace_back(c);
      out.host_index = next_host_index_;
      out.host = host;
      out.target = target;
      out.group = group;
      out.absent = absent;
    }
    ++next_host_index_;
  }

  void emit_group(std::uint32_t gi) {
    const auto& g = t_.groups[gi];
    const auto& gp = groups_[gi];
    const auto group = text_->add(g.settings.name);
    for (const auto& m : gp.named) {
      const auto name = text_->add(m.name);
      const auto target = m.target == m.name ? name : text_->add(m.target);
      stamp(templates_[m.tmpl], name, target, group, Absent::drift);
    }
    // Block and range addresses: `GROUP/ADDRESS`, written once; the target is its tail.
    const auto& tmpl = templates_[gp.base_tmpl];
    std::string buf(g.settings.name);
    buf += '/';
    const std::size_t prefix = buf.size();
    buf.resize(prefix + 64);
    for (const auto& p : gp.pieces) {
      auto named = std::lower_bound(named_ips_.begin(), named_ips_.end(), p.first);
      auto a = p.first;
      for (std::uint64_t i = 0, n = config::span_size(p.first, p.last); i < n; ++i, a = config::next(a)) {
        while (named != named_ips_.end() && *named < a) ++named;
        if (named != named_ips_.end() && *named == a) continue;  // a named host: planned as that host
        const auto len = config::format_ip(a, buf.data() + prefix);
        const auto host = text_->add(std::string_view(buf.data(), prefix + len));
        stamp(tmpl, host, host.substr(prefix), group, g.absent);
      }
    }
  }

  static std::string join_path_port(const std::string& path) { return path + ".port"; }

  struct PairHash {
    std::size_t operator()(const std::pair<const config::Group*, std::string>& p) const noexcept {
      return std::hash<const void*>{}(p.first) ^ std::hash<std::string>{}(p.second);
    }
  };

  const config::Topology& t_;
  const catalog::Catalog& c_;
  PlanResult result_;
  std::set<std::string, std::less<>> products_;
  std::unordered_set<std::string> vantage_roles_;
  std::uint32_t vantage_host_ = UINT32_MAX;
  std::vector<const catalog::Flow*> vantage_flows_;
  std::unordered_map<std::string, const config::FlowSetting*> settings_;
  std::vector<std::unordered_map<std::string, const config::FlowSetting*>> group_settings_;
  std::unordered_map<std::pair<const config::Group*, std::string>, std::unique_ptr<config::FlowSetting>, PairHash>
      merged_;
  std::unordered_map<std::uint16_t, ChoicePtr> default_payloads_;
  std::shared_ptr<TextStore> text_ = std::make_shared<TextStore>();
  std::unordered_map<std::string, std::string_view> labels_;
  std::map<std::pair<std::string, std::string>, std::uint16_t> roles_index_;
  std::vector<Slot> host_slots_;                                 // the current subject's checks
  std::unordered_map<std::uint64_t, std::uint32_t> host_index_;  // key -> host_slots_ index
  // Who is which host (identify_hosts).
  std::vector<std::vector<const config::Group*>> absorbed_;  // per `hosts:` entry
  std::vector<GroupPlan> groups_;
  std::vector<config::IpAddress> named_ips_;  // sorted: addresses that are named hosts
  std::vector<std::vector<Check>> templates_;
  std::uint32_t next_host_index_ = 0;
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
