#include "portdrift/core/types.hpp"

#include <array>
#include <utility>

namespace portdrift {
namespace {

template <typename E, std::size_t N>
std::optional<E> lookup(const std::array<std::pair<std::string_view, E>, N>& table, std::string_view s) noexcept {
  for (const auto& [name, value] : table) {
    if (name == s) return value;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<std::string_view, Protocol>, 3> kProtocols{{
    {"tcp", Protocol::tcp}, {"udp", Protocol::udp}, {"icmp", Protocol::icmp}}};
constexpr std::array<std::pair<std::string_view, Expect>, 6> kExpects{{{"open", Expect::open},
                                                                       {"closed", Expect::closed},
                                                                       {"filtered", Expect::filtered},
                                                                       {"blocked", Expect::blocked},
                                                                       {"reachable", Expect::reachable},
                                                                       {"unreachable", Expect::unreachable}}};
constexpr std::array<std::pair<std::string_view, Severity>, 2> kSeverities{{
    {"warning", Severity::warning}, {"critical", Severity::critical}}};
constexpr std::array<std::pair<std::string_view, Silence>, 3> kSilences{{
    {"warning", Silence::warning}, {"critical", Silence::critical}, {"ok", Silence::ok}}};

constexpr std::array<std::pair<std::string_view, AddressFamily>, 4> kFamilies{{{"all", AddressFamily::all},
                                                                               {"any", AddressFamily::any},
                                                                               {"ipv4", AddressFamily::ipv4},
                                                                               {"ipv6", AddressFamily::ipv6}}};
constexpr std::array<std::pair<std::string_view, Absent>, 3> kAbsents{{
    {"ok", Absent::ok}, {"warning", Absent::warning}, {"critical", Absent::critical}}};
constexpr std::array<std::pair<std::string_view, Timing>, 2> kTimings{{
    {"fixed", Timing::fixed}, {"adaptive", Timing::adaptive}}};

}  // namespace

std::string_view to_string(Protocol p) noexcept {
  switch (p) {
    case Protocol::tcp: return "tcp";
    case Protocol::udp: return "udp";
    case Protocol::icmp: return "icmp";
  }
  return "?";
}

std::string_view to_string(PortState s) noexcept {
  switch (s) {
    case PortState::open: return "open";
    case PortState::closed: return "closed";
    case PortState::filtered: return "filtered";
    case PortState::open_filtered: return "open|filtered";
    case PortState::unknown: return "unknown";
    case PortState::up: return "up";
    case PortState::down: return "down";
  }
  return "?";
}

std::string_view to_string(Reason r) noexcept {
  switch (r) {
    case Reason::syn_ack: return "syn-ack";
    case Reason::conn_refused: return "conn-refused";
    case Reason::port_unreach: return "port-unreach";
    case Reason::no_response: return "no-response";
    case Reason::host_unreach: return "host-unreach";
    case Reason::net_unreach: return "net-unreach";
    case Reason::proto_unreach: return "proto-unreach";
    case Reason::admin_prohibited: return "admin-prohibited";
    case Reason::host_prohibited: return "host-prohibited";
    case Reason::net_prohibited: return "net-prohibited";
    case Reason::time_exceeded: return "time-exceeded";
    case Reason::udp_response: return "udp-response";
    case Reason::echo_reply: return "echo-reply";
    case Reason::resolve_failed: return "resolve-failed";
    case Reason::local_error: return "local-error";
    case Reason::not_probed: return "not-probed";
    case Reason::icmp_ratelimited: return "icmp-ratelimited";
  }
  return "?";
}

std::string_view to_string(Expect e) noexcept {
  switch (e) {
    case Expect::open: return "open";
    case Expect::closed: return "closed";
    case Expect::filtered: return "filtered";
    case Expect::blocked: return "blocked";
    case Expect::reachable: return "reachable";
    case Expect::unreachable: return "unreachable";
  }
  return "?";
}

std::string_view to_string(Severity s) noexcept {
  switch (s) {
    case Severity::warning: return "warning";
    case Severity::critical: return "critical";
  }
  return "?";
}

std::string_view to_string(Silence s) noexcept {
  switch (s) {
    case Silence::warning: return "warning";
    case Silence::critical: return "critical";
    case Silence::ok: return "ok";
  }
  return "?";
}

std::optional<Protocol> parse_protocol(std::string_view s) noexcept { return lookup(kProtocols, s); }
std::optional<Expect> parse_expect(std::string_view s) noexcept { return lookup(kExpects, s); }
std::optional<Severity> parse_severity(std::string_view s) noexcept { return lookup(kSeverities, s); }
std::optional<Silence> parse_silence(std::string_view s) noexcept { return lookup(kSilences, s); }
std::optional<AddressFamily> parse_address_family(std::string_view s) noexcept { return lookup(kFamilies, s); }
std::optional<Absent> parse_absent(std::string_view s) noexcept { return lookup(kAbsents, s); }
std::optional<Timing> parse_timing(std::string_view s) noexcept { return lookup(kTimings, s); }

std::string_view to_string(Timing t) noexcept { return t == Timing::adaptive ? "adaptive" : "fixed"; }

std::string_view to_string(AddressFamily f) noexcept {
  for (const auto& [name, value] : kFamilies) {
    if (value == f) return name;
  }
  return "?";
}

std::string_view to_string(Absent a) noexcept {
  if (a == Absent::drift) return "drift";
  for (const auto& [name, value] : kAbsents) {
    if (value == a) return name;
  }
  return "?";
}

}  // namespace portdrift
