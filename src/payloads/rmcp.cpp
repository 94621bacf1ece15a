// ASF/RMCP (DMTF DSP0136): a Presence Ping, the message ASF and IPMI
// management controllers answer with a Presence Pong that says which
// entities they support. It asks for no acknowledgement (sequence 0xFF) and
// opens no session. The pong must carry the ASF IANA number and our tag.

#include <fmt/format.h>

#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads::rmcp {
namespace {

constexpr std::uint32_t kAsfIana = 4542;
constexpr std::uint8_t kPresencePing = 0x80;
constexpr std::uint8_t kPresencePong = 0x40;

}  // namespace

std::optional<Bytes> build(const Context& ctx) {
  bytes::Rng rng(ctx.seed);
  Bytes p{0x06, 0x00, 0xff, 0x06};  // RMCP version 1.0, reserved, no ACK wanted, class ASF
  bytes::put32(p, kAsfIana);
  p.push_back(kPresencePing);
  p.push_back(static_cast<std::uint8_t>(rng.next() % 0xff));  // message tag, 0x00-0xFE
  p.push_back(0x00);  // reserved
  p.push_back(0x00);  // data length
  return p;
}

Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply) {
  if (reply.size() < 12) return {false, fmt::format("not RMCP: {} bytes", reply.size())};
  if (request.size() < 12) return {false, "no RMCP request to compare with"};
  if (reply[0] != 0x06) return {false, fmt::format("RMCP version {:#04x}, not 1.0", reply[0])};
  if ((reply[3] & 0x80) != 0) return {false, "an RMCP acknowledgement, not a presence pong"};
  if ((reply[3] & 0x1f) != 0x06) return {false, fmt::format("RMCP class {}, not ASF", reply[3] & 0x1f)};
  if (bytes::get32(reply, 4) != kAsfIana) return {false, "RMCP message that is not ASF's"};
  if (reply[8] != kPresencePong) return {false, fmt::format("ASF message type {:#04x}, not a presence pong", reply[8])};
  if (reply[9] != request[9]) return {false, "ASF presence pong with another message tag"};
  const std::size_t length = reply[11];
  if (length >= 16 && reply.size() >= 12 + 16) {
    const auto entities = reply[12 + 8];
    return {true, fmt::format("ASF presence pong{}", (entities & 0x80) != 0 ? ", IPMI supported" : "")};
  }
  return {true, "ASF presence pong"};
}

}  // namespace portdrift::payloads::rmcp
