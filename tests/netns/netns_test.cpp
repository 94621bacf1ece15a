// Real-network tests: the real portdrift binary, run inside a scanner
// namespace with no default route, against hosts in namespaces this test
// builds, answered by the real kernel (listeners, RSTs, nftables drops and
// ICMP rejects). Each test asserts on the JSON document and the exit status,
// and on the Nagios text where the wording matters to an operator.
//
// Nothing leaves the test bed: every target is in 198.18.0.0/15 or
// 2001:2::/48, on the bed's own segment or in 198.19.0.0/16, which the
// scanner reaches only through a host of the bed acting as a router, or not
// at all. Without root/ip/nft the tests skip (fail when CI=true).

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testbed.hpp"

namespace {

namespace fs = std::filesystem;
namespace tb = portdrift::testbed;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kPortdrift = PORTDRIFT_PATH;
constexpr const char* kPdListen = PD_LISTEN_PATH;
constexpr const char* kDemo = PORTDRIFT_DEMO_PATH;
constexpr const char* kFixtureCatalog = NETNS_FIXTURE_CATALOG_DIR;
constexpr const char* kRealCatalog = PORTDRIFT_CATALOG_DIR;
constexpr const char* kDemoTopology = PORTDRIFT_DEMO_TOPOLOGY;

// The target host of most tests.
constexpr const char* kTarget = "198.18.1.1";
constexpr const char* kTarget6 = "2001:2::1:1";

enum class Format { as_json, as_text };

struct CheckRun {
  std::string command;
  int exit_code = -1;
  std::string out;
  std::string err;
  json doc;  // when run with --format json
  double wall_ms = 0;
};

std::string unique_suffix() {
  std::random_device rd;
  return std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Up to n whitespace-separated words after the first `marker` in `text`. (No std::regex: GCC 12
// reports maybe-uninitialized inside <regex> under the sanitizer build, and warnings are errors.)
std::vector<std::string> words_after(const std::string& text, const std::string& marker, std::size_t n) {
  std::vector<std::string> out;
  const auto at = text.find(marker);
  if (at == std::string::npos) return out;
  std::stringstream ss(text.substr(at + marker.size()));
  for (std::string w; out.size() < n && ss >> w;) out.push_back(w);
  return out;
}

// "pdtb-<pid>-<rand>" from the demo's "namespaces pdtb-<pid>-<rand>-*".
std::string demo_tag(const std::string& out) {
  const auto w = words_after(out, "namespaces ", 1);
  if (w.empty() || !w[0].starts_with("pdtb-") || !w[0].ends_with("-*")) return {};
  return w[0].substr(0, w[0].size() - 2);
}

// The row of `doc.checks` for host/port (and address, when a host has several).
const json& row(const json& doc, const std::string& host, int port, const std::string& address = "") {
  static const json missing = json::object();
  if (doc.contains("checks")) {
    for (const auto& c : doc["checks"]) {
      if (c.value("host", "") == host && c.value("port", 0) == port &&
          (address.empty() || c.value("address", "") == address)) {
        return c;
      }
    }
  }
  ADD_FAILURE() << "no check for " << host << " port " << port << " " << address << " in the JSON output";
  return missing;
}

// A member by value, null when absent (operator[] on a const json with a missing key is undefined).
json get(const json& j, const char* key) { return j.is_object() && j.contains(key) ? j[key] : json(); }

std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string("<absent>");
}

// One expected row: what the kernel's answer must be turned into.
struct Expected {
  std::string host;
  int port;
  std::string observed;
  std::string reason;
  std::string verdict;
};

class Netns : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& pre = tb::prerequisites();
    if (!pre.ok) {
      if (tb::in_ci()) FAIL() << "CI=true but the real-network tests cannot run: " << pre.reason;
      GTEST_SKIP() << pre.reason;
    }
    dir_ = fs::temp_directory_path() / ("pdtb-netns-" + unique_suffix());
    fs::create_directories(dir_);
  }

