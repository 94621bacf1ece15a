// portdrift-demo: a self-contained demo estate, built for real in network
// namespaces, checked by the real portdrift binary, then torn down.
//
//   portdrift-demo --portdrift PATH [--catalog-dir DIR] [--topology FILE]
//                  [--format text|json] [--verbose] [-- EXTRA PORTDRIFT FLAGS]
//
// Steps: load catalog + topology and build the plan with portdrift's own
// library; make one namespace per topology host (addresses from the
// topology, all in the benchmarking ranges) plus a scanner namespace with no
// default route, joined by a bridge namespace; start pd-listen in each host on
// every TCP and UDP port of every check that expects open (and nft drops for
// checks that expect filtered or an unanswered ping), so the estate matches
// the documents; hosts answer pings by themselves; inject one dropped
// port on the Notification Server and one exposed port on the SEPM, and say
// which; run `ip netns exec SCANNER portdrift --check`, streaming its output;
// tear everything down (also on Ctrl-C) and exit with portdrift's status.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "portdrift/catalog/catalog.hpp"
#include "portdrift/cli/cli.hpp"
#include "portdrift/config/topology.hpp"
#include "portdrift/plan/plan.hpp"
#include "portdrift/runner/setup.hpp"
#include "testbed.hpp"

namespace {

namespace tb = portdrift::testbed;
namespace plan = portdrift::plan;
namespace runner = portdrift::runner;
using Clock = std::chrono::steady_clock;

constexpr int kUnknown = 3;

constexpr std::string_view kUsage = R"(Usage: portdrift-demo --portdrift PATH [--catalog-dir DIR] [--topology FILE]
                      [--format text|json] [--verbose] [-- EXTRA PORTDRIFT FLAGS]

Builds the demo estate (one network namespace per host of the topology, a
scanner namespace with no default route, a bridge), makes every documented
port behave as documented, injects one dropped port and one exposed port,
runs `portdrift --check` from the scanner namespace; when the topology names
`vantages:`, checks from each of them too and prints their `portdrift matrix`;
tears everything down and exits with the first check's exit status. Needs
root, iproute2 and nftables.
)";

struct Args {
  std::string portdrift;
  std::string catalog_dir;
  std::string topology = PORTDRIFT_DEMO_TOPOLOGY;
  std::string format = "text";
  bool verbose = false;
  std::vector<std::string> extra;
};

struct UsageError {
  std::string message;
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError{fmt::format("{} needs a value", flag)};
      return argv[++i];
    };
    if (flag == "--portdrift") a.portdrift = value();
    else if (flag == "--catalog-dir") a.catalog_dir = value();
    else if (flag == "--topology" || flag == "-c") a.topology = value();
    else if (flag == "--format") {
      a.format = value();
      if (a.format != "text" && a.format != "json") throw UsageError{"--format takes text or json"};
    } else if (flag == "--verbose" || flag == "-v") a.verbose = true;
    else if (flag == "--") {
      for (++i; i < argc; ++i) a.extra.emplace_back(argv[i]);
    } else if (flag == "-h" || flag == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      throw UsageError{fmt::format("unknown option '{}'", flag)};
    }
  }
  if (a.portdrift.empty()) throw UsageError{"--portdrift PATH is required (the portdrift binary to run)"};
  if (a.catalog_dir.empty()) a.catalog_dir = portdrift::cli::default_catalog_dir().string();
  return a;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string roles_of(const portdrift::config::Host& h) {
  std::string out;
  for (const auto& r : h.roles) out += (out.empty() ? "" : ",") + r.value;
  return out.empty() ? "-" : out;
}

// The first catalog flow behind a check, and how many more share its port.
std::string ids_of(const plan::Check& c) {
  if (c.catalog_ids.empty()) return "explicit check: " + std::string(c.label);
  if (c.catalog_ids.size() == 1) return c.catalog_ids.front();
  return fmt::format("{} and {} more flows", c.catalog_ids.front(), c.catalog_ids.size() - 1);
}

bool has_role(const portdrift::config::Host& h, std::string_view role) {
  for (const auto& r : h.roles) {
    if (r.value == role) return true;
  }
  return false;
}

