// `portdrift policy --check-against FILE`: an nftables ruleset (`nft -j list
// ruleset`) judged against the policy's terms without probing. A small
// evaluator walks the input hook's base chains (jumps, gotos, returns,
// verdicts, chain policies) for one made-up packet at a time: every base
// chain must accept it for it to count as allowed, as in the kernel.
// Expressions it does not know never match, and are listed in the notes.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "portdrift/config/addresses.hpp"
#include "portdrift/policy/policy.hpp"

namespace portdrift::policy {
namespace {

using json = nlohmann::json;
using config::IpAddress;

// Documentation addresses (RFC 5737, RFC 3849): never in a topology, they stand for "anywhere".
constexpr std::string_view kAnywhereV4 = "203.0.113.7";
constexpr std::string_view kAnywhereV6 = "2001:db8::7";
// A port no catalog flow uses, to see whether a ruleset lets in what nobody documents.
constexpr std::uint16_t kUndocumentedSample = 9;

struct Packet {
  IpAddress saddr;
  IpAddress daddr;
  Protocol protocol = Protocol::tcp;
  std::uint16_t dport = 0;
  std::uint16_t sport = 40000;
  [[nodiscard]] bool v6() const noexcept { return daddr.v6; }
};

enum class Verdict : std::uint8_t { none, accept, drop, ret };

struct Chain {
  std::string hook;
  std::string policy;
  int prio = 0;
  std::vector<const json*> rules;
};

using ChainKey = std::tuple<std::string, std::string, std::string>;  // family, table, chain

class Evaluator {
 public:
  using PortSet = std::set<std::tuple<Protocol, std::uint16_t, std::uint16_t>>;  // protocol, first, last

  explicit Evaluator(const json& ruleset, std::vector<std::string>& notes) : notes_(notes) {
    const auto items = ruleset.find("nftables");
    if (items == ruleset.end() || !items->is_array()) {
      unknown("the document has no `nftables` array (is it `nft -j list ruleset` output?)");
      return;
    }
    for (const auto& item : *items) {
      if (const auto c = item.find("chain"); c != item.end()) {
        Chain ch;
        ch.hook = c->value("hook", "");
        ch.policy = c->value("policy", "accept");
        ch.prio = c->contains("prio") && c->at("prio").is_number_integer() ? c->at("prio").get<int>() : 0;
        chains_[key(*c, "name")] = std::move(ch);
      }
    }
    for (const auto& item : *items) {
      if (const auto r = item.find("rule"); r != item.end()) {
        if (auto it = chains_.find(key(*r, "chain")); it != chains_.end() && r->contains("expr")) {
          it->second.rules.push_back(&r->at("expr"));
        }
      }
    }
  }

  // Allowed: every input base chain of a matching family accepts it.
  bool allowed(const Packet& p) {
    std::vector<std::pair<int, const ChainKey*>> bases;
    for (const auto& [k, c] : chains_) {
      const auto& family = std::get<0>(k);
      if (c.hook != "input") continue;
      if (family == "inet" || (family == "ip" && !p.v6()) || (family == "ip6" && p.v6())) bases.emplace_back(c.prio, &k);
    }
    std::sort(bases.begin(), bases.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [prio, k] : bases) {
      const auto v = run(*k, p, 0);
      if (v == Verdict::drop) return false;
      if (v != Verdict::accept && chains_.at(*k).policy == "drop") return false;
    }
    return true;
  }

  // Every (protocol, destination port range) some accepting rule names.
  PortSet accepted_ports() const {
    PortSet out;
    for (const auto& [k, c] : chains_) {
      for (const auto* expr : c.rules) {
        bool accepts = false;
        for (const auto& e : *expr) accepts = accepts || e.contains("accept");
        if (!accepts) continue;
        for (const auto& e : *expr) {
          const auto m = e.find("match");
          if (m == e.end()) continue;
          const auto& left = m->at("left");
          if (!left.contains("payload")) continue;
          const auto proto = parse_protocol(left.at("payload").value("protocol", ""));
          if (!proto || left.at("payload").value("field", "") != "dport") continue;
          collect_ports(*proto, m->at("right"), out);
        }
      }
    }
    return out;
  }

 private:
  static ChainKey key(const json& o, const char* name_key) {
    return {o.value("family", ""), o.value("table", ""), o.value(name_key, "")};
  }

  static void collect_ports(Protocol proto, const json& v, PortSet& out) {
    if (v.is_number_integer()) {
      const auto p = v.get<std::uint16_t>();
      out.emplace(proto, p, p);
    } else if (v.is_object() && v.contains("range")) {
      out.emplace(proto, v.at("range").at(0).get<std::uint16_t>(), v.at("range").at(1).get<std::uint16_t>());
    } else if (v.is_object() && v.contains("set")) {
      for (const auto& x : v.at("set")) collect_ports(proto, x, out);
    }
  }