  void TearDown() override {
    bed_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  static std::string test_name() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

  // A built bed: the scanner plus these hosts (name -> addresses).
  tb::Testbed& bed(const std::vector<std::pair<std::string, std::vector<std::string>>>& hosts) {
    bed_ = std::make_unique<tb::Testbed>(test_name());
    for (const auto& [name, addrs] : hosts) bed_->add_host(name, addrs);
    bed_->build();
    return *bed_;
  }
  tb::Testbed& single_target() { return bed({{"target", {kTarget, kTarget6}}}); }

  fs::path topology(const std::string& name, const std::string& yaml) {
    const auto path = dir_ / (name + ".yaml");
    std::ofstream(path) << yaml;
    return path;
  }

  // portdrift --check in the scanner namespace. `wrapper` runs between `ip netns exec NS` and portdrift.
  CheckRun check(const fs::path& topo, const std::vector<std::string>& args, Format format = Format::as_json,
            const std::string& catalog = kFixtureCatalog, const std::vector<std::string>& wrapper = {}) {
    std::vector<std::string> argv = wrapper;
    argv.insert(argv.end(), {kPortdrift, "--check", "-c", topo.string(), "--catalog-dir", catalog, "--format",
                             format == Format::as_json ? "json" : "text"});
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = bed_->exec(bed_->scanner(), argv, tb::RunOptions{}.within(40s).keep_status());
    CheckRun run{r.command, r.exit_code, r.out, r.err, json(), static_cast<double>(r.wall.count()) / 1000.0};
    if (format == Format::as_json) {
      try {
        run.doc = json::parse(r.out);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "not JSON (" << e.what() << ") from " << r.command << "\nstdout:\n"
                      << r.out << "\nstderr:\n"
                      << r.err;
      }
    }
    return run;
  }

  std::uint64_t nft_counter(const std::string& host, const std::string& name) {
    const auto r = bed_->exec(bed_->ns(host), {"nft", "-j", "list", "counter", "inet", "pdtest", name});
    const auto doc = json::parse(r.out);
    for (const auto& item : doc.at("nftables")) {
      if (item.contains("counter")) return item["counter"].at("packets").get<std::uint64_t>();
    }
    ADD_FAILURE() << "no counter " << name << " in " << r.out;
    return 0;
  }

  static void expect_rows(const CheckRun& run, const std::vector<Expected>& rows) {
    for (const auto& e : rows) {
      SCOPED_TRACE(e.host + " tcp/" + std::to_string(e.port));
      const auto& c = row(run.doc, e.host, e.port);
      EXPECT_EQ(str(c, "observed"), e.observed);
      EXPECT_EQ(str(c, "reason"), e.reason);
      EXPECT_EQ(str(c, "verdict"), e.verdict);
    }
  }

  std::unique_ptr<tb::Testbed> bed_;
  fs::path dir_;
};

std::string describe(const CheckRun& r) {
  return "command: " + r.command + "\nexit: " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out +
         "\nstderr:\n" + r.err;
}

// ---- states and reasons -------------------------------------------------------------

TEST_F(Netns, Ipv4EveryStateAndReasonComesFromTheKernelsAnswer) {
  auto& b = single_target();
  b.load_nft("target", R"(table inet pdtest {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 21003 drop
    meta nfproto ipv4 tcp dport 21004 reject with icmp type admin-prohibited
    meta nfproto ipv4 tcp dport 21005 reject with icmp type port-unreachable
    meta nfproto ipv4 tcp dport 21006 reject with icmp type host-unreachable
    meta nfproto ipv4 tcp dport 21008 reject with icmp type host-prohibited
    meta nfproto ipv4 tcp dport 21009 reject with icmp type net-prohibited
    meta nfproto ipv4 tcp dport 21010 reject with icmp type prot-unreachable
    meta nfproto ipv4 tcp dport 21020 reject with icmp type net-unreachable
  }
})");
  b.listen("target", kPdListen, {tb::endpoint(kTarget, 21001)});
  const auto topo = topology("v4", R"(hosts:
  - name: target
    address: 198.18.1.1
    checks:
      - {name: listener, protocol: tcp, port: 21001, expect: open}
      - {name: no listener, protocol: tcp, port: 21002, expect: closed}
      - {name: nft drop, protocol: tcp, port: 21003, expect: filtered}
      - {name: nft admin-prohibited, protocol: tcp, port: 21004, expect: filtered}
      - {name: nft port-unreachable, protocol: tcp, port: 21005, expect: closed}
      - {name: nft host-unreachable, protocol: tcp, port: 21006, expect: filtered}
      - {name: nft host-prohibited, protocol: tcp, port: 21008, expect: filtered}
      - {name: nft net-prohibited, protocol: tcp, port: 21009, expect: filtered}
      - {name: nft prot-unreachable, protocol: tcp, port: 21010, expect: filtered}
      - {name: nft net-unreachable, protocol: tcp, port: 21020, expect: filtered}
  - name: unrouted
    address: 198.19.0.1
    checks:
      - {name: no route from the scanner, protocol: tcp, port: 21007, expect: filtered}
)");
  auto r = check(topo, {"--timeout", "300", "--retries", "1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(str(r.doc, "status"), "OK");
  EXPECT_EQ(r.doc["summary"]["ok"], 11);
  expect_rows(r, {{"target", 21001, "open", "syn-ack", "ok"},
                  {"target", 21002, "closed", "conn-refused", "ok"},
                  {"target", 21003, "filtered", "no-response", "ok"},
                  {"target", 21004, "filtered", "admin-prohibited", "ok"},
                  {"target", 21005, "closed", "port-unreach", "ok"},
                  {"target", 21006, "filtered", "host-unreach", "ok"},
                  {"target", 21008, "filtered", "host-prohibited", "ok"},
                  {"target", 21009, "filtered", "net-prohibited", "ok"},
                  {"target", 21010, "filtered", "proto-unreach", "ok"},
                  {"target", 21020, "filtered", "net-unreach", "ok"},
                  {"unrouted", 21007, "filtered", "net-unreach", "ok"}});
  for (const auto& c : r.doc["checks"]) {
    SCOPED_TRACE(c.dump());
    const bool silent = get(c, "reason") == "no-response";
    EXPECT_EQ(get(c, "attempts"), silent ? 2 : 1) << "only silence is retried";
    EXPECT_EQ(get(c, "rtt_ms").is_null(), silent) << "an answer has a round-trip time, silence has none";
    EXPECT_EQ(get(c, "address"), get(c, "target"));
    EXPECT_FALSE(c.contains("detail"));
  }

  auto text = check(topo, {"--timeout", "300", "--retries", "1", "-v"}, Format::as_text);
  ASSERT_EQ(text.exit_code, 0) << describe(text);
  EXPECT_TRUE(first_line(text.out).starts_with("PORTDRIFT OK - 11 checks as documented | ")) << text.out;
  for (const auto* line : {"OK: target 198.18.1.1 tcp/21001 expected open, observed open (syn-ack) in ",
                           "OK: target 198.18.1.1 tcp/21002 expected closed, observed closed (conn-refused) in ",
                           "OK: target 198.18.1.1 tcp/21003 expected filtered, observed filtered (no-response) [",
                           "OK: target 198.18.1.1 tcp/21004 expected filtered, observed filtered (admin-prohibited) in ",
                           "OK: target 198.18.1.1 tcp/21005 expected closed, observed closed (port-unreach) in ",
                           "OK: target 198.18.1.1 tcp/21006 expected filtered, observed filtered (host-unreach) in ",
                           "OK: target 198.18.1.1 tcp/21008 expected filtered, observed filtered (host-prohibited) in ",
                           "OK: target 198.18.1.1 tcp/21009 expected filtered, observed filtered (net-prohibited) in ",
                           "OK: target 198.18.1.1 tcp/21010 expected filtered, observed filtered (proto-unreach) in ",
                           "OK: target 198.18.1.1 tcp/21020 expected filtered, observed filtered (net-unreach) in ",
                           "OK: unrouted 198.19.0.1 tcp/21007 expected filtered, observed filtered (net-unreach)"}) {
    EXPECT_TRUE(contains(text.out, line)) << "missing line: " << line << "\n" << text.out;
  }
}

TEST_F(Netns, Ipv6EveryStateAndReasonComesFromTheKernelsAnswer) {
  auto& b = single_target();
  b.load_nft("target", R"(table inet pdtest {
  chain input {
    type filter hook input priority 0; policy accept;
    meta nfproto ipv6 tcp dport 21013 reject with icmpv6 type admin-prohibited
    tcp dport 21014 drop
    meta nfproto ipv6 tcp dport 21015 reject with icmpv6 type port-unreachable
    meta nfproto ipv6 tcp dport 21016 reject with icmpv6 type addr-unreachable
    meta nfproto ipv6 tcp dport 21017 reject with icmpv6 type no-route
  }
})");
  b.listen("target", kPdListen, {tb::endpoint(kTarget6, 21011)});
  const auto topo = topology("v6", R"(hosts:
  - name: target6
    address: "2001:2::1:1"
    checks:
      - {name: listener, protocol: tcp, port: 21011, expect: open}
      - {name: no listener, protocol: tcp, port: 21012, expect: closed}
      - {name: nft admin-prohibited, protocol: tcp, port: 21013, expect: filtered}
      - {name: nft drop, protocol: tcp, port: 21014, expect: filtered}
      - {name: nft port-unreachable, protocol: tcp, port: 21015, expect: closed}
      - {name: nft addr-unreachable, protocol: tcp, port: 21016, expect: filtered}
      - {name: nft no-route, protocol: tcp, port: 21017, expect: filtered}
)");
  auto r = check(topo, {"--timeout", "300", "--retries", "1"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  expect_rows(r, {{"target6", 21011, "open", "syn-ack", "ok"},
                  {"target6", 21012, "closed", "conn-refused", "ok"},
                  {"target6", 21013, "filtered", "admin-prohibited", "ok"},
                  {"target6", 21014, "filtered", "no-response", "ok"},
                  {"target6", 21015, "closed", "port-unreach", "ok"},
                  {"target6", 21016, "filtered", "host-unreach", "ok"},
                  {"target6", 21017, "filtered", "net-unreach", "ok"}});
  for (const auto& c : r.doc["checks"]) {
    EXPECT_EQ(get(c, "address"), "2001:2::1:1");
    EXPECT_EQ(get(c, "attempts"), get(c, "reason") == "no-response" ? 2 : 1) << c.dump();
  }
}

TEST_F(Netns, AnswersFromARouterInThePathAreReasonsToo) {
  // Hosts that double as routers for prefixes outside the segment: the scanner routes each
  // prefix through one of them, and that router's kernel answers as a router in the path would.
  // One router per answer: a Linux router's ICMP errors share one token bucket per destination
  // (1/s, burst 5, spent again by icmp_send), so one router answering three probes of the same
  // scanner within a millisecond stays silent on the later ones.
  auto& b = bed({{"r-ttl", {"198.18.1.1", "2001:2::1:1"}},
                 {"r-noroute", {"198.18.1.3"}},
                 {"r-prohibit", {"198.18.1.4", "2001:2::1:4"}},
                 {"r-unreach", {"198.18.1.5"}},
                 {"r-blackhole", {"198.18.1.6"}}});
  for (const char* r : {"r-ttl", "r-noroute", "r-prohibit", "r-unreach", "r-blackhole"}) b.enable_forwarding(r);
  b.add_route("scanner", "198.19.2.0/24", tb::RouteType::via, "198.18.1.1");
  b.add_route("scanner", "2001:2:0:2::/64", tb::RouteType::via, "2001:2::1:1");
  b.add_route("scanner", "198.19.3.0/24", tb::RouteType::via, "198.18.1.3");
  b.add_route("scanner", "198.19.4.0/24", tb::RouteType::via, "198.18.1.4");
  b.add_route("scanner", "2001:2:0:4::/64", tb::RouteType::via, "2001:2::1:4");
  b.add_route("scanner", "198.19.5.0/24", tb::RouteType::via, "198.18.1.5");
  b.add_route("scanner", "198.19.6.0/24", tb::RouteType::via, "198.18.1.6");
  // r-ttl forwards back towards the scanner, but its nft sets TTL / hop limit 1 first: it expires there.
  b.add_route("r-ttl", "198.19.2.0/24", tb::RouteType::via, tb::kScannerV4);
  b.add_route("r-ttl", "2001:2:0:2::/64", tb::RouteType::via, tb::kScannerV6);
  b.load_nft("r-ttl", R"(table inet pdtest {
  chain prerouting {
    type filter hook prerouting priority mangle; policy accept;
    ip daddr 198.19.2.0/24 ip ttl set 1
    ip6 daddr 2001:2:0:2::/64 ip6 hoplimit set 1
  }
})");
  // r-noroute has no route for 198.19.3.0/24 at all.
  b.add_route("r-prohibit", "198.19.4.0/24", tb::RouteType::prohibit);
  b.add_route("r-prohibit", "2001:2:0:4::/64", tb::RouteType::prohibit);
  b.add_route("r-unreach", "198.19.5.0/24", tb::RouteType::unreachable);
  b.add_route("r-blackhole", "198.19.6.0/24", tb::RouteType::blackhole);
  auto r = check(topology("router", R"(hosts:
  - {name: ttl, address: 198.19.2.1, checks: [{protocol: tcp, port: 21801, expect: filtered}]}
  - {name: noroute, address: 198.19.3.1, checks: [{protocol: tcp, port: 21801, expect: filtered}]}
  - {name: prohibit, address: 198.19.4.1, checks: [{protocol: tcp, port: 21801, expect: filtered}]}
  - {name: unreachable, address: 198.19.5.1, checks: [{protocol: tcp, port: 21801, expect: filtered}]}
  - {name: blackhole, address: 198.19.6.1, checks: [{protocol: tcp, port: 21801, expect: filtered}]}
  - {name: hoplimit6, address: "2001:2:0:2::1", checks: [{protocol: tcp, port: 21801, expect: filtered}]}
  - {name: prohibit6, address: "2001:2:0:4::1", checks: [{protocol: tcp, port: 21801, expect: filtered}]}
)"),
                 {"--timeout", "300", "--retries", "0"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  expect_rows(r, {{"ttl", 21801, "filtered", "time-exceeded", "ok"},
                  {"noroute", 21801, "filtered", "net-unreach", "ok"},
                  {"prohibit", 21801, "filtered", "admin-prohibited", "ok"},
                  {"unreachable", 21801, "filtered", "host-unreach", "ok"},
                  {"blackhole", 21801, "filtered", "no-response", "ok"},
                  {"hoplimit6", 21801, "filtered", "time-exceeded", "ok"},
                  {"prohibit6", 21801, "filtered", "admin-prohibited", "ok"}});
}

TEST_F(Netns, UdpAndIcmpStatesComeFromTheKernelsAnswer) {
  auto& b = bed({{"target", {kTarget, "198.18.1.2", "198.18.1.3", kTarget6}}});
  b.load_nft("target", R"(table inet pdtest {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 21903 drop
    meta nfproto ipv4 udp dport 21904 reject with icmp type admin-prohibited
    ip daddr 198.18.1.2 icmp type echo-request drop
    ip daddr 198.18.1.3 icmp type echo-request reject with icmp type admin-prohibited
  }
})");
  // 21901 has no built-in payload (an empty datagram goes out); 137 gets a NetBIOS node status
  // request, which pd-listen answers with a negative response.
  b.listen("target", kPdListen,
           {"udp:" + tb::endpoint(kTarget, 21901), "udp:" + tb::endpoint(kTarget, 137),
            "udp:" + tb::endpoint(kTarget6, 21901)});
  auto r = check(topology("udp", R"(hosts:
  - name: udp4
    address: 198.18.1.1
    checks:
      - {protocol: udp, port: 21901, expect: open}
      - {protocol: udp, port: 137, expect: open}
      - {protocol: udp, port: 21902, expect: closed}
      - {protocol: udp, port: 21903, expect: blocked}
      - {protocol: udp, port: 21904, expect: filtered}
  - name: silent
    address: 198.18.1.1
    checks: [{protocol: udp, port: 21903, expect: open}]
  - name: udp6
    address: "2001:2::1:1"
    checks:
      - {protocol: udp, port: 21901, expect: open}
      - {protocol: udp, port: 21902, expect: closed}
  - {name: ping4, address: 198.18.1.1, checks: [{protocol: icmp, expect: reachable}]}
  - {name: ping6, address: "2001:2::1:1", checks: [{protocol: icmp, expect: reachable}]}
  - {name: quiet, address: 198.18.1.2, checks: [{protocol: icmp, expect: unreachable}]}
  - {name: prohibited, address: 198.18.1.3, checks: [{protocol: icmp, expect: unreachable}]}
  - {name: unrouted, address: 198.19.0.1, checks: [{protocol: icmp, expect: unreachable}]}
)"),
                 {"--timeout", "300", "--retries", "1"});
  // Silence on a UDP port expected open proves nothing: unconfirmed, at warning by default.
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(str(r.doc, "status"), "WARNING");
  EXPECT_EQ(get(get(r.doc, "summary"), "unconfirmed"), 1);
  const auto port_of = [&](const std::string& host, int port) -> const json& { return row(r.doc, host, port); };
  const auto echo_of = [&](const std::string& host) -> const json& {
    static const json missing = json::object();
    for (const auto& c : r.doc["checks"]) {
      if (str(c, "host") == host && str(c, "protocol") == "icmp") return c;
    }
    ADD_FAILURE() << "no icmp check for " << host;
    return missing;
  };
  struct Row {
    const json& c;
    const char* observed;
    const char* reason;
    const char* verdict;
  };
  for (const auto& e : std::vector<Row>{
           {port_of("udp4", 21901), "open", "udp-response", "ok"},
           {port_of("udp4", 137), "open", "udp-response", "ok"},
           {port_of("udp4", 21902), "closed", "port-unreach", "ok"},
           {port_of("udp4", 21903), "open|filtered", "no-response", "ok"},  // blocked is met by silence
           {port_of("udp4", 21904), "filtered", "admin-prohibited", "ok"},
           {port_of("silent", 21903), "open|filtered", "no-response", "unconfirmed"},
           {port_of("udp6", 21901), "open", "udp-response", "ok"},
           {port_of("udp6", 21902), "closed", "port-unreach", "ok"},
           {echo_of("ping4"), "up", "echo-reply", "ok"},
           {echo_of("ping6"), "up", "echo-reply", "ok"},
           {echo_of("quiet"), "down", "no-response", "ok"},
           {echo_of("prohibited"), "down", "admin-prohibited", "ok"},
           {echo_of("unrouted"), "down", "net-unreach", "ok"},
       }) {
    SCOPED_TRACE(e.c.dump());
    EXPECT_EQ(str(e.c, "observed"), e.observed);
    EXPECT_EQ(str(e.c, "reason"), e.reason);
    EXPECT_EQ(str(e.c, "verdict"), e.verdict);
  }
  EXPECT_EQ(get(port_of("udp4", 21903), "attempts"), 2) << "silence is retried";
  EXPECT_EQ(get(port_of("udp4", 21902), "attempts"), 1) << "an answer is not";
  EXPECT_TRUE(contains(str(port_of("udp4", 137), "reply"), "NetBIOS")) << "the reply was checked against the request";
}

// ---- expectations and verdicts ---------------------------------------------------------

TEST_F(Netns, EachExpectationIsMetOnlyByItsStates) {
  auto& b = single_target();
  b.load_nft("target", R"(table inet pdtest {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 21103 drop
    meta nfproto ipv4 tcp dport 21104 reject with icmp type admin-prohibited
    meta nfproto ipv4 tcp dport 21105 reject with icmp type port-unreachable
  }
})");
  b.listen("target", kPdListen, {tb::endpoint(kTarget, 21101)});
  // Same address, one host per expectation: 21101 open, 21102 closed (RST), 21103 filtered (drop),
  // 21104 filtered (admin-prohibited), 21105 closed (port-unreachable).
  std::string yaml = "hosts:\n";
  for (const auto* e : {"open", "closed", "filtered", "blocked"}) {
    yaml += std::string("  - name: expect-") + e + "\n    address: 198.18.1.1\n    checks:\n" +
            "      - {protocol: tcp, port: \"21101-21105\", expect: " + e + "}\n";
  }
  auto r = check(topology("matrix", yaml),
                       {"--timeout", "300", "--retries", "0", "--per-host", "20", "--max-rate", "0"});
  const std::map<std::string, std::vector<std::string>> verdicts{
      {"open", {"ok", "drift", "drift", "drift", "drift"}},
      {"closed", {"drift", "ok", "drift", "drift", "ok"}},
      {"filtered", {"drift", "drift", "ok", "ok", "drift"}},
      {"blocked", {"drift", "ok", "ok", "ok", "ok"}},  // blocked: closed or filtered, never open
  };
  const std::vector<std::string> observed{"open", "closed", "filtered", "filtered", "closed"};
  for (const auto& [expect, row_verdicts] : verdicts) {
    for (int i = 0; i < 5; ++i) {
      SCOPED_TRACE("expect " + expect + ", port " + std::to_string(21101 + i));
      const auto& c = row(r.doc, "expect-" + expect, 21101 + i);
      EXPECT_EQ(str(c, "expected"), expect);
      EXPECT_EQ(str(c, "observed"), observed[static_cast<std::size_t>(i)]);
      EXPECT_EQ(str(c, "verdict"), row_verdicts[static_cast<std::size_t>(i)]);
    }
  }
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.doc["summary"]["checks"], 20);
  EXPECT_EQ(r.doc["summary"]["ok"], 9);
  EXPECT_EQ(r.doc["summary"]["drift_critical"], 11);
  EXPECT_EQ(r.doc["summary"]["errors"], 0);
}

