#pragma once
// One UDP probe attempt: a connected socket (unconnected for TFTP, whose
// answer comes from a new port), a request from the payload registry, and a
// deadline. A datagram that the payload's parser accepts is `open`
// (udp-response). An ICMP port unreachable is `closed` (port-unreach); other
// ICMP unreachables are `filtered` with their reason. Silence is
// `open|filtered` (no-response), never `open`. A datagram from the port that
// the parser rejects still proves something listens there: it is `open`
// too, reported as an unexpected reply, but only once the deadline passed
// without a valid one.

#include <chrono>
#include <cstdint>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "portdrift/core/observation.hpp"
#include "portdrift/payloads/payloads.hpp"
#include "portdrift/probe/source.hpp"

namespace portdrift::probe {

// `payload` with neither a built-in nor bytes means: the registry's choice for `port`.
// `seed` makes the request's IDs and cookies; pass a fresh random value per attempt.
boost::asio::awaitable<Observation> udp_attempt(boost::asio::ip::address address, std::uint16_t port,
                                                const payloads::Choice& payload, std::chrono::milliseconds timeout,
                                                std::uint64_t seed, const Source* source = nullptr);

}  // namespace portdrift::probe
