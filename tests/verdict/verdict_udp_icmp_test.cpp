// Silence on a UDP port expected open is never silently OK, and ICMP echo
// checks are judged on host states.

#include <gtest/gtest.h>

#include "portdrift/verdict/verdict.hpp"

namespace portdrift::verdict {
namespace {

Observation seen(PortState s, Reason r) {
  Observation o;
  o.state = s;
  o.reason = r;
  return o;
}

TEST(VerdictUdpIcmp, SilenceOnAPortExpectedOpenIsUnconfirmed) {
  const auto silence = seen(PortState::open_filtered, Reason::no_response);
  EXPECT_EQ(judge(Expect::open, silence), Outcome::unconfirmed);
  EXPECT_EQ(judge(Expect::open, silence, Silence::critical), Outcome::unconfirmed);
  EXPECT_EQ(judge(Expect::open, silence, Silence::ok), Outcome::ok);
  EXPECT_EQ(judge(Expect::open, seen(PortState::closed, Reason::port_unreach)), Outcome::drift)
      << "a port unreachable on a port expected open is a definite drift";
  EXPECT_EQ(judge(Expect::open, seen(PortState::open, Reason::udp_response)), Outcome::ok);
  EXPECT_EQ(judge(Expect::blocked, silence), Outcome::ok);
  EXPECT_EQ(judge(Expect::filtered, silence), Outcome::ok) << "a UDP drop looks like this";
  EXPECT_EQ(judge(Expect::closed, silence), Outcome::drift);
}

// Silence the time budget could not confirm (the target's ICMP limiter held no token): a closed port
// would have looked the same, so it settles only what either would settle.
TEST(VerdictUdpIcmp, RateLimitedSilenceIsUnconfirmedUnlessClosedWouldDoToo) {
  const auto limited = seen(PortState::open_filtered, Reason::icmp_ratelimited);
  EXPECT_EQ(judge(Expect::blocked, limited), Outcome::ok);
  EXPECT_EQ(judge(Expect::filtered, limited), Outcome::unconfirmed) << "closed is a drift there";
  EXPECT_EQ(judge(Expect::closed, limited), Outcome::unconfirmed) << "never a drift: it may well be closed";
  EXPECT_EQ(judge(Expect::open, limited), Outcome::unconfirmed);
  EXPECT_EQ(judge(Expect::open, limited, Silence::ok), Outcome::unconfirmed) << "closed would be a drift";
}

TEST(VerdictUdpIcmp, HostsAreReachableOrNot) {
  EXPECT_EQ(judge(Expect::reachable, seen(PortState::up, Reason::echo_reply)), Outcome::ok);
  EXPECT_EQ(judge(Expect::reachable, seen(PortState::down, Reason::no_response)), Outcome::drift);
  EXPECT_EQ(judge(Expect::unreachable, seen(PortState::down, Reason::admin_prohibited)), Outcome::ok);
  EXPECT_EQ(judge(Expect::unreachable, seen(PortState::up, Reason::echo_reply)), Outcome::drift);
  EXPECT_FALSE(satisfies(Expect::open, PortState::up));
  EXPECT_FALSE(satisfies(Expect::reachable, PortState::open));
}

TEST(VerdictUdpIcmp, UnconfirmedCountsAtItsSilenceSeverity) {
  plan::Check critical_check;
  critical_check.severity = Severity::critical;  // unconfirmed still only warns by default
  plan::Check loud;
  loud.silence = Silence::critical;
  loud.severity = Severity::warning;
  std::vector<CheckResult> rs = {{&critical_check, {}, Outcome::unconfirmed}};
  auto s = summarize(rs);
  EXPECT_EQ(s.status, Status::warning);
  EXPECT_EQ(s.unconfirmed, 1U);
  EXPECT_EQ(s.drifted(), 0U);
  EXPECT_EQ(severity_of(rs[0]), Severity::warning);
  rs.push_back({&loud, {}, Outcome::unconfirmed});
  s = summarize(rs);
  EXPECT_EQ(s.status, Status::critical);
  EXPECT_EQ(s.unconfirmed, 2U);
  EXPECT_EQ(to_string(Outcome::unconfirmed), "unconfirmed");
}

}  // namespace
}  // namespace portdrift::verdict