// ---- exit status and severities ------------------------------------------------------------

class NetnsStatus : public Netns {
 protected:
  void SetUp() override {
    Netns::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto& b = single_target();
    b.listen("target", kPdListen, {tb::endpoint(kTarget, 21201)});  // 21201 open, 21202 closed
  }
};

TEST_F(NetnsStatus, AllAsDocumentedIsOkAndExitsZero) {
  const auto topo = topology("ok", R"(hosts:
  - name: target
    address: 198.18.1.1
    checks:
      - {protocol: tcp, port: 21201, expect: open}
      - {protocol: tcp, port: 21202, expect: closed}
)");
  auto r = check(topo, {});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(str(r.doc, "status"), "OK");
  EXPECT_EQ(r.doc["exit_code"], 0);
  auto t = check(topo, {}, Format::as_text);
  EXPECT_EQ(t.exit_code, 0);
  EXPECT_TRUE(first_line(t.out).starts_with("PORTDRIFT OK - 2 checks as documented | ")) << t.out;
  EXPECT_TRUE(contains(t.out, "'drift_critical'=0;;1;0;2")) << t.out;
}

TEST_F(NetnsStatus, WarningOnlyDriftExitsOne) {
  // Warning from the host's severity and from the check's own; the critical check is fine.
  const auto topo = topology("warning", R"(hosts:
  - name: lab
    address: 198.18.1.1
    severity: warning
    checks:
      - {protocol: tcp, port: 21202, expect: open}
  - name: prod
    address: 198.18.1.1
    checks:
      - {protocol: tcp, port: 21201, expect: open}
      - {protocol: tcp, port: 21202, expect: filtered, severity: warning}
)");
  auto r = check(topo, {});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(str(r.doc, "status"), "WARNING");
  EXPECT_EQ(r.doc["summary"]["drift_warning"], 2);
  EXPECT_EQ(r.doc["summary"]["drift_critical"], 0);
  EXPECT_EQ(str(row(r.doc, "lab", 21202), "severity"), "warning");
  auto t = check(topo, {}, Format::as_text);
  EXPECT_EQ(t.exit_code, 1);
  EXPECT_TRUE(first_line(t.out).starts_with("PORTDRIFT WARNING - 2 of 3 checks drifted (0 critical, 2 warning)"))
      << t.out;
  EXPECT_TRUE(contains(t.out, "\nWARNING: lab 198.18.1.1 tcp/21202 expected open, observed closed (conn-refused)"))
      << t.out;
}

