#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "portdrift/plan/plan.hpp"
#include "portdrift/policy/policy.hpp"

namespace portdrift::policy {
namespace {

constexpr std::string_view kCatalog = R"(product: shop
name: Shop
source: shop.txt
roles:
  web: "web server"
  db: "database"
  client: "client"
  admin: "admin workstation"
  nobody: "a role no host holds"
flows:
  - {id: shop-http, component: Web, protocol: tcp, ports: "80", from: client, to: web, direction: inbound,
     service: "", configurable: true, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
  - {id: shop-sql, component: DB, protocol: tcp, ports: "1433", from: web, to: db, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
  - {id: shop-ctl, component: Control, protocol: tcp, ports: "8765", from: any, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: blocked, purpose: p, source: shop.txt}
  - {id: shop-ctl-self, component: Control, protocol: tcp, ports: "8765", from: web, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
  - {id: shop-rpc, component: RPC, protocol: tcp, ports: "49152-65535", from: client, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: true, expect: open, purpose: p, source: shop.txt}
  - {id: shop-dns, component: "A component with a very long name that goes on and on, far past what a one-line nftables comment can hold in 128 bytes", protocol: udp, ports: "53", from: client, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
  - {id: shop-ping, component: Ping, protocol: icmp, from: client, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
  - {id: shop-ghost, component: Ghost, protocol: tcp, ports: "7000", from: nobody, to: web, direction: inbound,
     service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: shop.txt}
)";

constexpr std::string_view kTopology = R"(vantage: {roles: [client]}
flows:
  shop-dns: {enabled: false}
hosts:
  - {name: w1, addresses: [198.18.0.10, "2001:2::10"], roles: [web], port_overrides: {80: 8080},
     checks: [{name: "no telnet", protocol: tcp, port: 23, expect: blocked}]}
  - {name: w2, address: 198.18.0.11, roles: [web]}
  - {name: d1, address: db.example, roles: [db]}
groups:
  - name: clients
    members: ["198.18.9.10-198.18.9.40", 198.18.4.0/24]
    roles: [client]
)";

struct Loaded {
  catalog::Catalog catalog;
  config::Topology topology;
};

Loaded load(std::string_view topology = kTopology) {
  Loaded l;
  catalog::CatalogResult c;
  catalog::parse_catalog_file(kCatalog, "shop.yaml", c);
  EXPECT_TRUE(c.ok());
  l.catalog = c.catalog;
  auto t = config::parse_topology(topology, "t.yaml");
  EXPECT_TRUE(t.ok()) << (t.diagnostics.empty() ? "" : format(t.diagnostics[0]));
  l.topology = t.topology;
  return l;
}

Policy build(const Loaded& l, DefaultAction d = DefaultAction::deny) {
  Options o;
  o.default_action = d;
  o.targets = {"nftables", "iptables", "windows_advfirewall"};
  auto r = build_policy(l.topology, l.catalog, o);
  EXPECT_TRUE(r.ok());
  return r.policy;
}

const Term* term(const Filter& f, std::string_view flow_id, Action a) {
  for (const auto& t : f.terms) {
    if (t.flow_id == flow_id && t.action == a) return &t;
  }
  return nullptr;
}

TEST(Policy, NetworksPerHostGroupAndRoleWithRangesAsBlocks) {
  const auto l = load();
  const auto p = build(l);
  ASSERT_NE(p.network("HOST_W1"), nullptr);
  EXPECT_EQ(p.network("HOST_W1")->items, (std::vector<std::string>{"198.18.0.10/32", "2001:2::10/128"}));
  // 198.18.9.10-198.18.9.40 as the fewest blocks that cover it exactly.
  EXPECT_EQ(p.network("GROUP_CLIENTS")->items,
            (std::vector<std::string>{"198.18.9.10/31", "198.18.9.12/30", "198.18.9.16/28", "198.18.9.32/29",
                                      "198.18.9.40/32", "198.18.4.0/24"}));
  EXPECT_EQ(p.network("ROLE_WEB")->items, (std::vector<std::string>{"HOST_W1", "HOST_W2"}));
  EXPECT_EQ(p.network("ROLE_CLIENT")->items, (std::vector<std::string>{"GROUP_CLIENTS"}));
  EXPECT_EQ(p.network("VANTAGE")->items, (std::vector<std::string>{"ROLE_CLIENT"}));
  // A DNS name cannot be written: no network, and the note says so.
  EXPECT_EQ(p.network("HOST_D1"), nullptr);
  EXPECT_TRUE(std::any_of(p.notes.begin(), p.notes.end(),
                          [](const std::string& n) { return n.find("'db.example' is a DNS name") != std::string::npos; }));
}

TEST(Policy, BlocksAndRangesOfBothFamiliesAreExactCovers) {
  const auto l = load(R"(groups:
  - name: g
    members: ["2001:2::10-2001:2::1f", "2001:2:1::/120", "2001:2::20-2001:2::22", 198.18.128.0/17,
              "198.18.0.255-198.18.1.0"]
    roles: [client]
)");
  const auto p = build(l);
  ASSERT_NE(p.network("GROUP_G"), nullptr);
  EXPECT_EQ(p.network("GROUP_G")->items,
            (std::vector<std::string>{"2001:2::10/124", "2001:2:1::/120", "2001:2::20/127", "2001:2::22/128",
                                      "198.18.128.0/17", "198.18.0.255/32", "198.18.1.0/32"}));
}

TEST(Policy, AcceptsFromInitiatorRolesThenDeniesBlockedThenTheDefault) {
  const auto l = load();
  const auto p = build(l);
  const auto* w1 = p.filter("w1");
  ASSERT_NE(w1, nullptr);
  const auto* http = term(*w1, "shop-http", Action::accept);
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->sources, std::vector<std::string>{"ROLE_CLIENT"});
  EXPECT_EQ(http->destination, "HOST_W1");
  EXPECT_EQ(http->ports.to_string(), "8080");  // port_overrides on a configurable flow
  // Blocked from anywhere, except the role that talks to itself: accepted first, from itself and loopback.
  const auto* self = term(*w1, "shop-ctl-self", Action::accept);
  ASSERT_NE(self, nullptr);
  EXPECT_EQ(self->sources, (std::vector<std::string>{"ROLE_WEB", "LOCALHOST"}));
  const auto* ctl = term(*w1, "shop-ctl", Action::deny);
  ASSERT_NE(ctl, nullptr);
  EXPECT_TRUE(ctl->sources.empty());
  auto index = [&](const Term* t) { return t - w1->terms.data(); };
  EXPECT_LT(index(self), index(ctl));
  EXPECT_EQ(w1->terms.back().name, "default-deny");
  // The explicit check: denied from anywhere.
  EXPECT_TRUE(std::any_of(w1->terms.begin(), w1->terms.end(), [](const Term& t) {
    return t.kind == Term::Kind::check && t.action == Action::deny && t.ports.to_string() == "23";
  }));
  // Disabled flows are left out; a flow from a role nobody holds has no term, and a note.
  EXPECT_EQ(term(*w1, "shop-dns", Action::accept), nullptr);
  EXPECT_EQ(term(*w1, "shop-ghost", Action::accept), nullptr);
  EXPECT_TRUE(std::any_of(p.notes.begin(), p.notes.end(),
                          [](const std::string& n) { return n.find("role nobody has no address") != std::string::npos; }));
  // w2 has no override: the flow's own service.
  EXPECT_EQ(term(*p.filter("w2"), "shop-http", Action::accept)->service, "FLOW_SHOP_HTTP");
  EXPECT_EQ(http->service, "FLOW_SHOP_HTTP__W1");
}

TEST(Policy, DynamicRangesAreWrittenAsDocumentedWithANote) {
  const auto p = build(load());
  const auto* rpc = term(*p.filter("w2"), "shop-rpc", Action::accept);
  ASSERT_NE(rpc, nullptr);
  EXPECT_EQ(rpc->ports.to_string(), "49152-65535");
  EXPECT_TRUE(std::any_of(rpc->notes.begin(), rpc->notes.end(),
                          [](const std::string& n) { return n.find("dynamic range") != std::string::npos; }));
}

TEST(Policy, EveryTermNamesItsFlowSeedAndComponentWithinNftablesLimits) {
  auto l = load();
  l.topology.flows.clear();  // shop-dns back in: its component is too long for one nftables comment
  const auto p = build(l);
  for (const auto& f : p.filters) {
    std::vector<std::string> names;
    for (const auto& t : f.terms) {
      EXPECT_LE(t.name.size(), 24U) << t.name;
      EXPECT_LE(t.comment.size(), 127U) << t.comment;
      names.push_back(t.name);
      if (t.kind == Term::Kind::flow) {
        EXPECT_NE(t.comment.find("flow " + t.flow_id), std::string::npos) << t.comment;
        EXPECT_NE(t.comment.find("shop.txt"), std::string::npos) << t.comment;
      }
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end()) << f.listener;
  }
  const auto* dns = term(*p.filter("w2"), "shop-dns", Action::accept);
  ASSERT_NE(dns, nullptr);
  EXPECT_NE(dns->comment.find("A component with a very long"), std::string::npos);
  EXPECT_TRUE(dns->comment.ends_with("..."));
}

TEST(Policy, DefaultTermFollowsTheFlag) {
  const auto l = load();
  EXPECT_EQ(build(l, DefaultAction::accept).filter("w1")->terms.back().name, "default-accept");
  const auto none = build(l, DefaultAction::none);
  for (const auto& t : none.filter("w1")->terms) EXPECT_NE(t.kind, Term::Kind::fallback);
}

TEST(Policy, RendersTheCapircaTree) {
  const auto l = load();
  Options o;
  o.targets = {"nftables", "iptables", "windows_advfirewall", "juniper"};
  const auto p = build_policy(l.topology, l.catalog, o).policy;
  const auto files = render(p, o);
  std::vector<std::string> paths;
  for (const auto& [path, text] : files) paths.push_back(path);
  EXPECT_EQ(paths, (std::vector<std::string>{"def/NETWORK.net", "def/SERVICES.svc", "policies/pol/w1.pol",
                                              "policies/pol/w2.pol", "policies/pol/d1.pol",
                                              "policies/pol/clients.pol"}));
  const auto& w1 = files[2].second;
  EXPECT_NE(w1.find("  target:: nftables mixed INPUT\n"), std::string::npos) << w1;
  EXPECT_NE(w1.find("  target:: iptables INPUT DROP\n"), std::string::npos);
  EXPECT_NE(w1.find("  target:: windows_advfirewall in\n"), std::string::npos);
  EXPECT_NE(w1.find("  target:: juniper w1\n"), std::string::npos);
  EXPECT_NE(w1.find("  source-address:: ROLE_CLIENT\n  destination-address:: HOST_W1\n  source-port:: ANY_SOURCE_PORT\n"
                    "  destination-port:: FLOW_SHOP_HTTP__W1\n  protocol:: tcp\n  action:: accept\n"),
            std::string::npos)
      << w1;
  EXPECT_NE(files[1].second.find("FLOW_SHOP_HTTP__W1 = 8080/tcp\n"), std::string::npos) << files[1].second;
  EXPECT_NE(files[0].second.find("ROLE_WEB = HOST_W1\n           HOST_W2\n"), std::string::npos) << files[0].second;
}

TEST(Explain, SaysWhyAPortIsOpenOrBlockedAndWhenNobodyAskedForIt) {
  const auto l = load();
  const auto p = build(l);
  const auto plan = plan::build_plan(l.topology, l.catalog).plan;
  const auto ctl = explain(p, l.catalog, plan, l.topology, "w2", 8765, DefaultAction::deny);
  ASSERT_EQ(ctl.reasons.size(), 2U);
  EXPECT_EQ(ctl.reasons[0].flow_id, "shop-ctl-self");
  EXPECT_EQ(ctl.reasons[0].expect, Expect::open);
  EXPECT_EQ(ctl.reasons[0].from_hosts, (std::vector<std::string>{"w1", "w2"}));
  EXPECT_FALSE(ctl.reasons[0].probed);  // the vantage is a client
  EXPECT_EQ(ctl.reasons[1].flow_id, "shop-ctl");
  EXPECT_EQ(ctl.reasons[1].expect, Expect::blocked);
  EXPECT_TRUE(ctl.reasons[1].probed);
  EXPECT_EQ(ctl.reasons[1].source, "shop.txt");
  const auto text = explain_text(ctl);
  EXPECT_NE(text.find("flow shop-ctl (shop), component \"Control\", seed document shop.txt"), std::string::npos) << text;
  const auto none = explain(p, l.catalog, plan, l.topology, "w2", 9999, DefaultAction::deny);
  EXPECT_TRUE(none.reasons.empty());
  EXPECT_NE(explain_text(none).find("no documented flow"), std::string::npos);
  EXPECT_EQ(explain_json(none)["documented"], false);
  const auto member = explain(p, l.catalog, plan, l.topology, "clients/198.18.4.7", std::nullopt, DefaultAction::deny);
  EXPECT_TRUE(member.found_host);
  const auto unknown = explain(p, l.catalog, plan, l.topology, "nope", std::nullopt, DefaultAction::deny);
  EXPECT_FALSE(unknown.found_host);
  const auto check = explain(p, l.catalog, plan, l.topology, "w1", 23, DefaultAction::deny);
  ASSERT_EQ(check.reasons.size(), 1U);
  EXPECT_EQ(check.reasons[0].component, "no telnet");
  EXPECT_EQ(check.reasons[0].source, "t.yaml:6");
  EXPECT_TRUE(check.reasons[0].probed);
}

// A ruleset shaped like capirca's nftables output: a base chain that jumps to one chain per term.
nlohmann::json ruleset(const std::vector<std::pair<std::string, nlohmann::json>>& terms, const std::string& policy) {
  using nlohmann::json;
  json items = json::array();
  items.push_back({{"chain", {{"family", "inet"}, {"table", "t"}, {"name", "root0"}, {"hook", "input"},
                              {"type", "filter"}, {"prio", 0}, {"policy", policy}}}});
  for (const auto& [name, expr] : terms) {
    items.push_back({{"chain", {{"family", "inet"}, {"table", "t"}, {"name", name}}}});
    items.push_back({{"rule", {{"family", "inet"}, {"table", "t"}, {"chain", name}, {"expr", expr}}}});
    items.push_back({{"rule", {{"family", "inet"}, {"table", "t"}, {"chain", "root0"},
                               {"expr", json::array({{{"jump", {{"target", name}}}}})}}}});
  }
  return {{"nftables", items}};
}

nlohmann::json match(const std::string& proto, const std::string& field, nlohmann::json right) {
  return {{"match", {{"op", "=="}, {"left", {{"payload", {{"protocol", proto}, {"field", field}}}}}, {"right", right}}}};
}

TEST(CheckAgainst, ListsMissingFlowsExposedPortsAndUndocumentedOnes) {
  const auto l = load(R"(vantage: {roles: [client]}
hosts:
  - {name: w2, address: 198.18.0.11, roles: [web]}
  - {name: c1, address: 198.18.0.50, roles: [client]}
)");
  const auto p = build(l);
  using nlohmann::json;
  const json to_w2 = match("ip", "daddr", "198.18.0.11");
  const json from_c1 = match("ip", "saddr", {{"set", json::array({{{"prefix", {{"addr", "198.18.0.50"}, {"len", 32}}}}})}});
  // http accepted from the client; 8765 accepted from anywhere (exposed); 4444 accepted (undocumented);
  // nothing for the dynamic RPC range, dns or ping (missing).
  const auto rs = ruleset({{"a1", json::array({from_c1, to_w2, match("tcp", "dport", 80), json{{"accept", nullptr}}})},
                           {"a2", json::array({to_w2, match("tcp", "dport", json{{"set", json::array({8765, 4444})}}),
                                               json{{"accept", nullptr}}})}},
                          "drop");
  const auto r = check_against(p, rs);
  std::vector<std::string> missing, exposed, undocumented;
  for (const auto& f : r.missing) missing.push_back(f.host + " " + f.ports + " " + f.what);
  for (const auto& f : r.exposed) exposed.push_back(f.host + " " + f.ports + " " + f.what);
  for (const auto& f : r.undocumented) undocumented.push_back(f.host + " " + f.ports);
  // shop-ctl-self (8765 from w2 itself) is let in by the rule that exposes 8765 to everyone.
  EXPECT_EQ(missing, (std::vector<std::string>{"w2 49152 shop-rpc", "w2 53 shop-dns", "w2 echo shop-ping"}));
  EXPECT_EQ(exposed, (std::vector<std::string>{"w2 8765 shop-ctl"}));
  EXPECT_EQ(undocumented, (std::vector<std::string>{"w2 4444"}));
  EXPECT_TRUE(r.notes.empty()) << r.notes.front();
  const auto text = ruleset_check_text(r);
  EXPECT_NE(text.find("documented flows the ruleset does not allow: 3"), std::string::npos) << text;
}

TEST(CheckAgainst, AnAcceptingDefaultLetsInWhatNobodyDocuments) {
  const auto l = load(R"(hosts:
  - {name: w2, address: 198.18.0.11, roles: [web]}
)");
  const auto r = check_against(build(l), ruleset({}, "accept"));
  EXPECT_TRUE(r.missing.empty());
  ASSERT_FALSE(r.exposed.empty());  // shop-ctl: blocked, but everything is let in
  ASSERT_EQ(r.undocumented.size(), 2U);  // the sample port, tcp and udp
  EXPECT_EQ(r.undocumented[0].what, "a port no flow uses is let in");
}

}  // namespace
}  // namespace portdrift::policy
