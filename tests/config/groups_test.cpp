// Groups, members (names, addresses, blocks, ranges), inventory files, the address cap,
// and the address_family/source keys.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "config/inventory.hpp"
#include "portdrift/config/addresses.hpp"
#include "portdrift/config/topology.hpp"
#include "test_support.hpp"

namespace portdrift::config {
namespace {

using test_support::all;
using test_support::has;
using test_support::TempDir;


std::uint64_t size_of(std::string_view member) {
  std::string why;
  const auto m = parse_member(member, why);
  EXPECT_TRUE(m) << member << ": " << why;
  return m ? span_size(m->first, m->last) : 0;
}

TEST(Addresses, BlockAndRangeEdges) {
  EXPECT_EQ(size_of("198.18.4.17/32"), 1U);
  EXPECT_EQ(size_of("198.18.4.16/31"), 2U);
  EXPECT_EQ(size_of("198.18.4.0/22"), 1024U);
  EXPECT_EQ(size_of("0.0.0.0/0"), 4294967296U);
  EXPECT_EQ(size_of("2001:db8::1/128"), 1U);
  EXPECT_EQ(size_of("2001:db8::/127"), 2U);
  EXPECT_EQ(size_of("2001:db8:4::/120"), 256U);
  EXPECT_EQ(size_of("2001:db8::/65"), std::uint64_t{1} << 63);
  EXPECT_EQ(size_of("2001:db8::/64"), UINT64_MAX);  // 2^64 saturates
  EXPECT_EQ(size_of("::/0"), UINT64_MAX);
  EXPECT_EQ(size_of("198.18.9.10-198.18.9.40"), 31U);
  EXPECT_EQ(size_of("198.18.9.10 - 198.18.9.10"), 1U);
  EXPECT_EQ(size_of("2001:db8::ffff-2001:db8::1:0"), 2U);

  std::string why;
  const auto block = parse_member("198.18.4.0/22", why);
  ASSERT_TRUE(block);
  EXPECT_EQ(to_string(block->first), "198.18.4.0");
  EXPECT_EQ(to_string(block->last), "198.18.7.255");
  EXPECT_EQ(to_string(next(block->first)), "198.18.4.1");
  const auto v6 = parse_member("2001:db8:4::/120", why);
  ASSERT_TRUE(v6);
  EXPECT_EQ(to_string(v6->last), "2001:db8:4::ff");
  EXPECT_EQ(parse_member("pc-042.corp.example", why)->kind, MemberSpec::Kind::name);
  EXPECT_EQ(parse_member("198.18.9.10", why)->kind, MemberSpec::Kind::address);
}

TEST(Addresses, MistakesAreNamedNotResolved) {
  for (const auto* bad : {"999.1.1.1", "1.2.3", "1.2.3.4.5", "198.18.4.1/22", "198.18.4.0/33", "2001:db8::/129",
                          "198.18.9.40-198.18.9.10", "198.18.9.10-2001:db8::1", "198.18.9.10-pc1", "2001:db8::g",
                          "", "a b", "-pc"}) {
    std::string why;
    EXPECT_FALSE(parse_member(bad, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
  std::string why;
  parse_member("198.18.4.1/22", why);
  EXPECT_NE(why.find("198.18.4.0/22"), std::string::npos) << why;
  parse_member("198.18.9.40-198.18.9.10", why);
  EXPECT_NE(why.find("reversed"), std::string::npos) << why;
  parse_member("999.1.1.1", why);
  EXPECT_NE(why.find("not a valid IPv4 address"), std::string::npos) << why;
}

TEST(Groups, ReadsEveryKey) {
  auto r = parse_topology(R"(vantage: {roles: [agent]}
defaults: {address_family: ipv4, source: 198.18.0.250}
limits: {max_addresses: 5000}
groups:
  - name: agents-lan
    members: [198.18.4.0/22, "198.18.9.10-198.18.9.40", pc042.corp.example, 198.18.9.5, "2001:db8:4::/120"]
    roles: [agent, sep-client]
    checks:
      - {protocol: tcp, port: 3389, expect: blocked}
    severity: warning
    interval_s: 300
    port_overrides: {80: 8080}
    icmp_ratelimit_ms: 200
    absent: warning
    address_family: all
    source: eth1
    flows:
      itms-agent-ns-https: {severity: critical}
hosts:
  - {name: ns01, address: 198.18.10.11, roles: [notification-server], address_family: ipv6, source: "2001:db8::250"}
)",
                          "t.yaml");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  const auto& t = r.topology;
  EXPECT_EQ(t.limits.max_addresses, 5000U);
  EXPECT_EQ(t.defaults.address_family, AddressFamily::ipv4);
  ASSERT_TRUE(t.defaults.source);
  EXPECT_EQ(t.defaults.source->value, "198.18.0.250");
  EXPECT_EQ(t.hosts.at(0).address_family, AddressFamily::ipv6);
  EXPECT_EQ(t.hosts.at(0).source->value, "2001:db8::250");
  ASSERT_EQ(t.groups.size(), 1U);
  const auto& g = t.groups[0];
  EXPECT_EQ(g.settings.name, "agents-lan");
  EXPECT_EQ(g.settings.key_path, "groups[0]");
  ASSERT_EQ(g.members.size(), 5U);
  EXPECT_EQ(g.members[0].spec.kind, MemberSpec::Kind::block);
  EXPECT_EQ(g.members[1].spec.kind, MemberSpec::Kind::range);
  EXPECT_EQ(g.members[2].spec.kind, MemberSpec::Kind::name);
  EXPECT_EQ(g.members[3].spec.kind, MemberSpec::Kind::address);
  EXPECT_EQ(g.members[4].spec.kind, MemberSpec::Kind::block);
  EXPECT_EQ(g.members[1].text.key_path, "groups[0].members[1]");
  EXPECT_EQ(g.members[1].text.pos.line, 6);
  EXPECT_EQ(g.settings.roles.size(), 2U);
  EXPECT_EQ(g.settings.checks.size(), 1U);
  EXPECT_EQ(g.settings.severity, Severity::warning);
  EXPECT_EQ(g.settings.interval_s, 300U);
  EXPECT_EQ(g.settings.port_overrides.size(), 1U);
  EXPECT_EQ(g.settings.icmp_ratelimit_ms, 200U);
  EXPECT_EQ(g.absent, Absent::warning);
  EXPECT_EQ(g.settings.address_family, AddressFamily::all);
  EXPECT_EQ(g.settings.source->value, "eth1");
  ASSERT_EQ(g.flows.size(), 1U);
  EXPECT_EQ(g.flows[0].id.key_path, "groups[0].flows.itms-agent-ns-https");
}

TEST(Groups, AbsentDefaultsToOkAndHostsAreOptional) {
  auto r = parse_topology("groups:\n  - {name: g, members: [198.18.4.0/30], roles: [agent]}\n", "t.yaml");
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  EXPECT_EQ(r.topology.groups.at(0).absent, Absent::ok);
  EXPECT_TRUE(r.topology.hosts.empty());
  auto none = parse_topology("vantage: {roles: [agent]}\n", "t.yaml");
  EXPECT_TRUE(has(none.diagnostics, "`hosts`, of `groups`, or both")) << all(none.diagnostics);
}

TEST(Groups, BadValuesAreReportedAllAtOnceWithTheirPositions) {
  auto r = parse_topology(R"(defaults: {address_family: ipv5, source: 999.1.1.1}
hosts:
  - {name: h, address: 999.1.1.1, roles: [agent]}
  - {name: h2, address: "1.2.3", roles: [agent], source: "eth0/1"}
groups:
  - name: g
    members: [198.18.4.1/22, "198.18.9.40-198.18.9.10", 999.1.1.1, "a b"]
    roles: [agent]
    absent: drift
    colour: blue
  - name: g
    members: [198.18.5.0/24]
    checks: [{protocol: tcp, port: 1}]
  - name: "bad/name"
    roles: [agent]
)",
                          "t.yaml");
  const auto& d = r.diagnostics;
  EXPECT_TRUE(has(d, "t.yaml:1:28: defaults.address_family: unknown value 'ipv5'")) << all(d);
  EXPECT_TRUE(has(d, "t.yaml:1:42: defaults.source: '999.1.1.1' is not a valid IP address")) << all(d);
  EXPECT_TRUE(has(d, "t.yaml:3:24: hosts[0].address: '999.1.1.1' is not a valid IPv4 address")) << all(d);
  EXPECT_TRUE(has(d, "hosts[1].address: '1.2.3' is not a valid IPv4 address")) << all(d);
  EXPECT_TRUE(has(d, "hosts[1].source: 'eth0/1' is neither an IP address nor an interface name")) << all(d);
  EXPECT_TRUE(has(d, "t.yaml:7:15: groups[0].members[0]: '198.18.4.1/22' has host bits set; the block is 198.18.4.0/22"))
      << all(d);
  EXPECT_TRUE(has(d, "groups[0].members[1]: '198.18.9.40-198.18.9.10' is reversed")) << all(d);
  EXPECT_TRUE(has(d, "groups[0].members[2]: '999.1.1.1' is not a valid IPv4 address")) << all(d);
  EXPECT_TRUE(has(d, "groups[0].members[3]: 'a b' is not a host name")) << all(d);
  EXPECT_TRUE(has(d, "groups[0].absent: unknown value 'drift' (expected one of: ok, warning, critical)")) << all(d);
  EXPECT_TRUE(has(d, "t.yaml:10:5: groups[0].colour: unknown key")) << all(d);
  EXPECT_TRUE(has(d, "groups[1].name: duplicate group name 'g' (first at line 6)")) << all(d);
  EXPECT_TRUE(has(d, "groups[2].members: missing")) << all(d);
  EXPECT_TRUE(has(d, "groups[2].name: 'bad/name'")) << all(d);
}

TEST(Groups, AHostAddressIsNeverABlock) {
  auto r = parse_topology("hosts:\n  - {name: h, addresses: [198.18.4.0/24, \"198.18.9.1-198.18.9.3\", ok.example], roles: [x]}\n",
                          "t.yaml");
  EXPECT_EQ(r.diagnostics.size(), 2U) << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "t.yaml:2:27: hosts[0].addresses[0]: '198.18.4.0/24' is a block or range")) << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "hosts[0].addresses[1]: '198.18.9.1-198.18.9.3' is a block or range")) << all(r.diagnostics);
}

