#include <algorithm>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "portdrift/report/report.hpp"

namespace portdrift::report {
namespace {

// host, target and label view text that must outlive the check: string literals here.
plan::Check make_check(std::uint32_t host_index, std::string_view host, std::string_view target, Protocol proto,
                       std::uint16_t port, Expect expect, Severity sev, std::vector<std::string> ids,
                       std::string_view label) {
  plan::Check c;
  c.host_index = host_index;
  c.host = host;
  c.target = target;
  c.protocol = proto;
  c.port = port;
  c.expect = expect;
  c.severity = sev;
  c.catalog_ids = std::move(ids);
  c.label = label;
  return c;
}

struct Fixture {
  plan::Plan plan;
  std::vector<verdict::CheckResult> results;
  Fixture() {
    plan.checks.push_back(make_check(0, "ns1", "198.18.1.1", Protocol::tcp, 443, Expect::open, Severity::critical,
                                     {"itms-agent-ns-https"}, "Agent"));
    plan.checks.push_back(
        make_check(1, "sepm1", "sepm.example", Protocol::tcp, 8765, Expect::blocked, Severity::warning, {}, "ctl"));
    plan.checks.push_back(
        make_check(1, "sepm1", "sepm.example", Protocol::tcp, 8014, Expect::open, Severity::critical, {}, "x"));
    plan.skipped.push_back({"ns1", "itms-tickle", Protocol::udp, "52028", "udp probes are not implemented in this version"});
    Observation filtered;
    filtered.state = PortState::filtered;
    filtered.reason = Reason::no_response;
    filtered.attempts = 2;
    filtered.address = "198.18.1.1";
    Observation open;
    open.state = PortState::open;
    open.reason = Reason::syn_ack;
    open.rtt = std::chrono::microseconds(1234);
    open.address = "198.18.2.2";
    results = {{&plan.checks[0], filtered, verdict::Outcome::drift},
               {&plan.checks[1], open, verdict::Outcome::drift},
               {&plan.checks[2], open, verdict::Outcome::ok}};
  }
  RunView view() { return RunView{results, plan, verdict::summarize(results), std::chrono::microseconds(1'500'000), {}}; }
};

TEST(Report, PerfdataFollowsThePluginGuidelines) {
  EXPECT_EQ(perfdata("checks", "3"), "'checks'=3;;;0");
  EXPECT_EQ(perfdata("duration", "1.500", "s"), "'duration'=1.500s;;;0");
  EXPECT_EQ(perfdata("drift", "1", "", "", "1", "0", "3"), "'drift'=1;;1;0;3");
}

TEST(Report, NagiosStatusLinePerfdataAndLongOutput) {
  Fixture f;
  const auto text = nagios(f.view(), Detail::problems);
  const auto first = text.substr(0, text.find('\n'));
  EXPECT_EQ(first,
            "PORTDRIFT CRITICAL - 2 of 3 checks drifted (1 critical, 1 warning) | 'checks'=3;;;0 'ok'=1;;;0;3 "
            "'drift_critical'=1;;1;0;3 'drift_warning'=1;1;;0;3 'errors'=0;;;0;3 'skipped'=1;;;0 "
            "'duration'=1.500s;;;0");
  EXPECT_NE(text.find("\nCRITICAL: ns1 198.18.1.1 tcp/443 expected open, observed filtered (no-response) "
                      "[itms-agent-ns-https]\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nWARNING: sepm1 198.18.2.2 (sepm.example) tcp/8765 expected blocked, observed open (syn-ack) "
                      "in 1.2 ms [ctl]\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("tcp/8014"), std::string::npos) << "OK checks only with --verbose";
  EXPECT_NE(text.find("Not probed: 1 catalog flows (udp probes are not implemented in this version: 1)"),
            std::string::npos);
  EXPECT_NE(nagios(f.view(), Detail::all).find("OK: sepm1 198.18.2.2 (sepm.example) tcp/8014"), std::string::npos);
}

TEST(Report, JsonHasTheDocumentedFields) {
  Fixture f;
  const auto doc = nlohmann::json::parse(json(f.view()));
  EXPECT_EQ(doc["status"], "CRITICAL");
  EXPECT_EQ(doc["exit_code"], 2);
  ASSERT_EQ(doc["checks"].size(), 3U);
  const auto& c = doc["checks"][0];
  for (const char* key : {"host", "address", "protocol", "port", "expected", "observed", "reason", "verdict",
                          "severity", "rtt_ms", "catalog_id"}) {
    EXPECT_TRUE(c.contains(key)) << key;
  }
  EXPECT_EQ(c["verdict"], "drift");
  EXPECT_EQ(c["observed"], "filtered");
  EXPECT_EQ(c["reason"], "no-response");
  EXPECT_TRUE(c["rtt_ms"].is_null());
  EXPECT_EQ(c["catalog_id"], "itms-agent-ns-https");
  EXPECT_EQ(doc["checks"][1]["address"], "198.18.2.2");
  EXPECT_EQ(doc["checks"][1]["target"], "sepm.example");
  EXPECT_DOUBLE_EQ(doc["checks"][1]["rtt_ms"].get<double>(), 1.234);
  EXPECT_TRUE(doc["checks"][1]["catalog_id"].is_null());
  EXPECT_EQ(doc["skipped"][0]["ports"], "52028");
}

// A fleet instance's result says which vantage and shard it was, so results can be merged later.
TEST(Report, JsonNamesTheVantageAndShard) {
  Fixture f;
  EXPECT_TRUE(nlohmann::json::parse(json(f.view()))["vantage"].is_null());
  EXPECT_TRUE(nlohmann::json::parse(json(f.view()))["shard"].is_null());
  auto v = f.view();
  v.instance = plan::Instance{"ns", "2/3"};
  const auto doc = nlohmann::json::parse(json(v));
  EXPECT_EQ(doc["vantage"], "ns");
  EXPECT_EQ(doc["shard"], "2/3");
}

// A group of 1,100 block addresses, one flow: 312 drift alike, 400 are absent,
// the rest fine. The long output is one line for the drift and one for the
// absent addresses; -v lists every result, and each absent address once.
TEST(Report, GroupDriftsAreCondensedPerFlow) {
  plan::Plan plan;
  std::vector<std::string> hosts;
  std::vector<std::string> addresses;
  for (int i = 0; i < 1100; ++i) {
    addresses.push_back("198.18." + std::to_string(4 + i / 256) + "." + std::to_string(i % 256));
    hosts.push_back("agents-lan/" + addresses.back());
  }
  plan.checks.reserve(hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    auto c = make_check(static_cast<std::uint32_t>(i), hosts[i], addresses[i], Protocol::tcp, 52028, Expect::open,
                        Severity::critical, {"itms-tickle"}, "x");
    c.group = "agents-lan";
    c.absent = Absent::warning;
    plan.checks.push_back(c);
  }
  std::vector<verdict::CheckResult> results;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    verdict::CheckResult r;
    r.check = &plan.checks[i];
    r.observation.address = addresses[i];
    r.observation.state = i < 712 ? PortState::filtered : PortState::open;
    r.observation.reason = i < 712 ? Reason::no_response : Reason::syn_ack;
    r.outcome = i < 312 ? verdict::Outcome::drift : i < 712 ? verdict::Outcome::absent : verdict::Outcome::ok;
    results.push_back(std::move(r));
  }
  const RunView view{results, plan, verdict::summarize(results), std::chrono::microseconds(1000), {}};
  const auto text = nagios(view, Detail::problems);
  EXPECT_NE(text.find("; 400 addresses absent |"), std::string::npos) << text.substr(0, 300);
  EXPECT_NE(text.find("'absent'=400;;;0"), std::string::npos);
  EXPECT_NE(text.find("\nCRITICAL: agents-lan: tcp/52028 expected open, filtered (no-response) on 312 of 1,100 "
                      "addresses; first: agents-lan/198.18.4.0 198.18.4.0, agents-lan/198.18.4.1 198.18.4.1, "
                      "agents-lan/198.18.4.2 198.18.4.2, ... [itms-tickle]\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nWARNING: agents-lan: 400 of 1,100 addresses absent (no answer to any probe); first: "
                      "agents-lan/198.18.5.56, agents-lan/198.18.5.57, agents-lan/198.18.5.58, ...\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  const auto all = nagios(view, Detail::all);
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 1 + 1100);
  EXPECT_NE(all.find("\nWARNING: agents-lan/198.18.5.56 198.18.5.56 absent: no answer to any probe [agents-lan]\n"),
            std::string::npos);
  const auto doc = nlohmann::json::parse(json(view));
  EXPECT_EQ(doc["summary"]["absent"], 400);
  EXPECT_EQ(doc["checks"].size(), 1100U);
  ASSERT_EQ(doc["absent"].size(), 400U);
  EXPECT_EQ(doc["absent"][0]["address"], "198.18.5.56");
  EXPECT_EQ(doc["absent"][0]["severity"], "warning");
}

TEST(Report, UnknownCarriesDiagnostics) {
  Diagnostics d{{"t.yaml", {4, 5}, "hosts[0].rolez", "unknown key"}};
  EXPECT_EQ(nagios_unknown("1 configuration problem (t.yaml)", d),
            "PORTDRIFT UNKNOWN - 1 configuration problem (t.yaml)\nt.yaml:4:5: hosts[0].rolez: unknown key\n");
  const auto doc = nlohmann::json::parse(json_unknown("x", d));
  EXPECT_EQ(doc["exit_code"], 3);
  EXPECT_EQ(doc["diagnostics"][0]["line"], 4);
  EXPECT_EQ(doc["diagnostics"][0]["text"], "t.yaml:4:5: hosts[0].rolez: unknown key");
}

TEST(Report, CatalogJsonEntriesCarryTheRequiredFields) {
  auto cat = catalog::load_catalog(PORTDRIFT_CATALOG_DIR);
  ASSERT_TRUE(cat.ok());
  const auto doc = nlohmann::json::parse(catalog_json(cat.catalog));
  ASSERT_EQ(doc.size(), cat.catalog.flows.size());
  for (const auto& e : doc) {
    for (const char* key : {"product", "component", "protocol", "ports", "from_role", "to_role", "source"}) {
      ASSERT_TRUE(e.contains(key)) << key << " in " << e.dump();
    }
  }
  EXPECT_NE(catalog_table(cat.catalog).find("products, "), std::string::npos);
}

}  // namespace
}  // namespace portdrift::report