TEST_F(NetnsStatus, CriticalDriftExitsTwo) {
  const auto topo = topology("critical", R"(hosts:
  - name: lab
    address: 198.18.1.1
    severity: warning
    checks:
      - {protocol: tcp, port: 21202, expect: open}
  - name: prod
    address: 198.18.1.1
    checks:
      - {protocol: tcp, port: 21201, expect: blocked}
)");
  auto r = check(topo, {});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(str(r.doc, "status"), "CRITICAL");
  EXPECT_EQ(r.doc["summary"]["drift_critical"], 1);
  EXPECT_EQ(r.doc["summary"]["drift_warning"], 1);
  expect_rows(r, {{"prod", 21201, "open", "syn-ack", "drift"}});
  auto t = check(topo, {}, Format::as_text);
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_TRUE(first_line(t.out).starts_with("PORTDRIFT CRITICAL - 2 of 2 checks drifted (1 critical, 1 warning)"))
      << t.out;
  EXPECT_TRUE(contains(t.out, "\nCRITICAL: prod 198.18.1.1 tcp/21201 expected blocked, observed open (syn-ack)"))
      << t.out;
}

TEST_F(Netns, BrokenTopologyIsUnknownPointsAtTheLineAndProbesNothing) {
  auto& b = single_target();
  b.load_nft("target", R"(table inet pdtest {
  counter probes { }
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 1-65535 counter name "probes"
  }
})");
  // Line 7, column 17 holds the bad value.
  const auto topo = topology("broken", R"(hosts:
  - name: target
    address: 198.18.1.1
    checks:
      - protocol: tcp
        port: 21301
        expect: opne
      - protocol: tcp
        port: 21302
        expect: closed
)");
  auto t = check(topo, {}, Format::as_text);
  EXPECT_EQ(t.exit_code, 3) << describe(t);
  EXPECT_EQ(first_line(t.out), "PORTDRIFT UNKNOWN - 1 configuration problem (" + topo.string() + ")") << t.out;
  EXPECT_TRUE(contains(t.out, "\n" + topo.string() + ":7:17: hosts[0].checks[0].expect: ")) << t.out;

  auto r = check(topo, {});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_EQ(str(r.doc, "status"), "UNKNOWN");
  EXPECT_EQ(r.doc["exit_code"], 3);
  ASSERT_EQ(r.doc["diagnostics"].size(), 1U) << r.out;
  const auto& d = r.doc["diagnostics"][0];
  EXPECT_EQ(get(d, "file"), topo.string());
  EXPECT_EQ(get(d, "line"), 7);
  EXPECT_EQ(get(d, "column"), 17);
  EXPECT_EQ(get(d, "key"), "hosts[0].checks[0].expect");
  EXPECT_TRUE(r.doc["checks"].empty());
  EXPECT_EQ(nft_counter("target", "probes"), 0U) << "a broken configuration must not probe anything";
}

