// Tracking and events without a clock or a network: results in, states,
// counts and event lines out. Time is a value the test advances.

#include <gtest/gtest.h>

#include "daemon/daemon_metrics.hpp"
#include "portdrift/daemon/metrics.hpp"
#include "portdrift/daemon/tracking.hpp"
#include "recording_sink.hpp"

namespace portdrift::daemon {
namespace {

using namespace std::chrono_literals;
using testing::RecordingSink;

plan::Check check(std::string_view host, std::string_view target, std::uint16_t port) {
  plan::Check c;
  c.host = host;
  c.target = target;
  c.port = port;
  c.label = "web";
  return c;
}

verdict::CheckResult result(const plan::Check& c, PortState state, Reason reason, std::string address = "") {
  verdict::CheckResult r;
  r.check = &c;
  r.observation.state = state;
  r.observation.reason = reason;
  r.observation.address = address.empty() ? std::string(c.target) : std::move(address);
  r.outcome = verdict::judge(c.expect, r.observation, c.silence);
  return r;
}

struct Fixture {
  std::shared_ptr<RecordingSink> sink = std::make_shared<RecordingSink>();
  std::shared_ptr<spdlog::logger> log = std::make_shared<spdlog::logger>("portdrift", sink);
  Tracking tracking{log};
  WallTime now = WallTime(std::chrono::hours(24 * 365 * 50));
  plan::Plan plan;
  const plan::Plan* current = &plan;  // the plan adopted last