TEST(Groups, TheAddressCapNamesTheEntryAndNeverExpands) {
  auto r = parse_topology(R"(limits: {max_addresses: 1000}
groups:
  - name: g
    members: [198.18.4.0/24, 198.18.5.0/24, 198.18.6.0/24, 198.18.7.0/24, 198.18.8.0/24]
    roles: [agent]
)",
                          "t.yaml");
  EXPECT_EQ(r.diagnostics.size(), 1U) << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "t.yaml:4:60: groups[0].members[3]: '198.18.7.0/24' names 256 addresses, which would "
                                 "bring the topology to 1024 addresses, over the limit of 1000"))
      << all(r.diagnostics);
  EXPECT_EQ(r.topology.groups.at(0).members.size(), 3U);  // nothing over the cap is kept for the plan

  // The default cap, and a /64 or ::/0: one diagnostic, no allocation proportional to the block.
  auto v6 = parse_topology("groups:\n  - {name: g, members: [\"2001:db8::/64\", \"::/0\", 10.0.0.0/8], roles: [agent]}\n",
                           "t.yaml");
  EXPECT_EQ(v6.diagnostics.size(), 1U) << all(v6.diagnostics);
  EXPECT_TRUE(has(v6.diagnostics, "groups[0].members[0]: '2001:db8::/64' names more than 2^64 addresses")) << all(v6.diagnostics);
  EXPECT_TRUE(has(v6.diagnostics, "over the limit of 65536")) << all(v6.diagnostics);
  EXPECT_TRUE(v6.topology.groups.at(0).members.empty());

  // Exactly at the cap is fine; hosts count too.
  auto exact = parse_topology(R"(limits: {max_addresses: 257}
hosts: [{name: h, address: 198.18.0.1, roles: [agent]}]
groups: [{name: g, members: [198.18.4.0/24], roles: [agent]}]
)",
                              "t.yaml");
  EXPECT_TRUE(exact.ok()) << all(exact.diagnostics);
  auto bad_limit = parse_topology("limits: {max_addresses: 0, other: 1}\nhosts: [{name: h, address: a, roles: [x]}]\n", "t.yaml");
  EXPECT_TRUE(has(bad_limit.diagnostics, "limits.max_addresses: 0 is out of range")) << all(bad_limit.diagnostics);
  EXPECT_TRUE(has(bad_limit.diagnostics, "limits.other: unknown key")) << all(bad_limit.diagnostics);
}