// ---- retries ----------------------------------------------------------------------------------

TEST_F(Netns, OnlySilenceIsRetriedAndEachAttemptIsOneSyn) {
  auto& b = single_target();
  // Counts initial SYNs (SYN without ACK) per port on the wire, as the target sees them.
  b.load_nft("target", R"(table inet pdtest {
  counter syn_dropped { }
  counter syn_refused { }
  counter syn_open { }
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 21401 tcp flags & (syn | ack) == syn counter name "syn_dropped"
    tcp dport 21401 drop
    tcp dport 21402 tcp flags & (syn | ack) == syn counter name "syn_refused"
    tcp dport 21403 tcp flags & (syn | ack) == syn counter name "syn_open"
  }
})");
  b.listen("target", kPdListen, {tb::endpoint(kTarget, 21403)});
  const std::string hosts = R"(hosts:
  - name: target
    address: 198.18.1.1
    checks:
      - {protocol: tcp, port: 21401, expect: filtered}
      - {protocol: tcp, port: 21402, expect: closed}
      - {protocol: tcp, port: 21403, expect: open}
)";
  {
    SCOPED_TRACE("--retries 2 --timeout 200");
    auto r = check(topology("flags", hosts), {"--retries", "2", "--timeout", "200", "--max-rate", "0"});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(get(row(r.doc, "target", 21401), "attempts"), 3);
    EXPECT_EQ(get(row(r.doc, "target", 21402), "attempts"), 1);
    EXPECT_EQ(get(row(r.doc, "target", 21403), "attempts"), 1);
    EXPECT_GE(r.doc.value("duration_ms", 0.0), 600.0) << "three silent attempts of 200 ms each";
    EXPECT_GE(r.wall_ms, 600.0);
    EXPECT_EQ(nft_counter("target", "syn_dropped"), 3U);
    EXPECT_EQ(nft_counter("target", "syn_refused"), 1U);
    EXPECT_EQ(nft_counter("target", "syn_open"), 1U);
  }
  {
    SCOPED_TRACE("topology defaults: timeout_ms 150, retries 3");
    auto r = check(topology("defaults", "defaults: {timeout_ms: 150, retries: 3, max_rate: 0}\n" + hosts), {});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(get(row(r.doc, "target", 21401), "attempts"), 4);
    EXPECT_EQ(get(row(r.doc, "target", 21402), "attempts"), 1);
    EXPECT_GE(r.doc.value("duration_ms", 0.0), 600.0);
    EXPECT_EQ(nft_counter("target", "syn_dropped"), 3U + 4U);
    EXPECT_EQ(nft_counter("target", "syn_refused"), 2U);
    EXPECT_EQ(nft_counter("target", "syn_open"), 2U);
  }
}

// Adaptive timing: a host that answers some ports fast gets its silent ports given up after what its
// round trips justify (the 100 ms floor on a veth), not after the full timeout; every answer is still
// read right, and a lost SYN is still retried and read right. Loss seen on one address gives the
// silent ports of every address a retry more, the other address's too.
TEST_F(Netns, AdaptiveTimingEndsAMostlySilentRunWellUnderTheFixedFloor) {
  auto& b = bed({{"target", {kTarget, "198.18.1.2", kTarget6}}});
  b.load_nft("target", R"(table inet pdtest {
  counter lossy_syn { }
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 21510 tcp flags & (syn | ack) == syn counter name "lossy_syn"
    tcp dport 21510 tcp flags & (syn | ack) == syn numgen inc mod 2 == 0 drop
    tcp dport 21520-21559 drop
  }
})");
  b.listen("target", kPdListen, {tb::endpoint(kTarget, 21501), tb::endpoint(kTarget, 21510)});
  // 45 ports on one address: one open, three closed, one open behind a rule that drops every other
  // SYN (the first attempt is lost, its retry answered), forty silent; 13 on another: three closed,
  // ten silent, none lost.
  const std::string hosts = R"(hosts:
  - name: target
    address: 198.18.1.1
    checks:
      - {protocol: tcp, port: 21501, expect: open}
      - {protocol: tcp, port: "21502-21504", expect: closed}
      - {protocol: tcp, port: 21510, expect: open}
      - {protocol: tcp, port: "21520-21559", expect: filtered}
  - name: other
    address: 198.18.1.2
    checks:
      - {protocol: tcp, port: "21502-21504", expect: closed}
      - {protocol: tcp, port: "21520-21529", expect: filtered}
)";
  const std::vector<std::string> wide{"--timeout", "2000", "--retries", "1", "--per-host", "100",
                                      "--concurrency", "1000", "--max-rate", "0"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = wide;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const auto topo = topology("adaptive", "defaults: {timing: adaptive}\n" + hosts);
  auto expect_all_right = [&](const CheckRun& r, int silent_attempts) {
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.doc["summary"]["ok"], 58) << describe(r);
    expect_rows(r, {{"target", 21501, "open", "syn-ack", "ok"},
                    {"target", 21502, "closed", "conn-refused", "ok"},
                    {"target", 21504, "closed", "conn-refused", "ok"},
                    {"target", 21510, "open", "syn-ack", "ok"},
                    {"target", 21520, "filtered", "no-response", "ok"},
                    {"target", 21559, "filtered", "no-response", "ok"},
                    {"other", 21502, "closed", "conn-refused", "ok"},
                    {"other", 21529, "filtered", "no-response", "ok"}});
    EXPECT_EQ(get(row(r.doc, "target", 21559), "attempts"), silent_attempts);
    EXPECT_EQ(get(row(r.doc, "other", 21529), "attempts"), silent_attempts);
  };

  auto adaptive = check(topo, wide);  // timing from the topology
  SCOPED_TRACE("adaptive");
  // The answered retry of 21510 showed loss: the silent ports of both addresses get one retry more.
  expect_all_right(adaptive, 3);
  // Given up after ~100 ms, long before the kernel's own SYN retransmission (1 s): a second attempt.
  EXPECT_EQ(get(row(adaptive.doc, "target", 21510), "attempts"), 2) << "the lost SYN was retried";
  // Silent attempts of at least the 100 ms floor each (the later ones widened), far under the
  // fixed floor of 2 x 2000 ms.
  EXPECT_GE(adaptive.doc.value("duration_ms", 0.0), 200.0);
  EXPECT_LT(adaptive.doc.value("duration_ms", 1e9), 1000.0) << describe(adaptive);
  EXPECT_EQ(nft_counter("target", "lossy_syn"), 2U);

  auto fixed = check(topo, with({"--timing", "fixed"}));  // the flag overrides the topology
  SCOPED_TRACE("fixed");
  expect_all_right(fixed, 2);
  std::cout << "58 ports, 50 silent, T 2000 ms, R 1: adaptive " << adaptive.doc.value("duration_ms", 0.0)
            << " ms, fixed " << fixed.doc.value("duration_ms", 0.0) << " ms\n";
  EXPECT_GE(fixed.doc.value("duration_ms", 0.0), 4000.0) << "the fixed floor: (R+1) x T for silent ports";
  // Fixed: the first attempt waits 2 s, so the kernel's retransmitted SYN (at 1 s) gets through.
  EXPECT_EQ(nft_counter("target", "lossy_syn"), 4U);
}

