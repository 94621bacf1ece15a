#pragma once
// Reading a socket's error queue (IP_RECVERR / IPV6_RECVERR, MSG_ERRQUEUE):
// the ICMP error the kernel matched to one of our datagrams, with its type
// and code (which errno alone cannot tell apart) and the destination the
// offending datagram was sent to, so an unconnected socket can tell which of
// its sends the error is about.

#include <cstdint>
#include <optional>

#include <boost/asio/ip/address.hpp>

#include "icmp_codes.hpp"

namespace portdrift::probe::detail {

struct QueuedError {
  std::optional<IcmpError> icmp;  // set when the error came from an ICMP/ICMPv6 message
  int errno_value = 0;            // ee_errno: ECONNREFUSED, EHOSTUNREACH, ...
  std::optional<boost::asio::ip::address> destination;  // where the offending datagram went
  std::uint16_t destination_port = 0;
};

// Turns IP_RECVERR (or IPV6_RECVERR) on; false if the kernel refused.
bool enable_recverr(int fd, bool v6) noexcept;
// Pops one entry off the error queue; nullopt when it is empty. Never blocks.
std::optional<QueuedError> pop_error(int fd) noexcept;

}  // namespace portdrift::probe::detail
