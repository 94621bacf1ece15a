// A fleet sharing one topology: named vantages (selection, errors, coverage
// warnings) and shards (each check exactly once over N instances).
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <fmt/format.h>

#include "portdrift/plan/fleet.hpp"
#include "portdrift/runner/setup.hpp"
#include "test_support.hpp"

namespace portdrift::plan {
namespace {

using test_support::all;
using test_support::has;
using test_support::TempDir;

const std::string kFleet = std::string(PORTDRIFT_TEST_DATA_DIR) + "/fleet-topology.yaml";

runner::SetupResult setup(const std::string& file, runner::Selection s) {
  return runner::load_setup(file, PORTDRIFT_CATALOG_DIR, {}, s);
}

runner::Selection pick(std::string vantage, std::optional<Shard> shard = std::nullopt) {
  runner::Selection s;
  s.vantage = std::move(vantage);
  s.shard = shard;
  return s;
}

std::string key(const Check& c) {
  return fmt::format("{} {} {}/{}", c.host, c.target, to_string(c.protocol), c.port);
}

TEST(Fleet, ParsesVantagesWithHostRolesAndSource) {
  auto r = config::load_topology(kFleet);
  ASSERT_TRUE(r.ok()) << all(r.diagnostics);
  const auto& v = r.topology.vantages;
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].name.value, "agents");
  EXPECT_EQ(v[0].vantage.roles.size(), 2u);
  EXPECT_EQ(v[1].vantage.host->value, "ns01");
  ASSERT_TRUE(v[2].source.has_value());
  EXPECT_EQ(v[2].source->value, "127.0.0.1");
  EXPECT_FALSE(r.topology.vantage.declared());
}

TEST(Fleet, RejectsBadVantageEntries) {
  auto r = config::parse_topology(R"(vantages:
  "bad name": {roles: [agent]}
  empty: {}
  extra: {roles: [agent], port: 1}
hosts:
  - {name: a, address: 198.18.0.1, roles: [agent]}
)", "t.yaml");
  EXPECT_TRUE(has(r.diagnostics, "'bad name': a vantage name is")) << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "vantages.empty: needs `host`")) << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "vantages.extra")) << all(r.diagnostics);
}

TEST(Fleet, EachVantagePlansItsOwnFlowsAndTakesItsSource) {
  const auto agents = setup(kFleet, pick("agents"));
  ASSERT_TRUE(agents.ok()) << all(agents.diagnostics);
  const auto ns = setup(kFleet, pick("ns"));
  ASSERT_TRUE(ns.ok()) << all(ns.diagnostics);
  const auto sepm = setup(kFleet, pick("sepm"));
  ASSERT_TRUE(sepm.ok()) << all(sepm.diagnostics);
  const auto flows_to = [](const Plan& p, std::string_view from, std::string_view to) {
    return std::count_if(p.checks.begin(), p.checks.end(),
                         [&](const Check& c) { return p.roles_of(c).from == from && p.roles_of(c).to == to; });
  };
  EXPECT_GT(flows_to(agents.setup.plan, "agent", "notification-server"), 0);
  EXPECT_EQ(flows_to(agents.setup.plan, "sepm", "sql-server"), 0);
  EXPECT_GT(flows_to(sepm.setup.plan, "sepm", "sql-server"), 0);
  EXPECT_GT(flows_to(ns.setup.plan, "notification-server", "agent"), 0);
  // The vantage's source stands in for defaults.source; explicit checks carry no roles.
  for (const auto& c : sepm.setup.plan.checks) EXPECT_EQ(c.source, "127.0.0.1");
  for (const auto& c : agents.setup.plan.checks) {
    EXPECT_EQ(c.source, "");
    if (c.catalog_ids.empty()) {
      EXPECT_EQ(c.roles, 0) << key(c);
    } else {
      EXPECT_FALSE(agents.setup.plan.roles_of(c).to.empty()) << key(c);
    }
  }
  EXPECT_EQ(agents.setup.selection.vantage, "agents");
}

// The roles ride in what was padding: a 150k-check plan must not grow for them (docs/performance.md).
TEST(Fleet, RolesCostACheckNoBytes) { EXPECT_LE(sizeof(Check), 152U); }

