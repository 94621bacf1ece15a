#pragma once
// The plan: topology + catalog -> the flat list of checks this vantage point
// runs. A catalog flow becomes a check on host H when its initiator role is
// one of the vantage's roles (or `any`) and its listener role is one of H's.
// Explicit checks are added as written and win over catalog ones on the same
// host/address/protocol/port. Dynamic or large ranges are never expanded; they
// are listed as skipped with the reason. This is also where names in the
// topology are checked against the catalog (roles, products, flow ids, port
// overrides), with diagnostics that point into the topology file.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "portdrift/catalog/catalog.hpp"
#include "portdrift/config/topology.hpp"
#include "portdrift/core/diagnostic.hpp"
#include "portdrift/core/types.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::plan {

// Catalog ranges larger than this are not expanded into probes.
inline constexpr std::uint32_t kMaxCatalogRangePorts = 32;
// An explicit check may name at most this many ports (the user asked for them).
inline constexpr std::uint32_t kMaxExplicitPorts = 1024;

// What a check without a payload of its own carries (tcp, icmp): an empty Choice, shared.
std::shared_ptr<const payloads::Choice> no_payload();

// Small fields first; a large plan holds a hundred thousand of these.
struct Check {
  std::uint32_t host_index = 0;  // into Topology::hosts
  std::uint16_t port = 0;
  Protocol protocol = Protocol::tcp;
  Expect expect = Expect::open;
  Severity severity = Severity::critical;
  Silence silence = Silence::warning;    // udp: how open|filtered counts when `open` is expected
  std::uint32_t echo_count = 3;          // icmp: echo requests per check
  std::uint32_t icmp_ratelimit_ms = 1000;  // udp: the target's assumed ICMP error interval; 0 = no pacing
  std::uint32_t interval_s = 60;         // the daemon's interval for this check (host, group or defaults)
  AddressFamily family = AddressFamily::all;  // which addresses of a DNS target are probed
  Absent absent = Absent::drift;         // drift for named hosts; a block member's group setting
  // host, target and label view text owned by the Plan (Plan::text), the same for many checks.
  std::string_view host;
  std::string_view target;  // as configured: IP literal or DNS name
  std::vector<std::string> catalog_ids;  // empty for explicit checks
  std::string_view label;                // explicit check's name or the flow's component
  std::string_view group;                // the group the host came from; empty for a `hosts:` entry
  std::string_view source;               // address or interface probes leave from; empty: the kernel's choice
  // udp: what the probe sends (the registry's choice by default). Never null; immutable and
  // shared by the checks that send the same thing.
  std::shared_ptr<const payloads::Choice> payload = no_payload();
};

struct Skipped {
  std::string host;
  std::string flow_id;  // empty for explicit checks
  Protocol protocol = Protocol::tcp;
  std::string ports;
  std::string why;
};

struct Plan {
  std::vector<Check> checks;
  std::vector<Skipped> skipped;
  // Owns the characters that the checks' host, target and label view; copies of a plan share it.
  std::shared_ptr<const void> text;
};

struct PlanResult {
  Plan plan;
  Diagnostics diagnostics;
  [[nodiscard]] bool ok() const noexcept { return diagnostics.empty(); }
};

PlanResult build_plan(const config::Topology& topology, const catalog::Catalog& catalog);

}  // namespace portdrift::plan