  void unknown(std::string what) {
    if (std::find(notes_.begin(), notes_.end(), what) == notes_.end()) notes_.push_back(std::move(what));
  }

  Verdict run(const ChainKey& k, const Packet& p, int depth) {
    const auto it = chains_.find(k);
    if (it == chains_.end() || depth > 16) return Verdict::none;
    for (const auto* expr : it->second.rules) {
      bool matched = true;
      for (const auto& e : *expr) {
        if (e.contains("match")) {
          if (!match(e.at("match"), p)) {
            matched = false;
            break;
          }
        } else if (e.contains("accept")) {
          return Verdict::accept;
        } else if (e.contains("drop") || e.contains("reject")) {
          return Verdict::drop;
        } else if (e.contains("return")) {
          return Verdict::ret;
        } else if (e.contains("jump") || e.contains("goto")) {
          const bool jump = e.contains("jump");
          const auto target = (jump ? e.at("jump") : e.at("goto")).value("target", "");
          const auto v = run({std::get<0>(k), std::get<1>(k), target}, p, depth + 1);
          if (v == Verdict::accept || v == Verdict::drop) return v;
          if (!jump) return Verdict::ret;
        } else if (e.contains("counter") || e.contains("log") || e.contains("comment")) {
          // no effect on the verdict
        } else {
          unknown(fmt::format("statement {} (its rule is skipped)", e.dump()));
          matched = false;
          break;
        }
      }
      (void)matched;
    }
    return Verdict::none;
  }

  static bool address_in(const IpAddress& a, const json& v) {
    if (v.is_string()) {
      const auto ip = config::parse_ip(v.get<std::string>());
      return ip && *ip == a;
    }
    if (v.is_object() && v.contains("prefix")) {
      const auto net = config::parse_ip(v.at("prefix").value("addr", ""));
      const int len = v.at("prefix").value("len", 0);
      if (!net || net->v6 != a.v6 || len < 0 || len > (a.v6 ? 128 : 32)) return false;
      if (!a.v6) {
        const std::uint64_t mask = len == 0 ? 0 : (0xffffffffULL << (32 - len)) & 0xffffffffULL;
        return (a.lo & mask) == (net->lo & mask);
      }
      const auto mask_of = [](int bits) { return bits <= 0 ? 0ULL : bits >= 64 ? ~0ULL : ~0ULL << (64 - bits); };
      return (a.hi & mask_of(len)) == (net->hi & mask_of(len)) &&
             (a.lo & mask_of(len - 64)) == (net->lo & mask_of(len - 64));
    }
    if (v.is_object() && v.contains("range")) {
      const auto lo = config::parse_ip(v.at("range").at(0).get<std::string>());
      const auto hi = config::parse_ip(v.at("range").at(1).get<std::string>());
      return lo && hi && !(a < *lo) && !(*hi < a);
    }
    if (v.is_object() && v.contains("set")) {
      return std::any_of(v.at("set").begin(), v.at("set").end(), [&](const json& x) { return address_in(a, x); });
    }
    return false;
  }

  static bool number_in(std::uint32_t n, const json& v) {
    if (v.is_number_integer()) return v.get<std::uint32_t>() == n;
    if (v.is_object() && v.contains("range")) {
      return v.at("range").at(0).get<std::uint32_t>() <= n && n <= v.at("range").at(1).get<std::uint32_t>();
    }
    if (v.is_object() && v.contains("set")) {
      return std::any_of(v.at("set").begin(), v.at("set").end(), [&](const json& x) { return number_in(n, x); });
    }
    return false;
  }

  // Words (protocol names, ct states, icmp types) or their numbers.
  static bool word_in(const std::vector<std::string>& words, std::uint32_t number, const json& v) {
    if (v.is_string()) return std::find(words.begin(), words.end(), v.get<std::string>()) != words.end();
    if (v.is_number_integer()) return v.get<std::uint32_t>() == number;
    if (v.is_array()) return std::any_of(v.begin(), v.end(), [&](const json& x) { return word_in(words, number, x); });
    if (v.is_object() && v.contains("set")) return word_in(words, number, v.at("set"));
    return false;
  }