TEST(Fleet, UnknownOrMissingVantageIsAClearError) {
  const auto unknown = setup(kFleet, pick("dmz"));
  EXPECT_TRUE(has(unknown.diagnostics, "unknown vantage 'dmz' (declared: agents, ns, sepm)")) << all(unknown.diagnostics);
  const auto none = setup(kFleet, pick(""));
  EXPECT_TRUE(has(none.diagnostics, "declares vantages (agents, ns, sepm) and no `vantage:`; pick one with --vantage"))
      << all(none.diagnostics);
  auto validate = pick("");
  validate.vantage_required = false;
  EXPECT_TRUE(setup(kFleet, validate).ok());
  // A topology with only `vantage:` keeps working, and names no vantage.
  const auto single = setup(std::string(PORTDRIFT_CONFIG_DIR) + "/example-topology.yaml", pick(""));
  EXPECT_TRUE(single.ok()) << all(single.diagnostics);
  EXPECT_TRUE(single.warnings.empty());
  EXPECT_FALSE(single.setup.plan.checks.empty());
  const auto no_vantages = setup(std::string(PORTDRIFT_CONFIG_DIR) + "/example-topology.yaml", pick("ns"));
  EXPECT_TRUE(has(no_vantages.diagnostics, "unknown vantage 'ns': the topology declares no `vantages:`"));
}

TEST(Fleet, WarnsAboutFlowsNoVantageChecks) {
  TempDir dir;
  const auto file = dir.write("t.yaml", R"(products: [sep-14]
vantages:
  clients: {roles: [sep-client]}
  typo: {roles: [sepmm]}
  lost: {host: nowhere}
hosts:
  - {name: sepm01, address: 198.18.10.41, roles: [sepm]}
  - {name: sql01, address: 198.18.10.51, roles: [sql-server]}
)");
  auto v = pick("clients");
  const auto r = setup(file, v);
  EXPECT_TRUE(has(r.diagnostics, "vantages.typo.roles[0]: unknown role 'sepmm'")) << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "vantages.lost.host: vantage host 'nowhere' is not one of `hosts`"))
      << all(r.diagnostics);
  EXPECT_TRUE(has(r.warnings, "nobody checks tcp/1433 sepm -> sql-server (flow sep-sepm-db-sql")) << all(r.warnings);
  // The clients' own flows to the SEPM are covered.
  EXPECT_FALSE(has(r.warnings, "sep-client -> sepm")) << all(r.warnings);
}

TEST(Fleet, ParsesShards) {
  std::string error;
  const auto s = parse_shard("2/3", error);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->index, 2u);
  EXPECT_EQ(s->count, 3u);
  EXPECT_EQ(to_string(*s), "2/3");
  for (std::string_view bad : {"0/3", "4/3", "3", "/3", "a/b", "1/0", "1/3x", ""}) {
    EXPECT_FALSE(parse_shard(bad, error).has_value()) << bad;
    EXPECT_NE(error.find("K/N"), std::string::npos);
  }
}

TEST(Fleet, TheHashIsFixedAcrossBuilds) {
  // Instances on different machines must agree: these values are part of the contract.
  EXPECT_EQ(stable_hash(""), stable_hash(""));
  EXPECT_EQ(shard_of("198.18.4.17", 1), 1u);
  EXPECT_EQ(stable_hash("198.18.4.17"), 0xae16e66357b1101cULL) << fmt::format("{:#x}", stable_hash("198.18.4.17"));
}

// N instances of one vantage, K = 1..N, probe every check of the vantage exactly once,
// and every check of one target in one shard.
TEST(Fleet, ShardsCoverEachCheckExactlyOnce) {
  for (const std::string vantage : {"agents", "ns", "sepm"}) {
    const auto whole = setup(kFleet, pick(vantage));
    ASSERT_TRUE(whole.ok()) << all(whole.diagnostics);
    std::multiset<std::string> expected;
    for (const auto& c : whole.setup.plan.checks) expected.insert(key(c));
    ASSERT_GT(expected.size(), 0u);
    for (std::uint32_t n : {1u, 2u, 3u, 7u}) {
      std::multiset<std::string> seen;
      std::map<std::string, std::uint32_t> shard_of_target;
      std::vector<std::size_t> sizes;
      for (std::uint32_t k = 1; k <= n; ++k) {
        const auto part = setup(kFleet, pick(vantage, Shard{k, n}));
        ASSERT_TRUE(part.ok()) << all(part.diagnostics);
        EXPECT_EQ(part.setup.vantage_checks, expected.size());
        sizes.push_back(part.setup.plan.checks.size());
        for (const auto& c : part.setup.plan.checks) {
          seen.insert(key(c));
          auto [it, fresh] = shard_of_target.try_emplace(std::string(c.target), k);
          EXPECT_EQ(it->second, k) << c.target << " is split over shards " << it->second << " and " << k;
        }
      }
      EXPECT_EQ(seen, expected) << vantage << " N=" << n;
      if (vantage == "agents") {
        std::string line;
        for (auto s : sizes) line += fmt::format(" {}", s);
        std::cout << "vantage agents, N=" << n << ": checks per shard" << line << " of " << expected.size() << '\n';
      }
    }
  }
}

}  // namespace
}  // namespace portdrift::plan
