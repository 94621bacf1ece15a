#include "portdrift/config/topology.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "inventory.hpp"
#include "portdrift/config/keys.hpp"
#include "portdrift/config/yaml_reader.hpp"

namespace portdrift::config {
namespace {

constexpr std::int64_t kMaxEchoes = 100;  // echo requests per icmp check

std::vector<Named> named_list(YamlReader& r, const Node& node, const std::string& path) {
  std::vector<Named> out;
  std::size_t i = 0;
  for (auto& [value, pos] : r.string_list(node, path)) {
    out.push_back(Named{std::move(value), pos, node.IsSequence() ? index_path(path, i) : path});
    ++i;
  }
  return out;
}

template <typename T>
void set_uint(YamlReader& r, const MapView& m, std::string_view key, const std::string& path, T& field,
              std::int64_t min, std::int64_t max) {
  if (auto n = m.get(key)) {
    if (auto v = r.integer(*n, join_path(path, key), min, max)) field = static_cast<T>(*v);
  }
}

// An address of this machine or an interface name; whether it exists here is checked before probing.
std::optional<Named> read_source(YamlReader& r, const Node& n, const std::string& path) {
  auto s = r.string(n, path);
  if (!s) return std::nullopt;
  if (parse_ip(*s)) return Named{*s, YamlReader::pos(n), path};
  if (looks_numeric(*s)) {
    r.error(n, path, fmt::format("'{}' is not a valid IP address", *s));
    return std::nullopt;
  }
  const bool iface_ok = !s->empty() && s->size() <= 15 && s->find_first_of("/ \t:") == std::string::npos;
  if (!iface_ok) {
    r.error(n, path, fmt::format("'{}' is neither an IP address nor an interface name (1-15 characters, no '/', "
                                 "':' or spaces)", *s));
    return std::nullopt;
  }
  return Named{*s, YamlReader::pos(n), path};
}

void read_defaults(YamlReader& r, const Node& node, Defaults& d) {
  const std::string path = "defaults";
  auto m = r.mapping(node, path, keys::defaults);
  if (!m) return;
  if (auto n = m->get("address_family")) {
    if (auto f = r.address_family(*n, join_path(path, "address_family"))) d.address_family = *f;
  }
  if (auto n = m->get("source")) d.source = read_source(r, *n, join_path(path, "source"));
  set_uint(r, *m, "interval_s", path, d.schedule.interval_s, 1, 86'400);
  set_uint(r, *m, "confirm", path, d.schedule.confirm, 1, 100);
  set_uint(r, *m, "clear", path, d.schedule.clear, 1, 100);
  set_uint(r, *m, "timeout_ms", path, d.probe.timeout_ms, 1, 600'000);
  set_uint(r, *m, "retries", path, d.probe.retries, 0, 10);
  set_uint(r, *m, "concurrency", path, d.probe.concurrency, 1, 100'000);
  set_uint(r, *m, "per_host_concurrency", path, d.probe.per_host_concurrency, 1, 10'000);
  set_uint(r, *m, "max_rate", path, d.probe.max_rate, 0, 10'000'000);
  set_uint(r, *m, "icmp_ratelimit_ms", path, d.probe.icmp_ratelimit_ms, 0, 60'000);
  set_uint(r, *m, "echoes", path, d.probe.echoes, 1, kMaxEchoes);
  if (auto n = m->get("timing")) {
    if (auto t = r.timing(*n, join_path(path, "timing"))) d.probe.timing = *t;
  }
  if (auto n = m->get("severity")) {
    if (auto s = r.severity(*n, join_path(path, "severity"))) d.severity = *s;
  }
}

void read_daemon(YamlReader& r, const Node& node, DaemonSettings& d) {
  const std::string path = "daemon";
  auto m = r.mapping(node, path, keys::daemon);
  if (!m) return;
  if (auto n = m->get("state_file")) {
    if (auto s = r.string(*n, join_path(path, "state_file"))) {
      if (s->empty()) r.error(*n, join_path(path, "state_file"), "is empty; leave the key out for no state file");
      else d.state_file = *s;
    }
  }
  if (auto n = m->get("metrics_listen")) {
    if (auto s = r.string(*n, join_path(path, "metrics_listen"))) {
      // The address itself is checked where it is bound; here only its shape. Port 0 picks a free port.
      const auto colon = s->rfind(':');
      const bool port_ok = colon != std::string::npos && colon > 0 &&
                           (s->substr(colon + 1) == "0" || parse_port(s->substr(colon + 1)).has_value());
      if (*s == "off" || port_ok) {
        d.metrics_listen = *s;
      } else {
        r.error(*n, join_path(path, "metrics_listen"), fmt::format("'{}' is not ADDRESS:PORT, [IPV6]:PORT or off", *s));
      }
    }
  }
  set_uint(r, *m, "summary_interval_s", path, d.summary_interval_s, 1, 86'400);
}

// `vantage:` (path "vantage") or one entry of `vantages:`, which may also name a `source`.
void read_vantage(YamlReader& r, const Node& node, const std::string& path, Vantage& v,
                  std::optional<Named>* source = nullptr) {
  auto m = source != nullptr ? r.mapping(node, path, keys::named_vantage) : r.mapping(node, path, keys::vantage);
  if (!m) return;
  if (auto n = m->get("host")) {
    const auto hpath = join_path(path, "host");
    if (auto s = r.string(*n, hpath)) v.host = Named{*s, YamlReader::pos(*n), hpath};
  }
  if (auto n = m->get("roles")) v.roles = named_list(r, *n, join_path(path, "roles"));
  if (source != nullptr) {
    if (auto n = m->get("source")) *source = read_source(r, *n, join_path(path, "source"));
  }
  if (!v.host && v.roles.empty()) r.error(node, path, "needs `host` (a host of `hosts`) or `roles`, or both");
}

// A vantage's name goes into metric labels, journal fields and PORTDRIFT_VANTAGE: plain characters only.
bool vantage_name_ok(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.';
  });
}

void read_vantages(YamlReader& r, const Node& node, Topology& t) {
  auto m = r.any_mapping(node, "vantages");
  if (!m) return;
  t.vantages_pos = YamlReader::pos(node);
  if (m->entries().empty()) r.error(node, "vantages", "is empty; name at least one vantage, or leave the key out");
  for (const auto& e : m->entries()) {
    const std::string path = join_path("vantages", e.key);
    if (!vantage_name_ok(e.key)) {
      r.error(e.key_node, path, fmt::format("'{}': a vantage name is 1-64 letters, digits, '-', '_' or '.'", e.key));
      continue;
    }
    NamedVantage v;
    v.name = Named{e.key, YamlReader::pos(e.key_node), path};
    read_vantage(r, e.value, path, v.vantage, &v.source);
    t.vantages.push_back(std::move(v));
  }
}

std::optional<Silence> read_silence(YamlReader& r, const Node& n, const std::string& path) {
  if (auto s = r.string(n, path)) {
    if (auto v = parse_silence(*s)) return v;
    r.error(n, path, fmt::format("unknown value '{}' (expected one of: warning, critical, ok)", *s));
  }
  return std::nullopt;
}

std::optional<Named> read_payload(YamlReader& r, const Node& n, const std::string& path) {
  if (auto s = r.string(n, path)) return Named{*s, YamlReader::pos(n), path};
  return std::nullopt;
}

std::optional<std::uint32_t> read_echoes(YamlReader& r, const Node& n, const std::string& path) {
  if (auto v = r.integer(n, path, 1, kMaxEchoes)) return static_cast<std::uint32_t>(*v);
  return std::nullopt;
}

void read_flows(YamlReader& r, const Node& node, std::vector<FlowSetting>& flows, const std::string& at = "flows") {
  auto m = r.any_mapping(node, at);
  if (!m) return;
  for (const auto& e : m->entries()) {
    const std::string path = join_path(at, e.key);
    FlowSetting f;
    f.id = Named{e.key, YamlReader::pos(e.key_node), path};
    auto fm = r.mapping(e.value, path, keys::flow);
    if (!fm) continue;
    if (auto n = fm->get("severity")) f.severity = r.severity(*n, join_path(path, "severity"));
    if (auto n = fm->get("expect")) f.expect = r.expect(*n, join_path(path, "expect"));
    if (auto n = fm->get("enabled")) {
      if (auto b = r.boolean(*n, join_path(path, "enabled"))) f.enabled = *b;
    }
    if (auto n = fm->get("silence")) f.silence = read_silence(r, *n, join_path(path, "silence"));
    if (auto n = fm->get("payload")) f.payload = read_payload(r, *n, join_path(path, "payload"));
    if (auto n = fm->get("echoes")) f.echoes = read_echoes(r, *n, join_path(path, "echoes"));
    flows.push_back(std::move(f));
  }
}

std::string checks_path(std::string_view host_path) { return join_path(host_path, "checks"); }

void read_check(YamlReader& r, const Node& node, std::size_t index, const std::string& path,
                std::vector<ExplicitCheck>& out) {
  auto m = r.mapping(node, path, keys::check);
  if (!m) return;
  ExplicitCheck c;
  c.index = static_cast<std::uint32_t>(index);
  c.pos = YamlReader::pos(node);
  bool ok = true;
  if (auto n = m->get("protocol")) {
    if (auto p = r.protocol(*n, join_path(path, "protocol"))) {
      c.protocol = *p;
    } else {
      ok = false;
    }
  } else {
    r.error(node, join_path(path, "protocol"), "missing (tcp, udp or icmp)");
    ok = false;
  }
  if (auto n = m->get("port")) {
    if (auto p = r.ports(*n, join_path(path, "port"))) {
      c.ports = std::move(*p);
    } else {
      ok = false;
    }
  } else if (c.protocol != Protocol::icmp) {
    r.error(node, join_path(path, "port"), "missing (a port 1-65535, a list or a range)");
    ok = false;
  }
  const bool icmp = c.protocol == Protocol::icmp;
  if (icmp) c.expect = Expect::reachable;
  if (auto n = m->get("port"); n && icmp && ok) {
    r.error(*n, join_path(path, "port"), "an icmp check has no port (it sends echo requests to the host)");
    ok = false;
  }
  if (auto n = m->get("expect")) {
    if (auto e = r.expect(*n, join_path(path, "expect"))) {
      const bool host_expect = *e == Expect::reachable || *e == Expect::unreachable;
      if (icmp && !host_expect) {
        r.error(*n, join_path(path, "expect"), fmt::format("'{}' is for ports; an icmp check expects reachable or "
                                                           "unreachable", to_string(*e)));
        ok = false;
      } else if (!icmp && host_expect) {
        r.error(*n, join_path(path, "expect"), fmt::format("'{}' is for icmp checks; a {} port expects open, closed, "
                                                           "filtered or blocked", to_string(*e), to_string(c.protocol)));
        ok = false;
      } else {
        c.expect = *e;
      }
    } else {
      ok = false;
    }
  }
  // Keys that only mean something for one protocol are errors elsewhere, not silently ignored.
  auto only_for = [&](std::string_view key, Protocol p) {
    auto n = m->get(key);
    if (n && c.protocol != p) {
      r.error(*n, join_path(path, key), fmt::format("only {} checks take `{}`", to_string(p), key));
      ok = false;
    }
    return n && c.protocol == p ? n : std::nullopt;
  };
  if (auto n = only_for("silence", Protocol::udp)) c.silence = read_silence(r, *n, join_path(path, "silence"));
  if (auto n = only_for("payload", Protocol::udp)) {
    if (auto p = read_payload(r, *n, join_path(path, "payload"))) c.payload = std::make_shared<const Named>(std::move(*p));
  }
  if (auto n = only_for("echoes", Protocol::icmp)) c.echoes = read_echoes(r, *n, join_path(path, "echoes"));
  if (auto n = m->get("severity")) c.severity = r.severity(*n, join_path(path, "severity"));
  if (auto n = m->get("name")) {
    if (auto s = r.string(*n, join_path(path, "name"))) c.name = *s;
  }
  if (ok) out.push_back(std::move(c));
}

void read_overrides(YamlReader& r, const Node& node, const std::string& path, Host& h) {
  auto m = r.any_mapping(node, path);
  if (!m) return;
  for (const auto& e : m->entries()) {
    const std::string kpath = join_path(path, e.key);
    const auto from = parse_port(e.key);
    if (!from) {
      r.error(e.key_node, kpath, "the key must be the documented port (1-65535) being overridden");
      continue;
    }
    auto to = r.integer(e.value, kpath, 1, 65535);
    if (!to) continue;
    h.port_overrides.push_back(PortOverride{*from, static_cast<std::uint16_t>(*to), YamlReader::pos(e.key_node), kpath});
  }
}

// What hosts and groups share: roles, overrides, severity, interval, ICMP rate limit, address family,
// source and explicit checks.
void read_host_settings(YamlReader& r, const MapView& m, const std::string& path, Host& h) {
  if (auto n = m.get("roles")) h.roles = named_list(r, *n, join_path(path, "roles"));
  if (auto n = m.get("port_overrides")) read_overrides(r, *n, join_path(path, "port_overrides"), h);
  if (auto n = m.get("severity")) h.severity = r.severity(*n, join_path(path, "severity"));
  if (auto n = m.get("interval_s")) {
    if (auto v = r.integer(*n, join_path(path, "interval_s"), 1, 86'400)) h.interval_s = static_cast<std::uint32_t>(*v);
  }
  if (auto n = m.get("icmp_ratelimit_ms")) {
    if (auto v = r.integer(*n, join_path(path, "icmp_ratelimit_ms"), 0, 60'000)) {
      h.icmp_ratelimit_ms = static_cast<std::uint32_t>(*v);
    }
  }
  if (auto n = m.get("address_family")) h.address_family = r.address_family(*n, join_path(path, "address_family"));
  if (auto n = m.get("source")) h.source = read_source(r, *n, join_path(path, "source"));
  if (auto n = m.get("checks")) {
    const std::string cpath = checks_path(path);
    if (!n->IsSequence()) {
      r.error(*n, cpath, "expected a list of checks");
    } else {
      h.checks.reserve(n->size());
      std::size_t i = 0;
      for (const auto& c : *n) {
        read_check(r, c, i, index_path(cpath, i), h.checks);
        ++i;
      }
    }
  }
}

// The addresses one topology may name (limits.max_addresses), counted as entries are read.
class AddressBudget {
 public:
  explicit AddressBudget(std::uint64_t cap) : cap_(cap) {}
  [[nodiscard]] std::uint64_t left() const noexcept { return exceeded_ ? 0 : cap_ - used_; }
  [[nodiscard]] std::uint64_t cap() const noexcept { return cap_; }
  // Takes `n` addresses for the entry at `pos`; false (with one diagnostic, for the first entry over) if they do not fit.
  bool take(YamlReader& r, std::uint64_t n, SourcePos pos, std::string_view path, std::string_view what) {
    if (exceeded_) return false;
    if (n > cap_ - used_) {
      exceeded_ = true;
      const std::string count = n == UINT64_MAX ? "more than 2^64 addresses" : fmt::format("{} address{}", n, n == 1 ? "" : "es");
      if (n > cap_) {
        r.error(pos, path, fmt::format("{} names {}, over the limit of {} (limits.max_addresses) on its own; nothing "
                                       "from here on is expanded", what, count, cap_));
      } else {
        r.error(pos, path, fmt::format("{} names {}, which would bring the topology to {} addresses, over the limit of "
                                       "{} (limits.max_addresses); nothing from here on is expanded",
                                       what, count, used_ + n, cap_));
      }
      return false;
    }
    used_ += n;
    return true;
  }

 private:
  std::uint64_t cap_;
  std::uint64_t used_ = 0;
  bool exceeded_ = false;
};

void check_host_address(YamlReader& r, const Named& a) {
  if (a.value.empty()) {
    r.error(a.pos, a.key_path, "address is empty");
    return;
  }
  std::string why;
  const auto m = parse_member(a.value, why);
  if (m && (m->kind == MemberSpec::Kind::block || m->kind == MemberSpec::Kind::range)) {
    r.error(a.pos, a.key_path,
            fmt::format("'{}' is a block or range; a host has addresses, a group's `members` take blocks", a.value));
  } else if (!m && looks_numeric(a.value)) {
    r.error(a.pos, a.key_path, why);
  }
}

void read_host(YamlReader& r, const Node& node, const std::string& path, std::vector<Host>& hosts,
               AddressBudget& budget) {
  auto m = r.mapping(node, path, keys::host);
  if (!m) return;
  Host h;
  h.pos = YamlReader::pos(node);
  h.key_path = path;
  if (auto n = m->get("name")) {
    if (auto s = r.string(*n, join_path(path, "name"))) h.name = *s;
  } else {
    r.error(node, join_path(path, "name"), "missing: every host needs a name");
  }
  auto address = m->get("address");
  auto addresses = m->get("addresses");
  if (address && addresses) {
    r.error(*addresses, join_path(path, "addresses"), "give either `address` or `addresses`, not both");
  }
  if (address) h.addresses = named_list(r, *address, join_path(path, "address"));
  if (addresses) {
    for (auto& a : named_list(r, *addresses, join_path(path, "addresses"))) h.addresses.push_back(std::move(a));
  }
  if (h.addresses.empty() && !address && !addresses) {
    r.error(node, join_path(path, "address"), "missing: every host needs an address (IPv4, IPv6 or DNS name)");
  }
  for (const auto& a : h.addresses) check_host_address(r, a);
  if (!h.addresses.empty() && !budget.take(r, h.addresses.size(), h.pos, path, fmt::format("host '{}'", h.name))) {
    return;
  }
  read_host_settings(r, *m, path, h);
  if (!m->get("roles") && !m->get("checks") && !h.name.empty()) {
    r.error(node, path, fmt::format("host '{}' has neither roles nor checks: nothing would be probed", h.name));
  }
  hosts.push_back(std::move(h));
}

// Rows whose `group` cell names another group: that group must read the same file.
struct ForeignRow {
  std::string file;     // the inventory path as opened
  std::string group;    // the cell
  SourcePos pos;
};

void read_inventory(YamlReader& r, const Named& key, const std::string& group_name, AddressBudget& budget,
                    std::vector<ForeignRow>& foreign, Group& g) {
  if (key.value.empty()) {
    r.error(key.pos, key.key_path, "is empty; give the path of a CSV or list file");
    return;
  }
  std::filesystem::path p(key.value);
  if (p.is_relative()) p = std::filesystem::path(r.file()).parent_path() / p;
  Inventory inv{key, p.string(), {}};
  std::string text;
  std::string why;
  if (!read_inventory_text(inv.path, text, why)) {
    r.error(key.pos, key.key_path, why);
    return;
  }
  Diagnostics file_diagnostics;
  auto entries = parse_inventory(text, inv.path, is_csv_path(inv.path), budget.left(), budget.cap(), file_diagnostics);
  // An export that came out empty must not validate as a group with no members.
  if (entries.empty() && file_diagnostics.empty()) {
    r.error(key.pos, key.key_path, fmt::format("inventory '{}' lists no hosts", inv.path));
  }
  r.append(std::move(file_diagnostics));
  if (!budget.take(r, entries.size(), key.pos, key.key_path, fmt::format("inventory '{}'", key.value))) return;
  inv.rows.reserve(entries.size());
  for (auto& e : entries) {
    if (!e.group.empty() && e.group != group_name) {
      foreign.push_back(ForeignRow{inv.path, std::move(e.group), e.group_pos});
      continue;
    }
    inv.rows.push_back(std::move(e.row));
  }
  g.inventories.push_back(std::move(inv));
}

void read_group(YamlReader& r, const Node& node, const std::string& path, std::vector<Group>& groups,
                AddressBudget& budget, std::vector<ForeignRow>& foreign) {
  auto m = r.mapping(node, path, keys::group);
  if (!m) return;
  Group g;
  Host& h = g.settings;
  h.pos = YamlReader::pos(node);
  h.key_path = path;
  if (auto n = m->get("name")) {
    if (auto s = r.string(*n, join_path(path, "name"))) {
      // The name prefixes its addresses' host names (`agents-lan/198.18.4.17`).
      if (s->empty() || s->find_first_of("/ \t") != std::string::npos) {
        r.error(*n, join_path(path, "name"), fmt::format("'{}': a group name is not empty and has no '/' or spaces", *s));
      } else {
        h.name = *s;
      }
    }
  } else {
    r.error(node, join_path(path, "name"), "missing: every group needs a name");
  }
  if (auto n = m->get("members")) {
    const std::string mpath = join_path(path, "members");
    for (auto& item : named_list(r, *n, mpath)) {
      std::string why;
      auto spec = parse_member(item.value, why);
      if (!spec) {
        r.error(item.pos, item.key_path, why);
        continue;
      }
      // A block is counted, never expanded, here: a /8 or a /64 costs two numbers and one diagnostic.
      const auto count = span_size(spec->first, spec->last);
      if (!budget.take(r, spec->kind == MemberSpec::Kind::name ? 1 : count, item.pos, item.key_path,
                       fmt::format("'{}'", item.value))) {
        continue;
      }
      g.members.push_back(Member{*spec, std::move(item)});
    }
  }
  if (auto n = m->get("inventory")) {
    for (const auto& key : named_list(r, *n, join_path(path, "inventory"))) {
      read_inventory(r, key, h.name, budget, foreign, g);
    }
  }
  if (!m->get("members") && !m->get("inventory")) {
    r.error(node, join_path(path, "members"), "missing: a group needs `members`, an `inventory` file, or both");
  }
  read_host_settings(r, *m, path, h);
  if (auto n = m->get("absent")) {
    if (auto a = r.absent(*n, join_path(path, "absent"))) g.absent = *a;
  }
  if (auto n = m->get("flows")) read_flows(r, *n, g.flows, join_path(path, "flows"));
  if (!m->get("roles") && !m->get("checks") && !h.name.empty()) {
    r.error(node, path, fmt::format("group '{}' has neither roles nor checks: nothing would be probed", h.name));
  }
  groups.push_back(std::move(g));
}

void read_limits(YamlReader& r, const Node& node, Limits& l) {
  auto m = r.mapping(node, "limits", keys::limits);
  if (!m) return;
  // Up to 2^24: a plan of that many addresses is already gigabytes of checks.
  if (auto n = m->get("max_addresses")) {
    if (auto v = r.integer(*n, "limits.max_addresses", 1, 16'777'216)) l.max_addresses = static_cast<std::uint64_t>(*v);
  }
}

void read_root(YamlReader& r, const Node& root, Topology& t) {
  auto m = r.mapping(root, "", keys::root);
  if (!m) return;
  if (auto n = m->get("version")) r.integer(*n, "version", 1, 1);
  if (auto n = m->get("products")) t.products = named_list(r, *n, "products");
  if (auto n = m->get("vantage")) read_vantage(r, *n, "vantage", t.vantage);
  if (auto n = m->get("vantages")) read_vantages(r, *n, t);
  if (auto n = m->get("defaults")) read_defaults(r, *n, t.defaults);
  if (auto n = m->get("daemon")) read_daemon(r, *n, t.daemon);
  if (auto n = m->get("flows")) read_flows(r, *n, t.flows);
  if (auto n = m->get("limits")) read_limits(r, *n, t.limits);
  AddressBudget budget(t.limits.max_addresses);
  if (auto n = m->get("hosts")) {
    if (!n->IsSequence() || n->size() == 0) {
      r.error(*n, "hosts", "expected a non-empty list of hosts");
    } else {
      t.hosts.reserve(n->size());
      std::size_t i = 0;
      for (const auto& h : *n) read_host(r, h, index_path("hosts", i++), t.hosts, budget);
    }
  }
  std::vector<ForeignRow> foreign;
  if (auto n = m->get("groups")) {
    if (!n->IsSequence() || n->size() == 0) {
      r.error(*n, "groups", "expected a non-empty list of groups");
    } else {
      t.groups.reserve(n->size());
      std::size_t i = 0;
      for (const auto& g : *n) read_group(r, g, index_path("groups", i++), t.groups, budget, foreign);
    }
  }
  if (!m->get("hosts") && !m->get("groups")) {
    r.error(root, "hosts", "missing: the topology needs a list of `hosts`, of `groups`, or both");
  }
  std::unordered_map<std::string, const Host*> by_name;
  for (const auto& h : t.hosts) {
    if (h.name.empty()) continue;
    auto [it, fresh] = by_name.emplace(h.name, &h);
    if (!fresh) {
      r.error(h.pos, join_path(h.key_path, "name"),
              fmt::format("duplicate host name '{}' (first at line {})", h.name, it->second->pos.line));
    }
  }
  std::unordered_map<std::string_view, const Group*> groups_by_name;
  for (const auto& g : t.groups) {
    if (g.settings.name.empty()) continue;
    auto [it, fresh] = groups_by_name.emplace(g.settings.name, &g);
    if (!fresh) {
      r.error(g.settings.pos, join_path(g.settings.key_path, "name"),
              fmt::format("duplicate group name '{}' (first at line {})", g.settings.name, it->second->settings.pos.line));
    }
  }
  // A row for another group is fine when that group reads the same file; otherwise it would be lost.
  std::set<std::pair<std::string_view, int>> reported;  // (file, line): once, however many groups read the file
  for (const auto& f : foreign) {
    if (!reported.emplace(f.file, f.pos.line).second) continue;
    const auto it = groups_by_name.find(f.group);
    const bool read_there = it != groups_by_name.end() &&
                            std::any_of(it->second->inventories.begin(), it->second->inventories.end(),
                                        [&](const Inventory& inv) { return inv.path == f.file; });
    if (!read_there) {
      r.append({Diagnostic{f.file, f.pos, "group",
                           fmt::format("'{}' is not a group that reads this file; the row would be probed by no one",
                                       f.group)}});
    }
  }
}

}  // namespace

std::string key_path(const Host& host, const ExplicitCheck& check) {
  return index_path(checks_path(host.key_path), check.index);
}

TopologyResult parse_topology(std::string_view text, const std::string& file) {
  TopologyResult result;
  result.topology.file = file;
  YamlReader r(file, result.diagnostics);
  auto root = r.load_text(text);
  if (root) read_root(r, *root, result.topology);
  return result;
}

TopologyResult load_topology(const std::string& path) {
  TopologyResult result;
  result.topology.file = path;
  YamlReader r(path, result.diagnostics);
  auto root = r.load_file(path);
  if (root) read_root(r, *root, result.topology);
  return result;
}

}  // namespace portdrift::config
