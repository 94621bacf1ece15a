#pragma once
// The topology: which hosts exist, their addresses and roles, the products in
// use, where this instance probes from (the vantage point), per-host port
// overrides and explicit checks, and engine defaults. This module only turns
// YAML into these typed structs (syntax, types, ranges, unknown/duplicate
// keys). Whether a role or product exists is the plan's question, because it
// needs the catalog.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

struct Vantage {
  std::optional<Named> host;  // a host of `hosts` that this instance runs on
  std::vector<Named> roles;   // roles this instance probes as (added to the host's)
};

struct Topology {
  std::string file;
  std::vector<Named> products;
  Vantage vantage;
  Defaults defaults;
  DaemonSettings daemon;
  std::vector<FlowSetting> flows;
  std::vector<Host> hosts;
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
