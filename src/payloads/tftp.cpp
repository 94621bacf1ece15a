// TFTP (RFC 1350): a read request for a file that cannot exist (a random
// name), in octet mode. A server answers from a new port of its own (its
// transfer ID) with ERROR "file not found" or, should the file exist, DATA
// block 1, which we then end with an ERROR so it does not retransmit. The
// socket is therefore not connected, and the reply is accepted from any port
// of the target's address.

#include <fmt/format.h>

#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads::tftp {
namespace {

constexpr std::uint16_t kRrq = 1;
constexpr std::uint16_t kData = 3;
constexpr std::uint16_t kError = 5;
constexpr std::uint16_t kOack = 6;

}  // namespace

std::optional<Bytes> build(const Context& ctx) {
  bytes::Rng rng(ctx.seed);
  Bytes p;
  bytes::put16(p, kRrq);
  bytes::put(p, fmt::format("portdrift-probe-{:016x}.absent", rng.next()));
  p.push_back(0);
  bytes::put(p, "octet");
  p.push_back(0);
  return p;
}

Reply check(std::span<const std::uint8_t> /*request*/, std::span<const std::uint8_t> reply) {
  if (reply.size() < 4) return {false, fmt::format("not TFTP: {} bytes", reply.size())};
  const auto opcode = bytes::get16(reply, 0);
  switch (opcode) {
    case kError: {
      const auto code = bytes::get16(reply, 2);
      auto text = reply.subspan(4);
      for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == 0) {
          text = text.first(i);
          break;
        }
      }
      return {true, fmt::format("TFTP error {}: {}", code, bytes::printable(text))};
    }
    case kData:
      if (bytes::get16(reply, 2) != 1) return {false, "TFTP data that is not block 1"};
      return {true, "TFTP data block 1 (the probe's file name exists)"};
    case kOack: return {true, "TFTP option acknowledgement"};
    default: return {false, fmt::format("TFTP opcode {} in answer to a read request", opcode)};
  }
}

std::optional<Bytes> farewell(std::span<const std::uint8_t> reply) {
  if (reply.size() < 4) return std::nullopt;
  const auto opcode = bytes::get16(reply, 0);
  if (opcode != kData && opcode != kOack) return std::nullopt;
  Bytes p;
  bytes::put16(p, kError);
  bytes::put16(p, 0);
  bytes::put(p, "portdrift reachability probe: transfer not wanted");
  p.push_back(0);
  return p;
}

}  // namespace portdrift::payloads::tftp