TEST(Inventory, CsvWithQuotingRolesAndIgnoredColumns) {
  TempDir dir;
  dir.write("agents.csv",
            "\xEF\xBB\xBF" "Name,Domain,Address,Roles,Notes\r\n"
            "pc001,corp,198.18.4.10,agent;sep-client,\"first, with a comma\"\r\n"
            "\"pc \"\"two\"\"\",corp,198.18.4.11,agent sep-client,\"multi\r\nline\"\r\n"
            "\r\n"
            "pc003.corp.example,corp,,,\r\n"
            ",corp,2001:db8::3,agent,\r\n");
  const auto topo = dir.write("t.yaml", "groups:\n  - name: g\n    inventory: agents.csv\n    roles: [agent]\n");
  auto r = load_topology(topo);
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  const auto& inv = r.topology.groups.at(0).inventories.at(0);
  EXPECT_EQ(inv.path, dir.file("agents.csv"));
  ASSERT_EQ(inv.rows.size(), 4U);
  EXPECT_EQ(inv.rows[0].name, "pc001");
  EXPECT_EQ(inv.rows[0].address, "198.18.4.10");
  ASSERT_EQ(inv.rows[0].roles.size(), 2U);
  EXPECT_EQ(inv.rows[0].roles[1].value, "sep-client");
  EXPECT_EQ(inv.rows[0].pos.line, 2);
  EXPECT_EQ(inv.rows[1].name, "pc \"two\"");
  EXPECT_EQ(inv.rows[1].roles.size(), 2U);
  EXPECT_EQ(inv.rows[2].name, "pc003.corp.example");
  EXPECT_EQ(inv.rows[2].pos.line, 6);  // the quoted field spanned two lines, then a blank line
  EXPECT_TRUE(inv.rows[2].address.empty());
  EXPECT_TRUE(inv.rows[3].name.empty());
  EXPECT_EQ(inv.rows[3].address, "2001:db8::3");
}