// The check whose port the demo drops: an expected-open, critical port of the Notification Server, 443 if it has one.
const plan::Check* pick_dropped(const plan::Plan& p, const portdrift::config::Topology& t) {
  const plan::Check* best = nullptr;
  auto rank = [&](const plan::Check& c) {
    int r = 0;
    if (has_role(t.hosts[c.host_index], "notification-server")) r += 8;
    if (c.severity == portdrift::Severity::critical) r += 4;
    if (c.port == 443) r += 2;
    if (!c.catalog_ids.empty()) r += 1;
    return r;
  };
  for (const auto& c : p.checks) {
    if (c.protocol != portdrift::Protocol::tcp || c.expect != portdrift::Expect::open) continue;
    if (best == nullptr || rank(c) > rank(*best)) best = &c;
  }
  return best;
}

// The check the demo exposes: a port that must be blocked on the SEPM, from the catalog if it has one.
const plan::Check* pick_exposed(const plan::Plan& p, const portdrift::config::Topology& t) {
  const plan::Check* best = nullptr;
  auto rank = [&](const plan::Check& c) {
    int r = 0;
    if (has_role(t.hosts[c.host_index], "sepm")) r += 4;
    if (!c.catalog_ids.empty()) r += 2;
    if (c.severity == portdrift::Severity::critical) r += 1;
    return r;
  };
  for (const auto& c : p.checks) {
    if (c.protocol != portdrift::Protocol::tcp || c.expect != portdrift::Expect::blocked) continue;
    if (best == nullptr || rank(c) > rank(*best)) best = &c;
  }
  return best;
}

// An nft rule (inside `chain input`) that silently drops one check's probes.
std::string nft_drop_rule(const plan::Check& c) {
  const bool v6 = tb::is_ipv6(c.target);
  const std::string daddr = fmt::format("{} daddr {}", v6 ? "ip6" : "ip", c.target);
  switch (c.protocol) {
    case portdrift::Protocol::tcp: return fmt::format("    {} tcp dport {} drop\n", daddr, c.port);
    case portdrift::Protocol::udp: return fmt::format("    {} udp dport {} drop\n", daddr, c.port);
    case portdrift::Protocol::icmp:
      return fmt::format("    {} {} type echo-request drop\n", daddr, v6 ? "icmpv6" : "icmp");
  }
  return {};
}

std::string ports_text(const std::set<std::uint16_t>& ports) {
  std::string out;
  for (auto p : ports) out += (out.empty() ? "" : ",") + std::to_string(p);
  return out;
}