  static std::vector<std::string> l4_names(const Packet& p) {
    switch (p.protocol) {
      case Protocol::tcp: return {"tcp"};
      case Protocol::udp: return {"udp"};
      case Protocol::icmp:
        return p.v6() ? std::vector<std::string>{"ipv6-icmp", "icmpv6"} : std::vector<std::string>{"icmp"};
    }
    return {};
  }
  static std::uint32_t l4_number(const Packet& p) {
    switch (p.protocol) {
      case Protocol::tcp: return 6;
      case Protocol::udp: return 17;
      case Protocol::icmp: return p.v6() ? 58 : 1;
    }
    return 0;
  }

  // nullopt: an expression the evaluator does not know.
  std::optional<bool> test(const json& left, const json& right, const Packet& p) {
    if (left.contains("payload")) {
      const auto proto = left.at("payload").value("protocol", "");
      const auto field = left.at("payload").value("field", "");
      if (proto == "ip" || proto == "ip6") {
        if ((proto == "ip6") != p.v6()) return false;
        if (field == "saddr") return address_in(p.saddr, right);
        if (field == "daddr") return address_in(p.daddr, right);
        if (field == "protocol" || field == "nexthdr") return word_in(l4_names(p), l4_number(p), right);
      } else if (proto == "tcp" || proto == "udp") {
        if (proto != to_string(p.protocol)) return false;
        if (field == "dport") return number_in(p.dport, right);
        if (field == "sport") return number_in(p.sport, right);
      } else if (proto == "icmp" || proto == "icmpv6") {
        if (p.protocol != Protocol::icmp || (proto == "icmpv6") != p.v6()) return false;
        if (field == "type") return word_in({"echo-request"}, p.v6() ? 128U : 8U, right);
      } else if (proto == "th") {
        if (p.protocol == Protocol::icmp) return false;
        if (field == "dport") return number_in(p.dport, right);
        if (field == "sport") return number_in(p.sport, right);
      }
    } else if (left.contains("meta")) {
      const auto k = left.at("meta").value("key", "");
      if (k == "l4proto") return word_in(l4_names(p), l4_number(p), right);
      if (k == "nfproto") return word_in({p.v6() ? "ipv6" : "ipv4"}, p.v6() ? 10U : 2U, right);
      if (k == "iifname" || k == "iif") return word_in({"eth0"}, 2, right);
    } else if (left.contains("ct")) {
      if (left.at("ct").value("key", "") == "state") return word_in({"new"}, 8, right);
    }
    return std::nullopt;
  }

  bool match(const json& m, const Packet& p) {
    const auto op = m.value("op", "==");
    const auto r = test(m.at("left"), m.at("right"), p);
    if (!r) {
      unknown(fmt::format("match {} (treated as no match)", m.dump()));
      return false;
    }
    return op == "!=" ? !*r : *r;
  }

