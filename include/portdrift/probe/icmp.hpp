#pragma once
// ICMP echo checks: N echo requests to one address, replies matched to their
// request by identifier, sequence number and a random payload, so concurrent
// checks never take each other's replies. The result is `up` (echo-reply)
// when any reply came back, else `down`, with the reason of an ICMP error if
// one came (host-unreach, admin-prohibited, ...) or no-response; plus loss
// and RTT min/avg/max.
//
// Unprivileged first: an ICMP datagram socket (SOCK_DGRAM, IPPROTO_ICMP or
// IPPROTO_ICMPV6), which Linux allows when the process's group is in
// net.ipv4.ping_group_range; else a raw socket, which needs CAP_NET_RAW;
// else the check fails with an error that says which of the two to grant.

#include <chrono>
#include <cstdint>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "portdrift/core/observation.hpp"
#include "portdrift/probe/source.hpp"

namespace portdrift::probe {

enum class EchoSocket : std::uint8_t {
  automatic,  // datagram, else raw
  datagram,   // only an ICMP datagram socket (tests)
  raw,        // only a raw socket (tests)
};

struct EchoOptions {
  std::uint32_t count = 3;                     // echo requests per check
  std::chrono::milliseconds interval{200};     // between two requests
  std::chrono::milliseconds timeout{1000};     // wait after the last request
  EchoSocket socket = EchoSocket::automatic;
  const Source* source = nullptr;              // where the requests leave from; null = the kernel's choice
};

boost::asio::awaitable<Observation> icmp_echo(boost::asio::ip::address address, EchoOptions options);

}  // namespace portdrift::probe
