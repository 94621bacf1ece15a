#pragma once
// The plan: topology + catalog -> the flat list of checks this vantage point
// runs. A catalog flow becomes a check on host H when its initiator role is
// one of the vantage's roles (or `any`) and its listener role is one of H's.
// Where several sources speak of one host/address/protocol/port, one wins:
// a host's explicit check > its group's explicit check > a catalog flow from
// a vantage role > a catalog flow from `any`. Two explicit checks of the same
// rank that disagree are a diagnostic, never a silent merge; who won over
// whom is listed in PlanResult::notes (`--validate -v`).
//
// Groups are planned once per group (a template of checks) and then stamped
// out per address: the blocks and ranges of the topology are expanded here,
// lazily, one address at a time, and never beyond what the config module
// counted against limits.max_addresses. An address is one host: a named
// host (a `hosts:` entry, a named member, an inventory row) wins over a block
// address, and the first group wins where blocks overlap, with a note.
// Dynamic or large port ranges are never expanded; they are listed as
// skipped with the reason. This is also where names in the topology are
// checked against the catalog (roles, products, flow ids, port overrides),
// with diagnostics that point into the topology or inventory file.

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
  // The plan's host number: a `hosts:` entry's index into Topology::hosts; group
  // members (named or block addresses) are numbered on from Topology::hosts.size().
  std::uint32_t host_index = 0;
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
  // Into Plan::roles: the deciding catalog flow's initiator and listener roles; 0 (none) for explicit
  // checks. An index, in what was padding, rather than two views: a plan holds many checks.
  std::uint16_t roles = 0;
  // host, target and label view text owned by the Plan (Plan::text), the same for many checks.
  // A block/range address's host is `GROUP/ADDRESS` and its target the ADDRESS part of that text.
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

// A flow's initiator and listener roles ("any" as the catalog writes it), viewing the plan's text:
// the flow matrix's coordinates (from_role x to_role x vantage).
struct FlowRoles {
  std::string_view from;
  std::string_view to;
};

struct Plan {
  std::vector<Check> checks;
  std::vector<FlowRoles> roles{FlowRoles{}};  // [0]: none (explicit checks); one entry per distinct pair
  std::vector<Skipped> skipped;
  std::uint32_t host_count = 0;  // hosts planned: `hosts:` entries plus group members, one per address
  // Owns the characters that the checks' host, target and label view; copies of a plan share it.
  std::shared_ptr<const void> text;

  [[nodiscard]] const FlowRoles& roles_of(const Check& c) const noexcept { return roles[c.roles]; }
};

struct PlanResult {
  Plan plan;
  Diagnostics diagnostics;
  // Not problems: which source won where two spoke of one port, addresses planned once where
  // groups overlap. Printed by `--validate -v`. One note per host or group, not per address.
  Diagnostics notes;
  [[nodiscard]] bool ok() const noexcept { return diagnostics.empty(); }
};

PlanResult build_plan(const config::Topology& topology, const catalog::Catalog& catalog);

}  // namespace portdrift::plan
