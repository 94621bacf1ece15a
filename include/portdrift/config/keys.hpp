#pragma once
// The keys each mapping of a topology file may hold. The reader (topology.cpp)
// rejects any other key with "unknown key (expected one of: ...)"; the docs
// test checks that portdrift-topology(5) documents exactly these, section by
// section, so the page and the reader cannot drift apart.

#include <array>
#include <span>
#include <string_view>

namespace portdrift::config::keys {

inline constexpr std::array<std::string_view, 10> root{"version",  "products", "vantage", "vantages", "defaults",
                                                       "daemon",   "flows",    "hosts",   "groups",   "limits"};
inline constexpr std::array<std::string_view, 14> defaults{
    "timeout_ms", "retries", "concurrency", "per_host_concurrency", "max_rate", "severity", "icmp_ratelimit_ms",
    "echoes",     "interval_s", "confirm",  "clear",                "address_family", "source", "timing"};
inline constexpr std::array<std::string_view, 3> daemon{"state_file", "metrics_listen", "summary_interval_s"};
inline constexpr std::array<std::string_view, 2> vantage{"host", "roles"};
// An entry of `vantages:` may also say where its probes leave from.
inline constexpr std::array<std::string_view, 3> named_vantage{"host", "roles", "source"};
inline constexpr std::array<std::string_view, 6> flow{"severity", "expect", "enabled", "silence", "payload", "echoes"};
inline constexpr std::array<std::string_view, 8> check{"protocol", "port",    "expect",  "severity",
                                                       "name",     "silence", "payload", "echoes"};
inline constexpr std::array<std::string_view, 11> host{"name",      "address",          "addresses", "roles",
                                                       "port_overrides", "severity",   "interval_s",
                                                       "icmp_ratelimit_ms", "checks",  "address_family", "source"};
inline constexpr std::array<std::string_view, 13> group{
    "name",       "members",           "inventory", "roles",          "checks", "severity", "interval_s",
    "port_overrides", "icmp_ratelimit_ms", "absent", "address_family", "source", "flows"};
inline constexpr std::array<std::string_view, 1> limits{"max_addresses"};

// One kind of mapping, named as portdrift-topology(5) heads its section.
struct Section {
  std::string_view name;
  std::span<const std::string_view> keys;
};

inline constexpr std::array<Section, 10> sections{{{"top level", root},
                                                   {"defaults", defaults},
                                                   {"daemon", daemon},
                                                   {"vantage", vantage},
                                                   {"vantages.NAME", named_vantage},
                                                   {"hosts[N]", host},
                                                   {"groups[N]", group},
                                                   {"checks[N]", check},
                                                   {"flows.ID", flow},
                                                   {"limits", limits}}};

}  // namespace portdrift::config::keys
