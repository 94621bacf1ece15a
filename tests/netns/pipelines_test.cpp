// Pipelines and "what changed", end to end: the SAV/SCS example estate
// (example_estate.hpp) checked from its client vantage, read by the real
// consumers. JUnit output validates against the JUnit XML schema that Jenkins
// and GitLab CI read (tests/data/junit/junit.xsd) with xmllint, and its counts
// are what the JSON run says; the TAP stream is parsed by perl's `prove`.
// A clean run is the baseline; after one dropped port `--baseline` reports
// that one new critical drift and exits 2. Each run has at least one failure
// (the dropped port) and one skipped case (the catalog's dynamic ranges).
//
// Without root/ip/nft the tests skip, and without xmllint or prove too (all fail when CI=true).

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "example_estate.hpp"

namespace {

namespace fs = std::filesystem;
namespace tb = portdrift::testbed;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kPortdrift = PORTDRIFT_PATH;
constexpr const char* kPdListen = PD_LISTEN_PATH;
constexpr const char* kCatalog = PORTDRIFT_CATALOG_DIR;
constexpr const char* kExamples = PORTDRIFT_EXAMPLES_DIR;
constexpr const char* kSchema = PORTDRIFT_JUNIT_XSD;
const std::string kVantage = "clients";

std::string describe(const tb::CommandResult& r) {
  return r.command + "\nexit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// xmllint --xpath 'string(EXPR)' as text (without the line end xmllint adds).
std::string xpath(const fs::path& file, const std::string& expr) {
  auto out = tb::run({"xmllint", "--xpath", "string(" + expr + ")", file.string()}, tb::RunOptions{}.keep_status()).out;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Pipelines : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& pre = tb::prerequisites();
    std::string missing = pre.ok ? "" : pre.reason;
    if (missing.empty() && !tb::find_tool("xmllint")) missing = "xmllint is not installed (.ci/deps: libxml2-utils)";
    if (missing.empty() && !tb::find_tool("prove")) missing = "prove is not installed (perl)";
    if (!missing.empty()) {
      if (tb::in_ci()) FAIL() << "CI=true but the pipeline tests cannot run: " << missing;
      GTEST_SKIP() << missing;
    }
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("pdtb-pipes-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000));
    fs::create_directories(dir_);
    estate_ = std::make_unique<tb::ExampleEstate>(std::string(kExamples) + "/sav-scs.yaml", kCatalog, kPdListen);
    estate_->build();
  }
  void TearDown() override {
    estate_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  fs::path save(const std::string& name, const std::string& text) {
    const auto p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  // Drops a port the client vantage needs; returns it.
  tb::Target break_one() {
    const auto t = estate_->pick_open();
    EXPECT_TRUE(t);
    estate_->drop(*t);
    EXPECT_EQ(estate_->expected_drifts(kVantage), std::set<tb::Target>{*t});
    return *t;
  }
  json run_json() {
    const auto r = estate_->check(kPortdrift, kVantage, {"--format", "json"});
    auto doc = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(doc.is_discarded()) << describe(r);
    return doc;
  }

  fs::path dir_;
  std::unique_ptr<tb::ExampleEstate> estate_;
};

TEST_F(Pipelines, JunitValidatesAgainstTheSchemaAndCountsWhatTheRunFound) {
  const auto dropped = break_one();
  const auto doc = run_json();
  const std::size_t checks = doc.at("checks").size();
  const std::size_t skipped = doc.at("skipped").size();
  ASSERT_GT(skipped, 0u) << "the client vantage has dynamic flows, never probed";
  const auto r = estate_->check(kPortdrift, kVantage, {"--format", "junit"});
  EXPECT_EQ(r.exit_code, 2) << "the exit status stays Nagios's: CRITICAL\n" << describe(r);
  const auto file = save("junit.xml", r.out);
  const auto lint = tb::run({"xmllint", "--noout", "--schema", kSchema, file.string()}, tb::RunOptions{}.keep_status());
  EXPECT_EQ(lint.exit_code, 0) << describe(lint) << r.out;
  EXPECT_NE(lint.err.find("validates"), std::string::npos) << lint.err;

  EXPECT_EQ(xpath(file, "/testsuites/testsuite/@tests"), std::to_string(checks + skipped));
  EXPECT_EQ(xpath(file, "count(//testcase)"), std::to_string(checks + skipped));
  EXPECT_EQ(xpath(file, "/testsuites/testsuite/@failures"), "1");
  EXPECT_EQ(xpath(file, "count(//testcase/failure)"), "1");
  EXPECT_EQ(xpath(file, "/testsuites/testsuite/@errors"), "0");
  EXPECT_EQ(xpath(file, "/testsuites/testsuite/@skipped"), std::to_string(skipped));
  EXPECT_EQ(xpath(file, "count(//testcase/skipped)"), std::to_string(skipped));
  // The failure is the dropped port, with what was expected, seen, and why.
  const auto failed = "//testcase[failure]";
  EXPECT_EQ(xpath(file, std::string(failed) + "/@classname"), "clients.sav-server." + dropped.host);
  EXPECT_EQ(xpath(file, std::string(failed) + "/failure/@message"), "expected open, observed filtered (no-response)");
  const auto body = xpath(file, std::string(failed) + "/failure");
  EXPECT_NE(body.find("address: " + dropped.address + "\n"), std::string::npos) << body;
  EXPECT_NE(body.find("flow: tcp/" + std::to_string(dropped.port) + "\n"), std::string::npos) << body;
  EXPECT_NE(body.find("expected: open\nobserved: filtered\nreason: no-response\nverdict: drift\nseverity: critical\n"),
            std::string::npos)
      << body;

  // The schema check can fail: the same file with a testcase that has no name does not validate.
  auto broken = r.out;
  broken.replace(broken.find("<testcase classname="), 9, "<testcase");
  broken.replace(broken.find(" name=\"", broken.find("<testcase")), 7, " nome=\"");
  const auto bad = save("broken.xml", broken);
  EXPECT_NE(tb::run({"xmllint", "--noout", "--schema", kSchema, bad.string()}, tb::RunOptions{}.keep_status()).exit_code,
            0);
}

TEST_F(Pipelines, ProveReadsTheTapStream) {
  const auto clean = estate_->check(kPortdrift, kVantage, {"--format", "tap"});
  EXPECT_EQ(clean.exit_code, 0) << describe(clean);
  const auto doc = run_json();
  const std::size_t total = doc.at("checks").size() + doc.at("skipped").size();
  const auto skipped = doc.at("skipped").size();
  ASSERT_GT(skipped, 0u);
  auto p = tb::run({"prove", "-e", "cat", save("clean.tap", clean.out).string()}, tb::RunOptions{}.keep_status());
  EXPECT_EQ(p.exit_code, 0) << describe(p) << clean.out;
  EXPECT_NE(p.out.find("All tests successful."), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("Tests=" + std::to_string(total) + ","), std::string::npos) << p.out;

  const auto dropped = break_one();
  const auto r = estate_->check(kPortdrift, kVantage, {"--format", "tap"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  p = tb::run({"prove", "-e", "cat", save("drift.tap", r.out).string()}, tb::RunOptions{}.keep_status());
  EXPECT_NE(p.exit_code, 0) << "prove must fail on a drift\n" << describe(p);
  EXPECT_NE(p.out.find("Failed 1/" + std::to_string(total) + " subtests"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("(less " + std::to_string(skipped) + " skipped subtest"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("Tests: " + std::to_string(total) + " Failed: 1)"), std::string::npos) << p.out;
  // The failing test point names the dropped port, and its YAML block says why.
  const std::regex point("\nnot ok ([0-9]+) - clients\\.sav-server\\." + dropped.host + " tcp/" +
                         std::to_string(dropped.port) + " expected open at " + dropped.address);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, point)) << r.out;
  EXPECT_NE(p.out.find("Failed test:  " + m[1].str() + "\n"), std::string::npos) << p.out;
  EXPECT_NE(r.out.find("\n  expected: \"open\"\n  observed: \"filtered\"\n  reason: \"no-response\"\n"),
            std::string::npos)
      << r.out;
}

TEST_F(Pipelines, BaselineReportsTheNewDriftAndExitsCritical) {
  const auto before = estate_->check(kPortdrift, kVantage, {"--format", "json"});
  ASSERT_EQ(before.exit_code, 0) << describe(before);
  const auto baseline = save("baseline.json", before.out);

  // Nothing changed yet: OK.
  auto r = estate_->check(kPortdrift, kVantage, {"--baseline", baseline.string()});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out.rfind("PORTDRIFT OK - no change since " + baseline.string() + " | ", 0), 0u) << r.out;

  const auto dropped = break_one();
  r = estate_->check(kPortdrift, kVantage, {"--baseline", baseline.string()});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.out.rfind("PORTDRIFT CRITICAL - since " + baseline.string() +
                            ": 1 new problem (1 critical), 0 cleared, 0 changed, 0 added, 0 removed | ",
                        0),
            0u)
      << r.out;
  EXPECT_NE(r.out.find("\n+ new critical: " + dropped.host + " " + dropped.address + " tcp/" +
                       std::to_string(dropped.port) + " expected open: was ok open (syn-ack), now drift filtered "
                       "(no-response)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\nThis run: PORTDRIFT CRITICAL - "), std::string::npos) << r.out;

  r = estate_->check(kPortdrift, kVantage, {"--baseline", baseline.string(), "--format", "json"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  const auto doc = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << r.out;
  EXPECT_EQ(doc["summary"]["new_critical"], 1);
  ASSERT_EQ(doc["changes"].size(), 1u) << r.out;
  EXPECT_EQ(doc["changes"][0]["change"], "new");
  EXPECT_EQ(doc["changes"][0]["after"]["port"], dropped.port);
  EXPECT_EQ(doc["run"]["status"], "CRITICAL");

  // This diff is the next baseline: against it, the same state is no change.
  const auto next = save("next.json", r.out);
  r = estate_->check(kPortdrift, kVantage, {"--baseline", next.string()});
  EXPECT_EQ(r.exit_code, 0) << describe(r);

  // A baseline that is not there: UNKNOWN, naming the file, before anything is probed.
  const auto missing = (dir_ / "missing.json").string();
  r = estate_->check(kPortdrift, kVantage, {"--baseline", missing});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_EQ(r.out, "PORTDRIFT UNKNOWN - cannot read baseline " + missing + ": No such file or directory\n");
}

}  // namespace
