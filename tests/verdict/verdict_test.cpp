#include <gtest/gtest.h>

#include "portdrift/verdict/verdict.hpp"

namespace portdrift::verdict {
namespace {

TEST(Verdict, ExpectationTable) {
  using enum PortState;
  EXPECT_TRUE(satisfies(Expect::open, open));
  EXPECT_FALSE(satisfies(Expect::open, open_filtered));  // silence never proves open
  EXPECT_FALSE(satisfies(Expect::open, closed));
  EXPECT_FALSE(satisfies(Expect::open, filtered));
  EXPECT_TRUE(satisfies(Expect::closed, closed));
  EXPECT_FALSE(satisfies(Expect::closed, filtered));
  EXPECT_TRUE(satisfies(Expect::filtered, filtered));
  EXPECT_FALSE(satisfies(Expect::filtered, closed));
  EXPECT_TRUE(satisfies(Expect::blocked, closed));
  EXPECT_TRUE(satisfies(Expect::blocked, filtered));
  EXPECT_TRUE(satisfies(Expect::blocked, open_filtered));
  EXPECT_FALSE(satisfies(Expect::blocked, open));
  for (auto e : {Expect::open, Expect::closed, Expect::filtered, Expect::blocked}) EXPECT_FALSE(satisfies(e, unknown));
}

TEST(Verdict, UnknownObservationIsAnErrorNotADrift) {
  Observation o;
  o.state = PortState::unknown;
  o.reason = Reason::resolve_failed;
  EXPECT_EQ(judge(Expect::blocked, o), Outcome::error);
  o.state = PortState::filtered;
  EXPECT_EQ(judge(Expect::blocked, o), Outcome::ok);
  EXPECT_EQ(judge(Expect::open, o), Outcome::drift);
}

TEST(Verdict, StatusFollowsTheWorstSeverity) {
  plan::Check critical;
  critical.severity = Severity::critical;
  plan::Check warning;
  warning.severity = Severity::warning;
  std::vector<CheckResult> rs = {{&critical, {}, Outcome::ok}, {&warning, {}, Outcome::ok}};
  EXPECT_EQ(summarize(rs).status, Status::ok);
  rs[1].outcome = Outcome::drift;
  auto s = summarize(rs);
  EXPECT_EQ(s.status, Status::warning);
  EXPECT_EQ(s.drift_warning, 1U);
  EXPECT_EQ(s.ok, 1U);
  rs[0].outcome = Outcome::error;
  s = summarize(rs);
  EXPECT_EQ(s.status, Status::critical);
  EXPECT_EQ(s.errors, 1U);
  EXPECT_EQ(s.drifted(), 1U);
  EXPECT_EQ(summarize({}).status, Status::unknown);
  EXPECT_EQ(to_string(Status::critical), "CRITICAL");
  EXPECT_EQ(static_cast<int>(Status::unknown), 3);
}

}  // namespace
}  // namespace portdrift::verdict
