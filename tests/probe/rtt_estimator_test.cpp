// The adaptive timing's estimator (src/probe/rtt_estimator.hpp): samples in,
// give-up time out, with time passed in (no clock, no sleeps).
#include "probe/rtt_estimator.hpp"

#include <gtest/gtest.h>

namespace portdrift::probe::detail {
namespace {

using namespace std::chrono_literals;
using Est = RttEstimator;

Est::Params params(Est::Duration floor = 100ms, Est::Duration ceiling = 1000ms) {
  Est::Params p;
  p.floor = floor;
  p.ceiling = ceiling;
  return p;
}

TEST(RttEstimator, WaitsTheFullTimeoutUntilEnoughSamples) {
  Est e(params(1ms));
  EXPECT_EQ(e.timeout(), 1000ms);
  e.observe(5ms);
  EXPECT_FALSE(e.trusted());
  EXPECT_EQ(e.timeout(), 1000ms) << "one fast answer must not cut short the next silent attempt";
  e.observe(5ms);
  EXPECT_EQ(e.timeout(), 1000ms);
  e.observe(5ms);
  EXPECT_TRUE(e.trusted());
  EXPECT_LT(e.timeout(), 1000ms);
}

TEST(RttEstimator, ConvergesOnASteadyRoundTrip) {
  Est e(params(1ms));
  for (int i = 0; i < 60; ++i) e.observe(20ms);
  // srtt -> 20 ms, rttvar -> 0: the give-up time closes in on the round trip itself.
  const std::chrono::duration<double, std::milli> srtt = e.srtt();
  EXPECT_NEAR(srtt.count(), 20.0, 0.01);
  EXPECT_LT(e.rttvar(), 10us);
  EXPECT_GE(e.timeout(), 20ms);
  EXPECT_LT(e.timeout(), 21ms);
}

TEST(RttEstimator, FollowsRfc6298ForTheFirstSamples) {
  Est e(params(1ms));
  e.observe(100ms);  // srtt 100, rttvar 50
  EXPECT_EQ(e.srtt(), 100ms);
  EXPECT_EQ(e.rttvar(), 50ms);
  e.observe(60ms);  // rttvar = 3/4*50 + 1/4*40 = 47.5; srtt = 7/8*100 + 1/8*60 = 95
  EXPECT_EQ(e.srtt(), 95ms);
  EXPECT_EQ(e.rttvar(), 47500us);
  e.observe(95ms);  // rttvar = 3/4*47.5 + 0 = 35.625; srtt 95
  EXPECT_EQ(e.timeout(), 95ms + 4 * 35625us);
}

TEST(RttEstimator, ClampsToTheFloorAndTheConfiguredTimeout) {
  Est fast(params(100ms, 1000ms));
  for (int i = 0; i < 10; ++i) fast.observe(50us);
  EXPECT_EQ(fast.timeout(), 100ms) << "a loopback round trip still waits the floor";

  Est slow(params(100ms, 1000ms));
  for (int i = 0; i < 10; ++i) slow.observe(i % 2 == 0 ? 300ms : 900ms);
  EXPECT_EQ(slow.timeout(), 1000ms) << "never longer than timeout_ms";

  Est tight(params(100ms, 40ms));  // a timeout below the floor: the timeout wins
  for (int i = 0; i < 10; ++i) tight.observe(1ms);
  EXPECT_EQ(tight.timeout(), 40ms);
}

TEST(RttEstimator, DeadlineIsTheSendTimePlusTheTimeout) {
  Est e(params(10ms));
  for (int i = 0; i < 5; ++i) e.observe(2ms);
  const Est::TimePoint sent{std::chrono::seconds(1234)};
  EXPECT_EQ(e.deadline(sent), sent + e.timeout());
}

TEST(RttEstimator, WidensAfterALateAnswerUpToTheTimeout) {
  Est e(params(1ms, 1000ms));
  for (int i = 0; i < 20; ++i) e.observe(30ms);
  const auto before = e.timeout();
  e.widen();  // a retry was answered after a silent attempt
  EXPECT_EQ(e.widening(), 2u);
  EXPECT_GE(e.timeout(), 2 * before - 1us);
  for (int i = 0; i < 10; ++i) e.widen();
  EXPECT_EQ(e.widening(), 8u) << "bounded";
  EXPECT_LE(e.timeout(), 1000ms);
  EXPECT_GE(e.timeout(), 8 * before - 1us);
  for (int i = 0; i < 20; ++i) e.observe(30ms);
  EXPECT_EQ(e.widening(), 8u) << "not narrowed again within the run";
  EXPECT_GE(e.timeout(), 8 * 30ms);
}

TEST(RttEstimator, RisingRoundTripsRaiseTheEstimateAtOnce) {
  Est e(params(1ms, 5000ms));
  for (int i = 0; i < 20; ++i) e.observe(10ms);
  const auto calm = e.timeout();
  e.observe(200ms);  // congestion: one slow answer
  // rttvar takes a quarter of the 190 ms jump at once, so the give-up time grows past the new round trip.
  EXPECT_GT(e.timeout(), 200ms);
  EXPECT_GT(e.timeout(), 10 * calm);
}

TEST(RttEstimator, AHugeRoundTripDoesNotOverflow) {
  Est e(params(1ms, 600s));
  for (int i = 0; i < 5; ++i) e.observe(std::chrono::hours(24 * 365));
  for (int i = 0; i < 5; ++i) e.widen();
  EXPECT_EQ(e.timeout(), 600s);
}

}  // namespace
}  // namespace portdrift::probe::detail
