// `portdrift policy` and `portdrift explain` as a user runs them, in process,
// on the shipped demo estate and catalog. Nothing is probed.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/run_cli.hpp"

namespace portdrift::cli {
namespace {

namespace fs = std::filesystem;

using test::run_cli;

const std::string kDemo = std::string(PORTDRIFT_CONFIG_DIR) + "/demo-estate.yaml";
const std::string kCatalogDir = PORTDRIFT_CATALOG_DIR;

TEST(PolicyCommand, WritesTheCapircaTreeAndOnlyReplacesItsOwnFiles) {
  const fs::path dir = fs::path(::testing::TempDir()) / "pd-policy-cmd";
  fs::remove_all(dir);
  fs::create_directories(dir / "policies" / "pol");
  std::ofstream(dir / "policies" / "pol" / "gone.pol") << "# Written by `portdrift policy`: an old listener\n";
  std::ofstream(dir / "policies" / "pol" / "mine.pol") << "# hand-written\n";
  const auto r = run_cli({"policy", "-c", kDemo, "--catalog-dir", kCatalogDir, "--out", dir.string(), "--target",
                          "nftables,windows_advfirewall"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("6 filters, 99 terms"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_regular_file(dir / "def" / "NETWORK.net"));
  EXPECT_TRUE(fs::is_regular_file(dir / "def" / "SERVICES.svc"));
  EXPECT_TRUE(fs::is_regular_file(dir / "policies" / "pol" / "sepm1.pol"));
  EXPECT_FALSE(fs::exists(dir / "policies" / "pol" / "gone.pol"));
  EXPECT_TRUE(fs::exists(dir / "policies" / "pol" / "mine.pol"));
  std::ifstream in(dir / "policies" / "pol" / "sepm1.pol");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("target:: windows_advfirewall in"), std::string::npos);
  fs::remove_all(dir);
}

TEST(PolicyCommand, UsageAndConfigurationProblemsExitUnknown) {
  EXPECT_EQ(run_cli({"policy", "-c", kDemo}).code, 3);  // neither --out nor --check-against
  const auto bad_default = run_cli({"policy", "-c", kDemo, "--out", "x", "--default", "maybe"});
  EXPECT_EQ(bad_default.code, 3);
  EXPECT_NE(bad_default.err.find("--default: takes deny, accept or none"), std::string::npos);
  EXPECT_EQ(run_cli({"policy", "-c", kDemo, "--out", "x", "--target", "nft ables"}).code, 3);
  const auto topo = ::testing::TempDir() + "pd-policy-bad.yaml";
  std::ofstream(topo) << "hosts:\n  - {name: a, address: 198.18.0.1, roles: [no-such-role]}\n";
  const auto bad = run_cli({"policy", "-c", topo, "--catalog-dir", kCatalogDir, "--out", "x"});
  EXPECT_EQ(bad.code, 3);
  EXPECT_NE(bad.out.find("pd-policy-bad.yaml:2:"), std::string::npos) << bad.out;  // file:line:column
  const auto nojson = ::testing::TempDir() + "pd-not-json.json";
  std::ofstream(nojson) << "table inet x {}";
  EXPECT_EQ(run_cli({"policy", "-c", kDemo, "--catalog-dir", kCatalogDir, "--check-against", nojson}).code, 3);
  // JSON of the wrong shape: a short range, a prefix that is not an object.
  const auto odd = ::testing::TempDir() + "pd-odd-ruleset.json";
  std::ofstream(odd) << R"({"nftables": [
    {"chain": {"family": "inet", "table": "t", "name": "c", "hook": "input", "prio": 0, "policy": "drop"}},
    {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [
      {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"range": [1]}}},
      {"accept": null}]}},
    {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [
      {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": 7}}},
      {"accept": null}]}}]})";
  const auto odd_run = run_cli({"policy", "-c", kDemo, "--catalog-dir", kCatalogDir, "--check-against", odd});
  EXPECT_EQ(odd_run.code, 3) << odd_run.out << odd_run.err;
  EXPECT_NE(odd_run.out.find("not an nft -j ruleset"), std::string::npos) << odd_run.out;
}

TEST(PolicyCommand, CheckAgainstAnEmptyRulesetFindsEveryPortOpen) {
  const auto rs = ::testing::TempDir() + "pd-empty-ruleset.json";
  std::ofstream(rs) << R"({"nftables": [{"metainfo": {"version": "1.0.6"}}]})";
  const auto r = run_cli({"policy", "-c", kDemo, "--catalog-dir", kCatalogDir, "--check-against", rs, "--host",
                          "sepm1", "--format", "json"});
  EXPECT_EQ(r.code, 2) << r.out;  // no firewall: the blocked SEPM ports are let in
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_TRUE(doc["missing"].empty());
  EXPECT_FALSE(doc["exposed"].empty());
  EXPECT_EQ(run_cli({"policy", "-c", kDemo, "--catalog-dir", kCatalogDir, "--check-against", rs, "--host", "nope"})
                .code,
            3);
}

TEST(ExplainCommand, NamesFlowsAndDocumentsOrSaysNobodyAsked) {
  const auto r = run_cli({"explain", "-c", kDemo, "--catalog-dir", kCatalogDir, "sepm1", "8447"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("flow sep-process-launcher-remote (sep-14)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("seed document 004_def84f434120bb2e.txt"), std::string::npos) << r.out;
  const auto none = run_cli({"explain", "-c", kDemo, "--catalog-dir", kCatalogDir, "ns1", "12345", "--format", "json"});
  EXPECT_EQ(none.code, 0);
  EXPECT_EQ(nlohmann::json::parse(none.out)["documented"], false);
  EXPECT_EQ(run_cli({"explain", "-c", kDemo, "--catalog-dir", kCatalogDir, "nobody"}).code, 3);
  EXPECT_EQ(run_cli({"explain", "-c", kDemo, "sepm1", "70000"}).code, 3);
}

}  // namespace
}  // namespace portdrift::cli
