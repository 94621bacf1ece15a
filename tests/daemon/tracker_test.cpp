// The soft/hard state machine on its own: sequences of outcomes in, events out.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "portdrift/daemon/tracker.hpp"

namespace portdrift::daemon {
namespace {

using verdict::Outcome;
constexpr auto kOk = Outcome::ok;
constexpr auto kBad = Outcome::drift;

struct Seq {
  CheckState state;
  Thresholds t;
  WallTime now = WallTime(std::chrono::hours(24 * 365 * 50));
  std::vector<Event> events;
  std::vector<std::size_t> at;  // result index of each event
  std::size_t n = 0;

  void feed(Outcome o) {
    now += std::chrono::seconds(1);
    if (auto e = apply(state, o, now, t)) {
      events.push_back(*e);
      at.push_back(n);
    }
    ++n;
  }
  void feed(const std::string& pattern) {  // 'o' ok, 'x' drift, 'e' error
    for (char c : pattern) feed(c == 'o' ? kOk : c == 'x' ? kBad : Outcome::error);
  }
  std::size_t count(EventKind k) const {
    std::size_t c = 0;
    for (const auto& e : events) c += e.kind == k ? 1U : 0U;
    return c;
  }
};

TEST(Tracker, IsolatedMismatchesNeverBecomeADrift) {
  Seq r;
  r.t = {3, 2};
  // Never three in a row, and never more than two blips in a flap window.
  r.feed("ooxoooooooooooxxooooooooooxoooooooooooxxooooooooo");
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(r.state.hard, Hard::ok);
}

TEST(Tracker, DriftAfterExactlyConfirmResultsThenSilenceWhileItLasts) {
  Seq r;
  r.t = {3, 2};
  r.feed("ooo");
  const WallTime first_bad = r.now + std::chrono::seconds(1);
  r.feed("xx");
  EXPECT_TRUE(r.events.empty());
  r.feed("x");
  ASSERT_EQ(r.events.size(), 1U);
  EXPECT_EQ(r.events[0].kind, EventKind::drift);
  EXPECT_EQ(r.events[0].results, 3U);
  EXPECT_EQ(r.events[0].since, first_bad);  // since the first mismatch, not the confirming one
  EXPECT_EQ(r.state.hard, Hard::drift);
  r.feed("xxxxoxxxxxxx");  // one match inside a drift does not clear it
  EXPECT_EQ(r.events.size(), 1U);
}

TEST(Tracker, ResolvesAfterClearMatchesAndReportsWhenTheDriftBegan) {
  Seq r;
  r.t = {2, 3};
  r.feed("oxx");
  ASSERT_EQ(r.count(EventKind::drift), 1U);
  const WallTime began = r.events[0].since;
  r.feed("ooxoo");  // two matches, a mismatch resets the count
  EXPECT_EQ(r.count(EventKind::resolved), 0U);
  r.feed("o");
  ASSERT_EQ(r.count(EventKind::resolved), 1U);
  EXPECT_EQ(r.events.back().since, began);
  EXPECT_EQ(r.events.back().results, 3U);
  EXPECT_EQ(r.state.hard, Hard::ok);
}

TEST(Tracker, ErrorsCountAsProblems) {
  Seq r;
  r.t = {2, 1};
  r.feed("ee");
  ASSERT_EQ(r.count(EventKind::drift), 1U);
  r.feed("o");
  EXPECT_EQ(r.count(EventKind::resolved), 1U);
}

TEST(Tracker, ConfirmOfOneReportsAtOnce) {
  Seq r;
  r.t = {1, 1};
  r.feed("x");
  EXPECT_EQ(r.count(EventKind::drift), 1U);
}

TEST(Tracker, FlappingIsReportedOnceAndHidesTheFlipsUntilItSettles) {
  Seq r;
  r.t = {2, 2};
  for (int i = 0; i < 20; ++i) r.feed("xxoo");  // a drift and a resolution every 4 results
  ASSERT_EQ(r.count(EventKind::flapping), 1U);
  std::size_t flap_at = 0;
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    if (r.events[i].kind == EventKind::flapping) flap_at = i;
  }
  // Before the window filled, the flips were real drifts and resolutions; after it, nothing.
  EXPECT_GT(flap_at, 0U);
  EXPECT_EQ(r.events.size(), flap_at + 1);
  EXPECT_TRUE(r.state.flapping);
  EXPECT_GE(r.events[flap_at].flap_percent, kFlapStartPercent);

  r.feed(std::string(30, 'o'));  // settles as ok
  ASSERT_EQ(r.count(EventKind::flapping_stopped), 1U);
  EXPECT_EQ(r.events.back().kind, EventKind::flapping_stopped);
  EXPECT_EQ(r.events.back().hard, Hard::ok);
  EXPECT_FALSE(r.state.flapping);
  EXPECT_EQ(r.state.announced, Hard::ok);

  r.feed("xx");  // a later drift is announced again normally
  EXPECT_EQ(r.events.back().kind, EventKind::drift);
}

TEST(Tracker, FlappingThatSettlesAsDriftSaysSo) {
  Seq r;
  r.t = {2, 2};
  for (int i = 0; i < 20; ++i) r.feed("xxoo");
  ASSERT_TRUE(r.state.flapping);
  r.feed(std::string(30, 'x'));
  EXPECT_EQ(r.events.back().kind, EventKind::flapping_stopped);
  EXPECT_EQ(r.events.back().hard, Hard::drift);
  EXPECT_EQ(r.state.announced, Hard::drift);
  r.feed("oo");
  EXPECT_EQ(r.events.back().kind, EventKind::resolved);
}

TEST(Tracker, AFlappingStateRestoredAfterARestartWaitsForAFullWindow) {
  Seq r;
  r.t = {2, 2};
  r.state.flapping = true;  // as load_state gives it: no history
  r.state.hard = Hard::drift;
  r.state.announced = Hard::drift;
  r.feed(std::string(kFlapWindow - 1, 'x'));
  EXPECT_TRUE(r.events.empty());
  r.feed("x");
  ASSERT_EQ(r.events.size(), 1U);
  EXPECT_EQ(r.events[0].kind, EventKind::flapping_stopped);
  EXPECT_EQ(r.events[0].hard, Hard::drift);
}

TEST(Tracker, FlapPercentNeedsAFullWindow) {
  Seq r;
  r.feed("xoxoxoxo");
  EXPECT_EQ(flap_percent(r.state), 0U);
  r.feed("xoxoxoxoxoxo");
  EXPECT_EQ(r.state.history_len, kFlapWindow);
  EXPECT_EQ(flap_percent(r.state), 100U);
}

TEST(Tracker, RareLossLikeNoiseNeverFlapsNorDrifts) {
  // One mismatch in 15 results, spread out: the shape of ~5% packet loss after retries.
  Seq r;
  r.t = {3, 2};
  for (int i = 0; i < 200; ++i) r.feed(i % 15 == 7 ? kBad : kOk);
  EXPECT_TRUE(r.events.empty());
}

}  // namespace
}  // namespace portdrift::daemon
