#include <gtest/gtest.h>

#include <set>

#include "portdrift/catalog/catalog.hpp"

namespace portdrift::catalog {
namespace {

std::string texts(const Diagnostics& d) {
  std::string out;
  for (const auto& x : d) out += format(x) + "\n";
  return out;
}

constexpr std::string_view kHeader = R"(product: demo
name: Demo product
source: demo.txt
roles:
  web: "a web server"
  client: "a client"
flows:
)";

TEST(Catalog, BuiltInCatalogLoadsCleanly) {
  auto r = load_catalog(PORTDRIFT_CATALOG_DIR);
  ASSERT_TRUE(r.ok()) << texts(r.diagnostics);
  std::set<std::string> products;
  for (const auto& p : r.catalog.products) products.insert(p.id);
  EXPECT_EQ(products, (std::set<std::string>{"itms-8", "sav-10", "sms-2003", "mail-security-5", "sep-14"}));
  for (const auto& f : r.catalog.flows) {
    EXPECT_FALSE(f.source.empty()) << f.id;
    EXPECT_TRUE(f.from == kAnyRole || r.catalog.has_role(f.from)) << f.id;
    EXPECT_TRUE(r.catalog.has_role(f.to)) << f.id;
    if (f.protocol == Protocol::icmp) {
      EXPECT_TRUE(f.ports.ranges.empty()) << f.id;
    } else {
      EXPECT_GT(f.ports.count(), 0U) << f.id;
    }
  }
  // Roles shared across products are one role, so a SQL server gets every product's SQL flows.
  EXPECT_TRUE(r.catalog.has_role("sql-server"));
  EXPECT_TRUE(r.catalog.has_role("notification-server"));
  EXPECT_TRUE(r.catalog.has_role("sepm"));
}

TEST(Catalog, ParsesAFlow) {
  CatalogResult r;
  parse_catalog_file(std::string(kHeader) + R"(  - id: demo-http
    component: Web
    protocol: tcp
    ports: "80,8080"
    from: client
    to: web
    direction: inbound
    service: httpd
    configurable: true
    optional: false
    dynamic: false
    expect: open
    purpose: pages
    source: demo.txt
)", "demo.yaml", r);
  ASSERT_TRUE(r.ok()) << texts(r.diagnostics);
  ASSERT_EQ(r.catalog.flows.size(), 1U);
  const auto& f = r.catalog.flows[0];
  EXPECT_EQ(f.product, "demo");
  EXPECT_EQ(f.ports.count(), 2U);
  EXPECT_EQ(f.ports_text, "80,8080");
  EXPECT_TRUE(f.configurable);
  EXPECT_EQ(r.catalog.flow("demo-http"), &f);
}

TEST(Catalog, SchemaViolationsAreLocated) {
  CatalogResult r;
  parse_catalog_file(std::string(kHeader) + R"(  - id: demo-bad
    component: Web
    protocol: tcp
    ports: "0"
    from: nobody
    to: web
    direction: sideways
    service: ""
    configurable: maybe
    optional: false
    dynamic: false
    expect: open
    purpose: p
    source: other.txt
    colour: blue
  - id: demo-icmp
    component: Ping
    protocol: icmp
    ports: "8"
    from: any
    to: web
    direction: outbound
    service: ""
    configurable: false
    optional: false
    dynamic: false
    expect: open
    purpose: p
    source: demo.txt
)", "demo.yaml", r);
  const auto t = texts(r.diagnostics);
  EXPECT_NE(t.find("demo.yaml:11:12: flows[0].ports: '0' is not a port"), std::string::npos) << t;
  EXPECT_NE(t.find("demo.yaml:12:11: flows[0].from: role 'nobody' is not declared"), std::string::npos) << t;
  EXPECT_NE(t.find("demo.yaml:14:16: flows[0].direction: expected one of"), std::string::npos) << t;
  EXPECT_NE(t.find("demo.yaml:16:19: flows[0].configurable: expected true or false"), std::string::npos) << t;
  EXPECT_NE(t.find("demo.yaml:21:13: flows[0].source: 'other.txt' differs"), std::string::npos) << t;
  EXPECT_NE(t.find("demo.yaml:22:5: flows[0].colour: unknown key"), std::string::npos) << t;
  EXPECT_NE(t.find("flows[1].ports: icmp flows have no ports"), std::string::npos) << t;
  EXPECT_TRUE(r.catalog.flows.empty());
}

TEST(Catalog, MissingRequiredKeysAndDuplicateIds) {
  CatalogResult r;
  parse_catalog_file(std::string(kHeader) + "  - {id: demo-a, protocol: tcp, ports: \"1\"}\n", "a.yaml", r);
  EXPECT_NE(texts(r.diagnostics).find("flows[0].from: missing (required on every flow)"), std::string::npos);
  CatalogResult dup;
  const std::string flow = R"(  - {id: demo-x, component: c, protocol: tcp, ports: "1", from: any, to: web, direction: inbound,
       service: "", configurable: false, optional: false, dynamic: false, expect: open, purpose: p, source: demo.txt}
)";
  parse_catalog_file(std::string(kHeader) + flow, "a.yaml", dup);
  std::string other(kHeader);
  other.replace(other.find("product: demo"), 13, "product: demo2");
  parse_catalog_file(other + flow, "b.yaml", dup);
  EXPECT_NE(texts(dup.diagnostics).find("b.yaml: flows: flow id 'demo-x' is used twice"), std::string::npos)
      << texts(dup.diagnostics);
}

TEST(Catalog, MissingDirectory) {
  auto r = load_catalog("/nonexistent/catalog");
  ASSERT_EQ(r.diagnostics.size(), 1U);
  EXPECT_NE(r.diagnostics[0].message.find("cannot read catalog directory"), std::string::npos);
}

}  // namespace
}  // namespace portdrift::catalog
