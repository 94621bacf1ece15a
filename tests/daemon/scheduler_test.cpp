// The scheduler's bookkeeping with time passed in: spread, fixed rate, reloads.

#include <gtest/gtest.h>

#include <array>

#include "portdrift/daemon/scheduler.hpp"

namespace portdrift::daemon {
namespace {

using namespace std::chrono_literals;

std::vector<Slot> slots(std::size_t n, std::chrono::milliseconds interval, const std::string& prefix = "c") {
  std::vector<Slot> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(Slot{prefix + std::to_string(i), interval});
  return out;
}

TEST(Scheduler, SpreadsAnEstateEvenlyOverTheInterval) {
  Scheduler s(42, 0ms);
  const auto t0 = SteadyClock::time_point{} + 1000h;
  s.assign(slots(1000, 60s), t0);
  // Ten 6-second buckets get exactly 100 first runs each: no burst anywhere.
  std::array<int, 10> buckets{};
  for (std::size_t i = 0; i < 1000; ++i) {
    const auto due = *s.due_of("c" + std::to_string(i));
    ASSERT_GE(due, t0);
    ASSERT_LT(due, t0 + 60s);
    buckets.at(static_cast<std::size_t>((due - t0) / 6s))++;
  }
  for (int b : buckets) EXPECT_EQ(b, 100);
  // Nothing is due at the start but the first slice.
  EXPECT_LE(s.take_due(t0 + 60ms).size(), 1U);
}

TEST(Scheduler, JitterComesFromTheSeed) {
  Scheduler a(1, 0ms), b(1, 0ms), c(2, 0ms);
  const auto t0 = SteadyClock::time_point{} + 1h;
  a.assign(slots(50, 10s), t0);
  b.assign(slots(50, 10s), t0);
  c.assign(slots(50, 10s), t0);
  int differ = 0;
  for (std::size_t i = 0; i < 50; ++i) {
    const auto k = "c" + std::to_string(i);
    EXPECT_EQ(a.due_of(k), b.due_of(k));
    differ += a.due_of(k) != c.due_of(k) ? 1 : 0;
  }
  EXPECT_GT(differ, 40);
}

TEST(Scheduler, TakesWhatIsDueOnceAndRunsAtAFixedRate) {
  Scheduler s(7, 0ms);
  const auto t0 = SteadyClock::time_point{} + 1h;
  s.assign(slots(4, 4s), t0);
  const auto first = *s.due_of("c0");
  auto due = s.take_due(t0 + 4s);
  ASSERT_EQ(due.size(), 4U);
  EXPECT_TRUE(s.take_due(t0 + 4s).empty());  // in flight: not taken twice
  EXPECT_FALSE(s.next_due().has_value());
  for (const auto& d : due) {
    EXPECT_GE(d.lag, 0us);
    s.done(d.key, t0 + 4100ms);
  }
  EXPECT_EQ(*s.due_of("c0"), first + 4s);  // one interval after the previous due time, not after it ran
  EXPECT_EQ(*s.next_due(), std::min({*s.due_of("c0"), *s.due_of("c1"), *s.due_of("c2"), *s.due_of("c3")}));
}

TEST(Scheduler, ReportsLagAndSkipsRatherThanCatchingUp) {
  Scheduler s(7, 0ms);
  const auto t0 = SteadyClock::time_point{} + 1h;
  s.assign({Slot{"a", 1s}}, t0);
  const auto due0 = *s.due_of("a");
  auto d = s.take_due(due0 + 250ms);
  ASSERT_EQ(d.size(), 1U);
  EXPECT_EQ(d[0].lag, 250ms);
  s.done("a", due0 + 10s);  // ten intervals late
  EXPECT_EQ(s.skipped(), 1U);
  EXPECT_EQ(*s.due_of("a"), due0 + 10s);
}

TEST(Scheduler, ReassignKeepsUnchangedChecksAndSpreadsNewOnes) {
  Scheduler s(3, 0ms);
  const auto t0 = SteadyClock::time_point{} + 1h;
  s.assign({Slot{"keep", 10s}, Slot{"gone", 10s}, Slot{"retimed", 10s}}, t0);
  const auto keep = *s.due_of("keep");
  auto taken = s.take_due(t0 + 10s);
  ASSERT_EQ(taken.size(), 3U);
  const auto t1 = t0 + 10s;
  s.assign({Slot{"keep", 10s}, Slot{"retimed", 30s}, Slot{"new", 10s}}, t1);
  EXPECT_EQ(s.size(), 3U);
  EXPECT_EQ(*s.due_of("keep"), keep);           // same due time, still in flight
  EXPECT_FALSE(s.due_of("gone").has_value());
  EXPECT_GE(*s.due_of("retimed"), t1);          // a new interval is a new placement
  EXPECT_LT(*s.due_of("retimed"), t1 + 30s);
  EXPECT_GE(*s.due_of("new"), t1);
  EXPECT_LT(*s.due_of("new"), t1 + 10s);
  s.done("gone", t1);  // a result for a check the reload dropped is ignored
  s.done("keep", t1);
  EXPECT_EQ(*s.due_of("keep"), keep + 10s);
}

TEST(Scheduler, BatchSlackGathersNeighbours) {
  Scheduler s(5, 50ms);
  const auto t0 = SteadyClock::time_point{} + 1h;
  s.assign(slots(100, 1s), t0);  // one every 10 ms
  const auto next = *s.next_due();
  const auto batch = s.take_due(next);
  EXPECT_GE(batch.size(), 4U);
  EXPECT_LE(batch.size(), 7U);
}

}  // namespace
}  // namespace portdrift::daemon
