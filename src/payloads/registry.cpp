// The payload registry: which request goes to which well-known port, and the
// parsing of a topology's own `payload:` value.

#include <array>
#include <cctype>

#include <fmt/format.h>

#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads {
namespace {

constexpr std::array<std::uint16_t, 1> kDns{53};
constexpr std::array<std::uint16_t, 1> kNtp{123};
constexpr std::array<std::uint16_t, 2> kSnmp{161, 162};
constexpr std::array<std::uint16_t, 1> kNbns{137};
constexpr std::array<std::uint16_t, 1> kCldap{389};
constexpr std::array<std::uint16_t, 1> kTftp{69};
constexpr std::array<std::uint16_t, 1> kRmcp{623};
constexpr std::array<std::uint16_t, 1> kPortmap{111};
constexpr std::array<std::uint16_t, 1> kNfs{2049};
constexpr std::array<std::uint16_t, 1> kMountd{1048};
constexpr std::array<std::uint16_t, 1> kKerberos{88};
constexpr std::array<std::uint16_t, 1> kDhcp{67};
constexpr std::array<std::uint16_t, 1> kPxe{4011};
constexpr std::array<std::uint16_t, 1> kMssql{1434};

const std::array<Payload, 14> kPayloads{{
    {"dns", "DNS query for the root zone's NS records, recursion not desired (RFC 1035, RFC 8109)", kDns, false,
     ReplySource::same_port, dns::build, dns::check, nullptr},
    {"ntp", "NTPv4 client request with a random transmit timestamp (RFC 5905, RFC 9109)", kNtp, false,
     ReplySource::same_port, ntp::build, ntp::check, nullptr},
    {"snmp", "SNMPv3 engine discovery: empty engine ID and user, no community (RFC 3414); agents (161) and trap receivers that take v3 informs (162) answer", kSnmp, false,
     ReplySource::same_port, snmp::build, snmp::check, nullptr},
    {"nbns", "NetBIOS node status request for '*' (RFC 1002)", kNbns, false, ReplySource::same_port, nbns::build,
     nbns::check, nullptr},
    {"cldap", "CLDAP rootDSE search for supportedLDAPVersion (RFC 1798, MS-ADTS LDAP ping)", kCldap, false,
     ReplySource::same_port, cldap::build, cldap::check, nullptr},
    {"tftp", "TFTP read request for a random file name that does not exist (RFC 1350)", kTftp, false,
     ReplySource::any_port, tftp::build, tftp::check, tftp::farewell},
    {"rmcp", "ASF/RMCP presence ping (DMTF DSP0136)", kRmcp, false, ReplySource::same_port, rmcp::build,
     rmcp::check, nullptr},
    {"portmap", "ONC RPC NULL call to the portmapper, program 100000 v2 (RFC 5531, RFC 1833)", kPortmap, false,
     ReplySource::same_port, rpc::build_portmap, rpc::check, nullptr},
    {"nfs", "ONC RPC NULL call to NFS, program 100003 v3 (RFC 5531, RFC 1813)", kNfs, false, ReplySource::same_port,
     rpc::build_nfs, rpc::check, nullptr},
    {"mountd", "ONC RPC NULL call to the mount daemon, program 100005 v3 (RFC 1813)", kMountd, false,
     ReplySource::same_port, rpc::build_mountd, rpc::check, nullptr},
    {"kerberos", "Kerberos AS-REQ for a made-up client in realm PORTDRIFT.INVALID (RFC 4120)", kKerberos, false,
     ReplySource::same_port, kerberos::build, kerberos::check, nullptr},
    {"dhcp", "DHCPINFORM from a locally administered address (RFC 2131); IPv4 only", kDhcp, false,
     ReplySource::same_port, dhcp::build_inform, dhcp::check, nullptr},
    {"pxe", "PXE boot server discovery, boot item 0 (Intel PXE 2.1); IPv4 only", kPxe, false, ReplySource::same_port,
     dhcp::build_pxe, dhcp::check, nullptr},
    {"mssql-browser", "SQL Server Browser CLNT_UCAST_EX (MC-SQLR); opt-in: IDS rule sets flag it", kMssql, true,
     ReplySource::same_port, mssql::build, mssql::check, nullptr},
}};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string bytes_preview(std::span<const std::uint8_t> data) { return bytes::printable(data, 40); }

std::span<const Payload> all() noexcept { return kPayloads; }

const Payload* for_port(std::uint16_t port) noexcept {
  for (const auto& p : kPayloads) {
    if (p.opt_in) continue;
    for (auto q : p.ports) {
      if (q == port) return &p;
    }
  }
  return nullptr;
}

const Payload* by_name(std::string_view name) noexcept {
  for (const auto& p : kPayloads) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Choice default_choice(std::uint16_t port) {
  if (const auto* p = for_port(port)) return Choice{p, std::nullopt, std::string(p->name)};
  return Choice{nullptr, Bytes{}, "empty"};
}

std::optional<Choice> parse_choice(std::string_view text, std::string& error) {
  constexpr std::size_t kMax = 1400;  // fits one unfragmented datagram on any Ethernet path
  if (text.starts_with("hex:")) {
    Bytes out;
    int high = -1;
    for (char c : text.substr(4)) {
      if (c == ' ' || c == ':' || c == '-' || c == '\t') continue;
      const int v = hex_value(c);
      if (v < 0) {
        error = fmt::format("'{}' is not a hex digit (write hex:0a1b2c, spaces and colons allowed)", c);
        return std::nullopt;
      }
      if (high < 0) {
        high = v;
      } else {
        out.push_back(static_cast<std::uint8_t>(high * 16 + v));
        high = -1;
      }
    }
    if (high >= 0) {
      error = "an odd number of hex digits";
      return std::nullopt;
    }
    if (out.empty() || out.size() > kMax) {
      error = fmt::format("a hex payload needs 1 to {} bytes", kMax);
      return std::nullopt;
    }
    return Choice{nullptr, std::move(out), "hex"};
  }
  if (text.starts_with("text:")) {
    const auto body = text.substr(5);
    if (body.empty() || body.size() > kMax) {
      error = fmt::format("a text payload needs 1 to {} bytes", kMax);
      return std::nullopt;
    }
    return Choice{nullptr, Bytes(body.begin(), body.end()), "text"};
  }
  if (text == "empty") return Choice{nullptr, Bytes{}, "empty"};
  if (const auto* p = by_name(text)) return Choice{p, std::nullopt, std::string(p->name)};
  std::string names;
  for (const auto& p : kPayloads) names += fmt::format("{}{}", names.empty() ? "" : ", ", p.name);
  error = fmt::format("unknown payload '{}' (expected hex:..., text:..., empty, or one of: {})", text, names);
  return std::nullopt;
}

}  // namespace portdrift::payloads
