// NetBIOS name service (RFC 1002): a node status request (NBSTAT) for the
// wildcard name "*", which every NetBIOS node answers with its name table;
// it is what `nmblookup -A` and `nbtstat -A` send. The reply must carry our
// transaction ID, be a response, and hold an NBSTAT resource record whose
// name table fits in it.

#include <fmt/format.h>

#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads::nbns {
namespace {

constexpr std::uint16_t kNbstat = 0x0021;

// "*" padded with NULs to 16 bytes, first-level encoded (RFC 1001 section 14.1): 32 characters.
std::string encoded_wildcard() {
  std::string out;
  const std::string name = std::string("*") + std::string(15, '\0');
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(static_cast<char>('A' + (c >> 4)));
    out.push_back(static_cast<char>('A' + (c & 0xf)));
  }
  return out;
}

// Skips a (possibly compressed) name; returns the offset after it, or 0 when malformed.
std::size_t skip_name(std::span<const std::uint8_t> m, std::size_t at) {
  for (int labels = 0; labels < 64 && at < m.size(); ++labels) {
    const std::uint8_t len = m[at];
    if (len == 0) return at + 1;
    if ((len & 0xc0) == 0xc0) return at + 2 <= m.size() ? at + 2 : 0;
    if ((len & 0xc0) != 0) return 0;
    at += 1 + len;
  }
  return 0;
}

}  // namespace

std::optional<Bytes> build(const Context& ctx) {
  bytes::Rng rng(ctx.seed);
  Bytes q;
  bytes::put16(q, static_cast<std::uint16_t>(rng.next() & 0xffff));  // NAME_TRN_ID
  bytes::put16(q, 0x0000);  // query, opcode 0, no flags
  bytes::put16(q, 1);       // QDCOUNT
  bytes::put16(q, 0);
  bytes::put16(q, 0);
  bytes::put16(q, 0);
  q.push_back(32);
  bytes::put(q, encoded_wildcard());
  q.push_back(0);
  bytes::put16(q, kNbstat);
  bytes::put16(q, 0x0001);  // IN
  return q;
}

Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply) {
  if (reply.size() < 12) return {false, fmt::format("not NetBIOS: {} bytes, shorter than a header", reply.size())};
  if (request.size() < 2) return {false, "no NetBIOS request to compare with"};
  if (bytes::get16(reply, 0) != bytes::get16(request, 0)) {
    return {false, fmt::format("NetBIOS message with transaction ID {:#06x}, not ours", bytes::get16(reply, 0))};
  }
  if ((reply[2] & 0x80) == 0) return {false, "NetBIOS message with our ID that is a request, not a response"};
  const unsigned rcode = reply[3] & 0xf;
  if (rcode != 0) return {true, fmt::format("NetBIOS name service negative response, rcode {}", rcode)};
  if (bytes::get16(reply, 6) == 0) return {false, "NetBIOS response without an answer"};
  std::size_t at = 12;
  for (unsigned q = bytes::get16(reply, 4); q > 0; --q) {  // questions, if echoed
    at = skip_name(reply, at);
    if (at == 0 || at + 4 > reply.size()) return {false, "NetBIOS response cut short in its question"};
    at += 4;
  }
  at = skip_name(reply, at);
  if (at == 0 || at + 10 > reply.size()) return {false, "NetBIOS response cut short in its answer"};
  if (bytes::get16(reply, at) != kNbstat) return {false, "NetBIOS response that is not a node status"};
  const std::size_t rdlength = bytes::get16(reply, at + 8);
  at += 10;
  if (rdlength < 1 || at + rdlength > reply.size()) return {false, "NetBIOS node status longer than the datagram"};
  const std::size_t names = reply[at];
  if (1 + names * 18 > rdlength) return {false, "NetBIOS node status whose name table overruns it"};
  std::string first;
  if (names > 0) {
    auto name = bytes::printable(reply.subspan(at + 1, 15));
    while (!name.empty() && name.back() == ' ') name.pop_back();
    first = fmt::format(", first {}<{:02x}>", name, reply[at + 16]);
  }
  return {true, fmt::format("NetBIOS node status, {} names{}", names, first)};
}

}  // namespace portdrift::payloads::nbns
