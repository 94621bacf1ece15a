// The scheduler's bookkeeping with time passed in: spread, fixed rate, reloads,
// and the cost of a batch.

#include <gtest/gtest.h>

#include <array>

#include "portdrift/daemon/scheduler.hpp"

namespace portdrift::daemon {
namespace {

using namespace std::chrono_literals;

std::vector<UnitSpec> units(std::size_t n, std::chrono::milliseconds interval) {
  return std::vector<UnitSpec>(n, UnitSpec{interval, std::nullopt});
}

TEST(Scheduler, SpreadsAnEstateEvenlyOverTheInterval) {
  Scheduler s(42, 0ms);
  const auto t0 = SteadyClock::time_point{} + 1000h;
  s.assign(units(1000, 60s), t0);
  // Ten 6-second buckets get exactly 100 first runs each: no burst anywhere.
  std::array<int, 10> buckets{};
  for (std::uint32_t i = 0; i < 1000; ++i) {
    const auto due = s.due_of(i);
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
  a.assign(units(50, 10s), t0);
  b.assign(units(50, 10s), t0);
  c.assign(units(50, 10s), t0);
  int differ = 0;
  for (std::uint32_t i = 0; i < 50; ++i) {
    EXPECT_EQ(a.due_of(i), b.due_of(i));
    differ += a.due_of(i) != c.due_of(i) ? 1 : 0;
  }
  EXPECT_GT(differ, 40);
}

TEST(Scheduler, TakesWhatIsDueOnceEarliestFirstAndRunsAtAFixedRate) {
  Scheduler s(7, 0ms);
  const auto t0 = SteadyClock::time_point{} + 1h;
  s.assign(units(4, 4s), t0);
  const auto first = s.due_of(0);
  auto due = s.take_due(t0 + 4s);
  ASSERT_EQ(due.size(), 4U);
  for (std::size_t i = 1; i < due.size(); ++i) EXPECT_LE(s.due_of(due[i - 1].unit), s.due_of(due[i].unit));
  EXPECT_TRUE(s.take_due(t0 + 4s).empty());  // in flight: not taken twice
  EXPECT_FALSE(s.next_due().has_value());
  for (const auto& d : due) {
    EXPECT_GE(d.lag, 0us);
    s.done(d.unit, t0 + 4100ms);
  }
  EXPECT_EQ(s.due_of(0), first + 4s);  // one interval after the previous due time, not after it ran
  EXPECT_EQ(*s.next_due(), std::min({s.due_of(0), s.due_of(1), s.due_of(2), s.due_of(3)}));
}

TEST(Scheduler, ReportsLagAndSkipsRatherThanCatchingUp) {
  Scheduler s(7, 0ms);
  const auto t0 = SteadyClock::time_point{} + 1h;
  s.assign(units(1, 1s), t0);
  const auto due0 = s.due_of(0);
  auto d = s.take_due(due0 + 250ms);
  ASSERT_EQ(d.size(), 1U);
  EXPECT_EQ(d[0].lag, 250ms);
  s.done(0, due0 + 10s);  // ten intervals late
  EXPECT_EQ(s.skipped(), 1U);
  EXPECT_EQ(s.due_of(0), due0 + 10s);
}

TEST(Scheduler, ReassignKeepsGivenDueTimesAndSpreadsNewOnes) {
  Scheduler s(3, 0ms);
  const auto t0 = SteadyClock::time_point{} + 1h;
  s.assign(units(3, 10s), t0);
  const auto keep = s.due_of(0);
  ASSERT_EQ(s.take_due(t0 + 10s).size(), 3U);
  const auto t1 = t0 + 10s;
  // A reload: unit 0 stays (its due time given), the others are new.
  const std::vector<UnitSpec> next{{10s, keep}, {30s, std::nullopt}, {10s, std::nullopt}};
  s.assign(next, t1);
  EXPECT_EQ(s.size(), 3U);
  EXPECT_EQ(s.due_of(0), keep);
  EXPECT_FALSE(s.in_flight(0));
  EXPECT_GE(s.due_of(1), t1);  // a new interval is a new placement
  EXPECT_LT(s.due_of(1), t1 + 30s);
  EXPECT_GE(s.due_of(2), t1);
  EXPECT_LT(s.due_of(2), t1 + 10s);
  s.done(7, t1);  // a unit that does not exist, or is not in flight, is ignored
  s.done(0, t1);
  EXPECT_EQ(s.due_of(0), keep);
}

TEST(Scheduler, AReleasedUnitIsDueAgainAtItsOldTime) {
  Scheduler s(9, 0ms);
  const auto t0 = SteadyClock::time_point{} + 1h;
  s.assign(units(2, 1s), t0);
  const auto taken = s.take_due(t0 + 1s);
  ASSERT_EQ(taken.size(), 2U);
  s.release(taken[0].unit);
  EXPECT_EQ(*s.next_due(), s.due_of(taken[0].unit));
  EXPECT_EQ(s.take_due(t0 + 1s).size(), 1U);
}

TEST(Scheduler, BatchSlackGathersNeighbours) {
  Scheduler s(5, 50ms);
  const auto t0 = SteadyClock::time_point{} + 1h;
  s.assign(units(100, 1s), t0);  // one every 10 ms
  const auto next = *s.next_due();
  const auto batch = s.take_due(next);
  EXPECT_GE(batch.size(), 4U);
  EXPECT_LE(batch.size(), 7U);
}

// The work of a batch is the units in it: 100 or 100,000 units that are not
// due change nothing (the cause of the daemon's quadratic cost before).
TEST(Scheduler, TheWorkOfABatchDoesNotGrowWithUnitsThatAreNotDue) {
  const auto work_of_batches = [](std::size_t idle_units) {
    Scheduler s(11, 0ms);
    const auto t0 = SteadyClock::time_point{} + 1h;
    std::vector<UnitSpec> specs(idle_units, UnitSpec{3600s, t0 + 1800s});  // due in half an hour
    for (int i = 0; i < 10; ++i) specs.push_back(UnitSpec{1s, t0 + std::chrono::milliseconds(100 * i)});
    s.assign(specs, t0);
    const auto before = s.touched();
    std::size_t results = 0;
    for (auto now = t0; now < t0 + 60s; now += 10ms) {
      for (const auto& d : s.take_due(now)) {
        s.done(d.unit, now);
        ++results;
      }
    }
    EXPECT_EQ(results, 600U);
    return s.touched() - before;
  };
  const auto small = work_of_batches(100);
  const auto large = work_of_batches(100000);
  EXPECT_EQ(small, large);
}

}  // namespace
}  // namespace portdrift::daemon