// ---- DNS ------------------------------------------------------------------------------------

TEST_F(Netns, NamesResolveFromTheScannersHostsFileAndAMissingNameFailsAlone) {
  auto& b = single_target();
  b.listen("target", kPdListen, {tb::endpoint(kTarget, 21501), tb::endpoint(kTarget6, 21501)});
  b.set_scanner_hosts("198.18.1.1 svc.estate.test\n2001:2::1:1 svc6.estate.test\n");
  const auto topo = topology("dns", R"(hosts:
  - name: by-name
    address: svc.estate.test
    checks: [{protocol: tcp, port: 21501, expect: open}]
  - name: by-name-v6
    address: svc6.estate.test
    checks: [{protocol: tcp, port: 21501, expect: open}]
  - name: ghost
    address: ghost.estate.test
    checks: [{protocol: tcp, port: 21501, expect: open}]
  - name: literal
    address: 198.18.1.1
    checks: [{protocol: tcp, port: 21501, expect: open}]
)");
  auto r = check(topo, {"--timeout", "300"});
  EXPECT_EQ(r.exit_code, 2) << "an unresolvable critical host is CRITICAL\n" << describe(r);
  const auto& named = row(r.doc, "by-name", 21501);
  EXPECT_EQ(str(named, "target"), "svc.estate.test");
  EXPECT_EQ(str(named, "address"), "198.18.1.1");
  EXPECT_EQ(str(named, "verdict"), "ok");
  const auto& named6 = row(r.doc, "by-name-v6", 21501);
  EXPECT_EQ(str(named6, "target"), "svc6.estate.test");
  EXPECT_EQ(str(named6, "address"), "2001:2::1:1");
  EXPECT_EQ(str(named6, "verdict"), "ok");
  const auto& ghost = row(r.doc, "ghost", 21501);
  EXPECT_EQ(str(ghost, "verdict"), "error");
  EXPECT_EQ(str(ghost, "reason"), "resolve-failed");
  EXPECT_EQ(str(ghost, "observed"), "unknown");
  EXPECT_NE(str(ghost, "detail"), "<absent>");
  EXPECT_EQ(get(ghost, "attempts"), 0);
  EXPECT_EQ(str(row(r.doc, "literal", 21501), "verdict"), "ok");
  EXPECT_EQ(r.doc["summary"]["ok"], 3);
  EXPECT_EQ(r.doc["summary"]["errors"], 1);
  EXPECT_LT(r.doc.value("duration_ms", 1e9), 2500.0) << "a missing name must fail fast, not wait for DNS";

  auto t = check(topo, {"--timeout", "300", "-v"}, Format::as_text);
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_TRUE(contains(t.out, "\nOK: by-name 198.18.1.1 (svc.estate.test) tcp/21501 expected open, observed open"))
      << t.out;
  EXPECT_TRUE(contains(t.out, "\nCRITICAL: ghost ghost.estate.test tcp/21501 expected open, not probed: ")) << t.out;
  EXPECT_TRUE(contains(t.out, "(resolve-failed)")) << t.out;
}

// A DNS server that never answers: the "dns" host drops port 53. resolve.hpp promises that names
// "are resolved concurrently, once each, with a deadline" (the runner's dns_timeout, 5 s).
// Both tests fail against the current product (see the report in tests/netns/README.md):
// Asio runs each blocking getaddrinfo on its one resolver thread, one after the other, and
// resolver.cancel() at the deadline cannot stop a lookup already running. Enable them with
// --gtest_also_run_disabled_tests once resolve.cpp is fixed.
class NetnsSlowDns : public Netns {
 protected:
  CheckRun run_with(const std::string& resolv_conf, const std::vector<std::string>& names) {
    auto& b = bed({{"target", {kTarget}}, {"dns", {"198.18.1.53"}}});
    b.load_nft("dns", R"(table inet pdtest {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 53 drop
    tcp dport 53 drop
  }
})");
    b.set_scanner_resolv_conf(resolv_conf);
    std::string yaml = "hosts:\n  - {name: literal, address: 198.18.1.1, checks: [{protocol: tcp, port: 21701, "
                       "expect: closed}]}\n";
    for (const auto& n : names) {
      yaml += "  - {name: " + n + ", address: " + n + ".missing.test, checks: [{protocol: tcp, port: 21701, "
              "expect: closed}]}\n";
    }
    auto r = check(topology("slowdns", yaml), {"--timeout", "300"});
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    for (const auto& n : names) EXPECT_EQ(str(row(r.doc, n, 21701), "reason"), "resolve-failed") << n;
    EXPECT_EQ(str(row(r.doc, "literal", 21701), "verdict"), "ok") << "a slow name must not hold up the others' verdicts";
    return r;
  }
};

TEST_F(NetnsSlowDns, LookupsRunConcurrently) {
  // Three lookups of 2 s each (glibc: timeout:2 attempts:1): concurrently that is about 2 s.
  const auto r = run_with("nameserver 198.18.1.53\noptions timeout:2 attempts:1\n", {"a", "b", "c"});
  EXPECT_LT(r.wall_ms, 3500.0) << "lookups ran one after the other\n" << describe(r);
}

TEST_F(NetnsSlowDns, DeadlineBoundsASlowLookup) {
  // One lookup that glibc gives up on after 2 x 4 s: the 5 s deadline must end the wait first.
  const auto r = run_with("nameserver 198.18.1.53\noptions timeout:4 attempts:2\n", {"slow"});
  EXPECT_LT(r.wall_ms, 6000.0) << "the DNS deadline did not bound the run\n" << describe(r);
}

// ---- the catalog ------------------------------------------------------------------------------

std::set<int> expand_ports(const std::string& spec) {
  std::set<int> out;
  std::stringstream ss(spec);
  for (std::string part; std::getline(ss, part, ',');) {
    const auto dash = part.find('-');
    const int first = std::stoi(part.substr(0, dash));
    const int last = dash == std::string::npos ? first : std::stoi(part.substr(dash + 1));
    for (int p = first; p <= last; ++p) out.insert(p);
  }
  return out;
}

