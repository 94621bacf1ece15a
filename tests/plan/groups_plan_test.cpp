// Groups in the plan: blocks and ranges expanded lazily, one host per address, overlaps, named members,
// inventory roles, precedence notes, contradictions, address family and source.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "portdrift/plan/plan.hpp"
#include "test_support.hpp"

namespace portdrift::plan {
namespace {

using test_support::all;
using test_support::has;
using test_support::TempDir;


constexpr std::string_view kCatalog = R"(product: estate
name: Estate
source: estate.txt
roles:
  server: "management server"
  agent: "managed computer"
  sep-client: "SEP client"
flows:
  - {id: est-push, component: Push, protocol: tcp, ports: "445", from: server, to: agent, direction: inbound,
     service: "", configurable: true, optional: false, dynamic: false, expect: open, purpose: p, source: estate.txt}
  - {id: est-rdp, component: RDP, protocol: tcp, ports: "3389", from: any, to: agent, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: blocked, purpose: p, source: estate.txt}
  - {id: est-sep, component: SEP, protocol: tcp, ports: "8014", from: server, to: sep-client, direction: inbound,
     service: "", configurable: false, optional: true, dynamic: false, expect: open, purpose: p, source: estate.txt}
)";

const catalog::Catalog& cat() {
  static const catalog::Catalog c = [] {
    catalog::CatalogResult r;
    catalog::parse_catalog_file(kCatalog, "estate.yaml", r);
    EXPECT_TRUE(r.ok());
    return r.catalog;
  }();
  return c;
}

PlanResult plan_text(std::string_view topology, const std::string& file = "t.yaml") {
  auto t = config::parse_topology(topology, file);
  EXPECT_TRUE(t.ok()) << all(t.diagnostics);
  return build_plan(t.topology, cat());
}

std::vector<std::string> hosts_of(const Plan& p) {
  std::vector<std::string> out;
  for (const auto& c : p.checks) {
    if (out.empty() || out.back() != c.host) out.emplace_back(c.host);
  }
  return out;
}

const Check* find(const Plan& p, std::string_view host, std::uint16_t port) {
  auto it = std::find_if(p.checks.begin(), p.checks.end(), [&](const Check& c) { return c.host == host && c.port == port; });
  return it == p.checks.end() ? nullptr : &*it;
}

TEST(PlanGroups, EveryAddressOfABlockOrRangeIsAHost) {
  auto r = plan_text(R"(vantage: {roles: [server]}
groups:
  - name: agents-lan
    members: [198.18.4.16/31, 198.18.4.20/32, "198.18.9.10-198.18.9.12", "2001:db8::/127", "2001:db8::9/128"]
    roles: [agent, sep-client]
    absent: warning
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  const auto hosts = hosts_of(r.plan);
  EXPECT_EQ(hosts, (std::vector<std::string>{"agents-lan/198.18.4.16", "agents-lan/198.18.4.17", "agents-lan/198.18.4.20",
                                             "agents-lan/198.18.9.10", "agents-lan/198.18.9.11", "agents-lan/198.18.9.12",
                                             "agents-lan/2001:db8::", "agents-lan/2001:db8::1", "agents-lan/2001:db8::9"}));
  EXPECT_EQ(r.plan.host_count, 9U);
  ASSERT_EQ(r.plan.checks.size(), 27U);  // 445, 3389, 8014 each
  const auto* c = find(r.plan, "agents-lan/198.18.9.11", 445);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->target, "198.18.9.11");
  EXPECT_EQ(c->group, "agents-lan");
  EXPECT_EQ(c->absent, Absent::warning);
  EXPECT_EQ(c->catalog_ids, std::vector<std::string>{"est-push"});
  EXPECT_EQ(find(r.plan, "agents-lan/198.18.9.11", 8014)->severity, Severity::warning);  // optional flow
  EXPECT_EQ(find(r.plan, "agents-lan/198.18.9.11", 3389)->expect, Expect::blocked);
  // Each address is its own host; checks of one host are adjacent.
  std::set<std::uint32_t> indexes;
  for (const auto& x : r.plan.checks) indexes.insert(x.host_index);
  EXPECT_EQ(indexes.size(), 9U);
}

TEST(PlanGroups, NamedMembersAreHostsThatDriftAndBlocksSkipThem) {
  auto r = plan_text(R"(vantage: {roles: [server]}
groups:
  - name: lan
    members: [198.18.4.0/30, pc042.corp.example, 198.18.4.2]
    roles: [agent]
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  EXPECT_EQ(hosts_of(r.plan), (std::vector<std::string>{"pc042.corp.example", "198.18.4.2", "lan/198.18.4.0",
                                                          "lan/198.18.4.1", "lan/198.18.4.3"}));
  EXPECT_EQ(find(r.plan, "pc042.corp.example", 445)->absent, Absent::drift);
  EXPECT_EQ(find(r.plan, "pc042.corp.example", 445)->group, "lan");
  EXPECT_EQ(find(r.plan, "198.18.4.2", 445)->absent, Absent::drift);
  EXPECT_EQ(find(r.plan, "lan/198.18.4.3", 445)->absent, Absent::ok);  // the default
  EXPECT_TRUE(has(r.notes, "t.yaml:4:15: groups[0].members[0]: 1 address of 198.18.4.0/30 is a named host")) << all(r.notes);
}

TEST(PlanGroups, OverlappingBlocksArePlannedOnceInTheFirstGroup) {
  auto r = plan_text(R"(vantage: {roles: [server]}
groups:
  - {name: a, members: [198.18.4.0/30, 198.18.4.2/31], roles: [agent]}
  - {name: b, members: ["198.18.4.2-198.18.4.5"], roles: [agent], absent: critical}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  EXPECT_EQ(hosts_of(r.plan), (std::vector<std::string>{"a/198.18.4.0", "a/198.18.4.1", "a/198.18.4.2", "a/198.18.4.3",
                                                          "b/198.18.4.4", "b/198.18.4.5"}));
  EXPECT_TRUE(has(r.notes, "groups[0].members[1]: 2 addresses of 198.18.4.2/31 are already in an earlier member of this group"))
      << all(r.notes);
  EXPECT_TRUE(has(r.notes, "groups[1].members[0]: 2 addresses of 198.18.4.2-198.18.4.5 are already in group 'a'"))
      << all(r.notes);
  EXPECT_EQ(find(r.plan, "b/198.18.4.5", 445)->absent, Absent::critical);
}

TEST(PlanGroups, AHostNamedAsAMemberTakesTheGroupsChecksBelowItsOwn) {
  auto r = plan_text(R"(vantage: {roles: [server]}
hosts:
  - name: ns01
    address: 198.18.10.11
    roles: [server]
    checks:
      - {protocol: tcp, port: 3389, expect: open, name: "RDP for admins"}
groups:
  - name: servers
    members: [198.18.10.11]
    roles: [agent]
    checks:
      - {protocol: tcp, port: 3389, expect: blocked}
      - {protocol: tcp, port: 22, expect: blocked}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  EXPECT_EQ(hosts_of(r.plan), std::vector<std::string>{"ns01"});
  EXPECT_EQ(find(r.plan, "ns01", 3389)->expect, Expect::open);   // the host's own check
  EXPECT_EQ(find(r.plan, "ns01", 22)->expect, Expect::blocked);   // the group's
  EXPECT_EQ(find(r.plan, "ns01", 445)->expect, Expect::open);     // the group's role
  EXPECT_TRUE(has(r.notes, "groups[0].members[0]: '198.18.10.11' is host 'ns01' (t.yaml:4)")) << all(r.notes);
  EXPECT_TRUE(has(r.notes, "t.yaml:7:9: hosts[0].checks[0]: host ns01 tcp/3389: the host's check hosts[0].checks[0] (line 7, "
                           "expects open) wins over the group's check groups[0].checks[0] (line 13, expects blocked)"))
      << all(r.notes);
}

TEST(PlanGroups, AHostNamedByItsNameIsAbsorbedToo) {
  auto r = plan_text(R"(vantage: {roles: [server]}
hosts:
  - {name: ns01, address: ns01.corp.example, roles: [server]}
groups:
  - {name: servers, members: [ns01, NS01.corp.example], roles: [agent]}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  EXPECT_EQ(hosts_of(r.plan), std::vector<std::string>{"ns01"});
  EXPECT_NE(find(r.plan, "ns01", 445), nullptr);
  EXPECT_EQ(r.notes.size(), 1U) << all(r.notes);  // one group, absorbed once
}

TEST(PlanGroups, ExplicitGroupChecksWinOverFlowsWithANote) {
  auto r = plan_text(R"(vantage: {roles: [server]}
groups:
  - name: lan
    members: [198.18.4.0/24]
    roles: [agent]
    checks:
      - {protocol: tcp, port: 3389, expect: open}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  EXPECT_EQ(find(r.plan, "lan/198.18.4.77", 3389)->expect, Expect::open);
  EXPECT_TRUE(find(r.plan, "lan/198.18.4.77", 3389)->catalog_ids.empty());
  // One note for the group, not one per address.
  EXPECT_EQ(r.notes.size(), 1U) << all(r.notes);
  EXPECT_TRUE(has(r.notes, "t.yaml:7:9: groups[0].checks[0]: group lan tcp/3389: the group's check groups[0].checks[0] "
                           "(line 7, expects open) wins over catalog flow est-rdp (expects blocked)"))
      << all(r.notes);
}

TEST(PlanGroups, ContradictingExplicitChecksAreADiagnosticNamingBothLines) {
  auto t = config::parse_topology(R"(hosts:
  - name: web1
    address: 198.18.1.1
    checks:
      - {protocol: tcp, port: 8080, expect: open}
      - {protocol: tcp, port: "8000-8080", expect: blocked}
      - {protocol: tcp, port: 443, expect: open}
      - {protocol: tcp, port: 443, expect: open, name: same}
groups:
  - name: g
    members: [198.18.4.0/24]
    checks:
      - {protocol: udp, port: 161, expect: closed}
      - {protocol: udp, port: 161, expect: filtered}
)",
                                  "t.yaml");
  ASSERT_TRUE(t.ok()) << all(t.diagnostics);
  const auto r = build_plan(t.topology, cat());
  EXPECT_TRUE(has(r.diagnostics, "t.yaml:6:9: hosts[0].checks[1]: host web1 tcp/8080 expects blocked here but open at line 5 "
                                 "(hosts[0].checks[0]); one port has one expectation"))
      << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "t.yaml:14:9: groups[0].checks[1]: group g udp/161 expects filtered here but closed at line "
                                 "13 (groups[0].checks[0])"))
      << all(r.diagnostics);
  EXPECT_EQ(r.diagnostics.size(), 2U) << all(r.diagnostics);  // agreeing checks (443) are fine
}

TEST(PlanGroups, AddressFamilySourceIntervalAndGroupFlowSettings) {
  auto r = plan_text(R"(vantage: {roles: [server]}
defaults: {address_family: ipv6, source: 198.18.0.250, interval_s: 120}
flows:
  est-push: {severity: warning, expect: blocked}
hosts:
  - {name: h1, address: h1.corp.example, roles: [agent]}
  - {name: h2, address: h2.corp.example, roles: [agent], address_family: any, source: eth1}
groups:
  - name: g
    members: [g1.corp.example]
    roles: [agent]
    address_family: ipv4
    source: "2001:db8::250"
    interval_s: 600
    icmp_ratelimit_ms: 0
    flows:
      est-push: {severity: critical}
      est-rdp: {enabled: false}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  const auto* h1 = find(r.plan, "h1", 445);
  EXPECT_EQ(h1->family, AddressFamily::ipv6);
  EXPECT_EQ(h1->source, "198.18.0.250");
  EXPECT_EQ(h1->interval_s, 120U);
  EXPECT_EQ(h1->severity, Severity::warning);
  EXPECT_EQ(find(r.plan, "h2", 445)->family, AddressFamily::any);
  EXPECT_EQ(find(r.plan, "h2", 445)->source, "eth1");
  const auto* g1 = find(r.plan, "g1.corp.example", 445);
  ASSERT_NE(g1, nullptr);
  EXPECT_EQ(g1->family, AddressFamily::ipv4);
  EXPECT_EQ(g1->source, "2001:db8::250");
  EXPECT_EQ(g1->interval_s, 600U);
  EXPECT_EQ(g1->icmp_ratelimit_ms, 0U);
  EXPECT_EQ(g1->severity, Severity::critical);  // the group's flow setting
  EXPECT_EQ(g1->expect, Expect::blocked);        // the top-level one, for what the group leaves out
  EXPECT_EQ(find(r.plan, "g1.corp.example", 3389), nullptr);  // disabled for the group
  EXPECT_NE(find(r.plan, "h1", 3389), nullptr);               // not elsewhere
}

TEST(PlanGroups, InventoryRowsAreNamedHostsWithTheirOwnRoles) {
  TempDir dir;
  const auto csv = dir.write("agents.csv",
                             "name,address,roles\n"
                             "pc1,198.18.4.1,\n"
                             "pc2,198.18.4.2,sep-client\n"
                             "pc3,198.18.4.3,sep-client\n"
                             "pc4,198.18.4.4,no-such-role\n"
                             "pc1,198.18.4.9,\n"
                             "pc5,198.18.4.1,\n");
  const auto topo = dir.write("t.yaml", "vantage: {roles: [server]}\ngroups:\n  - {name: g, inventory: agents.csv, roles: [agent]}\n");
  auto t = config::load_topology(topo);
  ASSERT_TRUE(t.ok()) << all(t.diagnostics);
  auto r = build_plan(t.topology, cat());
  EXPECT_TRUE(has(r.diagnostics, csv + ":5:16: roles: unknown role 'no-such-role'")) << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, csv + ":6:1: host name 'pc1' is already used for another address (198.18.4.1)"))
      << all(r.diagnostics);
  EXPECT_TRUE(has(r.notes, csv + ":7:1: '198.18.4.1' is already a member")) << all(r.notes);
  EXPECT_EQ(hosts_of(r.plan), (std::vector<std::string>{"pc1", "pc2", "pc3"}));
  EXPECT_EQ(find(r.plan, "pc1", 8014), nullptr);
  EXPECT_NE(find(r.plan, "pc2", 8014), nullptr);
  EXPECT_EQ(find(r.plan, "pc2", 445)->target, "198.18.4.2");
  EXPECT_EQ(find(r.plan, "pc3", 445)->absent, Absent::drift);
}

TEST(PlanGroups, TheCapBoundsThePlanAndALargeBlockIsQuick) {
  // 65,536 addresses: the default cap, exactly.
  const auto start = std::chrono::steady_clock::now();
  auto r = plan_text(R"(vantage: {roles: [server]}
groups:
  - {name: big, members: [10.0.0.0/16], roles: [agent]}
)");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  EXPECT_EQ(r.plan.host_count, 65536U);
  EXPECT_EQ(r.plan.checks.size(), 2U * 65536U);
  EXPECT_EQ(r.plan.checks.back().host, "big/10.0.255.255");
  EXPECT_LT(took, std::chrono::seconds(5));  // about 0.1 s in a release build; generous for sanitizers
  // One more address is over the cap, and nothing is planned for the block.
  auto over = config::parse_topology("groups:\n  - {name: big, members: [10.0.0.0/16, 10.1.0.0/32], roles: [agent]}\n", "t.yaml");
  EXPECT_FALSE(over.ok());
  EXPECT_EQ(build_plan(over.topology, cat()).plan.host_count, 65536U);
}

}  // namespace
}  // namespace portdrift::plan
