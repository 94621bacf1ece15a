#pragma once
// The daemon's event lines: the words operators read in the journal when a
// drift is confirmed (DRIFT), clears (RESOLVED), or a check starts or stops
// flapping, and the structured journal fields that go with them. Formatting
// only: the daemon decides when an event happens and at which level it is
// logged; this file decides how it reads.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "portdrift/core/observation.hpp"
#include "portdrift/core/types.hpp"
#include "portdrift/plan/fleet.hpp"
#include "portdrift/plan/plan.hpp"

namespace portdrift::report {

enum class EventKind : std::uint8_t { drift, resolved, flapping, flapping_stopped };

struct EventView {
  EventKind kind = EventKind::drift;
  const plan::Check* check = nullptr;  // never null
  std::string_view address;  // the address probed; empty: the check's target
  PortState observed = PortState::unknown;
  Reason reason = Reason::local_error;
  Severity severity = Severity::critical;  // as judged for this result (silence rules included)
  std::chrono::system_clock::time_point since{};  // drift: when it began; resolved: when the drift had begun
  std::chrono::system_clock::time_point now{};
  std::uint32_t results = 0;       // drift/resolved: the streak that confirmed it
  std::uint32_t flap_percent = 0;  // flapping
  std::uint32_t flap_window = 20;  // flapping: results looked at
  bool settled_as_drift = false;   // flapping stopped
  const plan::Instance* instance = nullptr;  // the fleet instance speaking; null or empty: no labels
};

struct EventLine {
  std::string text;
  std::vector<std::pair<std::string_view, std::string>> fields;  // MESSAGE_ID, PORTDRIFT_*
};

EventLine event_line(const EventView& e);

// "ns1 198.18.1.1 tcp/443", or "ns1 198.18.1.1 (ns1.corp) tcp/443" when the address is not the target.
std::string event_where(const plan::Check& c, std::string_view address);
// " (vantage ns, shard 2/3)" after a daemon line; empty for an instance without either.
std::string instance_suffix(const plan::Instance& instance);
// "2026-11-24T01:12:03Z"
std::string iso_time(std::chrono::system_clock::time_point t);
// "14m02s", "3h05m", "2d01h"
std::string human_duration(std::chrono::seconds d);

}  // namespace portdrift::report
