#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include "portdrift/config/topology.hpp"

namespace portdrift::config {
namespace {

TopologyResult parse(std::string_view text) { return parse_topology(text, "t.yaml"); }

std::vector<std::string> texts(const Diagnostics& d) {
  std::vector<std::string> out;
  for (const auto& x : d) out.push_back(format(x));
  return out;
}

bool has(const Diagnostics& d, std::string_view needle) {
  return std::any_of(d.begin(), d.end(), [&](const Diagnostic& x) { return format(x).find(needle) != std::string::npos; });
}

TEST(Topology, ParsesAFullExample) {
  auto r = parse(R"(version: 1
products: [itms-8, sep-14]
vantage:
  roles: [agent]
defaults:
  timeout_ms: 800
  retries: 2
  concurrency: 64
  per_host_concurrency: 2
  max_rate: 100
  severity: warning
flows:
  itms-ns-smtp: {severity: critical, enabled: false}
hosts:
  - name: ns1
    address: 198.18.1.1
    roles: [notification-server]
    port_overrides: {80: 30000}
  - name: web1
    addresses: [198.18.1.2, "2001:2::2"]
    severity: critical
    checks:
      - {protocol: tcp, port: 443, expect: open}
      - {protocol: tcp, port: "8765", expect: blocked, severity: warning, name: launcher}
)");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(texts(r.diagnostics));
  const auto& t = r.topology;
  ASSERT_EQ(t.products.size(), 2U);
  EXPECT_EQ(t.products[1].value, "sep-14");
  EXPECT_EQ(t.vantage.roles.at(0).value, "agent");
  EXPECT_EQ(t.defaults.probe.timeout_ms, 800U);
  EXPECT_EQ(t.defaults.probe.retries, 2U);
  EXPECT_EQ(t.defaults.probe.max_rate, 100U);
  EXPECT_EQ(t.defaults.severity, Severity::warning);
  ASSERT_EQ(t.flows.size(), 1U);
  EXPECT_FALSE(t.flows[0].enabled);
  ASSERT_EQ(t.hosts.size(), 2U);
  EXPECT_EQ(t.hosts[0].port_overrides.at(0).documented, 80);
  EXPECT_EQ(t.hosts[0].port_overrides.at(0).actual, 30000);
  EXPECT_EQ(t.hosts[0].port_overrides.at(0).pos.line, 18);
  EXPECT_EQ(t.hosts[1].addresses.size(), 2U);
  ASSERT_EQ(t.hosts[1].checks.size(), 2U);
  EXPECT_EQ(t.hosts[1].checks[1].expect, Expect::blocked);
  EXPECT_EQ(t.hosts[1].checks[1].ports.to_string(), "8765");
  EXPECT_EQ(t.hosts[1].checks[1].name, "launcher");
  EXPECT_EQ(t.hosts[1].checks[1].pos.line, 24);
}

TEST(Topology, UnknownKeyHasExactLineColumnAndPath) {
  auto r = parse("hosts:\n  - name: a\n    address: 198.18.0.1\n    rolez: [agent]\n    roles: [agent]\n");
  ASSERT_EQ(r.diagnostics.size(), 1U);
  const auto& d = r.diagnostics[0];
  EXPECT_EQ(d.pos.line, 4);
  EXPECT_EQ(d.pos.column, 5);
  EXPECT_EQ(d.key_path, "hosts[0].rolez");
  EXPECT_EQ(format(d).rfind("t.yaml:4:5: hosts[0].rolez: unknown key", 0), 0U) << format(d);
}

TEST(Topology, DuplicateKeysAreErrors) {
  auto r = parse("hosts:\n  - name: a\n    address: 198.18.0.1\n    address: 198.18.0.2\n    roles: [agent]\n");
  ASSERT_EQ(r.diagnostics.size(), 1U) << ::testing::PrintToString(texts(r.diagnostics));
  EXPECT_EQ(format(r.diagnostics[0]), "t.yaml:4:5: hosts[0].address: duplicate key");
}

TEST(Topology, DuplicateKeysAreFoundInLargeMappingsAndAmongUnknownKeys) {
  // An unknown key repeated is unknown first, then a duplicate; a mapping of many keys finds its duplicates too.
  std::string text = "hosts:\n  - name: a\n    address: 198.18.0.1\n    rolez: x\n    rolez: y\n    roles: [agent]\n"
                     "    port_overrides:\n";
  for (int p = 1; p <= 20; ++p) text += fmt::format("      {}: {}\n", p, p + 1000);
  text += "      7: 9999\n";
  auto r = parse(text);
  const auto t = texts(r.diagnostics);
  ASSERT_EQ(r.diagnostics.size(), 3U) << ::testing::PrintToString(t);
  EXPECT_EQ(t[0].rfind("t.yaml:4:5: hosts[0].rolez: unknown key", 0), 0U) << t[0];
  EXPECT_EQ(t[1], "t.yaml:5:5: hosts[0].rolez: duplicate key");
  EXPECT_EQ(t[2], "t.yaml:28:7: hosts[0].port_overrides.7: duplicate key");
}

TEST(Topology, PortOutOfRangePointsAtTheValue) {
  auto r = parse("hosts:\n  - name: a\n    address: 198.18.0.1\n    checks:\n      - {protocol: tcp, port: 70000}\n");
  ASSERT_EQ(r.diagnostics.size(), 1U);
  EXPECT_EQ(r.diagnostics[0].pos.line, 5);
  EXPECT_EQ(r.diagnostics[0].pos.column, 31);
  EXPECT_EQ(r.diagnostics[0].key_path, "hosts[0].checks[0].port");
  EXPECT_TRUE(has(r.diagnostics, "70000"));
}

TEST(Topology, TimingIsFixedUnlessSaidAdaptive) {
  const std::string hosts = "hosts:\n  - name: a\n    address: 198.18.0.1\n    roles: [agent]\n";
  auto unset = parse(hosts);
  EXPECT_TRUE(unset.diagnostics.empty());
  EXPECT_FALSE(unset.topology.defaults.probe.timing.has_value()) << "the mode's own default";
  auto adaptive = parse("defaults:\n  timing: adaptive\n" + hosts);
  EXPECT_TRUE(adaptive.diagnostics.empty()) << texts(adaptive.diagnostics).front();
  EXPECT_EQ(adaptive.topology.defaults.probe.timing, Timing::adaptive);

  auto bad = parse("defaults:\n  timeout_ms: 500\n  timing: fast\n" + hosts);
  ASSERT_EQ(bad.diagnostics.size(), 1U);
  EXPECT_EQ(format(bad.diagnostics[0]),
            "t.yaml:3:11: defaults.timing: unknown value 'fast' (expected one of: fixed, adaptive)");
}

TEST(Topology, ReportsAllProblemsAtOnce) {
  auto r = parse(R"(defaults:
  timeout_ms: -5
  severity: loud
hosts:
  - name: a
    checks:
      - {protocol: sctp, port: 80}
      - {protocol: tcp, port: 80, expect: maybe}
  - name: a
    address: 198.18.0.2
    roles: agent
)");
  const auto t = texts(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "t.yaml:2:15: defaults.timeout_ms: -5 is out of range")) << ::testing::PrintToString(t);
  EXPECT_TRUE(has(r.diagnostics, "t.yaml:3:13: defaults.severity: unknown value 'loud'"));
  EXPECT_TRUE(has(r.diagnostics, "hosts[0].address: missing"));
  EXPECT_TRUE(has(r.diagnostics, "t.yaml:7:20: hosts[0].checks[0].protocol: unknown value 'sctp'"));
  EXPECT_TRUE(has(r.diagnostics, "t.yaml:8:43: hosts[0].checks[1].expect: unknown value 'maybe'"));
  EXPECT_TRUE(has(r.diagnostics, "t.yaml:9:5: hosts[1].name: duplicate host name 'a' (first at line 5)"));
  EXPECT_EQ(r.diagnostics.size(), 6U) << ::testing::PrintToString(t);
}

TEST(Topology, EmptyAndNonYamlAndWrongShapes) {
  EXPECT_TRUE(has(parse("").diagnostics, "t.yaml: the file is empty"));
  EXPECT_TRUE(has(parse("# only a comment\n").diagnostics, "the file is empty"));
  auto bad = parse("hosts: [a, b\n  - c: {\n");
  ASSERT_EQ(bad.diagnostics.size(), 1U);
  EXPECT_GT(bad.diagnostics[0].pos.line, 0);
  EXPECT_NE(bad.diagnostics[0].message.find("not valid YAML"), std::string::npos);
  EXPECT_TRUE(has(parse("just a string\n").diagnostics, "expected a mapping"));
  EXPECT_TRUE(has(parse("hosts: {}\n").diagnostics, "hosts: expected a non-empty list"));
  EXPECT_TRUE(has(parse("hosts:\n  - name: a\n    address: 198.18.0.1\n").diagnostics, "neither roles nor checks"));
  EXPECT_TRUE(has(parse("version: 2\nhosts: []\n").diagnostics, "t.yaml:1:10: version: 2 is out of range"));
  EXPECT_TRUE(has(parse("vantage: {}\nhosts:\n  - {name: a, address: x, roles: [r]}\n").diagnostics,
                  "vantage: needs `host`"));
  EXPECT_TRUE(has(parse("hosts:\n  - {name: a, address: x, roles: [r], port_overrides: {http: 8080}}\n").diagnostics,
                  "hosts[0].port_overrides.http: the key must be the documented port"));
}

TEST(Topology, MissingAndBinaryFiles) {
  auto missing = load_topology("/nonexistent/portdrift/topology.yaml");
  ASSERT_EQ(missing.diagnostics.size(), 1U);
  EXPECT_EQ(format(missing.diagnostics[0]),
            "/nonexistent/portdrift/topology.yaml: cannot open file (missing or unreadable)");
  const std::string path = ::testing::TempDir() + "binary.yaml";
  {
    std::ofstream f(path, std::ios::binary);
    f.write("\x7f" "ELF\0\0\x01", 7);
  }
  auto binary = load_topology(path);
  ASSERT_EQ(binary.diagnostics.size(), 1U);
  EXPECT_NE(binary.diagnostics[0].message.find("not a YAML text file"), std::string::npos);
}

TEST(Topology, DaemonScheduleAndSection) {
  auto r = parse(R"(defaults: {interval_s: 30, confirm: 4, clear: 1}
daemon:
  state_file: /var/lib/portdrift/state.json
  metrics_listen: "[::1]:9617"
  summary_interval_s: 600
hosts:
  - {name: a, address: 198.18.0.1, interval_s: 5, checks: [{protocol: tcp, port: 22}]}
  - {name: b, address: 198.18.0.2, checks: [{protocol: tcp, port: 22}]}
)");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(texts(r.diagnostics));
  const auto& t = r.topology;
  EXPECT_EQ(t.defaults.schedule.interval_s, 30U);
  EXPECT_EQ(t.defaults.schedule.confirm, 4U);
  EXPECT_EQ(t.defaults.schedule.clear, 1U);
  EXPECT_EQ(t.daemon.state_file, "/var/lib/portdrift/state.json");
  EXPECT_EQ(t.daemon.metrics_listen, "[::1]:9617");
  EXPECT_EQ(t.daemon.summary_interval_s, 600U);
  EXPECT_EQ(t.hosts[0].interval_s, 5U);
  EXPECT_FALSE(t.hosts[1].interval_s.has_value());

  auto d = parse("hosts:\n  - {name: a, address: x, checks: [{protocol: tcp, port: 22}]}\n");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.topology.defaults.schedule.interval_s, 60U);
  EXPECT_EQ(d.topology.defaults.schedule.confirm, 3U);
  EXPECT_EQ(d.topology.defaults.schedule.clear, 2U);
  EXPECT_FALSE(d.topology.daemon.state_file.has_value());
  EXPECT_FALSE(d.topology.daemon.metrics_listen.has_value());
}

