#pragma once
// What one probe saw: the nmap-style state, the reason, the round-trip time
// of the answer that decided it, and which address was probed.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "portdrift/core/types.hpp"

namespace portdrift {

struct Observation {
  PortState state = PortState::unknown;
  Reason reason = Reason::local_error;
  std::optional<std::chrono::microseconds> rtt;  // of the deciding answer; none for silence
  std::uint32_t attempts = 0;
  std::string address;  // the IP actually probed (after DNS)
  std::string detail;   // for errors: what went wrong, in words
};

}  // namespace portdrift
