#include "example_estate.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "portdrift/verdict/verdict.hpp"

namespace portdrift::testbed {
namespace {

Target target_of(const plan::Check& c) { return {std::string(c.host), std::string(c.target), c.protocol, c.port}; }

// One nft rule matching a target's probes: daddr, protocol and port (or echo requests).
std::string match(const Target& t) {
  const bool v6 = is_ipv6(t.address);
  const std::string daddr = fmt::format("{} daddr {}", v6 ? "ip6" : "ip", t.address);
  if (t.protocol == Protocol::icmp) return fmt::format("{} {} type echo-request", daddr, v6 ? "icmpv6" : "icmp");
  return fmt::format("{} {} dport {}", daddr, to_string(t.protocol), t.port);
}

}  // namespace

std::string to_string(const Target& t) {
  if (t.protocol == Protocol::icmp) return fmt::format("{} {} icmp", t.host, t.address);
  return fmt::format("{} {} {}/{}", t.host, t.address, to_string(t.protocol), t.port);
}

ExampleEstate::ExampleEstate(std::string topology, std::string catalog_dir, std::string pd_listen)
    : topology_(std::move(topology)), catalog_dir_(std::move(catalog_dir)), pd_listen_(std::move(pd_listen)) {}

ExampleEstate::~ExampleEstate() = default;

const plan::Plan& ExampleEstate::plan_of(const std::string& vantage) const { return setups_.at(vantage).plan; }

// 198.18.0.101, .102, ...: one source per vantage, beside the scanner's 198.18.0.1.
std::string ExampleEstate::source_of(const std::string& vantage) const {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == vantage) return fmt::format("198.18.0.{}", 101 + i);
  }
  throw std::runtime_error("no vantage " + vantage);
}

void ExampleEstate::build() {
  auto first = runner::load_setup(topology_, catalog_dir_, {}, runner::Selection{{}, std::nullopt, false});
  if (!first.ok()) throw std::runtime_error(topology_ + ": " + format(first.diagnostics.front()));
  for (const auto& v : first.setup.topology.vantages) names_.push_back(v.name.value);
  if (names_.empty()) names_.emplace_back();
  for (const auto& name : names_) {
    runner::Selection sel;
    sel.vantage = name;
    auto r = runner::load_setup(topology_, catalog_dir_, {}, sel);
    if (!r.ok()) throw std::runtime_error(topology_ + " vantage " + name + ": " + format(r.diagnostics.front()));
    setups_.emplace(name, std::move(r.setup));
  }
  const auto& topology = first.setup.topology;

  bed_ = std::make_unique<Testbed>("examples");
  std::string hosts_file;
  for (const auto& h : topology.hosts) {
    std::vector<std::string> addrs;
    for (const auto& a : h.addresses) {
      if (!on_segment(a.value)) throw std::runtime_error(fmt::format("{}: {} is not on the test segment", h.name, a.value));
      addrs.push_back(a.value);
      hosts_file += fmt::format("{} {}\n", a.value, h.name);
    }
    bed_->add_host(h.name, addrs);
  }
  bed_->build();
  bed_->set_scanner_hosts(hosts_file);

  // The vantages' sources on the scanner's interface (the one holding the scanner's address).
  const auto links = bed_->exec(bed_->scanner(), {"ip", "-o", "-4", "addr", "show"}).out;
  const auto at = links.find(fmt::format(" inet {}/", kScannerV4));
  if (at == std::string::npos) throw std::runtime_error("no scanner address in:\n" + links);
  const auto line_start = links.rfind('\n', at) == std::string::npos ? 0 : links.rfind('\n', at) + 1;
  const auto fields = links.substr(line_start, at - line_start);  // "2: veth0"
  const auto ifname = fields.substr(fields.find(':') + 2);
  for (const auto& name : names_) {
    bed_->exec(bed_->scanner(), {"ip", "addr", "add", fmt::format("{}/{}", source_of(name), kSegmentV4Prefix), "dev",
                                 ifname.substr(0, ifname.find_first_of(" @"))});
  }

  // What listens: every port some vantage expects open.
  std::set<Target> listened;
  std::map<std::string, std::vector<std::string>> endpoints;
  for (const auto& [name, setup] : setups_) {
    for (const auto& c : setup.plan.checks) {
      if (c.expect != Expect::open || c.protocol == Protocol::icmp) continue;
      const auto t = target_of(c);
      if (!listened.insert(t).second) continue;
      endpoints[t.host].push_back((c.protocol == Protocol::udp ? "udp:" : "") + endpoint(t.address, t.port));
    }
  }
  // The firewalls: each vantage's source is dropped (rejected for `closed`) where it must not get through.
  std::map<std::string, std::string> rules;
  for (const auto& [name, setup] : setups_) {
    const auto saddr = fmt::format("ip saddr {}", source_of(name));
    for (const auto& c : setup.plan.checks) {
      const auto t = target_of(c);
      if (c.expect == Expect::open || c.expect == Expect::reachable) continue;
      if (c.expect == Expect::closed) {
        if (listened.contains(t)) {
          rules[t.host] += fmt::format("    {} {} {}\n", saddr, match(t),
                                       c.protocol == Protocol::tcp ? "reject with tcp reset" : "reject");
        }
        continue;
      }
      // blocked, filtered, unreachable: a refusal satisfies `blocked` on a port nothing listens on.
      if (c.expect == Expect::blocked && !listened.contains(t)) continue;
      rules[t.host] += fmt::format("    {} {} drop\n", saddr, match(t));
    }
  }
  for (const auto& [host, text] : rules) {
    bed_->load_nft(host, "table inet pd_perimeter {\n  chain input {\n"
                         "    type filter hook input priority 0; policy accept;\n" +
                             text + "  }\n}\n");
  }
  for (const auto& [host, eps] : endpoints) bed_->listen(host, pd_listen_, eps);
}