TEST_F(Netns, CatalogFlowsToTheSepmRoleAreProbedAndAllAnswerAsDocumented) {
  // The catalog is data others edit: read it at run time, decide the ports from it.
  const auto listing =
      tb::run({kPortdrift, "--catalog", "--format", "json", "--catalog-dir", kRealCatalog},
              tb::RunOptions{}.within(20s).keep_status());
  ASSERT_EQ(listing.exit_code, 0) << "the shipped catalog does not load:\n" << listing.err;
  const auto flows = json::parse(listing.out);

  // What the plan must do for vantage roles [sep-client] and a host with role sepm: a flow
  // whose `from` is a vantage role decides a port over one from `any`; first in catalog order wins.
  struct Decision {
    std::string expect;
    std::string flow;
    bool specific = false;
  };
  std::map<int, Decision> ports;
  std::set<std::string> ids;
  for (const auto& f : flows) {
    if (get(f, "product") != "sep-14" || get(f, "to_role") != "sepm" || get(f, "protocol") != "tcp" || get(f, "dynamic") == true) continue;
    const bool specific = get(f, "from_role") == "sep-client";
    if (!specific && get(f, "from_role") != "any") continue;
    const auto set = expand_ports(get(f, "ports").get<std::string>());
    if (set.size() > 32) continue;  // plan::kMaxCatalogRangePorts: not expanded
    ids.insert(get(f, "id").get<std::string>());
    for (int p : set) {
      auto it = ports.find(p);
      if (it == ports.end() || (specific && !it->second.specific)) {
        ports[p] = Decision{get(f, "expect").get<std::string>(), get(f, "id").get<std::string>(), specific};
      }
    }
  }
  std::vector<std::string> listen;
  std::string drops;
  std::set<int> open;
  for (const auto& [p, d] : ports) {
    if (d.expect == "open") {
      listen.push_back(tb::endpoint("198.18.1.14", static_cast<std::uint16_t>(p)));
      open.insert(p);
    } else if (d.expect == "filtered") {
      drops += "    tcp dport " + std::to_string(p) + " drop\n";
    }
  }
  ASSERT_FALSE(open.empty()) << "the catalog has no tcp flow from sep-client to sepm that expects open";

  auto& b = bed({{"sepm1", {"198.18.1.14"}}});
  b.listen("sepm1", kPdListen, listen);
  if (!drops.empty()) {
    b.load_nft("sepm1", "table inet pdtest {\n  chain input {\n    type filter hook input priority 0; policy accept;\n" +
                            drops + "  }\n}\n");
  }
  const auto topo = topology("sep", R"(products: [sep-14]
vantage:
  roles: [sep-client]
hosts:
  - name: sepm1
    address: 198.18.1.14
    roles: [sepm]
)");
  auto r = check(topo, {"--timeout", "300", "--retries", "1", "--max-rate", "0"}, Format::as_json, kRealCatalog);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(r.doc.contains("checks")) << describe(r);
  std::set<int> planned_open;
  std::set<int> planned;
  for (const auto& c : r.doc["checks"]) {
    SCOPED_TRACE(c.dump());
    EXPECT_EQ(str(c, "verdict"), "ok");
    ASSERT_TRUE(get(c, "catalog_id").is_string()) << "a check planned from the catalog names its flow";
    EXPECT_TRUE(ids.contains(get(c, "catalog_id").get<std::string>()));
    const int port = get(c, "port").get<int>();
    planned.insert(port);
    if (get(c, "expected") == "open") {
      planned_open.insert(port);
      EXPECT_EQ(str(c, "reason"), "syn-ack");
    }
    if (ports.contains(port)) {
      EXPECT_EQ(str(c, "expected"), ports[port].expect);
    }
  }
  EXPECT_EQ(planned_open, open) << "the ports probed as open are exactly the documented ones";
  EXPECT_EQ(planned.size(), ports.size());

  auto t = check(topo, {"--timeout", "300", "--retries", "1", "--max-rate", "0"}, Format::as_text, kRealCatalog);
  EXPECT_EQ(t.exit_code, 0);
  EXPECT_TRUE(first_line(t.out).starts_with("PORTDRIFT OK - " + std::to_string(ports.size()) + " checks as documented"))
      << t.out;
}

// ---- limits: file descriptors, pacing, per-host concurrency ----------------------------------

TEST_F(Netns, SixHundredChecksFitUnderAnOpenFileLimitOf128) {
  const auto prlimit = tb::find_tool("prlimit");
  if (!prlimit) {
    if (tb::in_ci()) FAIL() << "prlimit (util-linux) is needed for this test";
    GTEST_SKIP() << "prlimit (util-linux) not found";
  }
  single_target();
  const auto topo = topology("fd", R"(hosts:
  - name: target
    address: 198.18.1.1
    checks:
      - {name: wide, protocol: tcp, port: "20000-20599", expect: closed}
)");
  auto r = check(topo,
                       {"--concurrency", "1000", "--per-host", "1000", "--max-rate", "0", "--timeout", "2000",
                        "--retries", "0", "-v"},
                       Format::as_json, kFixtureCatalog, {*prlimit, "--nofile=128:128"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_EQ(r.doc["checks"].size(), 600U) << describe(r);
  std::map<std::string, int> outcomes;
  for (const auto& c : r.doc["checks"]) ++outcomes[str(c, "observed") + "/" + str(c, "reason")];
  EXPECT_EQ(outcomes["closed/conn-refused"], 600) << json(outcomes).dump();
  EXPECT_EQ(r.doc["summary"]["ok"], 600);
  const auto eff = words_after(r.err, "effective concurrency ", 1);
  ASSERT_EQ(eff.size(), 1U) << r.err;
  const int effective = std::stoi(eff[0]);
  EXPECT_GT(effective, 0);
  EXPECT_LT(effective, 128) << "the engine must keep in-flight sockets under the descriptor limit";
}

TEST_F(Netns, MaxRatePacesConnectionAttempts) {
  single_target();
  const auto topo = topology("rate", R"(hosts:
  - name: target
    address: 198.18.1.1
    checks:
      - {protocol: tcp, port: "20700-20799", expect: closed}
)");
  const std::vector<std::string> wide{"--per-host", "100", "--concurrency", "1000", "--retries", "0"};
  auto with = [&](const char* rate) {
    auto args = wide;
    args.insert(args.end(), {"--max-rate", rate});
    return args;
  };
  auto paced = check(topo, with("200"));
  EXPECT_EQ(paced.exit_code, 0) << describe(paced);
  EXPECT_EQ(paced.doc["summary"]["ok"], 100);
  // 100 attempts at 200/s: the last one may start 99 * 5 ms after the first.
  EXPECT_GE(paced.doc.value("duration_ms", 0.0), 450.0);
  auto unpaced = check(topo, with("0"));
  EXPECT_EQ(unpaced.exit_code, 0) << describe(unpaced);
  EXPECT_EQ(unpaced.doc["summary"]["ok"], 100);
  EXPECT_LT(unpaced.doc.value("duration_ms", 1e9), 250.0);
}

TEST_F(Netns, PerHostConcurrencyBoundsProbesPerAddressNotPerRun) {
  auto& b = bed({{"target", {kTarget, "198.18.1.2"}}});
  b.load_nft("target", R"(table inet pdtest {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 20800-20805 drop
  }
})");
  const auto one = topology("one", R"(hosts:
  - name: target
    address: 198.18.1.1
    checks:
      - {protocol: tcp, port: "20800-20805", expect: filtered}
)");
  const std::vector<std::string> base{"--timeout", "150", "--retries", "0", "--max-rate", "0"};
  auto with = [&](const char* per_host) {
    auto args = base;
    args.insert(args.end(), {"--per-host", per_host});
    return args;
  };
  auto serial = check(one, with("1"));
  EXPECT_EQ(serial.exit_code, 0) << describe(serial);
  EXPECT_GE(serial.doc.value("duration_ms", 0.0), 6 * 150.0) << "one probe at a time: six silent timeouts in a row";
  auto parallel = check(one, with("6"));
  EXPECT_EQ(parallel.exit_code, 0) << describe(parallel);
  EXPECT_LT(parallel.doc.value("duration_ms", 1e9), 3 * 150.0) << "six at a time: about one timeout";
  // Two addresses, three silent ports each, one probe per address at a time: both addresses in parallel.
  const auto two = topology("two", R"(hosts:
  - name: a
    address: 198.18.1.1
    checks: [{protocol: tcp, port: "20800-20802", expect: filtered}]
  - name: b
    address: 198.18.1.2
    checks: [{protocol: tcp, port: "20803-20805", expect: filtered}]
)");
  auto split = check(two, with("1"));
  EXPECT_EQ(split.exit_code, 0) << describe(split);
  EXPECT_GE(split.doc.value("duration_ms", 0.0), 3 * 150.0);
  EXPECT_LT(split.doc.value("duration_ms", 1e9), 5 * 150.0) << "the per-host cap is per address, not global";
}

