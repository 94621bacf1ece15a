// The example topologies (config/examples/, one per product family) built for
// real in namespaces (example_estate.hpp): every documented port answers as
// the vendor says, each vantage behind its own perimeter rules; then one
// port some vantage needs is dropped and one that must stay blocked is
// exposed, and `portdrift --check` from every vantage reports exactly the
// checks those two break, nothing more, nothing less.
//
// Without root/ip/nft the tests skip (fail when CI=true).

#include <iostream>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "example_estate.hpp"

namespace {

namespace tb = portdrift::testbed;
using json = nlohmann::json;

constexpr const char* kPortdrift = PORTDRIFT_PATH;
constexpr const char* kPdListen = PD_LISTEN_PATH;
constexpr const char* kCatalog = PORTDRIFT_CATALOG_DIR;
constexpr const char* kExamples = PORTDRIFT_EXAMPLES_DIR;

// The checks of a JSON result whose verdict is not ok.
std::set<tb::Target> drifts_of(const json& doc) {
  std::set<tb::Target> out;
  for (const auto& c : doc.at("checks")) {
    if (c.at("verdict") == "ok") continue;
    const auto proto = c.at("protocol").get<std::string>();
    out.insert({c.at("host").get<std::string>(), c.at("address").get<std::string>(),
                proto == "udp" ? portdrift::Protocol::udp
                               : (proto == "icmp" ? portdrift::Protocol::icmp : portdrift::Protocol::tcp),
                c.at("port").is_null() ? std::uint16_t{0} : c.at("port").get<std::uint16_t>()});
  }
  return out;
}

std::string text(const std::set<tb::Target>& s) {
  std::string out;
  for (const auto& t : s) out += "  " + tb::to_string(t) + "\n";
  return out.empty() ? "  (none)\n" : out;
}

class Example : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const auto& pre = tb::prerequisites();
    if (!pre.ok) {
      if (tb::in_ci()) FAIL() << "CI=true but the real-network tests cannot run: " << pre.reason;
      GTEST_SKIP() << pre.reason;
    }
  }
};

TEST_P(Example, EveryVantageReportsExactlyTheInjectedDrifts) {
  tb::ExampleEstate estate(std::string(kExamples) + "/" + GetParam(), kCatalog, kPdListen);
  estate.build();
  ASSERT_GE(estate.vantages().size(), 3u) << "an example names the vantages its product's flows start from";
  const auto dropped = estate.pick_open();
  const auto exposed = estate.pick_blocked();
  ASSERT_TRUE(dropped) << "no TCP check expects open";
  ASSERT_TRUE(exposed) << "no TCP check expects blocked where nothing must be open";
  estate.drop(*dropped);
  estate.expose(*exposed);
  std::cout << GetParam() << ": dropped " << tb::to_string(*dropped) << ", exposed " << tb::to_string(*exposed)
            << "\n";
  std::size_t reported = 0;
  std::set<tb::Target> seen;
  for (const auto& v : estate.vantages()) {
    const auto r = estate.check(kPortdrift, v, {"--format", "json"});
    const auto doc = json::parse(r.out, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << "vantage " << v << ": exit " << r.exit_code << "\n" << r.out << r.err;
    EXPECT_GT(doc.at("checks").size(), 0u) << "vantage " << v << " checks nothing";
    const auto expected = estate.expected_drifts(v);
    const auto got = drifts_of(doc);
    EXPECT_EQ(got, expected) << "vantage " << v << "\nexpected drifts:\n" << text(expected) << "reported:\n"
                             << text(got) << r.out;
    EXPECT_EQ(r.exit_code == 0, expected.empty()) << "vantage " << v << ": exit " << r.exit_code;
    std::cout << "  vantage " << v << ": " << doc.at("checks").size() << " checks, exit " << r.exit_code << ", "
              << got.size() << " drifts, as expected: " << (got == expected ? "yes" : "no") << "\n";
    reported += got.size();
    seen.insert(got.begin(), got.end());
  }
  // Both injected drifts were seen by some vantage, and nothing else anywhere.
  EXPECT_EQ(seen, (std::set<tb::Target>{*dropped, *exposed})) << text(seen);
  EXPECT_GE(reported, 2u);
}

INSTANTIATE_TEST_SUITE_P(ConfigExamples, Example,
                         ::testing::Values("itms-sep.yaml", "sav-scs.yaml", "sms-2003.yaml", "mail-security.yaml"),
                         [](const auto& p) {
                           std::string n = p.param;
                           n = n.substr(0, n.find('.'));
                           for (auto& ch : n) ch = ch == '-' ? '_' : ch;
                           return n;
                         });

}  // namespace
