#pragma once
// What one probe saw: the nmap-style state, the reason, the round-trip time
// of the answer that decided it, and which address was probed. UDP probes add
// what the reply was; ICMP echo checks add their loss and RTT statistics.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "portdrift/core/types.hpp"

namespace portdrift {

// An ICMP echo check's figures: echoes sent and answered, RTT of the answers.
struct EchoStats {
  std::uint32_t sent = 0;
  std::uint32_t received = 0;
  std::chrono::microseconds rtt_min{0};
  std::chrono::microseconds rtt_avg{0};
  std::chrono::microseconds rtt_max{0};
  [[nodiscard]] double loss_percent() const noexcept {
    return sent == 0 ? 100.0 : 100.0 * static_cast<double>(sent - received) / static_cast<double>(sent);
  }
};

struct Observation {
  PortState state = PortState::unknown;
  Reason reason = Reason::local_error;
  std::optional<std::chrono::microseconds> rtt;  // of the deciding answer; none for silence
  std::uint32_t attempts = 0;
  // silence: how long its silent attempts were waited for, in all (adaptive timing waits less
  // than attempts x timeout); zero when not measured
  std::chrono::microseconds waited{0};
  std::string address;  // the IP actually probed (after DNS)
  std::string detail;   // for errors: what went wrong, in words
  std::string reply;    // UDP: what answered, in words ("DNS response, rcode REFUSED, 0 answers")
  std::optional<EchoStats> echo;  // ICMP echo checks only
};

}  // namespace portdrift
