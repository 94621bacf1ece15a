// The closed loop of issue 13: the demo estate's topology and the real
// catalog write the firewall policy (`portdrift policy`), the real capirca
// (`aclgen`, Debian's python3-capirca) renders it to nftables, the rules go
// into the target namespaces, and `portdrift --check` from the scanner finds
// every check OK. Then one rendered accept term and one rendered deny term
// are deleted and --check reports exactly those two drifts; `policy
// --check-against` reads the loaded rulesets (`nft -j list ruleset`) and
// finds the same. iptables and windows_advfirewall renderings of the same
// policy must come out of aclgen without errors.
//
// The topology is config/demo-estate.yaml plus the host portdrift runs on
// (`monitor`, the scanner's own addresses, an agent with a SEP client), so
// that the role networks the policy accepts from include the vantage.
// Every service of the plan listens, those that must be blocked too: the
// firewall alone decides, as on a real server.
//
// Targets start with a default-drop inbound chain; loading a rendering
// replaces the namespace's ruleset. Under `--default deny` a deleted deny
// term is caught by the final deny (by design), so the deny term is deleted
// from the SEPM's `--default accept` rendering, where the deny terms alone
// keep the blocked ports blocked; that rendering is proved all-OK first.
//
// Network safety as in netns_test: the scanner namespace has no default
// route, every address is in 198.18.0.0/15 or 2001:2::/48, namespaces and
// processes are ours and cleaned up by the test bed. Without root/ip/nft or
// aclgen the test skips (fails when CI=true).

#include <unistd.h>

#include <cstdio>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "portdrift/policy/policy.hpp"
#include "portdrift/runner/setup.hpp"
#include "testbed.hpp"

