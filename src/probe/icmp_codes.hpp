#pragma once
// ICMP/ICMPv6 error type and code -> nmap-style state and reason.

#include <cstdint>

#include "portdrift/core/types.hpp"

namespace portdrift::probe::detail {

struct IcmpError {
  bool v6 = false;
  std::uint8_t type = 0;
  std::uint8_t code = 0;
};

void classify_icmp(const IcmpError& e, PortState& state, Reason& reason) noexcept;

}  // namespace portdrift::probe::detail
