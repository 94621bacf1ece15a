#pragma once
// The payloads module: the UDP payload registry, kept apart from `probe` so
// that the plan can pick payloads without including a probe header.
// UDP payloads: for each well-known port, a valid and harmless request that
// makes a real service answer, and a parser that decides whether a datagram
// is that service's answer to *this* request (IDs, cookies and question
// echoed back), written from the protocol specifications. A UDP port is only
// reported open on a reply; these requests are what makes a real service
// reply. Ports without a known request get an empty datagram: that still
// tells closed (ICMP port unreachable) from open|filtered, and never more.
//
// Pure bytes in, bytes out: no I/O, no randomness of its own (the caller
// passes a seed). Every parser takes hostile input: truncated, oversized,
// lying length fields. It must not read past the datagram or throw.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace portdrift::payloads {

using Bytes = std::vector<std::uint8_t>;

// What a request may need to know about the socket it leaves from.
struct Context {
  bool v6 = false;
  std::array<std::uint8_t, 16> local{};  // our address as the target sees it (first 4 bytes for IPv4)
  std::uint16_t local_port = 0;
  std::uint64_t seed = 0;  // randomness for IDs and cookies; a fresh value per attempt
};

// A parser's verdict on one datagram.
struct Reply {
  bool valid = false;  // the expected service answered this very request
  std::string what;    // "DNS response, rcode REFUSED, 0 answers", or why it is not valid
};

// Where the answer comes from. TFTP answers from a new port of the same
// address (RFC 1350 transfer IDs), so its socket must not be connected.
enum class ReplySource : std::uint8_t { same_port, any_port };

struct Payload {
  std::string_view name;     // "dns": the name a topology's `payload:` uses
  std::string_view protocol; // "DNS query for the root NS (RFC 1035)"
  std::span<const std::uint16_t> ports;  // the well-known ports it is chosen for by default
  bool opt_in = false;       // never chosen by port: known to trip IDS signatures
  ReplySource source = ReplySource::same_port;
  // The request; nullopt when it cannot be built for this context (DHCP over IPv6).
  std::optional<Bytes> (*build)(const Context& ctx) = nullptr;
  // Checks one datagram against the request that was sent.
  Reply (*check)(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply) = nullptr;
  // An answer the request may call for from our side, sent back to the
  // datagram's source (TFTP: an ERROR that ends a transfer we do not want).
  std::optional<Bytes> (*farewell)(std::span<const std::uint8_t> reply) = nullptr;
};

// Every built-in payload, in a stable order.
std::span<const Payload> all() noexcept;
// The default payload for a well-known port; nullptr when none (or only opt-in ones) exists.
const Payload* for_port(std::uint16_t port) noexcept;
const Payload* by_name(std::string_view name) noexcept;

// What a UDP check sends: a built-in payload (replies validated), the user's
// own bytes (any datagram from the port is a reply), or an empty datagram.
struct Choice {
  const Payload* builtin = nullptr;
  std::optional<Bytes> bytes;
  std::string label;  // "dns", "hex", "text", "empty"
};

// The choice for `port` when the topology names none: the registry's payload, else an empty datagram.
Choice default_choice(std::uint16_t port);
// Parses a topology's `payload:` value: "hex:0a 0b ...", "text:...", "empty", or a built-in
// payload's name. On failure returns nullopt and sets `error` to a sentence.
std::optional<Choice> parse_choice(std::string_view text, std::string& error);

// The start of a datagram as printable text, for reports.
std::string bytes_preview(std::span<const std::uint8_t> data);

// The individual builders and parsers, for tests.
namespace dns {
std::optional<Bytes> build(const Context& ctx);
Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply);
}  // namespace dns
namespace ntp {
std::optional<Bytes> build(const Context& ctx);
Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply);
}  // namespace ntp
namespace snmp {
std::optional<Bytes> build(const Context& ctx);
Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply);
}  // namespace snmp
namespace nbns {
std::optional<Bytes> build(const Context& ctx);
Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply);
}  // namespace nbns
namespace cldap {
std::optional<Bytes> build(const Context& ctx);
Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply);
}  // namespace cldap
namespace tftp {
std::optional<Bytes> build(const Context& ctx);
Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply);
std::optional<Bytes> farewell(std::span<const std::uint8_t> reply);
}  // namespace tftp
namespace rmcp {
std::optional<Bytes> build(const Context& ctx);
Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply);
}  // namespace rmcp
namespace rpc {
// ONC RPC NULL call (RFC 5531) to a program: the portmapper, NFS, mountd.
std::optional<Bytes> build_portmap(const Context& ctx);
std::optional<Bytes> build_nfs(const Context& ctx);
std::optional<Bytes> build_mountd(const Context& ctx);
Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply);
}  // namespace rpc
namespace kerberos {
std::optional<Bytes> build(const Context& ctx);
Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply);
}  // namespace kerberos
namespace dhcp {
std::optional<Bytes> build_inform(const Context& ctx);
std::optional<Bytes> build_pxe(const Context& ctx);
Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply);
}  // namespace dhcp
namespace mssql {
std::optional<Bytes> build(const Context& ctx);
Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply);
}  // namespace mssql

}  // namespace portdrift::payloads