namespace {

namespace fs = std::filesystem;
namespace tb = portdrift::testbed;
namespace pol = portdrift::policy;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kPortdrift = PORTDRIFT_PATH;
constexpr const char* kPdListen = PD_LISTEN_PATH;
constexpr const char* kCatalog = PORTDRIFT_CATALOG_DIR;
constexpr const char* kDemoTopology = PORTDRIFT_DEMO_TOPOLOGY;
constexpr std::string_view kMonitor = "monitor";

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The demo estate with the scanner as a host of the topology and the vantage host.
std::string loop_topology() {
  std::string t = slurp(kDemoTopology);
  const std::string vantage = "vantage:\n  roles: [agent, sep-client]\n";
  const auto at = t.find(vantage);
  if (at == std::string::npos) return {};
  t.replace(at, vantage.size(), "vantage:\n  host: monitor\n  roles: [agent, sep-client]\n");
  t += "\n  - name: monitor                  # where portdrift runs: the scanner namespace\n"
       "    addresses: [198.18.0.1, \"2001:2::1\"]\n"
       "    roles: [agent, sep-client]\n";
  return t;
}

// Removes term NAME from capirca's nftables output: its chain and the base chain's jump to it.
std::string without_term(const std::string& nft, const std::string& name) {
  std::istringstream in(nft);
  std::string out, line;
  bool skipping = false;
  while (std::getline(in, line)) {
    if (line == "    chain " + name + " {") {
      skipping = true;
      continue;
    }
    if (skipping) {
      if (line == "    }") skipping = false;
      continue;
    }
    if (line == "        jump " + name) continue;
    out += line + '\n';
  }
  return out;
}

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string describe(const Outcome& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

class PolicyLoop : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& pre = tb::prerequisites();
    if (!pre.ok) {
      if (tb::in_ci()) FAIL() << "CI=true but the real-network tests cannot run: " << pre.reason;
      GTEST_SKIP() << pre.reason;
    }
    if (!tb::find_tool("aclgen")) {
      if (tb::in_ci()) FAIL() << "aclgen is not installed (.ci/deps installs python3-capirca)";
      GTEST_SKIP() << "aclgen (python3-capirca) is not installed";
    }
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("pdtb-policy-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    bed_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  Outcome local(const std::vector<std::string>& argv) {
    const auto r = tb::run(argv, tb::RunOptions{}.within(60s).keep_status());
    return {r.exit_code, r.out, r.err};
  }

  // Writes the policy with `--default D`, renders it with aclgen; returns the output directory.
  fs::path render(const fs::path& topo, const std::string& default_action) {
    const auto tree = dir_ / ("policy-" + default_action);
    const auto out = dir_ / ("rendered-" + default_action);
    const auto w = local({kPortdrift, "policy", "-c", topo.string(), "--catalog-dir", kCatalog, "--out", tree.string(),
                          "--default", default_action, "--target", "nftables,iptables,windows_advfirewall"});
    EXPECT_EQ(w.exit_code, 0) << describe(w);
    const auto a = local({"aclgen", "--base_directory=" + (tree / "policies").string(),
                          "--definitions_directory=" + (tree / "def").string(), "--output_directory=" + out.string(),
                          "--max_renderers=1"});
    EXPECT_EQ(a.exit_code, 0) << describe(a);
    EXPECT_EQ(a.err.find("Traceback"), std::string::npos) << a.err;
    EXPECT_EQ(a.err.find("ERROR"), std::string::npos) << a.err;
    return out;
  }

  void load(const std::string& host, const std::string& ruleset) {
    bed_->exec(bed_->ns(host), {"nft", "flush", "ruleset"});
    bed_->load_nft(host, ruleset);
  }

  Outcome check(const fs::path& topo) {
    const auto r = bed_->exec(bed_->scanner(),
                              {kPortdrift, "--check", "-c", topo.string(), "--catalog-dir", kCatalog, "--format",
                               "json", "--concurrency", "64", "--per-host", "8", "--max-rate", "0"},
                              tb::RunOptions{}.within(50s).keep_status());
    return {r.exit_code, r.out, r.err};
  }

  // --check-against on the ruleset loaded in HOST's namespace, for that host.
  json check_against(const fs::path& topo, const std::string& host, int expected_exit) {
    const auto rs = bed_->exec(bed_->ns(host), {"nft", "-j", "list", "ruleset"});
    const auto file = dir_ / (host + "-ruleset.json");
    std::ofstream(file) << rs.out;
    const auto r = local({kPortdrift, "policy", "-c", topo.string(), "--catalog-dir", kCatalog, "--check-against",
                          file.string(), "--host", host, "--format", "json"});
    EXPECT_EQ(r.exit_code, expected_exit) << host << '\n' << describe(r);
    try {
      return json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << '\n' << describe(r);
      return json::object();
    }
  }

  // The interface holding `address` in namespace NS, and its MAC.
  std::pair<std::string, std::string> link_of(const std::string& ns, const std::string& address) {
    const auto doc = json::parse(bed_->exec(ns, {"ip", "-j", "addr", "show"}).out);
    for (const auto& link : doc) {
      for (const auto& a : link.value("addr_info", json::array())) {
        if (a.value("local", "") == address) return {link.value("ifname", ""), link.value("address", "")};
      }
    }
    ADD_FAILURE() << "no interface with " << address << " in " << ns;
    return {};
  }

  // IPv6 neighbour discovery is untracked by conntrack, and capirca's nftables accept terms match
  // `ct state new` only: a rendered default deny drops it (see docs/policy.md). The scanner and the
  // host know each other's IPv6 link addresses beforehand instead.
  void pin_ipv6_neighbours(const std::string& host, const std::string& address) {
    const auto [host_if, host_mac] = link_of(bed_->ns(host), address);
    const auto [scan_if, scan_mac] = link_of(bed_->scanner(), std::string(tb::kScannerV6));
    bed_->exec(bed_->ns(host), {"ip", "-6", "neigh", "replace", std::string(tb::kScannerV6), "lladdr", scan_mac,
                                "dev", host_if, "nud", "permanent"});
    bed_->exec(bed_->scanner(), {"ip", "-6", "neigh", "replace", address, "lladdr", host_mac, "dev", scan_if, "nud",
                                 "permanent"});
  }

  std::unique_ptr<tb::Testbed> bed_;
  fs::path dir_;
};

// Results that are not ok, as "HOST TARGET PROTO/PORT expect->state".
std::vector<std::string> not_ok(const std::string& check_json) {
  std::vector<std::string> out;
  json doc;
  try {
    doc = json::parse(check_json);
  } catch (const std::exception&) {
    return {"<not JSON>"};
  }
  for (const auto& c : doc.value("checks", json::array())) {
    if (c.value("verdict", "") == "ok") continue;
    const std::string port = c["port"].is_number() ? std::to_string(c["port"].get<int>()) : "echo";
    out.push_back(c.value("host", "?") + " " + c.value("address", "?") + " " + c.value("protocol", "?") + "/" + port +
                  " " + c.value("expected", "?") + "->" + c.value("observed", "?"));
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(PolicyLoop, PolicyRenderedByAclgenPassesEveryCheckAndDeletedTermsAreExactlyTheDrifts) {
  const auto text = loop_topology();
  ASSERT_FALSE(text.empty()) << "config/demo-estate.yaml no longer has the vantage this test extends";
  const auto topo = dir_ / "estate.yaml";
  std::ofstream(topo) << text;

  // What the scanner will probe, and the policy's terms, from portdrift's own library.
  auto setup = portdrift::runner::load_setup(topo, kCatalog, {});
  ASSERT_TRUE(setup.ok()) << portdrift::format(setup.diagnostics.front());
  const auto& t = setup.setup.topology;
  const auto& plan = setup.setup.plan;

  bed_ = std::make_unique<tb::Testbed>("policy");
  std::vector<std::string> targets;
  for (const auto& h : t.hosts) {
    if (h.name == kMonitor) continue;
    std::vector<std::string> addrs;
    for (const auto& a : h.addresses) addrs.push_back(a.value);
    bed_->add_host(h.name, addrs);
    targets.push_back(h.name);
  }
  bed_->build();
  for (const auto& h : t.hosts) {
    if (h.name == kMonitor) continue;
    for (const auto& a : h.addresses) {
      if (tb::is_ipv6(a.value)) pin_ipv6_neighbours(h.name, a.value);
    }
  }
  // Every target starts closed: a default-drop inbound chain.
  for (const auto& h : targets) {
    bed_->load_nft(h, "table inet pd_start {\n  chain input {\n    type filter hook input priority 0; policy drop;\n"
                      "  }\n}\n");
  }
  // Every service of the plan listens, the ones that must be blocked too.
  std::map<std::string, std::set<std::string>> endpoints;
  for (const auto& c : plan.checks) {
    if (c.protocol == portdrift::Protocol::icmp) continue;
    const auto ep = tb::endpoint(c.target, c.port);
    endpoints[std::string(c.host)].insert(c.protocol == portdrift::Protocol::udp ? "udp:" + ep : ep);
  }
  for (const auto& [host, eps] : endpoints) bed_->listen(host, kPdListen, {eps.begin(), eps.end()});

  const auto deny_out = render(topo, "deny");
  const auto accept_out = render(topo, "accept");
  ASSERT_FALSE(HasFailure());
  for (const auto& h : t.hosts) {
    for (const auto& suffix : {".nft", "", ".bat"}) {
      EXPECT_TRUE(fs::is_regular_file(deny_out / (h.name + suffix))) << h.name << suffix;
    }
  }

  // Before: the default drop lets nothing in.
  const auto before = check(topo);
  EXPECT_EQ(before.exit_code, 2) << describe(before);

  // 1. Every target with its --default deny rendering: every check OK.
  for (const auto& h : targets) load(h, slurp(deny_out / (h + ".nft")));
  const auto all_deny = check(topo);
  EXPECT_EQ(all_deny.exit_code, 0) << describe(all_deny);
  EXPECT_EQ(not_ok(all_deny.out), std::vector<std::string>{});
  for (const auto& h : targets) {
    const auto r = check_against(topo, h, 0);
    EXPECT_EQ(r.value("missing", json::array()).size(), 0U) << h << ' ' << r.dump(1);
  }

  // 2. The SEPM with its --default accept rendering: still every check OK.
  load("sepm1", slurp(accept_out / "sepm1.nft"));
  const auto sepm_accept = check(topo);
  EXPECT_EQ(sepm_accept.exit_code, 0) << describe(sepm_accept);
  EXPECT_EQ(not_ok(sepm_accept.out), std::vector<std::string>{});

  // 3. Delete one accept term (the Notification Server) and one deny term (the SEPM).
  pol::Options o;
  const auto built = pol::build_policy(t, setup.setup.catalog, o).policy;
  // A term that alone decides a probed port: tcp, one flow behind the check, one term for the port.
  auto pick = [&](const std::string& host, pol::Action action, portdrift::Expect expect) -> std::pair<std::string, int> {
    const auto* f = built.filter(host);
    if (f == nullptr) return {};
    for (const auto& c : plan.checks) {
      if (c.host != host || c.protocol != portdrift::Protocol::tcp || c.expect != expect || c.catalog_ids.size() != 1) {
        continue;
      }
      // Terms that can decide the scanner's probe: denies, and accepts from anywhere or from the vantage's roles.
      std::vector<const pol::Term*> covering;
      for (const auto& term : f->terms) {
        if (term.protocol != portdrift::Protocol::tcp || !term.ports.contains(c.port) ||
            (term.kind != pol::Term::Kind::flow && term.kind != pol::Term::Kind::check)) {
          continue;
        }
        const bool from_vantage = term.sources.empty() || std::any_of(term.sources.begin(), term.sources.end(), [](const std::string& n) {
          return n == "VANTAGE" || n == "ROLE_AGENT" || n == "ROLE_SEP_CLIENT";
        });
        if (term.action == pol::Action::deny || from_vantage) covering.push_back(&term);
      }
      if (covering.size() == 1 && covering[0]->action == action && covering[0]->flow_id == c.catalog_ids[0]) {
        return {covering[0]->name, c.port};
      }
    }
    return {};
  };
  const auto [accept_term, accept_port] = pick("ns1", pol::Action::accept, portdrift::Expect::open);
  const auto [deny_term, deny_port] = pick("sepm1", pol::Action::deny, portdrift::Expect::blocked);
  ASSERT_FALSE(accept_term.empty()) << "no accept term alone decides a probed port on ns1";
  ASSERT_FALSE(deny_term.empty()) << "no deny term alone decides a probed port on sepm1";
  const auto ns1_damaged = without_term(slurp(deny_out / "ns1.nft"), accept_term);
  const auto sepm1_damaged = without_term(slurp(accept_out / "sepm1.nft"), deny_term);
  ASSERT_NE(ns1_damaged, slurp(deny_out / "ns1.nft"));
  ASSERT_NE(sepm1_damaged, slurp(accept_out / "sepm1.nft"));
  std::fprintf(stderr, "deleting accept term %s (ns1 tcp/%d) and deny term %s (sepm1 tcp/%d)\n", accept_term.c_str(),
               accept_port, deny_term.c_str(), deny_port);
  load("ns1", ns1_damaged);
  load("sepm1", sepm1_damaged);
  const auto damaged = check(topo);
  EXPECT_EQ(damaged.exit_code, 2) << describe(damaged);
  EXPECT_EQ(not_ok(damaged.out),
            (std::vector<std::string>{"ns1 198.18.0.11 tcp/" + std::to_string(accept_port) + " open->filtered",
                                      "sepm1 198.18.0.14 tcp/" + std::to_string(deny_port) + " blocked->open"}))
      << "deleted " << accept_term << " from ns1 and " << deny_term << " from sepm1\n" << damaged.out;

  // 4. --check-against finds the same on the hand-damaged rulesets, without probing.
  const auto ns1_check = check_against(topo, "ns1", 2);
  bool found = false;
  for (const auto& m : ns1_check.value("missing", json::array())) {
    found = found || (m.value("ports", "") == std::to_string(accept_port) && m.value("protocol", "") == "tcp");
  }
  EXPECT_TRUE(found) << ns1_check.dump(1);
  const auto sepm1_check = check_against(topo, "sepm1", 2);
  found = false;
  for (const auto& m : sepm1_check.value("exposed", json::array())) {
    found = found || m.value("ports", "") == std::to_string(deny_port);
  }
  EXPECT_TRUE(found) << sepm1_check.dump(1);
}

}  // namespace
