// DNS (RFC 1035): a query for the root zone's NS records with recursion not
// desired, the priming query of RFC 8109. Every DNS server answers it, a
// resolver from its root hints, an authoritative-only server with REFUSED or
// a referral, and it makes no server recurse or forward. The reply must
// carry our ID, be a response (QR) to a standard query, and echo our
// question (servers may leave the question out of an error response).

#include <fmt/format.h>

#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads::dns {
namespace {

constexpr std::uint16_t kTypeNs = 2;
constexpr std::uint16_t kClassIn = 1;

std::string_view rcode_name(unsigned rcode) {
  switch (rcode) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return "other";
  }
}

}  // namespace

std::optional<Bytes> build(const Context& ctx) {
  bytes::Rng rng(ctx.seed);
  Bytes q;
  bytes::put16(q, static_cast<std::uint16_t>(rng.next() & 0xffff));  // ID
  bytes::put16(q, 0x0000);  // QR=0 query, OPCODE=0, RD=0
  bytes::put16(q, 1);       // QDCOUNT
  bytes::put16(q, 0);
  bytes::put16(q, 0);
  bytes::put16(q, 0);
  q.push_back(0);  // the root name
  bytes::put16(q, kTypeNs);
  bytes::put16(q, kClassIn);
  return q;
}

Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply) {
  if (reply.size() < 12) return {false, fmt::format("not DNS: {} bytes, shorter than a DNS header", reply.size())};
  if (request.size() < 17) return {false, "no DNS request to compare with"};
  if (bytes::get16(reply, 0) != bytes::get16(request, 0)) {
    return {false, fmt::format("DNS message with ID {:#06x}, not our query's {:#06x}", bytes::get16(reply, 0),
                               bytes::get16(request, 0))};
  }
  if ((reply[2] & 0x80) == 0) return {false, "DNS message with our ID that is a query, not a response"};
  const unsigned opcode = (reply[2] >> 3) & 0xf;
  if (opcode != 0) return {false, fmt::format("DNS response with opcode {}, not to a standard query", opcode)};
  const unsigned rcode = reply[3] & 0xf;
  const auto qdcount = bytes::get16(reply, 4);
  const auto ancount = bytes::get16(reply, 6);
  if (qdcount == 0 && rcode == 0) return {false, "DNS response without our question"};
  if (qdcount > 0) {
    // Our question is the root name (one zero byte), type NS, class IN: 5 bytes at offset 12.
    if (reply.size() < 17 || reply[12] != 0 || bytes::get16(reply, 13) != kTypeNs ||
        bytes::get16(reply, 15) != kClassIn) {
      return {false, "DNS response to a different question"};
    }
  }
  return {true, fmt::format("DNS response, rcode {} ({}), {} answers", rcode, rcode_name(rcode), ancount)};
}

}  // namespace portdrift::payloads::dns
