// NTP (RFC 5905): a version 4 client request (mode 3) whose transmit
// timestamp is random, as RFC 9109 and chrony do, so it says nothing about
// our clock. A server's reply (mode 4) must copy it into its origin
// timestamp: the "bogus packet" test of RFC 5905 section 8. A kiss-o'-death
// (stratum 0) is a valid reply too: the server is there and speaking NTP.

#include <fmt/format.h>

#include <algorithm>

#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads::ntp {

std::optional<Bytes> build(const Context& ctx) {
  Bytes p(48, 0);
  p[0] = (0 << 6) | (4 << 3) | 3;  // LI 0, version 4, mode 3 (client)
  bytes::Rng rng(ctx.seed);
  const auto t = rng.next();
  for (int i = 0; i < 8; ++i) p[40 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(t >> (56 - 8 * i));
  return p;
}

Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply) {
  if (reply.size() < 48) return {false, fmt::format("not NTP: {} bytes, shorter than an NTP header", reply.size())};
  if (request.size() < 48) return {false, "no NTP request to compare with"};
  const unsigned mode = reply[0] & 7;
  const unsigned version = (reply[0] >> 3) & 7;
  if (mode != 4) return {false, fmt::format("NTP message in mode {}, not a server reply (4)", mode)};
  if (version < 1 || version > 4) return {false, fmt::format("NTP message with version {}", version)};
  if (!std::equal(request.begin() + 40, request.begin() + 48, reply.begin() + 24)) {
    return {false, "NTP server reply whose origin timestamp is not our request's transmit timestamp"};
  }
  const unsigned stratum = reply[1];
  if (stratum == 0) {
    return {true, fmt::format("NTP kiss-o'-death '{}'", bytes::printable(reply.subspan(12, 4)))};
  }
  return {true, fmt::format("NTP server reply, version {}, stratum {}{}", version, stratum,
                            (reply[0] >> 6) == 3 ? " (not synchronised)" : "")};
}

}  // namespace portdrift::payloads::ntp
