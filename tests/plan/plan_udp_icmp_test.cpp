// The plan for UDP and ICMP flows: UDP flows become checks with the
// registry's payload for their documented port; an ICMP flow becomes one
// echo check per host address; payload values are checked against the
// registry with diagnostics that point into the topology.

#include <gtest/gtest.h>

#include <algorithm>

#include "portdrift/plan/plan.hpp"

namespace portdrift::plan {
namespace {

constexpr std::string_view kCatalog = R"(product: lab
name: Lab
source: lab.txt
roles:
  ps: "package server"
  db: "database"
  agent: "agent"
flows:
  - {id: lab-ping, component: Agent, protocol: icmp, icmp_type: 8, from: agent, to: ps, direction: outbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: lab.txt}
  - {id: lab-browser, component: SQL, protocol: udp, ports: "1434", from: agent, to: db, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: lab.txt}
  - {id: lab-dns, component: DNS, protocol: udp, ports: "53", from: agent, to: ps, direction: inbound,
     service: "", configurable: true, optional: false, dynamic: false, expect: open, purpose: p, source: lab.txt}
  - {id: lab-tftp-data, component: TFTP, protocol: udp, ports: "1024-65535", from: agent, to: ps,
     direction: inbound, service: "", configurable: false, optional: false, dynamic: true, expect: open,
     purpose: p, source: lab.txt}
)";

PlanResult plan_for(std::string_view topology) {
  static const catalog::Catalog cat = [] {
    catalog::CatalogResult r;
    catalog::parse_catalog_file(kCatalog, "lab.yaml", r);
    EXPECT_TRUE(r.ok());
    return r.catalog;
  }();
  auto t = config::parse_topology(topology, "t.yaml");
  EXPECT_TRUE(t.ok()) << (t.diagnostics.empty() ? "" : format(t.diagnostics[0]));
  return build_plan(t.topology, cat);
}

std::string all(const Diagnostics& d) {
  std::string out;
  for (const auto& x : d) out += format(x) + "\n";
  return out;
}

TEST(PlanUdpIcmp, IcmpFlowIsOneEchoCheckPerAddressAndUdpGetsItsPayload) {
  auto r = plan_for(R"(vantage: {roles: [agent]}
defaults: {echoes: 4, icmp_ratelimit_ms: 500}
hosts:
  - {name: ps1, addresses: [198.18.0.13, "2001:2::13"], roles: [ps], port_overrides: {53: 5353}}
  - {name: db1, address: 198.18.0.14, roles: [db], icmp_ratelimit_ms: 0}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  std::vector<const Check*> echo;
  for (const auto& c : r.plan.checks) {
    if (c.protocol == Protocol::icmp) echo.push_back(&c);
  }
  ASSERT_EQ(echo.size(), 2U);
  for (const auto* c : echo) {
    EXPECT_EQ(c->host, "ps1");
    EXPECT_EQ(c->expect, Expect::reachable) << "the catalog's `open` for an icmp flow";
    EXPECT_EQ(c->echo_count, 4U);
    EXPECT_EQ(c->port, 0);
  }
  const auto dns = std::find_if(r.plan.checks.begin(), r.plan.checks.end(),
                                [](const Check& c) { return c.port == 5353; });
  ASSERT_NE(dns, r.plan.checks.end());
  ASSERT_NE(dns->payload->builtin, nullptr);
  EXPECT_EQ(dns->payload->builtin->name, "dns") << "the payload follows the documented port";
  EXPECT_EQ(dns->icmp_ratelimit_ms, 500U);
  const auto browser = std::find_if(r.plan.checks.begin(), r.plan.checks.end(),
                                    [](const Check& c) { return c.port == 1434; });
  ASSERT_NE(browser, r.plan.checks.end());
  EXPECT_EQ(browser->payload->label, "empty") << "the SQL Browser ping is opt-in";
  EXPECT_EQ(browser->icmp_ratelimit_ms, 0U);
  ASSERT_EQ(r.plan.skipped.size(), 1U);
  EXPECT_EQ(r.plan.skipped[0].flow_id, "lab-tftp-data");
}

TEST(PlanUdpIcmp, FlowSettingsOptInAndRetune) {
  auto r = plan_for(R"(vantage: {roles: [agent]}
flows:
  lab-browser: {payload: mssql-browser, silence: ok}
  lab-ping: {expect: unreachable, echoes: 2}
hosts:
  - {name: ps1, address: 198.18.0.13, roles: [ps]}
  - {name: db1, address: 198.18.0.14, roles: [db]}
)");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  for (const auto& c : r.plan.checks) {
    if (c.port == 1434) {
      EXPECT_EQ(c.payload->builtin->name, "mssql-browser");
      EXPECT_EQ(c.silence, Silence::ok);
    }
    if (c.protocol == Protocol::icmp) {
      EXPECT_EQ(c.expect, Expect::unreachable);
      EXPECT_EQ(c.echo_count, 2U);
    }
  }
}

TEST(PlanUdpIcmp, BadPayloadsPointIntoTheTopology) {
  auto r = plan_for(R"(vantage: {roles: [agent]}
flows:
  lab-browser: {payload: "mssql"}
  lab-dns: {expect: reachable}
hosts:
  - name: db1
    address: 198.18.0.14
    roles: [db]
    checks:
      - {protocol: udp, port: 9, payload: "hex:0g"}
  - {name: ps1, address: 198.18.0.13, roles: [ps]}
)");
  const auto t = all(r.diagnostics);
  EXPECT_NE(t.find("t.yaml:3:26: flows.lab-browser.payload: unknown payload 'mssql'"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:10:43: hosts[0].checks[0].payload: 'g' is not a hex digit"), std::string::npos) << t;
  EXPECT_NE(t.find("flows.lab-dns.expect: 'reachable' is for icmp flows; flow 'lab-dns' is udp"), std::string::npos)
      << t;
}

}  // namespace
}  // namespace portdrift::plan