std::optional<Target> ExampleEstate::pick_open() const {
  std::optional<Target> best;
  for (const auto& name : names_) {
    for (const auto& c : setups_.at(name).plan.checks) {
      if (c.protocol != Protocol::tcp || c.expect != Expect::open) continue;
      if (c.severity == Severity::critical) return target_of(c);
      if (!best) best = target_of(c);
    }
  }
  return best;
}

std::optional<Target> ExampleEstate::pick_blocked() const {
  std::set<Target> open;
  for (const auto& [name, setup] : setups_) {
    for (const auto& c : setup.plan.checks) {
      if (c.expect == Expect::open) open.insert(target_of(c));
    }
  }
  for (const auto& name : names_) {
    for (const auto& c : setups_.at(name).plan.checks) {
      if (c.protocol != Protocol::tcp || (c.expect != Expect::blocked && c.expect != Expect::closed)) continue;
      if (!open.contains(target_of(c))) return target_of(c);
    }
  }
  return std::nullopt;
}

void ExampleEstate::drop(const Target& t) {
  // Its own table, at a priority before the perimeter's: the port is gone for every vantage.
  bed_->load_nft(t.host, fmt::format("table inet pd_drift_{} {{\n  chain input {{\n"
                                     "    type filter hook input priority -10; policy accept;\n    {} drop\n  }}\n}}\n",
                                     drift_tables_++, match(t)));
  injected_[t] = PortState::filtered;
}

void ExampleEstate::expose(const Target& t) {
  bed_->listen(t.host, pd_listen_, {(t.protocol == Protocol::udp ? "udp:" : "") + endpoint(t.address, t.port)});
  injected_[t] = PortState::open;
}

std::set<Target> ExampleEstate::expected_drifts(const std::string& vantage) const {
  std::set<Target> out;
  for (const auto& c : setups_.at(vantage).plan.checks) {
    const auto it = injected_.find(target_of(c));
    if (it != injected_.end() && !verdict::satisfies(c.expect, it->second)) out.insert(it->first);
  }
  return out;
}

CommandResult ExampleEstate::check(const std::string& portdrift, const std::string& vantage,
                                   const std::vector<std::string>& extra) {
  std::vector<std::string> argv{portdrift, "--check", "-c", topology_, "--catalog-dir", catalog_dir_,
                                "--source", source_of(vantage), "--timeout", "400", "--retries", "0"};
  if (!vantage.empty()) {
    argv.emplace_back("--vantage");
    argv.push_back(vantage);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  return bed_->exec(bed_->scanner(), argv, RunOptions{}.within(std::chrono::seconds(60)).keep_status());
}

}  // namespace portdrift::testbed
