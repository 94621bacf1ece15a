#pragma once
// The firewall policy the catalog implies: topology + catalog -> a capirca
// policy (naming definitions and one inbound filter per listener host or
// group), so that the documents that drive the probes also write the rules.
// Every term says which flow, seed document and component it came from.
// Also: `explain` (why a port is expected open or blocked on a host) and
// `check_against` (an existing nftables ruleset, `nft -j list ruleset`,
// judged against the same terms without probing anything).
//
// Pure functions from typed inputs to data and text. This module must not
// do I/O (the CLI writes the files and reads the ruleset), probe, resolve a
// DNS name, or decide anything the plan decides for probes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "portdrift/catalog/catalog.hpp"
#include "portdrift/config/topology.hpp"
#include "portdrift/core/diagnostic.hpp"
#include "portdrift/core/ports.hpp"
#include "portdrift/core/types.hpp"
#include "portdrift/plan/plan.hpp"

namespace portdrift::policy {

// The last term of every filter: deny everything else, accept it, or write none.
enum class DefaultAction : std::uint8_t { deny, accept, none };
std::optional<DefaultAction> parse_default_action(std::string_view s) noexcept;
std::string_view to_string(DefaultAction a) noexcept;

struct Options {
  DefaultAction default_action = DefaultAction::deny;
  std::vector<std::string> targets{"nftables"};  // capirca platforms: one `target::` line each
};

// A naming definition (def/NETWORK.net or def/SERVICES.svc).
struct Definition {
  std::string name;
  std::vector<std::string> items;  // CIDRs or other names (networks), PORT[-PORT]/PROTO (services)
  std::string comment;
  std::vector<std::string> cidrs;  // networks: every address block it stands for, names expanded
};

enum class Action : std::uint8_t { accept, deny };

struct Term {
  std::string name;  // capirca term name: unique in its filter, at most 24 characters (iptables)
  Action action = Action::accept;
  std::vector<std::string> sources;  // network names; empty: from anywhere
  std::string destination;           // network name; empty: the filter's host wherever it is
  std::string service;               // SERVICES name; empty for icmp and the default term
  std::vector<std::string> protocols;  // tcp, udp, icmp, icmpv6; empty: every protocol
  std::vector<std::string> icmp_types;
  std::string comment;               // one line, at most 128 bytes (nftables)
  std::vector<std::string> notes;    // written as `#` lines above the term
  // What the term stands for (explain, check_against).
  enum class Kind : std::uint8_t { flow, check, infrastructure, fallback } kind = Kind::flow;
  std::string flow_id;    // kind flow
  std::string from_role;  // kind flow: the initiator role or `any`; kind check: `vantage`
  std::string label;      // the flow's component or the check's name
  Protocol protocol = Protocol::tcp;
  PortSpec ports;         // after port_overrides
  Expect expect = Expect::open;
  bool dynamic = false;
};

struct Filter {
  std::string listener;     // host or group name
  bool group = false;
  std::string file_stem;    // policies/pol/FILE_STEM.pol
  std::string destination;  // its network; empty when it has no IP literal
  std::vector<std::string> roles;
  std::vector<Term> terms;
};

struct Policy {
  std::vector<Definition> networks;
  std::vector<Definition> services;
  std::vector<Filter> filters;
  // What capirca could not be made to say (DNS names, roles nobody holds); one line each.
  std::vector<std::string> notes;
  [[nodiscard]] const Definition* network(std::string_view name) const noexcept;
  [[nodiscard]] const Filter* filter(std::string_view listener) const noexcept;
  // Terms for flows and checks (not infrastructure, not the default term), in all filters.
  [[nodiscard]] std::size_t term_count() const noexcept;
};

struct PolicyResult {
  Policy policy;
  Diagnostics diagnostics;
  [[nodiscard]] bool ok() const noexcept { return diagnostics.empty(); }
};

PolicyResult build_policy(const config::Topology& topology, const catalog::Catalog& catalog,
                          const Options& options);

// The capirca tree: (relative path, text) for def/NETWORK.net, def/SERVICES.svc, policies/pol/*.pol.
std::vector<std::pair<std::string, std::string>> render(const Policy& policy, const Options& options);

// ---- explain ---------------------------------------------------------------------

struct Reason {
  std::string host;     // the filter's listener
  Protocol protocol = Protocol::tcp;
  std::string ports;    // as the term carries them
  Expect expect = Expect::open;
  std::string flow_id;  // empty for an explicit check
  std::string product;
  std::string component;  // or the explicit check's name
  std::string source;     // seed document, or the topology file:line of the check
  std::string purpose;
  std::string from;       // initiator role, `any` or `vantage`
  std::vector<std::string> from_hosts;  // who may initiate: host and group names holding the role
  bool dynamic = false;
  bool probed = false;    // this instance's plan probes it
  std::string term;       // the policy term that writes it
};

struct Explanation {
  std::string host;
  std::optional<std::uint16_t> port;
  bool found_host = false;
  std::vector<Reason> reasons;  // empty: no documented flow
  DefaultAction default_action = DefaultAction::deny;
};

Explanation explain(const Policy& policy, const catalog::Catalog& catalog, const plan::Plan& plan,
                    const config::Topology& topology, std::string_view host, std::optional<std::uint16_t> port,
                    DefaultAction default_action);
std::string explain_text(const Explanation& e);
nlohmann::json explain_json(const Explanation& e);

// ---- check an existing ruleset ---------------------------------------------------

struct Finding {
  std::string host;
  std::string address;
  Protocol protocol = Protocol::tcp;
  std::string ports;
  std::string what;  // flow id, check name, or the rule that allows it
  std::string from;  // the source address tried
};

struct RulesetCheck {
  std::vector<Finding> missing;       // documented open, not allowed
  std::vector<Finding> exposed;       // documented blocked, allowed
  std::vector<Finding> undocumented;  // allowed, no flow documents it
  std::vector<std::string> notes;     // expressions the evaluator does not know (treated as no match)
  std::size_t evaluated = 0;          // packets evaluated
};

// Evaluates `nft -j list ruleset` output for the policy's hosts and groups, or
// only `listener` when given (one server's own ruleset): every input hook
// chain must accept a packet for it to count as allowed.
RulesetCheck check_against(const Policy& policy, const nlohmann::json& ruleset,
                           std::optional<std::string_view> listener = std::nullopt);
std::string ruleset_check_text(const RulesetCheck& r);

}  // namespace portdrift::policy