  void feed(std::uint32_t i, PortState state, Reason reason, std::string address = "") {
    now += 10s;
    tracking.on_result(i, result(current->checks[i], state, reason, std::move(address)), 0.001, now);
  }
};

TEST(DaemonTracking, ConfirmsAndClearsADriftWithTheOperatorsWording) {
  Fixture f;
  f.plan.checks = {check("ns1", "198.18.1.1", 443), check("ns1", "198.18.1.1", 80)};
  f.tracking.adopt(f.plan, {}, Thresholds{3, 2});
  f.feed(0, PortState::filtered, Reason::no_response);
  f.feed(0, PortState::filtered, Reason::no_response);
  EXPECT_TRUE(f.sink->starting("DRIFT").empty());
  EXPECT_EQ(f.tracking.counts().drifting, 0U);
  f.feed(0, PortState::filtered, Reason::no_response);
  const auto drifts = f.sink->starting("DRIFT ");
  ASSERT_EQ(drifts.size(), 1U);
  EXPECT_EQ(drifts[0].text,
            "DRIFT ns1 198.18.1.1 tcp/443: expected open, observed filtered (no-response) since 2019-12-20T00:00:10Z, "
            "confirmed by 3 consecutive results [web]");
  EXPECT_EQ(drifts[0].level, spdlog::level::err);
  EXPECT_EQ(drifts[0].field("PORTDRIFT_ADDRESS"), "198.18.1.1");
  EXPECT_EQ(drifts[0].field("MESSAGE_ID"), "3f6b1d2c8e7a4b59a0c1d2e3f4a5b6c7");
  EXPECT_EQ(f.tracking.counts().drifting, 1U);
  EXPECT_EQ(f.tracking.events().drift, 1U);
  f.feed(0, PortState::open, Reason::syn_ack);
  f.feed(0, PortState::open, Reason::syn_ack);
  const auto resolved = f.sink->starting("RESOLVED ");
  ASSERT_EQ(resolved.size(), 1U);
  EXPECT_EQ(resolved[0].text,
            "RESOLVED ns1 198.18.1.1 tcp/443: expected open, observed open (syn-ack) again; had drifted since "
            "2019-12-20T00:00:10Z (40s) [web]");
  EXPECT_EQ(f.tracking.counts().drifting, 0U);
}

// A DNS target's addresses are tracked apart: one address drifting is its own line, with the address in it.
TEST(DaemonTracking, TracksEachAddressOfANameOnItsOwn) {
  Fixture f;
  f.plan.checks = {check("web", "web.example", 443)};
  f.tracking.adopt(f.plan, {}, Thresholds{2, 2});
  for (int i = 0; i < 2; ++i) {
    f.feed(0, PortState::open, Reason::syn_ack, "198.18.0.1");
    f.feed(0, PortState::closed, Reason::conn_refused, "198.18.0.2");
  }
  EXPECT_EQ(f.tracking.slots(), 2U);
  const auto drifts = f.sink->starting("DRIFT ");
  ASSERT_EQ(drifts.size(), 1U);
  EXPECT_TRUE(drifts[0].text.starts_with("DRIFT web 198.18.0.2 (web.example) tcp/443: expected open, observed closed"))
      << drifts[0].text;
  EXPECT_EQ(f.tracking.counts().drifting, 1U);
  const auto saved = f.tracking.save(f.now);
  ASSERT_EQ(saved.checks.size(), 2U);
  EXPECT_EQ(saved.checks[0].key, "web|web.example|tcp|443|open|198.18.0.1");
  EXPECT_EQ(saved.checks[1].key, "web|web.example|tcp|443|open|198.18.0.2");
  EXPECT_EQ(saved.checks[1].hard, Hard::drift);

  // A restart: the drifting address is known again, and not announced again.
  Fixture g;
  g.plan.checks = f.plan.checks;
  g.tracking.adopt(g.plan, {}, Thresholds{2, 2});
  const auto restored = g.tracking.restore(saved);
  EXPECT_EQ(restored.known, 2U);
  ASSERT_EQ(restored.drifting.size(), 1U);
  EXPECT_EQ(g.tracking.counts().drifting, 1U);
  g.feed(0, PortState::closed, Reason::conn_refused, "198.18.0.2");
  EXPECT_TRUE(g.sink->starting("DRIFT ").empty());
}

// A reload carries every state of a kept check (all its addresses) to its new position.
TEST(DaemonTracking, AdoptingANewPlanKeepsTheStatesOfKeptChecks) {
  Fixture f;
  f.plan.checks = {check("a", "198.18.0.1", 1), check("b", "198.18.0.2", 2)};
  f.tracking.adopt(f.plan, {}, Thresholds{1, 1});
  f.feed(1, PortState::closed, Reason::conn_refused);
  ASSERT_EQ(f.tracking.counts().drifting, 1U);
  plan::Plan next;
  next.checks = {check("c", "198.18.0.3", 3), f.plan.checks[1]};
  const std::vector<std::uint32_t> previous{kNoIndex, 1};
  f.tracking.adopt(next, previous, Thresholds{1, 1});
  f.current = &next;
  EXPECT_EQ(f.tracking.counts().checks, 2U);
  EXPECT_EQ(f.tracking.counts().drifting, 1U);
  f.feed(1, PortState::closed, Reason::conn_refused);
  EXPECT_EQ(f.sink->starting("DRIFT ").size(), 1U);  // not announced again
  Exposition x;
  f.tracking.render(x);
  EXPECT_NE(x.text().find("portdrift_check_drifting{host=\"b\",address=\"198.18.0.2\",protocol=\"tcp\",port=\"2\","
                          "expected=\"open\",observed=\"closed\",flow=\"\",from_role=\"\",to_role=\"\","
                          "severity=\"critical\"} 1"),
            std::string::npos)
      << x.text();
}

TEST(DaemonTracking, FlappingIsCountedAsItComesAndGoes) {
  Fixture f;
  f.plan.checks = {check("a", "198.18.0.1", 1)};
  f.tracking.adopt(f.plan, {}, Thresholds{3, 2});
  for (int i = 0; i < 10; ++i) {
    f.feed(0, PortState::open, Reason::syn_ack);
    f.feed(0, PortState::closed, Reason::conn_refused);
  }
  EXPECT_EQ(f.tracking.counts().flapping, 1U);
  EXPECT_EQ(f.sink->starting("FLAPPING ").size(), 1U);
  for (int i = 0; i < 20; ++i) f.feed(0, PortState::open, Reason::syn_ack);
  EXPECT_EQ(f.tracking.counts().flapping, 0U);
  EXPECT_EQ(f.sink->starting("FLAPPING STOPPED ").size(), 1U);
  EXPECT_TRUE(f.sink->starting("DRIFT ").empty());
}

// A fleet instance names itself: in event lines, journal fields and every metric sample; per-check
// samples carry the flow matrix's coordinates (flow ids, from_role, to_role).
TEST(DaemonTracking, AnInstanceLabelsItsEventsAndMetrics) {
  auto sink = std::make_shared<RecordingSink>();
  auto log = std::make_shared<spdlog::logger>("portdrift", sink);
  Tracking tracking(log, plan::Instance{"ns", "2/3"});
  plan::Plan p;
  p.checks = {check("agent7", "198.18.4.7", 10123)};
  p.checks[0].catalog_ids = {"itms-ns-agent-push", "itms-ns-agent-alt"};
  p.roles.push_back(plan::FlowRoles{"notification-server", "agent"});
  p.checks[0].roles = 1;
  p.checks[0].host = "pc \"7\"\\x";  // escaped as the exposition format says
  tracking.adopt(p, {}, Thresholds{1, 1});
  auto now = WallTime(std::chrono::hours(24 * 365 * 50));
  tracking.on_result(0, result(p.checks[0], PortState::closed, Reason::conn_refused), 0.001, now);
  const auto drifts = sink->starting("DRIFT ");
  ASSERT_EQ(drifts.size(), 1U);
  EXPECT_TRUE(drifts[0].text.ends_with("[itms-ns-agent-push,itms-ns-agent-alt] (vantage ns, shard 2/3)"))
      << drifts[0].text;
  EXPECT_EQ(drifts[0].field("PORTDRIFT_VANTAGE"), "ns");
  EXPECT_EQ(drifts[0].field("PORTDRIFT_SHARD"), "2/3");
  const auto text = render_metrics(DaemonStats{}, tracking);
  EXPECT_NE(text.find("portdrift_checks{vantage=\"ns\",shard=\"2/3\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("portdrift_check_drifting{vantage=\"ns\",shard=\"2/3\",host=\"pc \\\"7\\\"\\\\x\","
                      "address=\"198.18.4.7\",protocol=\"tcp\",port=\"10123\",expected=\"open\",observed=\"closed\","
                      "flow=\"itms-ns-agent-push,itms-ns-agent-alt\",from_role=\"notification-server\","
                      "to_role=\"agent\",severity=\"critical\"} 1\n"),
            std::string::npos)
      << text;
  // Without a vantage or shard, no instance labels and no suffix.
  Fixture f;
  f.plan.checks = {check("a", "198.18.0.1", 1)};
  f.tracking.adopt(f.plan, {}, Thresholds{1, 1});
  EXPECT_NE(render_metrics(DaemonStats{}, f.tracking).find("portdrift_checks 1\n"), std::string::npos);
}

// A UDP result the batch's time budget left unconfirmed (icmp-ratelimited) says nothing about the
// port: it neither confirms nor clears a drift, keeps the last observation, and is counted.
TEST(DaemonTracking, RateLimitedSilenceKeepsTheStateItFound) {
  Fixture f;
  f.plan.checks = {check("a", "198.18.0.1", 161), check("a", "198.18.0.1", 162)};
  for (auto& c : f.plan.checks) c.protocol = Protocol::udp;
  f.plan.checks[0].expect = Expect::closed;
  f.tracking.adopt(f.plan, {}, Thresholds{2, 2});
  // Drifting: two results of an answered open port where closed was expected.
  f.feed(0, PortState::open, Reason::udp_response);
  f.feed(0, PortState::open, Reason::udp_response);
  ASSERT_EQ(f.tracking.counts().drifting, 1U);
  for (int i = 0; i < 5; ++i) f.feed(0, PortState::open_filtered, Reason::icmp_ratelimited);
  EXPECT_EQ(f.tracking.counts().drifting, 1U) << "no observation: the drift stands";
  EXPECT_TRUE(f.sink->starting("RESOLVED ").empty());
  EXPECT_EQ(f.tracking.events().icmp_ratelimited, 5U);
  const auto saved = f.tracking.save(f.now);
  ASSERT_FALSE(saved.checks.empty());
  EXPECT_EQ(saved.checks[0].observed, "open") << "the last real observation is kept";
  EXPECT_EQ(saved.checks[0].reason, "udp-response");
  // A first result that is rate-limited: no state change, nothing logged above debug, metrics say so.
  f.feed(1, PortState::open_filtered, Reason::icmp_ratelimited);
  EXPECT_EQ(f.tracking.counts().drifting, 1U);
  EXPECT_EQ(f.sink->starting("DRIFT ").size(), 1U);
  const auto text = render_metrics(DaemonStats{}, f.tracking);
  EXPECT_NE(text.find("portdrift_icmp_ratelimited_total 6\n"), std::string::npos) << text;
  EXPECT_NE(text.find("portdrift_check_icmp_ratelimited{host=\"a\",address=\"198.18.0.1\",protocol=\"udp\","
                      "port=\"162\""),
            std::string::npos)
      << text;
  // Answered again: the drift clears on real observations only, and the gauge drops.
  f.feed(0, PortState::closed, Reason::port_unreach);
  f.feed(0, PortState::closed, Reason::port_unreach);
  EXPECT_EQ(f.tracking.counts().drifting, 0U);
  EXPECT_EQ(f.sink->starting("RESOLVED ").size(), 1U);
  const auto after = render_metrics(DaemonStats{}, f.tracking);
  const auto at = after.find("portdrift_check_icmp_ratelimited{host=\"a\",address=\"198.18.0.1\",protocol=\"udp\","
                             "port=\"161\"");
  ASSERT_NE(at, std::string::npos) << after;
  EXPECT_EQ(after.substr(after.find('\n', at) - 2, 2), " 0") << after;
}

}  // namespace
}  // namespace portdrift::daemon