// ---- the test bed itself ----------------------------------------------------------------------

bool namespace_exists(const std::string& name) { return fs::exists(fs::path("/run/netns") / name); }

TEST_F(Netns, BridgedBedReachesEveryHostAndLeavesNothingBehind) {
  std::vector<std::string> names;
  std::vector<pid_t> pids;
  std::string scanner;
  {
    auto& b = bed({{"h1", {"198.18.2.1"}}, {"h2", {"198.18.2.2", "2001:2::2:2"}}, {"h3", {"198.18.2.3"}}});
    ASSERT_TRUE(b.bridged());
    names = b.namespaces();
    scanner = b.scanner();
    EXPECT_EQ(names.size(), 5U) << "scanner, three hosts, bridge";
    for (const auto& n : names) EXPECT_TRUE(namespace_exists(n)) << n;
    EXPECT_TRUE(fs::exists(fs::path("/etc/netns") / scanner / "resolv.conf"));
    b.listen("h1", kPdListen, {tb::endpoint("198.18.2.1", 21601)});
    b.listen("h2", kPdListen, {tb::endpoint("198.18.2.2", 21601), tb::endpoint("2001:2::2:2", 21601)});
    b.listen("h3", kPdListen, {tb::endpoint("198.18.2.3", 21601)});
    pids = b.listener_pids();
    const auto topo = topology("bridged", R"(hosts:
  - {name: h1, address: 198.18.2.1, checks: [{protocol: tcp, port: 21601, expect: open}]}
  - {name: h2, addresses: [198.18.2.2, "2001:2::2:2"], checks: [{protocol: tcp, port: 21601, expect: open}]}
  - {name: h3, address: 198.18.2.3, checks: [{protocol: tcp, port: 21601, expect: open}]}
)");
    auto r = check(topo, {"--timeout", "500"});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.doc["summary"]["ok"], 4);
    // And the scanner has no way out: no default route in either family.
    for (const char* family : {"-4", "-6"}) {
      const auto routes = tb::run({"ip", "-n", scanner, family, "route", "show", "default"});
      EXPECT_EQ(routes.out, "") << family;
    }
    bed_.reset();
  }
  for (const auto& n : names) EXPECT_FALSE(namespace_exists(n)) << n << " left behind";
  EXPECT_FALSE(fs::exists(fs::path("/etc/netns") / scanner)) << "/etc/netns/" << scanner << " left behind";
  for (pid_t p : pids) EXPECT_NE(::kill(p, 0), 0) << "listener " << p << " still running";
}

// ---- the demo --------------------------------------------------------------------------------

std::vector<std::string> leftovers(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
    if (e.path().filename().string().starts_with(prefix)) out.push_back(e.path().string());
  }
  for (const auto& e : fs::directory_iterator("/etc/netns", ec)) {
    if (e.path().filename().string().starts_with(prefix)) out.push_back(e.path().string());
  }
  return out;
}

TEST_F(Netns, DemoEstateShowsExactlyTheTwoInjectedDrifts) {
  const auto r = tb::run({kDemo, "--portdrift", kPortdrift, "--catalog-dir", kRealCatalog, "--topology", kDemoTopology},
                         tb::RunOptions{}.within(50s).keep_status());
  const std::string all = r.out + "\n" + r.err;
  EXPECT_EQ(r.exit_code, 2) << all;
  // "drift (a) dropped port: HOST ADDRESS tcp/PORT ...", announced before the check runs.
  const auto a = words_after(r.out, "drift (a) dropped port: ", 3);
  const auto b = words_after(r.out, "drift (b) exposed port: ", 3);
  ASSERT_EQ(a.size(), 3U) << all;
  ASSERT_EQ(b.size(), 3U) << all;
  ASSERT_TRUE(a[2].starts_with("tcp/")) << all;
  ASSERT_TRUE(b[2].starts_with("tcp/")) << all;
  EXPECT_TRUE(contains(r.out, "\nPORTDRIFT CRITICAL - 2 of ")) << all;
  EXPECT_TRUE(contains(r.out, "checks drifted (2 critical, 0 warning)")) << "nothing but the two injected drifts\n"
                                                                          << all;
  EXPECT_TRUE(contains(r.out, "\nCRITICAL: " + a[0] + " " + a[1] + " " + a[2] +
                                  " expected open, observed filtered (no-response)"))
      << all;
  EXPECT_TRUE(contains(r.out, "\nCRITICAL: " + b[0] + " " + b[1] + " " + b[2] +
                                  " expected blocked, observed open (syn-ack)"))
      << all;
  const auto tag = demo_tag(r.out);
  ASSERT_FALSE(tag.empty()) << all;
  EXPECT_TRUE(leftovers(tag + "-").empty());
}

TEST_F(Netns, DemoCleansUpWhenInterrupted) {
  tb::Process demo({kDemo, "--portdrift", kPortdrift, "--catalog-dir", kRealCatalog, "--topology", kDemoTopology});
  demo.wait_for_line("check: ", 30s);  // the estate is built and portdrift starts now
  const std::string prefix = demo_tag(demo.output()) + "-";
  ASSERT_NE(prefix, "-") << demo.output();
  EXPECT_FALSE(leftovers(prefix).empty()) << "the estate should exist while the check runs";
  ASSERT_EQ(::kill(demo.pid(), SIGTERM), 0);
  const int status = demo.stop(10s);  // waits for it (SIGTERM again is harmless), SIGKILL only after 10 s
  EXPECT_EQ(status, 128 + SIGTERM) << demo.output() << "\nstderr:\n" << demo.error_output();
  EXPECT_TRUE(leftovers(prefix).empty()) << "the demo left namespaces behind after SIGTERM";
}

}  // namespace
