#include "portdrift/daemon/tracker.hpp"

#include <bit>

namespace portdrift::daemon {

std::uint32_t flap_percent(const CheckState& s) noexcept {
  if (s.history_len < kFlapWindow) return 0;
  constexpr std::uint32_t pairs = kFlapWindow - 1;
  constexpr std::uint32_t mask = (1U << pairs) - 1U;
  const auto changes = static_cast<std::uint32_t>(std::popcount((s.history ^ (s.history >> 1U)) & mask));
  return changes * 100U / pairs;
}

std::optional<Event> apply(CheckState& s, verdict::Outcome outcome, WallTime now, Thresholds t) noexcept {
  const bool problem = is_problem(outcome);
  s.history = ((s.history << 1U) | (problem ? 1U : 0U)) & ((1U << kFlapWindow) - 1U);
  if (s.history_len < kFlapWindow) ++s.history_len;

  // Soft/hard: count results against the hard state.
  const bool against = problem == (s.hard == Hard::ok);
  bool changed = false;
  std::uint32_t streak = 0;
  WallTime previous_since = s.since;
  if (against) {
    if (s.streak == 0) s.streak_start = now;
    ++s.streak;
    const std::uint32_t needed = s.hard == Hard::ok ? t.confirm : t.clear;
    if (s.streak >= needed) {
      streak = s.streak;
      s.hard = s.hard == Hard::ok ? Hard::drift : Hard::ok;
      s.since = s.streak_start;
      s.streak = 0;
      changed = true;
    }
  } else {
    s.streak = 0;
  }

  const std::uint32_t pct = flap_percent(s);
  if (!s.flapping && pct >= kFlapStartPercent) {
    s.flapping = true;
    return Event{EventKind::flapping, s.hard, s.since, 0, pct};
  }
  if (s.flapping) {
    // Still flapping: hard changes stay unannounced. A window that is not full yet (a flapping
    // state restored after a restart) cannot tell that it settled.
    if (s.history_len < kFlapWindow || pct >= kFlapStopPercent) return std::nullopt;
    s.flapping = false;
    s.announced = s.hard;
    return Event{EventKind::flapping_stopped, s.hard, s.since, 0, pct};
  }
  if (!changed || s.hard == s.announced) return std::nullopt;
  s.announced = s.hard;
  if (s.hard == Hard::drift) return Event{EventKind::drift, s.hard, s.since, streak, pct};
  return Event{EventKind::resolved, s.hard, previous_since, streak, pct};
}

}  // namespace portdrift::daemon
