#include "icmp_codes.hpp"

namespace portdrift::probe::detail {

void classify_icmp(const IcmpError& e, PortState& state, Reason& reason) noexcept {
  state = PortState::filtered;
  if (!e.v6) {
    if (e.type == 11) {  // time exceeded
      reason = Reason::time_exceeded;
      return;
    }
    switch (e.code) {  // type 3, destination unreachable (RFC 792, RFC 1812)
      case 0: case 6: case 11: reason = Reason::net_unreach; return;
      case 2: reason = Reason::proto_unreach; return;
      case 3: state = PortState::closed; reason = Reason::port_unreach; return;
      case 9: reason = Reason::net_prohibited; return;
      case 10: reason = Reason::host_prohibited; return;
      case 13: reason = Reason::admin_prohibited; return;
      default: reason = Reason::host_unreach; return;
    }
  }
  if (e.type == 3) {  // ICMPv6 time exceeded
    reason = Reason::time_exceeded;
    return;
  }
  switch (e.code) {  // type 1, destination unreachable (RFC 4443)
    case 0: case 2: reason = Reason::net_unreach; return;
    case 1: case 5: case 6: reason = Reason::admin_prohibited; return;
    case 4: state = PortState::closed; reason = Reason::port_unreach; return;
    default: reason = Reason::host_unreach; return;
  }
}

}  // namespace portdrift::probe::detail
