// The topology keys of UDP and ICMP checks: payload, silence, echoes,
// icmp_ratelimit_ms, expect reachable/unreachable. Keys that only mean
// something for one protocol are errors elsewhere, with file:line:column.

#include <gtest/gtest.h>

#include "portdrift/config/topology.hpp"

namespace portdrift::config {
namespace {

std::string all(const Diagnostics& d) {
  std::string out;
  for (const auto& x : d) out += format(x) + "\n";
  return out;
}

TEST(TopologyUdpIcmp, KeysAreReadWithTheirPositions) {
  const auto r = parse_topology(R"(defaults: {icmp_ratelimit_ms: 250, echoes: 5}
hosts:
  - name: dc1
    address: 198.18.1.1
    icmp_ratelimit_ms: 0
    checks:
      - {protocol: udp, port: 514, silence: ok}
      - {protocol: udp, port: 1434, payload: mssql-browser, silence: critical}
      - {protocol: udp, port: 9999, payload: "hex:0a0b"}
      - {protocol: icmp}
      - {protocol: icmp, expect: unreachable, echoes: 2}
flows:
  itms-ns-sql-browser: {payload: mssql-browser, silence: ok}
  itms-agent-ps-ping: {echoes: 10}
)", "t.yaml");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  const auto& t = r.topology;
  EXPECT_EQ(t.defaults.probe.icmp_ratelimit_ms, 250U);
  EXPECT_EQ(t.defaults.probe.echoes, 5U);
  const auto& h = t.hosts.at(0);
  EXPECT_EQ(h.icmp_ratelimit_ms, 0U);
  ASSERT_EQ(h.checks.size(), 5U);
  EXPECT_EQ(h.checks[0].silence, Silence::ok);
  EXPECT_EQ(h.checks[1].payload->value, "mssql-browser");
  EXPECT_EQ(h.checks[1].payload->pos.line, 8);
  EXPECT_EQ(h.checks[1].silence, Silence::critical);
  EXPECT_EQ(h.checks[2].payload->value, "hex:0a0b");
  EXPECT_EQ(h.checks[3].protocol, Protocol::icmp);
  EXPECT_EQ(h.checks[3].expect, Expect::reachable) << "an icmp check expects reachable unless it says otherwise";
  EXPECT_EQ(h.checks[4].expect, Expect::unreachable);
  EXPECT_EQ(h.checks[4].echoes, 2U);
  ASSERT_EQ(t.flows.size(), 2U);
  EXPECT_EQ(t.flows[0].payload->value, "mssql-browser");
  EXPECT_EQ(t.flows[0].silence, Silence::ok);
  EXPECT_EQ(t.flows[1].echoes, 10U);
}

TEST(TopologyUdpIcmp, KeysOfAnotherProtocolAreErrorsNotIgnored) {
  const auto r = parse_topology(R"(defaults: {icmp_ratelimit_ms: 70000, echoes: 0}
hosts:
  - name: h
    address: 198.18.1.1
    checks:
      - {protocol: tcp, port: 443, payload: dns}
      - {protocol: tcp, port: 443, silence: ok}
      - {protocol: udp, port: 53, echoes: 3}
      - {protocol: udp, port: 53, expect: reachable}
      - {protocol: icmp, expect: open}
      - {protocol: icmp, port: 7}
      - {protocol: udp, port: 53, silence: maybe}
      - {protocol: icmp, echoes: 1000}
)", "t.yaml");
  const auto t = all(r.diagnostics);
  EXPECT_NE(t.find("t.yaml:1:31: defaults.icmp_ratelimit_ms: 70000 is out of range (0 to 60000)"),
            std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:1:46: defaults.echoes: 0 is out of range"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:6:45: hosts[0].checks[0].payload: only udp checks take `payload`"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:7:45: hosts[0].checks[1].silence: only udp checks take `silence`"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:8:43: hosts[0].checks[2].echoes: only icmp checks take `echoes`"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:9:43: hosts[0].checks[3].expect: 'reachable' is for icmp checks"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:10:34: hosts[0].checks[4].expect: 'open' is for ports; an icmp check expects reachable"),
            std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:11:32: hosts[0].checks[5].port: an icmp check has no port"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:12:44: hosts[0].checks[6].silence: unknown value 'maybe' (expected one of: warning, "
                   "critical, ok)"), std::string::npos) << t;
  EXPECT_NE(t.find("t.yaml:13:34: hosts[0].checks[7].echoes: 1000 is out of range"), std::string::npos) << t;
  // A value that fails its own check is reported and left unset; its check is kept (the run stops anyway).
  EXPECT_EQ(r.topology.hosts.at(0).checks.size(), 2U);
}

}  // namespace
}  // namespace portdrift::config
