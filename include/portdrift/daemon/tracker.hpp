#pragma once
// Soft and hard states per check, as Nagios/Icinga operators know them. A
// result that disagrees with the current hard state is soft: only `confirm`
// consecutive mismatches make a drift hard, and only `clear` consecutive
// matches resolve it. A check whose raw results keep changing is flapping: it
// is reported once when that starts and once when it settles, and the hard
// changes in between are not announced. Pure logic on values; the caller owns
// the clock and the logging.

#include <chrono>
#include <cstdint>
#include <optional>

#include "portdrift/verdict/verdict.hpp"

namespace portdrift::daemon {

using WallClock = std::chrono::system_clock;
using WallTime = WallClock::time_point;

// Flap detection looks at the last kFlapWindow raw results: the share of
// consecutive pairs that differ. It starts at kFlapStartPercent and ends below
// kFlapStopPercent (hysteresis, as Icinga's high/low thresholds).
inline constexpr std::uint32_t kFlapWindow = 20;
inline constexpr std::uint32_t kFlapStartPercent = 30;
inline constexpr std::uint32_t kFlapStopPercent = 20;

struct Thresholds {
  std::uint32_t confirm = 3;
  std::uint32_t clear = 2;
};

enum class Hard : std::uint8_t { ok, drift };

struct CheckState {
  Hard hard = Hard::ok;
  Hard announced = Hard::ok;  // what the log last said; differs from `hard` only while flapping
  std::uint32_t streak = 0;   // consecutive results against the hard state
  WallTime streak_start{};
  WallTime since{};  // when the hard state began: the first result of the streak that confirmed it
  bool flapping = false;
  std::uint32_t history = 0;  // bit i: result i back was a problem (1) or ok (0)
  std::uint32_t history_len = 0;
};

enum class EventKind : std::uint8_t { drift, resolved, flapping, flapping_stopped };

struct Event {
  EventKind kind = EventKind::drift;
  Hard hard = Hard::ok;      // the hard state after this result
  WallTime since{};          // drift: when it began; resolved: when the drift had begun
  std::uint32_t results = 0;  // drift/resolved: the streak that confirmed it
  std::uint32_t flap_percent = 0;
};

// Any outcome but ok (a drift or a check that could not be probed) counts as a problem.
[[nodiscard]] constexpr bool is_problem(verdict::Outcome o) noexcept { return o != verdict::Outcome::ok; }

// The share (0-100) of changes between consecutive results in the window;
// 0 until the window is full.
std::uint32_t flap_percent(const CheckState& s) noexcept;

// Feeds one result; returns the event to log, if any.
std::optional<Event> apply(CheckState& s, verdict::Outcome outcome, WallTime now, Thresholds t) noexcept;

}  // namespace portdrift::daemon
