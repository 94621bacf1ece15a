// Every example topology of config/examples/ validates with the real catalog,
// as a whole and from each of its named vantages, and each vantage has checks
// to run (the netns test builds and checks them: tests/netns/examples_test.cpp).

#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include "cli/run_cli.hpp"

namespace portdrift::cli {
namespace {

using test::run_cli;

class ExampleTopology : public ::testing::TestWithParam<const char*> {};

TEST_P(ExampleTopology, ValidatesAsAWholeAndFromEveryVantage) {
  const std::string file = std::string(PORTDRIFT_CONFIG_DIR) + "/examples/" + GetParam();
  auto r = run_cli({"--validate", "-c", file, "--catalog-dir", PORTDRIFT_CATALOG_DIR});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(file + ": OK: "), std::string::npos) << r.out;
  const auto doc = YAML::LoadFile(file);
  ASSERT_TRUE(doc["vantages"].IsMap()) << "an example names the vantages its product's flows start from";
  EXPECT_GE(doc["vantages"].size(), 3u);
  for (const auto& v : doc["vantages"]) {
    const auto name = v.first.as<std::string>();
    r = run_cli({"--validate", "-c", file, "--catalog-dir", PORTDRIFT_CATALOG_DIR, "--vantage", name});
    ASSERT_EQ(r.code, 0) << name << ":\n" << r.out << r.err;
    EXPECT_NE(r.out.find(" checks from vantage " + name), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find(": OK: 0 hosts"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find(", 0 checks from"), std::string::npos) << name << " checks nothing:\n" << r.out;
  }
}

INSTANTIATE_TEST_SUITE_P(ConfigExamples, ExampleTopology,
                         ::testing::Values("itms-sep.yaml", "sav-scs.yaml", "sms-2003.yaml", "mail-security.yaml"),
                         [](const auto& p) {
                           std::string n = p.param;
                           n = n.substr(0, n.find('.'));
                           for (auto& ch : n) ch = ch == '-' ? '_' : ch;
                           return n;
                         });

}  // namespace
}  // namespace portdrift::cli