TEST(Inventory, BadRowsAreReportedWithTheInventorysOwnLineAndColumn) {
  TempDir dir;
  const auto csv = dir.write("agents.csv",
                             "name,address\n"
                             "pc001,198.18.4.10\n"
                             "pc002,999.1.1.1\n"
                             "pc003,198.18.4.12,extra\n"
                             "pc004,\"198.18.4.13\"x\n"
                             ",\n"
                             "pc006,198.18.4.0/24\n"
                             "pc007,198.18.4.17\n"
                             "\"pc008,198.18.4.18\n");
  const auto topo = dir.write("t.yaml", "groups:\n  - name: g\n    inventory: agents.csv\n    roles: [agent]\n");
  auto r = load_topology(topo);
  const auto& d = r.diagnostics;
  EXPECT_TRUE(has(d, csv + ":3:7: address: '999.1.1.1' is not a valid IPv4 address")) << all(d);
  EXPECT_TRUE(has(d, csv + ":4:1: 3 fields, but the header has 2")) << all(d);
  EXPECT_TRUE(has(d, csv + ":5:20: unexpected character after a closing quote")) << all(d);
  EXPECT_TRUE(has(d, csv + ":6:1: neither a name nor an address")) << all(d);
  EXPECT_TRUE(has(d, csv + ":7:7: address: '198.18.4.0/24' is a block or range")) << all(d);
  EXPECT_TRUE(has(d, csv + ":9:1: unterminated quoted field")) << all(d);
  EXPECT_EQ(d.size(), 6U) << all(d);
  ASSERT_EQ(r.topology.groups.at(0).inventories.at(0).rows.size(), 2U);  // pc001 and pc007
}

