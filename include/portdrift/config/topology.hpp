#pragma once
// The topology: which hosts exist, their addresses and roles, the products in
// use, where this instance probes from (the vantage point, or named vantages
// of which each instance picks one), per-host port
// overrides and explicit checks, groups of members (names, addresses, CIDR
// blocks, ranges, inventory files) sharing settings, and engine defaults.
// This module only turns YAML (and inventory CSV/list files) into these typed
// structs (syntax, types, ranges, unknown/duplicate keys, the address cap).
// It never expands a block: a block stays two addresses. Whether a role or
// product exists is the plan's question, because it needs the catalog.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portdrift/config/addresses.hpp"
#include "portdrift/core/diagnostic.hpp"
#include "portdrift/core/ports.hpp"
#include "portdrift/core/types.hpp"

namespace portdrift::config {

struct Named {
  std::string value;
  SourcePos pos;
  std::string key_path;
};

struct ProbeDefaults {
  std::uint32_t timeout_ms = 1000;       // per attempt
  std::uint32_t retries = 1;             // extra attempts after silence
  std::uint32_t concurrency = 256;       // probes in flight, whole run
  std::uint32_t per_host_concurrency = 4;
  std::uint32_t max_rate = 500;          // probe attempts per second; 0 = no cap
  std::uint32_t icmp_ratelimit_ms = 1000;  // udp: targets' assumed ICMP error interval; 0 = no pacing
  std::uint32_t echoes = 3;              // icmp: echo requests per check
  // How long silence is waited for (timeout_ms is the most). Unset: the mode's own default,
  // adaptive for --check, fixed for the daemon (runner::kCheckTiming, daemon::kDaemonTiming).
  std::optional<Timing> timing;
};

// The daemon's schedule and soft/hard state thresholds (ignored by --check).
struct ScheduleDefaults {
  std::uint32_t interval_s = 60;  // each check runs once per interval
  std::uint32_t confirm = 3;      // consecutive mismatches before a drift is reported
  std::uint32_t clear = 2;        // consecutive matches before a drift is reported as resolved
};

struct Defaults {
  ProbeDefaults probe;
  Severity severity = Severity::critical;
  ScheduleDefaults schedule;
  AddressFamily address_family = AddressFamily::all;  // which addresses of a DNS name are probed
  std::optional<Named> source;  // address or interface name probes leave from; none: the kernel's choice
};

// `limits:` bounds on what one topology may ask for.
struct Limits {
  // Addresses the topology may name in all: every address of a block or
  // range, every named member, inventory row and host address counts one.
  std::uint64_t max_addresses = 65'536;
};

// The `daemon:` section; the command line overrides each key.
struct DaemonSettings {
  std::optional<std::string> state_file;
  std::optional<std::string> metrics_listen;  // "ADDRESS:PORT", "[V6]:PORT" or "off"
  std::uint32_t summary_interval_s = 300;     // the periodic info-level summary line
};

// Small fields first: a large topology holds tens of thousands of these.
struct ExplicitCheck {
  std::uint32_t index = 0;  // position in the host's `checks` list; see key_path()
  Protocol protocol = Protocol::tcp;
  Expect expect = Expect::open;  // reachable for icmp unless given
  std::optional<Severity> severity;
  std::optional<Silence> silence;  // udp: how open|filtered counts when open is expected
  std::optional<std::uint32_t> echoes;  // icmp: echo requests
  SourcePos pos;
  PortSpec ports;
  std::string name;  // optional label shown in reports
  // udp: "hex:...", "text:...", "empty" or a built-in name (checked by the plan); null when not given.
  // A pointer rather than an optional: few checks have one, and the topology holds many checks.
  std::shared_ptr<const Named> payload;
};

struct PortOverride {
  std::uint16_t documented = 0;
  std::uint16_t actual = 0;
  SourcePos pos;
  std::string key_path;
};

struct Host {
  std::string name;
  std::vector<Named> addresses;
  std::vector<Named> roles;
  std::vector<PortOverride> port_overrides;
  std::optional<Severity> severity;
  std::optional<std::uint32_t> interval_s;  // the daemon's interval for this host's checks
  std::optional<std::uint32_t> icmp_ratelimit_ms;  // udp: this host's ICMP error interval
  std::optional<AddressFamily> address_family;     // defaults.address_family when not given
  std::optional<Named> source;                     // defaults.source when not given
  std::vector<ExplicitCheck> checks;
  SourcePos pos;
  std::string key_path;
};

// `hosts[3].checks[1]`: made when a diagnostic needs it rather than stored in every check.
std::string key_path(const Host& host, const ExplicitCheck& check);

struct FlowSetting {
  Named id;
  std::optional<Severity> severity;
  std::optional<Expect> expect;
  bool enabled = true;
  std::optional<Silence> silence;       // udp flows
  std::optional<Named> payload;         // udp flows: e.g. the opt-in mssql-browser
  std::optional<std::uint32_t> echoes;  // icmp flows
};

// One `members` entry of a group, as written: a name or an address (one
// named host each), or a CIDR block or range (one host per address, named
// `GROUP/ADDRESS`, expanded only by the plan, lazily).
struct Member {
  MemberSpec spec;
  Named text;
};

// One host read from an inventory file. `name` or `address` may be empty
// (not both): the other then stands for it.
struct InventoryRow {
  std::string name;
  std::string address;
  std::vector<Named> roles;  // added to the group's; positions in the inventory file
  SourcePos pos;             // the row's first field in the inventory file
};

struct Inventory {
  Named key;          // the `inventory:` value as written, where it was written
  std::string path;   // as opened: relative to the topology file's directory
  std::vector<InventoryRow> rows;  // those this group takes
};

// A group: members sharing roles, explicit checks and settings.
struct Group {
  // The group's name, roles, checks, port overrides, severity, interval,
  // ICMP rate limit, address family and source, read like a host's
  // (`addresses` stays empty); key_path is `groups[N]`.
  Host settings;
  std::vector<Member> members;
  std::vector<Inventory> inventories;
  std::vector<FlowSetting> flows;  // per-flow settings for this group's members, over the top-level ones
  Absent absent = Absent::ok;      // what a block/range address that answers nothing means
};

struct Vantage {
  std::optional<Named> host;  // a host of `hosts` that this instance runs on
  std::vector<Named> roles;   // roles this instance probes as (added to the host's)
  [[nodiscard]] bool declared() const noexcept { return host.has_value() || !roles.empty(); }
};

// One entry of `vantages:`: a place some instance probes from, picked with
// `--vantage NAME` (or PORTDRIFT_VANTAGE), so that one topology serves a fleet.
struct NamedVantage {
  Named name;
  Vantage vantage;
  std::optional<Named> source;  // where its probes leave from: stands in for defaults.source
};

struct Topology {
  std::string file;
  std::vector<Named> products;
  Vantage vantage;                    // the single `vantage:`; empty when not written
  std::vector<NamedVantage> vantages;  // `vantages:`, in file order
  SourcePos vantages_pos;              // where `vantages:` is written (coverage warnings point there)
  Defaults defaults;
  DaemonSettings daemon;
  std::vector<FlowSetting> flows;
  std::vector<Host> hosts;
  std::vector<Group> groups;
  Limits limits;
};

struct TopologyResult {
  Topology topology;
  Diagnostics diagnostics;
  [[nodiscard]] bool ok() const noexcept { return diagnostics.empty(); }
};

TopologyResult load_topology(const std::string& path);
// `file` labels the diagnostics.
TopologyResult parse_topology(std::string_view text, const std::string& file);

}  // namespace portdrift::config
