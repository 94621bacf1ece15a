// JUnit and TAP renderings of a run: counts, what a failure carries, skipped
// flows, escaping. The schema itself is checked by xmllint on the real
// binary's output in tests/netns/pipelines_test.cpp.

#include <gtest/gtest.h>

#include "portdrift/report/pipeline.hpp"
#include "test_support.hpp"

namespace portdrift::report {
namespace {

std::size_t count(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// Three results (one ok, one drift with XML and TAP specials in its reply, one error) and a flow not probed.
struct SampleRun {
  plan::Plan plan;
  std::vector<verdict::CheckResult> results;
  SampleRun() {
    for (int i = 0; i < 3; ++i) {
      plan::Check c;
      c.host = "web<1>";
      c.target = "198.18.1.1";
      c.protocol = Protocol::tcp;
      c.port = static_cast<std::uint16_t>(443 + i);
      c.expect = i == 1 ? Expect::blocked : Expect::open;
      c.severity = Severity::critical;
      c.catalog_ids = {"itms-agent-ns-https"};
      plan.checks.push_back(c);
    }
    plan.roles.push_back({"agent", "notification-server"});
    plan.checks[0].roles = 1;
    plan.skipped.push_back({"web<1>", "itms-tickle", Protocol::udp, "52028", "udp & \"no payload\""});
    auto open = test_support::observed(PortState::open, Reason::syn_ack, "198.18.1.1");
    open.rtt = std::chrono::microseconds(2500);
    auto exposed = open;
    exposed.reply = "banner # with 'quotes' & <tags>";
    auto failed = test_support::observed(PortState::unknown, Reason::resolve_failed, "198.18.1.1");
    failed.detail = "no such name";
    results = {{&plan.checks[0], open, verdict::Outcome::ok},
               {&plan.checks[1], exposed, verdict::Outcome::drift},
               {&plan.checks[2], failed, verdict::Outcome::error}};
  }
  RunView view() {
    return RunView{results, plan, verdict::summarize(results), std::chrono::microseconds(1'250'000),
                   {"monitor", ""}, {"estate.yaml", "0123456789abcdef"}};
  }
};

TEST(Pipeline, JunitCountsEveryCheckAndEveryFlowNotProbed) {
  SampleRun r;
  const auto x = junit(r.view());
  EXPECT_NE(x.find("<testsuites name=\"portdrift\" tests=\"4\" failures=\"1\" errors=\"1\" time=\"1.250\">"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("<testsuite name=\"portdrift check from monitor\" tests=\"4\" failures=\"1\" errors=\"1\" "
                   "skipped=\"1\" time=\"1.250\">"),
            std::string::npos)
      << x;
  EXPECT_EQ(count(x, "<testcase "), 4u);
  EXPECT_EQ(count(x, "<failure "), 1u);
  EXPECT_EQ(count(x, "<error "), 1u);
  EXPECT_EQ(count(x, "<skipped>"), 1u);
  EXPECT_NE(x.find("<property name=\"status\" value=\"CRITICAL\"/>"), std::string::npos) << x;
  EXPECT_NE(x.find("<property name=\"topology_hash\" value=\"0123456789abcdef\"/>"), std::string::npos) << x;
}

TEST(Pipeline, JunitFailureCarriesExpectedObservedAndReason) {
  SampleRun r;
  const auto x = junit(r.view());
  // classname: vantage, the flow's listener role, the host; name: the flow.
  EXPECT_NE(x.find("<testcase classname=\"monitor.notification-server.web&lt;1&gt;\" name=\"tcp/443 expected open "
                   "at 198.18.1.1 [itms-agent-ns-https]\" time=\"0.002500\"/>"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("<failure type=\"drift\" message=\"expected blocked, observed open (syn-ack)\">"), std::string::npos)
      << x;
  EXPECT_NE(x.find("expected: blocked&#10;observed: open&#10;reason: syn-ack&#10;verdict: drift&#10;severity: "
                   "critical"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("reply: banner # with &apos;quotes&apos; &amp; &lt;tags&gt;"), std::string::npos) << x;
  EXPECT_NE(x.find("<error type=\"error\" message=\"not probed: no such name (resolve-failed)\">"), std::string::npos)
      << x;
  EXPECT_NE(x.find("<testcase classname=\"monitor.web&lt;1&gt;\" name=\"udp/52028 not probed [itms-tickle]\" "
                   "time=\"0\">\n      <skipped>udp &amp; &quot;no payload&quot;</skipped>"),
            std::string::npos)
      << x;
}

TEST(Pipeline, TapHasAPlanVerdictsDiagnosticsAndSkips) {
  SampleRun r;
  const auto t = tap(r.view());
  EXPECT_EQ(t.rfind("TAP version 13\n1..4\n", 0), 0u) << t;
  EXPECT_NE(t.find("\nok 1 - monitor.notification-server.web<1> tcp/443 expected open at 198.18.1.1 "
                   "[itms-agent-ns-https]\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\nnot ok 2 - monitor.web<1> tcp/444 expected blocked at 198.18.1.1 [itms-agent-ns-https]\n"
                   "  ---\n  message: \"expected blocked, observed open (syn-ack)\"\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\n  expected: \"blocked\"\n  observed: \"open\"\n  reason: \"syn-ack\"\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\n  reply: \"banner # with 'quotes' & <tags>\"\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\nnot ok 3 - "), std::string::npos) << t;
  EXPECT_NE(t.find("\nok 4 - monitor.web<1> udp/52028 not probed [itms-tickle] # SKIP udp & \"no payload\"\n"),
            std::string::npos)
      << t;
  EXPECT_EQ(count(t, "\n  ...\n"), 2u) << "one YAML block per failing check";
}

TEST(Pipeline, TapEscapesAHashInADescription) {
  SampleRun r;
  r.plan.checks[0].catalog_ids = {"flow#1"};
  const auto t = tap(r.view());
  EXPECT_NE(t.find("[flow\\#1]"), std::string::npos) << t;
}

TEST(Pipeline, ARunThatCannotStartIsAnErrorCaseOrABailOut) {
  Diagnostics d;
  d.push_back({"topo.yaml", {3, 5}, "hosts[0].port", "not a port"});
  const auto x = junit_unknown("1 configuration problem (topo.yaml)", d);
  EXPECT_NE(x.find("tests=\"1\" failures=\"0\" errors=\"1\""), std::string::npos) << x;
  EXPECT_NE(x.find("<error type=\"unknown\" message=\"1 configuration problem (topo.yaml)\">"), std::string::npos) << x;
  const auto t = tap_unknown("1 configuration problem (topo.yaml)", d);
  EXPECT_NE(t.find("\nBail out! 1 configuration problem (topo.yaml)\n"), std::string::npos) << t;
}

}  // namespace
}  // namespace portdrift::report