TEST(Inventory, CsvHeaderProblems) {
  TempDir dir;
  dir.write("a.csv", "host,ip\nx,1\n");
  dir.write("b.csv", "name,Name\nx,y\n");
  dir.write("c.csv", "");
  const auto topo = dir.write("t.yaml", "groups:\n  - {name: g, inventory: [a.csv, b.csv, c.csv], roles: [agent]}\n");
  auto r = load_topology(topo);
  EXPECT_TRUE(has(r.diagnostics, "a.csv:1:1: the header row needs a `name` or an `address` column")) << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "b.csv:1:6: column 'name' appears twice")) << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "c.csv: empty")) << all(r.diagnostics);
}

TEST(Inventory, PlainListWithComments) {
  TempDir dir;
  const auto list = dir.write("agents.txt",
                              "# exported 2026-12-01\n"
                              "pc001.corp.example\n"
                              "\n"
                              "   198.18.4.11   # the lab PC\n"
                              "2001:db8::3\n"
                              "1.2.3\n"
                              "pc005 pc006\n"
                              "198.18.5.0/24\n");
  const auto topo = dir.write("t.yaml", "groups:\n  - {name: g, inventory: agents.txt, roles: [agent]}\n");
  auto r = load_topology(topo);
  const auto& d = r.diagnostics;
  EXPECT_TRUE(has(d, list + ":6:1: '1.2.3' is not a valid IPv4 address")) << all(d);
  EXPECT_TRUE(has(d, list + ":7:1: 'pc005 pc006': one name or address per line")) << all(d);
  EXPECT_TRUE(has(d, list + ":8:1: '198.18.5.0/24' is a block or range")) << all(d);
  EXPECT_EQ(d.size(), 3U) << all(d);
  const auto& rows = r.topology.groups.at(0).inventories.at(0).rows;
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows[1].name, "198.18.4.11");
  EXPECT_EQ(rows[1].pos.line, 4);
  EXPECT_EQ(rows[1].pos.column, 4);
}

