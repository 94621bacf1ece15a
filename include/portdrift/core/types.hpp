#pragma once
// The shared vocabulary of portdrift: protocols, port states (nmap's words),
// the reasons behind a state, what a check expects, and severities.
// Pure data and string conversions; no I/O.

#include <cstdint>
#include <optional>
#include <string_view>

namespace portdrift {

enum class Protocol : std::uint8_t { tcp, udp, icmp };

// nmap's port states. `unknown` means no observation could be made (the name did
// not resolve, a local error); it never stands for "probably fine". `up` and
// `down` are nmap's host states, observed by ICMP echo checks.
enum class PortState : std::uint8_t { open, closed, filtered, open_filtered, unknown, up, down };

// Why a state was concluded, kept apart from the state itself as nmap does.
enum class Reason : std::uint8_t {
  syn_ack,           // TCP handshake completed
  conn_refused,      // TCP RST
  port_unreach,      // ICMP port unreachable
  no_response,       // silence after every attempt
  host_unreach,      // ICMP host unreachable (or local neighbour failure)
  net_unreach,       // ICMP network unreachable, or no local route
  proto_unreach,     // ICMP protocol unreachable
  admin_prohibited,  // ICMP communication administratively prohibited
  host_prohibited,   // ICMP host administratively prohibited
  net_prohibited,    // ICMP network administratively prohibited
  time_exceeded,     // ICMP time exceeded (a routing loop or TTL too small)
  udp_response,      // a UDP reply arrived
  echo_reply,        // an ICMP echo reply arrived
  resolve_failed,    // the host name did not resolve
  local_error,       // the probe could not be sent (socket error on this side)
  not_probed,        // the pass was cancelled (stop, reload) before this probe ended: no observation
  icmp_ratelimited,  // UDP silence that could not be confirmed: the target's ICMP error limiter held no
                     // token before the time budget ran out (a closed port would have looked the same)
};

// What the topology or catalog says a port must look like.
enum class Expect : std::uint8_t {
  open,      // must accept
  closed,    // must be actively refused
  filtered,  // must be silently dropped or ICMP-prohibited
  blocked,   // closed or filtered: must not be reachable
  reachable,    // ICMP echo: the host must answer
  unreachable,  // ICMP echo: the host must not answer
};

// What silence (open|filtered) means on a UDP port expected open: the probe
// could not confirm it. `warning` (the default) and `critical` report it as
// unconfirmed at that severity; `ok` accepts it, for services that never
// answer (syslog, SNMP traps).
enum class Silence : std::uint8_t { warning, critical, ok };

enum class Severity : std::uint8_t { warning, critical };

// Which addresses of a DNS name are probed: every one (`all`, the default),
// the first answer of either family (`any`), or only one family.
enum class AddressFamily : std::uint8_t { all, any, ipv4, ipv6 };

// What an address that answered nothing at all means. Named hosts are
// `drift`: their silence is judged port by port as before. Members of a
// group that came from a CIDR block or an address range take the group's
// `absent:` setting: an empty address is reported once, at that severity
// (`ok` counts it and moves on), never as one drift per port.
enum class Absent : std::uint8_t { drift, ok, warning, critical };

// How long a silent probe attempt is waited for: always the configured
// timeout (`fixed`), or as long as the address's measured round trips
// justify, never longer than the timeout (`adaptive`; docs/performance.md).
enum class Timing : std::uint8_t { fixed, adaptive };

std::string_view to_string(Protocol p) noexcept;
std::string_view to_string(PortState s) noexcept;
std::string_view to_string(Reason r) noexcept;
std::string_view to_string(Expect e) noexcept;
std::string_view to_string(Severity s) noexcept;
std::string_view to_string(Silence s) noexcept;
std::string_view to_string(AddressFamily f) noexcept;
std::string_view to_string(Absent a) noexcept;
std::string_view to_string(Timing t) noexcept;

std::optional<Protocol> parse_protocol(std::string_view s) noexcept;
std::optional<Expect> parse_expect(std::string_view s) noexcept;
std::optional<Severity> parse_severity(std::string_view s) noexcept;
std::optional<Silence> parse_silence(std::string_view s) noexcept;
std::optional<AddressFamily> parse_address_family(std::string_view s) noexcept;
std::optional<Absent> parse_absent(std::string_view s) noexcept;  // ok, warning, critical (not drift)
std::optional<Timing> parse_timing(std::string_view s) noexcept;

}  // namespace portdrift