TEST(Topology, DaemonKeysAreStrictWithPositions) {
  auto r = parse(R"(defaults: {interval_s: 0, confirm: 101, clear: x}
daemon: {state_file: "", metrics_listen: "localhost", metrics_port: 9617}
hosts:
  - {name: a, address: 198.18.0.1, interval_s: 90000, checks: [{protocol: tcp, port: 22}]}
)");
  const auto& d = r.diagnostics;
  EXPECT_TRUE(has(d, "t.yaml:1:24: defaults.interval_s: 0 is out of range")) << ::testing::PrintToString(texts(d));
  EXPECT_TRUE(has(d, "defaults.confirm: 101 is out of range"));
  EXPECT_TRUE(has(d, "defaults.clear:"));
  EXPECT_TRUE(has(d, "daemon.state_file: is empty"));
  EXPECT_TRUE(has(d, "daemon.metrics_listen: 'localhost' is not ADDRESS:PORT"));
  EXPECT_TRUE(has(d, "t.yaml:2:55: daemon.metrics_port: unknown key"));
  EXPECT_TRUE(has(d, "hosts[0].interval_s: 90000 is out of range"));
  EXPECT_TRUE(parse("daemon: {metrics_listen: \"off\"}\nhosts:\n  - {name: a, address: x, roles: [r]}\n").ok());
  EXPECT_TRUE(parse("daemon: {metrics_listen: \"0.0.0.0:0\"}\nhosts:\n  - {name: a, address: x, roles: [r]}\n").ok());
}

}  // namespace
}  // namespace portdrift::config