TEST(Inventory, MissingOrStrangeFilesAreDiagnosticsOnTheKey) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("adir"));
  const auto topo = dir.write("t.yaml",
                              "groups:\n"
                              "  - name: g\n"
                              "    inventory: [missing.csv, adir, /dev/zero, /dev/null, \"\"]\n"
                              "    roles: [agent]\n");
  auto r = load_topology(topo);
  const auto& d = r.diagnostics;
  EXPECT_TRUE(has(d, topo + ":3:17: groups[0].inventory[0]: cannot open inventory file")) << all(d);
  EXPECT_TRUE(has(d, "groups[0].inventory[1]: inventory '" + dir.file("adir") + "' is not a regular file")) << all(d);
  EXPECT_TRUE(has(d, "groups[0].inventory[2]: inventory '/dev/zero' is not a regular file")) << all(d);
  EXPECT_TRUE(has(d, "groups[0].inventory[3]: inventory '/dev/null' is not a regular file")) << all(d);
  EXPECT_TRUE(has(d, "groups[0].inventory[4]: is empty")) << all(d);

  // Files that say size 0 (as /proc files do) are not read; an inventory with no hosts is an error.
  dir.write("header-only.csv", "name,address\n");
  dir.write("comments.txt", "# nothing yet\n");
  const auto topo2 = dir.write("t2.yaml", "groups:\n  - {name: g, inventory: [/proc/self/status, header-only.csv, comments.txt], roles: [a]}\n");
  auto r2 = load_topology(topo2);
  EXPECT_TRUE(has(r2.diagnostics, "groups[0].inventory[0]: inventory '/proc/self/status' lists no hosts")) << all(r2.diagnostics);
  EXPECT_TRUE(has(r2.diagnostics, "groups[0].inventory[1]: inventory '" + dir.file("header-only.csv") + "' lists no hosts"))
      << all(r2.diagnostics);
  EXPECT_TRUE(has(r2.diagnostics, "groups[0].inventory[2]: inventory '" + dir.file("comments.txt") + "' lists no hosts"))
      << all(r2.diagnostics);
}

TEST(Inventory, AFifoDoesNotHang) {
  TempDir dir;
  ASSERT_EQ(mkfifo(dir.file("pipe").c_str(), 0600), 0);
  const auto topo = dir.write("t.yaml", "groups:\n  - {name: g, inventory: pipe, roles: [agent]}\n");
  auto r = load_topology(topo);
  EXPECT_TRUE(has(r.diagnostics, "is not a regular file")) << all(r.diagnostics);
}

TEST(Inventory, TheCapBoundsRowsToo) {
  TempDir dir;
  std::string list;
  for (int i = 0; i < 50; ++i) list += fmt::format("198.18.4.{}\n", i);
  dir.write("l.txt", list);
  const auto topo = dir.write("t.yaml", "limits: {max_addresses: 20}\ngroups:\n  - {name: g, inventory: l.txt, roles: [agent]}\n");
  auto r = load_topology(topo);
  EXPECT_TRUE(has(r.diagnostics, "l.txt:21:1: more hosts than the topology's address limit leaves room for (20 of 20"))
      << all(r.diagnostics);
  EXPECT_EQ(r.topology.groups.at(0).inventories.at(0).rows.size(), 20U);
}

TEST(Inventory, GroupColumnSharesAFileBetweenGroups) {
  TempDir dir;
  const auto csv = dir.write("estate.csv",
                             "name,address,group\n"
                             "pc1,198.18.4.1,lan\n"
                             "pc2,198.18.5.1,wan\n"
                             "pc3,198.18.6.1,\n"
                             "pc4,198.18.7.1,nobody\n");
  const auto topo = dir.write("t.yaml",
                              "groups:\n"
                              "  - {name: lan, inventory: estate.csv, roles: [agent]}\n"
                              "  - {name: wan, inventory: estate.csv, roles: [agent]}\n");
  auto r = load_topology(topo);
  // The `nobody` row is reported once, however many groups read the file and leave it.
  EXPECT_EQ(r.diagnostics.size(), 1U) << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, csv + ":5:16: group: 'nobody' is not a group that reads this file")) << all(r.diagnostics);
  const auto& lan = r.topology.groups.at(0).inventories.at(0).rows;
  const auto& wan = r.topology.groups.at(1).inventories.at(0).rows;
  ASSERT_EQ(lan.size(), 2U);  // pc1 and pc3 (an empty cell: the group reading the file)
  EXPECT_EQ(lan[0].name, "pc1");
  ASSERT_EQ(wan.size(), 2U);  // pc2 and pc3
  EXPECT_EQ(wan[0].name, "pc2");
}

}  // namespace
}  // namespace portdrift::config
