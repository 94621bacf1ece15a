// --baseline: reading an earlier JSON result, the ndiff-style comparison and
// its exit rule, the text and JSON renderings. The end-to-end run is in
// tests/netns/pipelines_test.cpp.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "portdrift/report/baseline.hpp"
#include "portdrift/report/report.hpp"

namespace portdrift::report {
namespace {

using nlohmann::json;

json check(std::string host, int port, std::string expected, std::string observed, std::string reason,
           std::string verdict, std::string severity = "critical") {
  return {{"host", host},         {"target", host},   {"address", "198.18.1.1"}, {"protocol", "tcp"},
          {"port", port},         {"expected", expected}, {"observed", observed}, {"reason", reason},
          {"verdict", verdict},   {"severity", severity}, {"catalog_id", "flow-" + std::to_string(port)}};
}

std::string run(const std::string& status, json checks, const std::string& hash = "aaaa") {
  return json{{"status", status}, {"exit_code", 0}, {"vantage", nullptr},
              {"topology", {{"file", "t.yaml"}, {"hash", hash}}}, {"checks", std::move(checks)}}
      .dump();
}

RunRecord parsed(const std::string& text) {
  auto r = parse_run(text);
  EXPECT_TRUE(r.record) << r.error;
  return r.record.value_or(RunRecord{});
}

BaselineDiff diff_of(const std::string& before, const std::string& after) {
  auto d = compare(parsed(before), parsed(after));
  EXPECT_TRUE(d.diff) << d.error;
  return d.diff.value_or(BaselineDiff{});
}

const std::string kBefore = run(
    "CRITICAL", json::array({check("ns", 443, "open", "open", "syn-ack", "ok"),
                             check("ns", 80, "open", "filtered", "no-response", "drift"),
                             check("ns", 8080, "blocked", "closed", "conn-refused", "ok"),
                             check("sepm", 8443, "open", "open", "syn-ack", "ok", "warning"),
                             check("old", 22, "blocked", "closed", "conn-refused", "ok")}));

TEST(Baseline, NothingChangedIsOk) {
  const auto d = diff_of(kBefore, kBefore);
  EXPECT_TRUE(d.changes.empty());
  EXPECT_EQ(d.status, verdict::Status::ok);
  EXPECT_EQ(diff_text(d, "prev.json").rfind("PORTDRIFT OK - no change since prev.json | 'new'=0;;;0", 0), 0u)
      << diff_text(d, "prev.json");
}

TEST(Baseline, NewClearedChangedAddedRemoved) {
  const auto after = run(
      "CRITICAL", json::array({check("ns", 443, "open", "filtered", "no-response", "drift"),     // new, critical
                               check("ns", 80, "open", "open", "syn-ack", "ok"),                // cleared
                               check("ns", 8080, "blocked", "filtered", "no-response", "ok"),   // changed
                               check("sepm", 8443, "open", "open", "syn-ack", "ok", "warning"),  // same
                               check("new", 21, "blocked", "closed", "conn-refused", "ok")}),  // added
      "bbbb");
  const auto d = diff_of(kBefore, after);
  ASSERT_EQ(d.changes.size(), 5u);
  EXPECT_EQ(d.changes[0].kind, ChangeKind::new_problem);
  EXPECT_EQ(d.changes[1].kind, ChangeKind::cleared);
  EXPECT_EQ(d.changes[2].kind, ChangeKind::changed);
  EXPECT_EQ(d.changes[3].kind, ChangeKind::added);
  EXPECT_EQ(d.changes[4].kind, ChangeKind::removed);
  EXPECT_EQ(d.new_problems, 1u);
  EXPECT_EQ(d.new_critical, 1u);
  EXPECT_TRUE(d.topology_changed);
  EXPECT_EQ(d.status, verdict::Status::critical);
  const auto text = diff_text(d, "prev.json");
  EXPECT_EQ(text.substr(0, text.find(" | ")),
            "PORTDRIFT CRITICAL - since prev.json: 1 new problem (1 critical), 1 cleared, 1 changed, 1 added, 1 "
            "removed; the topology file changed");
  EXPECT_NE(text.find("\n+ new critical: ns 198.18.1.1 tcp/443 expected open: was ok open (syn-ack), now drift "
                      "filtered (no-response)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n- cleared: ns 198.18.1.1 tcp/80 expected open: was drift filtered (no-response), now ok "
                      "open (syn-ack)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n~ changed: ns 198.18.1.1 tcp/8080 expected blocked: was ok closed (conn-refused), now ok "
                      "filtered (no-response)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n+ added: new 198.18.1.1 tcp/21 expected blocked: ok closed (conn-refused)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n- removed: old 198.18.1.1 tcp/22 expected blocked: was ok closed (conn-refused)\n"),
            std::string::npos)
      << text;
}

TEST(Baseline, OnlyAWarningDriftOrAClearedOneIsAWarning) {
  auto after = json::parse(kBefore);
  after["checks"][3]["observed"] = "filtered";
  after["checks"][3]["verdict"] = "drift";  // sepm 8443: warning severity
  auto d = diff_of(kBefore, after.dump());
  EXPECT_EQ(d.new_problems, 1u);
  EXPECT_EQ(d.new_critical, 0u);
  EXPECT_EQ(d.status, verdict::Status::warning);
  after = json::parse(kBefore);
  after["checks"][1]["verdict"] = "ok";  // ns 80 cleared
  d = diff_of(kBefore, after.dump());
  EXPECT_EQ(d.cleared, 1u);
  EXPECT_EQ(d.status, verdict::Status::warning);
}

TEST(Baseline, AnAddedCheckThatDriftsIsANewCriticalProblem) {
  auto after = json::parse(kBefore);
  after["checks"].push_back(check("web", 25, "open", "closed", "conn-refused", "drift"));
  const auto d = diff_of(kBefore, after.dump());
  EXPECT_EQ(d.added, 1u);
  EXPECT_EQ(d.new_critical, 1u);
  EXPECT_EQ(d.status, verdict::Status::critical);
}

TEST(Baseline, AChangedExpectationIsRemovedAndAdded) {
  auto after = json::parse(kBefore);
  after["checks"][2]["expected"] = "filtered";
  const auto d = diff_of(kBefore, after.dump());
  EXPECT_EQ(d.added, 1u);
  EXPECT_EQ(d.removed, 1u);
}

TEST(Baseline, ADriftStillDriftingForAnotherReasonIsAChange) {
  auto after = json::parse(kBefore);
  after["checks"][1]["observed"] = "closed";
  after["checks"][1]["reason"] = "conn-refused";
  const auto d = diff_of(kBefore, after.dump());
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].kind, ChangeKind::changed);
  EXPECT_EQ(d.status, verdict::Status::warning) << "the drift is not new";
}