  std::map<ChainKey, Chain> chains_;
  std::vector<std::string>& notes_;
};

// The first address of each block a network stands for (at most a few: samples, not an enumeration).
std::vector<IpAddress> samples(const Policy& policy, const std::string& network, std::size_t at_most) {
  std::vector<IpAddress> out;
  const auto* d = policy.network(network);
  if (d == nullptr) return out;
  for (const auto& c : d->cidrs) {
    if (out.size() >= at_most) break;
    if (const auto ip = config::parse_ip(std::string_view(c).substr(0, c.find('/')))) out.push_back(*ip);
  }
  return out;
}

// A source address of the term's family: from its first source network that has one, else "anywhere".
std::optional<IpAddress> source_for(const Policy& policy, const Term& t, bool v6) {
  if (t.sources.empty()) return config::parse_ip(v6 ? kAnywhereV6 : kAnywhereV4);
  for (const auto& s : t.sources) {
    for (const auto& a : samples(policy, s, 64)) {
      if (a.v6 == v6 && !(s == "LOCALHOST" && t.sources.size() > 1)) return a;
    }
  }
  return std::nullopt;
}

std::vector<std::uint16_t> ports_to_try(const Term& t) {
  std::vector<std::uint16_t> out;
  if (t.protocol == Protocol::icmp) return {0};
  for (const auto& r : t.ports.ranges) {
    out.push_back(r.first);
    if (r.last != r.first && !t.dynamic) out.push_back(r.last);
  }
  return out;
}

// Every port of `r` is accepted by some flow or check term of the filter (nft merges neighbouring ports into ranges).
bool documented_open(const Filter& f, Protocol proto, const PortRange& r) {
  auto open_terms = [&](auto&& pred) {
    return std::any_of(f.terms.begin(), f.terms.end(), [&](const Term& t) {
      return (t.kind == Term::Kind::flow || t.kind == Term::Kind::check) && t.action == Action::accept &&
             t.protocol == proto && pred(t);
    });
  };
  if (open_terms([&](const Term& t) { return t.ports.covers(r); })) return true;
  if (r.size() > 1024) return false;
  for (std::uint32_t p = r.first; p <= r.last; ++p) {
    if (!open_terms([&](const Term& t) { return t.ports.contains(static_cast<std::uint16_t>(p)); })) return false;
  }
  return true;
}

std::string port_text(Protocol p, std::uint16_t first, std::uint16_t last) {
  if (p == Protocol::icmp) return "echo";
  return first == last ? fmt::format("{}", first) : fmt::format("{}-{}", first, last);
}

}  // namespace

RulesetCheck check_against(const Policy& policy, const nlohmann::json& ruleset, std::optional<std::string_view> listener) {
  RulesetCheck out;
  Evaluator ev(ruleset, out.notes);
  const auto candidates = ev.accepted_ports();
  if (listener && policy.filter(*listener) == nullptr) {
    out.notes.push_back(fmt::format("{}: no host or group of the policy has that name; nothing checked", *listener));
  }
  for (const auto& f : policy.filters) {
    if (listener && f.listener != *listener) continue;
    if (f.destination.empty()) {
      out.notes.push_back(fmt::format("{}: no address in the topology, not checked", f.listener));
      continue;
    }
    const auto dests = samples(policy, f.destination, 4);
    std::set<std::string> reported;
    for (const auto& daddr : dests) {
      const auto dtext = config::to_string(daddr);
      // Documented flows and checks: accepted where they should be, denied where they should be.
      for (const auto& t : f.terms) {
        if (t.kind != Term::Kind::flow && t.kind != Term::Kind::check) continue;
        if (t.protocol == Protocol::icmp && ((t.protocols.front() == "icmpv6") != daddr.v6)) continue;
        const auto saddr = source_for(policy, t, daddr.v6);
        if (!saddr) continue;
        for (const auto port : ports_to_try(t)) {
          Packet p{*saddr, daddr, t.protocol, port};
          ++out.evaluated;
          const bool ok = ev.allowed(p);
          const bool want = t.action == Action::accept;
          if (ok == want) continue;
          const auto id = t.kind == Term::Kind::flow ? t.flow_id : "check \"" + t.label + "\"";
          Finding fd{f.listener, dtext, t.protocol, port_text(t.protocol, port, port), id, config::to_string(*saddr)};
          (want ? out.missing : out.exposed).push_back(std::move(fd));
        }
      }
      // Ports some rule accepts (and one nobody uses), from anywhere and from the terms' sources.
      std::vector<IpAddress> sources;
      if (auto a = config::parse_ip(daddr.v6 ? kAnywhereV6 : kAnywhereV4)) sources.push_back(*a);
      for (const auto& t : f.terms) {
        if (auto s = t.sources.empty() ? std::nullopt : source_for(policy, t, daddr.v6)) {
          if (std::find(sources.begin(), sources.end(), *s) == sources.end()) sources.push_back(*s);
        }
      }
      auto tries = candidates;
      tries.emplace(Protocol::tcp, kUndocumentedSample, kUndocumentedSample);
      tries.emplace(Protocol::udp, kUndocumentedSample, kUndocumentedSample);
      for (const auto& [proto, first, last] : tries) {
        if (documented_open(f, proto, PortRange{first, last})) continue;
        for (const auto& s : sources) {
          Packet p{s, daddr, proto, first};
          ++out.evaluated;
          if (!ev.allowed(p)) continue;
          const auto key = fmt::format("{} {}/{}", dtext, to_string(proto), port_text(proto, first, last));
          if (reported.insert(key).second) {
            out.undocumented.push_back(Finding{f.listener, dtext, proto, port_text(proto, first, last),
                                               first == kUndocumentedSample && last == first
                                                   ? "a port no flow uses is let in"
                                                   : "an accepting rule names it",
                                               config::to_string(s)});
          }
          break;
        }
      }
    }
  }
  return out;
}

std::string ruleset_check_text(const RulesetCheck& r) {
  std::string out;
  auto section = [&](std::string_view title, const std::vector<Finding>& list) {
    out += fmt::format("{}: {}\n", title, list.size());
    for (const auto& f : list) {
      out += fmt::format("  {} {} {}/{} from {} [{}]\n", f.host, f.address, to_string(f.protocol), f.ports, f.from,
                         f.what);
    }
  };
  section("documented flows the ruleset does not allow", r.missing);
  section("ports documented blocked that the ruleset allows", r.exposed);
  section("allowed ports no flow documents", r.undocumented);
  for (const auto& n : r.notes) out += fmt::format("note: {}\n", n);
  out += fmt::format("{} packets evaluated, nothing probed\n", r.evaluated);
  return out;
}

}  // namespace portdrift::policy
