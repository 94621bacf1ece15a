#include <gtest/gtest.h>

#include <algorithm>

#include <fmt/format.h>

#include "portdrift/plan/plan.hpp"

namespace portdrift::plan {
namespace {

constexpr std::string_view kCatalog = R"(product: shop
name: Shop
source: shop.txt
roles:
  web: "web server"
  db: "database"
  client: "client"
  admin: "admin workstation"
flows:
  - {id: shop-http, component: Web, protocol: tcp, ports: "80", from: client, to: web, direction: inbound,
     service: "", configurable: true, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
  - {id: shop-https, component: Web, protocol: tcp, ports: "443", from: client, to: web, direction: inbound,
     service: "", configurable: true, optional: true, dynamic: false, expect: open, purpose: p, source: shop.txt}
  - {id: shop-sql, component: DB, protocol: tcp, ports: "1433", from: web, to: db, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
  - {id: shop-ctl, component: Control, protocol: tcp, ports: "8765", from: any, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: blocked, purpose: p, source: shop.txt}
  - {id: shop-ctl-admin, component: Control, protocol: tcp, ports: "8765", from: admin, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
  - {id: shop-rpc, component: RPC, protocol: tcp, ports: "49152-65535", from: client, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: true, expect: open, purpose: p, source: shop.txt}
  - {id: shop-rc, component: RC, protocol: tcp, ports: "2701-2704", from: client, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
  - {id: shop-big, component: Big, protocol: tcp, ports: "41000-41443", from: client, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
  - {id: shop-dns, component: DNS, protocol: udp, ports: "53", from: client, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
)";

catalog::Catalog make_catalog() {
  catalog::CatalogResult r;
  catalog::parse_catalog_file(kCatalog, "shop.yaml", r);
  EXPECT_TRUE(r.ok());
  return r.catalog;
}

PlanResult plan_for(std::string_view topology) {
  static const catalog::Catalog cat = make_catalog();
  auto t = config::parse_topology(topology, "t.yaml");
  EXPECT_TRUE(t.ok()) << (t.diagnostics.empty() ? "" : format(t.diagnostics[0]));
  return build_plan(t.topology, cat);
}

const Check* find(const Plan& p, std::string_view host, std::uint16_t port) {
  auto it = std::find_if(p.checks.begin(), p.checks.end(),
                         [&](const Check& c) { return c.host == host && c.port == port; });
  return it == p.checks.end() ? nullptr : &*it;
}

std::string all(const Diagnostics& d) {
  std::string out;
  for (const auto& x : d) out += format(x) + "\n";
  return out;
}

TEST(Plan, ClientVantageGetsFlowsToTheRolesItTalksTo) {
  auto r = plan_for(R"(vantage: {roles: [client]}
hosts:
  - {name: w1, address: 198.18.0.1, roles: [web]}
  - {name: d1, address: 198.18.0.2, roles: [db]}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  const auto& p = r.plan;
  ASSERT_NE(find(p, "w1", 80), nullptr);
  EXPECT_EQ(find(p, "w1", 80)->catalog_ids, std::vector<std::string>{"shop-http"});
  EXPECT_EQ(find(p, "w1", 80)->severity, Severity::critical);
  EXPECT_EQ(find(p, "w1", 443)->severity, Severity::warning);  // optional flow
  EXPECT_EQ(find(p, "w1", 8765)->expect, Expect::blocked);      // from: any
  for (std::uint16_t port = 2701; port <= 2704; ++port) EXPECT_NE(find(p, "w1", port), nullptr) << port;
  EXPECT_EQ(find(p, "d1", 1433), nullptr);  // web -> db is not this vantage's flow
  EXPECT_EQ(p.checks.size(), 8U);
  // UDP flows are probed, with the registry's payload for their port.
  const auto* dns = find(p, "w1", 53);
  ASSERT_NE(dns, nullptr);
  EXPECT_EQ(dns->protocol, Protocol::udp);
  ASSERT_NE(dns->payload->builtin, nullptr);
  EXPECT_EQ(dns->payload->builtin->name, "dns");
  EXPECT_EQ(dns->silence, Silence::warning);
  // Dynamic ranges and large ranges are listed as skipped, never expanded.
  ASSERT_EQ(p.skipped.size(), 2U);
  std::vector<std::string> why;
  for (const auto& s : p.skipped) why.push_back(s.flow_id + ": " + s.why);
  std::sort(why.begin(), why.end());
  EXPECT_NE(why[0].find("shop-big: range of 444 ports"), std::string::npos) << why[0];
  EXPECT_NE(why[1].find("shop-rpc: dynamic port range"), std::string::npos) << why[1];
}

TEST(Plan, VantageHostTakesItsRolesAndIsNotProbed) {
  auto r = plan_for(R"(vantage: {host: w1}
hosts:
  - {name: w1, address: 198.18.0.1, roles: [web]}
  - {name: w2, address: 198.18.0.3, roles: [web]}
  - {name: d1, address: 198.18.0.2, roles: [db]}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  EXPECT_NE(find(r.plan, "d1", 1433), nullptr);
  EXPECT_EQ(find(r.plan, "w1", 8765), nullptr);  // never probes itself
  EXPECT_NE(find(r.plan, "w2", 8765), nullptr);  // `any` flows reach other hosts
  EXPECT_EQ(find(r.plan, "w2", 80), nullptr);
}

TEST(Plan, SpecificFlowBeatsAnyOnTheSamePort) {
  auto r = plan_for(R"(vantage: {roles: [admin]}
hosts:
  - {name: w1, address: 198.18.0.1, roles: [web]}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  const auto* c = find(r.plan, "w1", 8765);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->expect, Expect::open);
  EXPECT_EQ(c->catalog_ids, (std::vector<std::string>{"shop-ctl-admin", "shop-ctl"}));
}

TEST(Plan, PortOverridesApplyToConfigurableFlowsOnly) {
  auto r = plan_for(R"(vantage: {roles: [client]}
hosts:
  - name: w1
    address: 198.18.0.1
    roles: [web]
    port_overrides: {80: 30000}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  EXPECT_EQ(find(r.plan, "w1", 80), nullptr);
  ASSERT_NE(find(r.plan, "w1", 30000), nullptr);
  EXPECT_EQ(find(r.plan, "w1", 30000)->catalog_ids.front(), "shop-http");

  auto bad = plan_for(R"(vantage: {roles: [client]}
hosts:
  - name: w1
    address: 198.18.0.1
    roles: [web]
    port_overrides: {8765: 9000, 25: 2525}
)");
  const auto t = all(bad.diagnostics);
  EXPECT_NE(t.find("t.yaml:6:22: hosts[0].port_overrides.8765: port 8765 of flow 'shop-ctl"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:6:34: hosts[0].port_overrides.25: no catalog flow to the roles of host 'w1' uses port 25"),
            std::string::npos)
      << t;
}

TEST(Plan, ExplicitChecksWinAndHostsWithSeveralAddressesGetOneCheckEach) {
  auto r = plan_for(R"(vantage: {roles: [client]}
defaults: {severity: warning}
hosts:
  - name: w1
    addresses: [198.18.0.1, "2001:2::1"]
    roles: [web]
    checks:
      - {protocol: tcp, port: 80, expect: closed, severity: critical, name: retired}
      - {protocol: tcp, port: "9000-9002", expect: filtered}
      - {protocol: udp, port: 514}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  std::size_t port80 = 0;
  for (const auto& c : r.plan.checks) {
    if (c.port != 80) continue;
    ++port80;
    EXPECT_EQ(c.expect, Expect::closed);
    EXPECT_TRUE(c.catalog_ids.empty());
    EXPECT_EQ(c.label, "retired");
    EXPECT_EQ(c.severity, Severity::critical);
  }
  EXPECT_EQ(port80, 2U);
  EXPECT_EQ(find(r.plan, "w1", 9001)->severity, Severity::warning);
  EXPECT_EQ(find(r.plan, "w1", 2701)->severity, Severity::warning);  // topology default
  EXPECT_EQ(find(r.plan, "w1", 514)->payload->label, "empty");  // syslog never answers: nothing to ask
  // Per address: 7 tcp and 1 udp from the catalog, 3 more tcp and 1 udp explicit (80 replaces the catalog's).
  EXPECT_EQ(r.plan.checks.size(), 2U * (8U + 3U + 1U));
}

TEST(Plan, ChecksAreOrderedByHostThenAddressProtocolAndPort) {
  // Written out of order, with an explicit check replacing a catalog one (80) and a second flow on 8765.
  auto r = plan_for(R"(vantage: {roles: [client, admin]}
hosts:
  - name: w1
    addresses: [198.18.0.1, "2001:2::1"]
    roles: [web]
    checks:
      - {protocol: udp, port: 514}
      - {protocol: tcp, port: "9001,9000", expect: filtered}
      - {protocol: tcp, port: 80, expect: closed, name: retired}
      - {protocol: tcp, port: 22}
  - {name: d1, address: 198.18.0.2, roles: [db], checks: [{protocol: tcp, port: 5}]}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  std::vector<std::string> got;
  for (const auto& c : r.plan.checks) {
    got.push_back(fmt::format("{} {} {}/{} {}", c.host, c.target, to_string(c.protocol), c.port,
                              c.catalog_ids.empty() ? c.label : c.catalog_ids.front()));
  }
  std::vector<std::string> want;
  for (const std::string a : {"198.18.0.1", "2001:2::1"}) {
    for (const std::string tail : {"tcp/22 explicit check", "tcp/80 retired", "tcp/443 shop-https",
                                   "tcp/2701 shop-rc", "tcp/2702 shop-rc", "tcp/2703 shop-rc", "tcp/2704 shop-rc",
                                   "tcp/8765 shop-ctl-admin", "tcp/9000 explicit check",
                                   "tcp/9001 explicit check", "udp/53 shop-dns", "udp/514 explicit check"}) {
      want.push_back("w1 " + a + " " + tail);
    }
  }
  want.push_back("d1 198.18.0.2 tcp/5 explicit check");
  EXPECT_EQ(got, want);
}

TEST(Plan, ChecksKeepTheirTextAfterTheTopologyAndTheOriginalPlanAreGone) {
  Plan copy;
  Plan moved;
  {
    auto r = plan_for(R"(vantage: {roles: [client]}
hosts:
  - {name: a-host-name-longer-than-sso, address: a.dns.name.longer.than.sso, checks: [{protocol: tcp, port: 7, name: a-label-longer-than-sso}]}
)");
    ASSERT_TRUE(r.ok()) << all(r.diagnostics);
    copy = r.plan;
    moved = std::move(r.plan);
  }
  for (const Plan* p : {&copy, &moved}) {
    ASSERT_EQ(p->checks.size(), 1U);
    EXPECT_EQ(p->checks[0].host, "a-host-name-longer-than-sso");
    EXPECT_EQ(p->checks[0].target, "a.dns.name.longer.than.sso");
    EXPECT_EQ(p->checks[0].label, "a-label-longer-than-sso");
  }
}

TEST(Plan, LargePlanKeepsEveryCheckInOrder) {
  // More checks than fit in one of the builder's output chunks.
  std::string topology = "vantage: {roles: [client]}\nhosts:\n";
  for (int i = 0; i < 3000; ++i) {
    topology += fmt::format("  - {{name: h{}, address: 198.18.{}.{}, checks: [{{protocol: tcp, port: \"7-8\"}}, "
                            "{{protocol: tcp, port: 6}}]}}\n",
                            i, i / 250, i % 250 + 1);
  }
  auto r = plan_for(topology);
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  ASSERT_EQ(r.plan.checks.size(), 9000U);
  for (std::size_t i = 0; i < r.plan.checks.size(); ++i) {
    const auto& c = r.plan.checks[i];
    ASSERT_EQ(c.host_index, i / 3) << i;
    ASSERT_EQ(c.host, fmt::format("h{}", i / 3)) << i;
    ASSERT_EQ(c.port, 6 + i % 3) << i;
  }
}

TEST(Plan, FlowSettingsDisableAndRetune) {
  auto r = plan_for(R"(vantage: {roles: [client]}
flows:
  shop-http: {enabled: false}
  shop-https: {severity: critical, expect: closed}
hosts:
  - {name: w1, address: 198.18.0.1, roles: [web]}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  EXPECT_EQ(find(r.plan, "w1", 80), nullptr);
  EXPECT_EQ(find(r.plan, "w1", 443)->severity, Severity::critical);
  EXPECT_EQ(find(r.plan, "w1", 443)->expect, Expect::closed);
}

TEST(Plan, UnknownNamesPointIntoTheTopology) {
  auto r = plan_for(R"(products: [shop, shoop]
vantage: {host: nobody, roles: [clint]}
flows:
  shop-htp: {enabled: false}
hosts:
  - {name: w1, address: 198.18.0.1, roles: [web, wbe]}
  - name: w2
    address: 198.18.0.2
    checks:
      - {protocol: tcp, port: "1-2000"}
)");
  const auto t = all(r.diagnostics);
  EXPECT_NE(t.find("t.yaml:1:18: products[1]: unknown product 'shoop' (known: shop)"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:2:17: vantage.host: vantage host 'nobody' is not one of `hosts`"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:2:33: vantage.roles[0]: unknown role 'clint'"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:4:3: flows.shop-htp: unknown catalog flow id 'shop-htp'"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:6:50: hosts[0].roles[1]: unknown role 'wbe'"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:10:9: hosts[1].checks[0].port: 2000 ports in one check; at most 1024"), std::string::npos)
      << t;
  EXPECT_EQ(r.diagnostics.size(), 6U) << t;
}

TEST(Plan, AnExplicitCheckKeepsItsListPositionAfterARejectedOne) {
  // The first check is rejected by the topology reader; the second is still `checks[1]`.
  auto t = config::parse_topology(R"(vantage: {roles: [client]}
hosts:
  - name: w1
    address: 198.18.0.1
    checks:
      - {protocol: sctp, port: 80}
      - {protocol: tcp, port: "1-2000"}
)",
                                  "t.yaml");
  ASSERT_EQ(t.diagnostics.size(), 1U);
  ASSERT_EQ(t.topology.hosts.at(0).checks.size(), 1U);
  EXPECT_EQ(config::key_path(t.topology.hosts[0], t.topology.hosts[0].checks[0]), "hosts[0].checks[1]");
  static const catalog::Catalog cat = make_catalog();
  const auto r = build_plan(t.topology, cat);
  const auto d = all(r.diagnostics);
  EXPECT_EQ(d, "t.yaml:7:9: hosts[0].checks[1].port: 2000 ports in one check; at most 1024 may be probed port by port\n")
      << d;
}

TEST(Plan, BuiltInCatalogAgentVantageChecksNotificationServerWeb) {
  auto cat = catalog::load_catalog(PORTDRIFT_CATALOG_DIR);
  ASSERT_TRUE(cat.ok());
  auto t = config::parse_topology(R"(products: [itms-8]
vantage: {roles: [agent]}
hosts:
  - {name: ns1, address: 198.18.1.1, roles: [notification-server], port_overrides: {80: 30000}}
)", "t.yaml");
  ASSERT_TRUE(t.ok());
  auto r = build_plan(t.topology, cat.catalog);
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  EXPECT_NE(find(r.plan, "ns1", 443), nullptr);
  EXPECT_NE(find(r.plan, "ns1", 30000), nullptr);
  EXPECT_EQ(find(r.plan, "ns1", 80), nullptr);
  for (const auto& c : r.plan.checks) EXPECT_FALSE(c.catalog_ids.empty());
}

}  // namespace
}  // namespace portdrift::plan