TEST(Baseline, RefusesWhatIsNotARunResult) {
  EXPECT_EQ(parse_run("{not json").error, "not JSON");
  EXPECT_EQ(parse_run("[1]").error, "not a JSON object");
  EXPECT_EQ(parse_run(R"({"status":"UNKNOWN","checks":[]})").error, "a run that probed nothing (UNKNOWN)");
  EXPECT_EQ(parse_run(R"({"hosts":[]})").error, "no \"status\" of a portdrift --check --format json result");
  EXPECT_EQ(parse_run(R"({"status":"OK"})").error, "no \"checks\" array");
  EXPECT_EQ(parse_run(R"({"status":"OK","checks":[{"host":"a"}]})").error,
            "checks[0] lacks host, protocol, expected or verdict");
}

TEST(Baseline, RefusesToCompareTwoVantages) {
  auto other = json::parse(kBefore);
  other["vantage"] = "dmz";
  const auto d = compare(parsed(kBefore), parsed(other.dump()));
  EXPECT_FALSE(d.diff);
  EXPECT_EQ(d.error, "the baseline was checked from the topology's own vantage, this run from dmz: their flows differ");
}

TEST(Baseline, JsonDiffCarriesTheRunAndReadsBackAsABaseline) {
  auto after = json::parse(kBefore);
  after["checks"][1]["verdict"] = "ok";
  const auto d = diff_of(kBefore, after.dump());
  const auto doc = json::parse(diff_json(d, "prev.json", after.dump()));
  EXPECT_EQ(doc["status"], "WARNING");
  EXPECT_EQ(doc["exit_code"], 1);
  EXPECT_EQ(doc["summary"]["cleared"], 1);
  ASSERT_EQ(doc["changes"].size(), 1u);
  EXPECT_EQ(doc["changes"][0]["change"], "cleared");
  EXPECT_EQ(doc["changes"][0]["before"]["verdict"], "drift");
  EXPECT_EQ(doc["changes"][0]["after"]["port"], 80);
  EXPECT_EQ(doc["run"]["checks"].size(), 5u);
  // Today's diff document is tomorrow's baseline.
  const auto again = diff_of(doc.dump(), after.dump());
  EXPECT_TRUE(again.changes.empty());
}

}  // namespace
}  // namespace portdrift::report
