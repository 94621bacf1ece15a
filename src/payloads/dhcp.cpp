// DHCP (RFC 2131) and PXE (Intel PXE 2.1). On 67 a DHCPINFORM: "I already
// have this address, tell me the network's settings"; a server must not
// allocate or reserve anything for it. On 4011 a PXE boot server discovery
// (a DHCPREQUEST from a PXEClient asking for boot item 0). Both come from a
// random, locally administered hardware address. RFC 2131 has servers
// answer on port 68; servers that answer an INFORM on its source port (as
// dnsmasq does, and PXE boot servers on 4011) show as open, the others as
// open|filtered. The reply must be a BOOTREPLY with our XID and the magic
// cookie. IPv4 only.

#include <fmt/format.h>

#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads::dhcp {
namespace {

constexpr std::uint32_t kMagic = 0x63825363;

Bytes bootrequest(const Context& ctx, bytes::Rng& rng, bool with_ciaddr) {
  Bytes p;
  p.insert(p.end(), {0x01, 0x01, 0x06, 0x00});  // BOOTREQUEST, Ethernet, 6-byte address, 0 hops
  bytes::put32(p, static_cast<std::uint32_t>(rng.next()));  // XID
  bytes::put16(p, 0);  // secs
  bytes::put16(p, 0);  // flags: unicast reply
  for (int i = 0; i < 4; ++i) p.push_back(with_ciaddr ? ctx.local[static_cast<std::size_t>(i)] : 0);  // ciaddr
  p.insert(p.end(), 12, 0);  // yiaddr, siaddr, giaddr
  const auto mac = rng.next();
  p.push_back(0x02);  // locally administered, unicast
  for (int i = 0; i < 5; ++i) p.push_back(static_cast<std::uint8_t>(mac >> (8 * i)));
  p.insert(p.end(), 10 + 64 + 128, 0);  // chaddr padding, sname, file
  bytes::put32(p, kMagic);
  return p;
}

std::string_view type_name(std::uint8_t t) {
  switch (t) {
    case 2: return "DHCPOFFER";
    case 5: return "DHCPACK";
    case 6: return "DHCPNAK";
    default: return "DHCP reply";
  }
}

}  // namespace

std::optional<Bytes> build_inform(const Context& ctx) {
  if (ctx.v6) return std::nullopt;
  bytes::Rng rng(ctx.seed);
  Bytes p = bootrequest(ctx, rng, true);
  p.insert(p.end(), {53, 1, 8});        // DHCPINFORM
  p.insert(p.end(), {55, 3, 1, 3, 6});  // asks for: subnet mask, router, DNS servers
  p.push_back(255);
  p.resize(std::max<std::size_t>(p.size(), 300), 0);  // the BOOTP minimum that relays and old servers expect
  return p;
}

std::optional<Bytes> build_pxe(const Context& ctx) {
  if (ctx.v6) return std::nullopt;
  bytes::Rng rng(ctx.seed);
  Bytes p = bootrequest(ctx, rng, true);
  p.insert(p.end(), {53, 1, 3});  // DHCPREQUEST
  const std::string_view vendor = "PXEClient:Arch:00000:UNDI:002001";
  p.push_back(60);
  p.push_back(static_cast<std::uint8_t>(vendor.size()));
  bytes::put(p, vendor);
  p.insert(p.end(), {93, 2, 0, 0});     // client architecture: x86 BIOS
  p.insert(p.end(), {94, 3, 1, 2, 1});  // UNDI 2.1
  p.insert(p.end(), {97, 17, 0});       // client machine identifier: type 0 + GUID
  for (int i = 0; i < 16; ++i) p.push_back(static_cast<std::uint8_t>(rng.next()));
  p.insert(p.end(), {43, 6, 71, 4, 0, 0, 0, 0});  // PXE_BOOT_ITEM: type 0, layer 0
  p.insert(p.end(), {55, 4, 1, 3, 43, 60});
  p.push_back(255);
  p.resize(std::max<std::size_t>(p.size(), 300), 0);
  return p;
}

Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply) {
  if (reply.size() < 240) return {false, fmt::format("not DHCP: {} bytes, shorter than a BOOTP message", reply.size())};
  if (request.size() < 240) return {false, "no DHCP request to compare with"};
  if (reply[0] != 2) return {false, "BOOTP message that is not a reply"};
  if (bytes::get32(reply, 4) != bytes::get32(request, 4)) return {false, "BOOTP reply with another XID"};
  if (bytes::get32(reply, 236) != kMagic) return {false, "BOOTP reply without the DHCP magic cookie"};
  std::uint8_t type = 0;
  std::string server;
  for (std::size_t at = 240; at < reply.size();) {
    const auto code = reply[at];
    if (code == 255) break;
    if (code == 0) {
      ++at;
      continue;
    }
    if (at + 2 > reply.size() || at + 2 + reply[at + 1] > reply.size()) {
      return {false, "DHCP option runs past the end of the reply"};
    }
    const std::size_t len = reply[at + 1];
    if (code == 53 && len == 1) type = reply[at + 2];
    if (code == 54 && len == 4) {
      server = fmt::format(" from server {}.{}.{}.{}", reply[at + 2], reply[at + 3], reply[at + 4], reply[at + 5]);
    }
    at += 2 + len;
  }
  if (type == 0) return {false, "BOOTP reply without a DHCP message type"};
  return {true, fmt::format("{}{}", type_name(type), server)};
}

}  // namespace portdrift::payloads::dhcp