int run_demo(const Args& a) {
  const auto t0 = Clock::now();
  // In JSON mode stdout belongs to portdrift's document; the story goes to stderr.
  std::ostream& say = a.format == "json" ? std::cerr : std::cout;

  const auto& pre = tb::prerequisites();
  if (!pre.ok) {
    std::cerr << "portdrift-demo: cannot build the estate: " << pre.reason << '\n';
    return kUnknown;
  }
  for (const auto& line : tb::sweep_stale()) say << "cleaned up after an earlier run: " << line << '\n';

  // The same loading the CLI does, so the estate matches what portdrift will plan.
  const auto catalog = portdrift::catalog::load_catalog(a.catalog_dir);
  const auto topology = portdrift::config::load_topology(a.topology);
  portdrift::Diagnostics problems = catalog.diagnostics;
  problems.insert(problems.end(), topology.diagnostics.begin(), topology.diagnostics.end());
  plan::PlanResult planned;
  if (problems.empty()) {
    planned = plan::build_plan(topology.topology, catalog.catalog);
    problems = planned.diagnostics;
  }
  if (!problems.empty()) {
    for (const auto& d : problems) std::cerr << portdrift::format(d) << '\n';
    std::cerr << "portdrift-demo: the topology or catalog has problems; nothing was built\n";
    return kUnknown;
  }
  const auto& t = topology.topology;
  const auto& p = planned.plan;
  for (const auto& h : t.hosts) {
    for (const auto& addr : h.addresses) {
      if (!tb::on_segment(addr.value)) {
        std::cerr << fmt::format(
            "portdrift-demo: host {} address {}: the demo only builds IP literals on its test segment "
            "(198.18.0.0/16 or 2001:2::/64, not 198.18.0.1 or 2001:2::1); nothing was built\n",
            h.name, addr.value);
        return kUnknown;
      }
    }
  }

  const plan::Check* dropped = pick_dropped(p, t);
  const plan::Check* exposed = pick_exposed(p, t);
  if (dropped == nullptr || exposed == nullptr) {
    std::cerr << "portdrift-demo: the plan needs a check that expects open and one that expects blocked "
                 "(add an explicit `expect: blocked` check to the topology)\n";
    return kUnknown;
  }

  say << fmt::format("portdrift demo: {} ({} checks planned from {} catalog flows, vantage roles:", a.topology,
                     p.checks.size(), catalog.catalog.flows.size());
  for (const auto& r : t.vantage.roles) say << ' ' << r.value;
  say << ")\n";

  tb::Testbed bed("demo");
  for (const auto& h : t.hosts) {
    std::vector<std::string> addrs;
    for (const auto& addr : h.addresses) addrs.push_back(addr.value);
    bed.add_host(h.name, addrs);
  }
  bed.build();
  std::string hosts_file;
  for (const auto& h : t.hosts) {
    for (const auto& addr : h.addresses) hosts_file += fmt::format("{} {}\n", addr.value, h.name);
  }
  bed.set_scanner_hosts(hosts_file);

  // What each host must do for the plan to come out clean: listen where a port must be open, drop
  // where it must be filtered or a host must not answer pings. Closed and blocked need nothing: with
  // no listener the kernel refuses.
  std::map<std::uint32_t, std::vector<std::string>> endpoints;  // host index -> [udp:]ADDR:PORT
  std::map<std::uint32_t, std::set<std::uint16_t>> tcp_ports;
  std::map<std::uint32_t, std::set<std::uint16_t>> udp_ports;
  std::map<std::uint32_t, std::string> drops;  // host index -> nft rules
  for (const auto& c : p.checks) {
    using portdrift::Expect;
    using portdrift::Protocol;
    if (c.expect == Expect::open && c.protocol == Protocol::tcp) {
      endpoints[c.host_index].push_back(tb::endpoint(c.target, c.port));
      tcp_ports[c.host_index].insert(c.port);
    } else if (c.expect == Expect::open && c.protocol == Protocol::udp) {
      endpoints[c.host_index].push_back("udp:" + tb::endpoint(c.target, c.port));
      udp_ports[c.host_index].insert(c.port);
    } else if (c.expect == Expect::filtered || c.expect == Expect::unreachable) {
      drops[c.host_index] += nft_drop_rule(c);
    }
  }
  // The named vantages' plans (the NS probes the agents, ...): their open ports listen too.
  std::vector<std::string> named;
  for (const auto& v : t.vantages) {
    named.push_back(v.name.value);
    runner::Selection sel;
    sel.vantage = v.name.value;
    const auto other = runner::load_setup(a.topology, a.catalog_dir, {}, sel);
    if (!other.ok()) {
      for (const auto& d : other.diagnostics) std::cerr << portdrift::format(d) << '\n';
      return kUnknown;
    }
    for (const auto& c : other.setup.plan.checks) {
      if (c.expect != portdrift::Expect::open) continue;
      if (c.protocol == portdrift::Protocol::tcp && tcp_ports[c.host_index].insert(c.port).second) {
        endpoints[c.host_index].push_back(tb::endpoint(c.target, c.port));
      } else if (c.protocol == portdrift::Protocol::udp && udp_ports[c.host_index].insert(c.port).second) {
        endpoints[c.host_index].push_back("udp:" + tb::endpoint(c.target, c.port));
      }
    }
  }
  // The two injected drifts.
  drops[dropped->host_index] += nft_drop_rule(*dropped);
  endpoints[exposed->host_index].push_back(tb::endpoint(exposed->target, exposed->port));

  for (const auto& [hi, rules] : drops) {
    bed.load_nft(t.hosts[hi].name, "table inet portdrift_demo {\n  chain input {\n"
                                   "    type filter hook input priority 0; policy accept;\n" +
                                       rules + "  }\n}\n");
  }
  std::size_t listening = 0;
  for (const auto& [hi, eps] : endpoints) {
    bed.listen(t.hosts[hi].name, PD_LISTEN_PATH, eps);
    listening += eps.size();
  }
  say << fmt::format("estate: {} hosts, 1 scanner namespace (no default route), 1 bridge namespace; "
                     "namespaces {}-*\n",
                     t.hosts.size(), bed.tag());
  for (std::uint32_t hi = 0; hi < t.hosts.size(); ++hi) {
    const auto& h = t.hosts[hi];
    std::string addrs;
    for (const auto& addr : h.addresses) addrs += (addrs.empty() ? "" : ",") + addr.value;
    std::string listens;
    if (!tcp_ports[hi].empty()) listens += "tcp " + ports_text(tcp_ports[hi]);
    if (!udp_ports[hi].empty()) listens += (listens.empty() ? "udp " : "; udp ") + ports_text(udp_ports[hi]);
    say << fmt::format("  {:<8} {:<26} {:<22} {}\n", h.name, addrs, roles_of(h),
                       listens.empty() ? std::string("no documented listener") : "listening on " + listens);
  }
  say << fmt::format("estate: listening on {} ports (port x address); built in {:.2f} s\n", listening,
                     seconds_since(t0));
  say << fmt::format("drift (a) dropped port: {} {} tcp/{} expected open [{}]: nftables in {} now drops it\n",
                     dropped->host, dropped->target, dropped->port, ids_of(*dropped), dropped->host);
  say << fmt::format(
      "drift (b) exposed port: {} {} tcp/{} expected blocked [{}]: a listener now answers on it\n", exposed->host,
      exposed->target, exposed->port, ids_of(*exposed));

  std::vector<std::string> cmd{std::filesystem::absolute(a.portdrift).string(), "--check", "-c", a.topology,
                               "--catalog-dir", a.catalog_dir, "--format", a.format};
  if (a.verbose) cmd.emplace_back("-v");
  cmd.insert(cmd.end(), a.extra.begin(), a.extra.end());
  say << "check: ip netns exec " << bed.scanner() << ' ' << tb::command_line(cmd) << '\n' << std::flush;
  std::cout << std::flush;

  const auto t1 = Clock::now();
  const auto result = bed.exec(bed.scanner(), cmd,
                               tb::RunOptions{}.within(std::chrono::seconds(120)).keep_status().inherit_output());
  const double check_s = seconds_since(t1);

  // Every named vantage's view, merged into one matrix (what a rollout would collect).
  if (!named.empty()) {
    const auto dir = std::filesystem::temp_directory_path() / (bed.tag() + "-results");
    std::filesystem::create_directories(dir);
    std::vector<std::string> merge{std::filesystem::absolute(a.portdrift).string(), "matrix"};
    for (const auto& v : named) {
      const auto file = (dir / (v + ".json")).string();
      std::vector<std::string> vcmd{std::filesystem::absolute(a.portdrift).string(), "--check", "-c", a.topology,
                                    "--catalog-dir", a.catalog_dir, "--format", "json", "--vantage", v};
      const auto r = bed.exec(bed.scanner(), vcmd, tb::RunOptions{}.within(std::chrono::seconds(120)).keep_status());
      std::ofstream(file) << r.out;
      merge.push_back(file);
    }
    say << "matrix: " << tb::command_line(merge) << '\n' << std::flush;
    const auto m = tb::run(merge, tb::RunOptions{}.within(std::chrono::seconds(30)).keep_status());
    say << m.out << m.err << std::flush;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  const auto t2 = Clock::now();
  bed.teardown();
  say << fmt::format("demo: portdrift exited {} after {:.2f} s; estate torn down in {:.2f} s; total {:.2f} s\n",
                     result.exit_code, check_s, seconds_since(t2), seconds_since(t0));
  return result.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  tb::install_signal_cleanup();  // first: Ctrl-C during the build must still clean up
  try {
    return run_demo(parse_args(argc, argv));
  } catch (const UsageError& e) {
    std::cerr << "portdrift-demo: " << e.message << "\n\n" << kUsage;
    return kUnknown;
  } catch (const std::exception& e) {
    std::cerr << "portdrift-demo: " << e.what() << '\n';
    return kUnknown;
  }
}
