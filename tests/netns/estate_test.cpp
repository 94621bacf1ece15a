// Real-network tests for estate-sized topologies (issue 10): a group block
// whose empty addresses are absent, never drift; a dual-stack name served by
// a real DNS server whose IPv6 address drops the port; probes that leave
// from a chosen source address, proved by the target's nftables rules on the
// source, and a source that does not exist stopping the run before any packet.
//
// The scanner namespace has no default route; every address is in
// 198.18.0.0/15 or 2001:2::/48, on the bed's own segment. Without
// root/ip/nft the tests skip (fail when CI=true).

#include <unistd.h>

#include <cstdio>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
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
constexpr const char* kCatalog = NETNS_FIXTURE_CATALOG_DIR;

struct CheckRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  json doc;
};

std::string describe(const CheckRun& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

std::string s(const json& c, const char* key) {
  return c.contains(key) && c[key].is_string() ? c[key].get<std::string>() : std::string("<absent>");
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class Estate : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& pre = tb::prerequisites();
    if (!pre.ok) {
      if (tb::in_ci()) FAIL() << "CI=true but the real-network tests cannot run: " << pre.reason;
      GTEST_SKIP() << pre.reason;
    }
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("pdtb-estate-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    services_.clear();  // stopped by pid before their namespaces go
    bed_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  tb::Testbed& bed(const std::vector<std::pair<std::string, std::vector<std::string>>>& hosts) {
    bed_ = std::make_unique<tb::Testbed>(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (const auto& [name, addrs] : hosts) bed_->add_host(name, addrs);
    bed_->build();
    return *bed_;
  }

  fs::path file(const std::string& name, const std::string& text) {
    const auto p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }

  void service(const std::string& host, std::vector<std::string> argv) {
    std::vector<std::string> full{"ip", "netns", "exec", bed_->ns(host)};
    full.insert(full.end(), argv.begin(), argv.end());
    services_.push_back(std::make_unique<tb::Process>(full));
  }

  // Waits until the host's namespace has a UDP socket bound on `port`.
  void wait_udp_bound(const std::string& host, int port) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!contains(bed_->exec(bed_->ns(host), {"ss", "-Hlun"}).out, ":" + std::to_string(port) + " ")) {
      if (std::chrono::steady_clock::now() > deadline) FAIL() << "udp port " << port << " not bound after 10 s";
      std::this_thread::sleep_for(20ms);
    }
  }

  // dnsmasq, ss: skips (or fails in CI) without them.
  static bool have_dnsmasq() {
    if (tb::find_tool("dnsmasq") && tb::find_tool("ss")) return true;
    if (tb::in_ci()) ADD_FAILURE() << "dnsmasq or ss is not installed (.ci/deps installs them)";
    return false;
  }

  // A DNS server (dnsmasq at 198.18.1.53, the scanner's only nameserver) with
  // web.estate.test (A 198.18.1.80, AAAA 2001:2::1:80) and v4.estate.test (A
  // only); web listens on tcp/21001 at both addresses and drops it on IPv6.
  void dual_stack_bed() {
    auto& b = bed({{"dns", {"198.18.1.53"}}, {"web", {"198.18.1.80", "2001:2::1:80"}}});
    const auto d = dir_.string();
    service("dns", {"dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
                    "--conf-file=/dev/null", "--user=root", "--pid-file=" + d + "/dnsmasq.pid",
                    "--listen-address=198.18.1.53", "--bind-interfaces",
                    "--host-record=web.estate.test,198.18.1.80,2001:2::1:80",
                    "--host-record=v4.estate.test,198.18.1.80", "--log-facility=" + d + "/dnsmasq.log"});
    wait_udp_bound("dns", 53);
    b.set_scanner_resolv_conf("nameserver 198.18.1.53\n");
    b.listen("web", kPdListen, {tb::endpoint("198.18.1.80", 21001), tb::endpoint("2001:2::1:80", 21001)});
    b.load_nft("web", R"(table inet pdtest {
  chain input {
    type filter hook input priority 0; policy accept;
    meta nfproto ipv6 tcp dport 21001 drop
  }
})");
  }

  CheckRun check(const fs::path& topo, const std::vector<std::string>& args, bool as_json = true) {
    std::vector<std::string> argv{kPortdrift,    "--check", "-c", topo.string(), "--catalog-dir", kCatalog,
                                  "--format", as_json ? "json" : "text"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = bed_->exec(bed_->scanner(), argv, tb::RunOptions{}.within(40s).keep_status());
    CheckRun run{r.exit_code, r.out, r.err, json()};
    if (as_json) {
      try {
        run.doc = json::parse(r.out);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "not JSON: " << e.what() << "\n" << describe(run);
      }
    }
    return run;
  }

  std::uint64_t nft_counter(const std::string& host, const std::string& name) {
    const auto r = bed_->exec(bed_->ns(host), {"nft", "-j", "list", "counter", "inet", "pdtest", name});
    const auto doc = json::parse(r.out);  // named: a range-for over a temporary's member would dangle
    for (const auto& item : doc.at("nftables")) {
      if (item.contains("counter")) return item["counter"].at("packets").get<std::uint64_t>();
    }
    ADD_FAILURE() << "no counter " << name << " in " << r.out;
    return 0;
  }

  std::unique_ptr<tb::Testbed> bed_;
  std::vector<std::unique_ptr<tb::Process>> services_;
  fs::path dir_;
};

// A /26 of the segment: four addresses hold hosts, the other sixty hold
// nothing (their neighbour solicitations go unanswered, so every probe meets
// silence, as an empty address on a LAN does). The empty ones are counted
// absent, once each; none of them is a drift. The hosts are judged port by
// port: one of them drops a port (an injected drift), one refuses every
// port (an RST is an answer: present, three drifts).
TEST_F(Estate, EmptyAddressesOfABlockAreAbsentNeverDrift) {
  auto& b = bed({{"ok1", {"198.18.4.10"}}, {"ok2", {"198.18.4.11"}}, {"dropper", {"198.18.4.20"}},
                 {"refuser", {"198.18.4.40"}}});
  for (const char* h : {"ok1", "ok2", "dropper"}) {
    const std::string a = h == std::string("ok1") ? "198.18.4.10" : h == std::string("ok2") ? "198.18.4.11" : "198.18.4.20";
    b.listen(h, kPdListen, {tb::endpoint(a, 21001), tb::endpoint(a, 21002), tb::endpoint(a, 21003)});
  }
  b.load_nft("dropper", R"(table inet pdtest {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 21003 drop
  }
})");
  const auto topo = file("block.yaml", R"(defaults: {timeout_ms: 300, retries: 1}
groups:
  - name: lan
    members: [198.18.4.0/26]
    absent: warning
    checks:
      - {name: a, protocol: tcp, port: 21001, expect: open}
      - {name: b, protocol: tcp, port: 21002, expect: open}
      - {name: c, protocol: tcp, port: 21003, expect: open}
)");
  const auto r = check(topo, {"--concurrency", "256", "--per-host", "4", "--max-rate", "0"});
  ASSERT_EQ(r.exit_code, 2) << describe(r);  // the drifts are critical; absence is a warning
  std::set<std::string> hosts;
  std::set<std::string> drifted;
  for (const auto& c : r.doc["checks"]) {
    hosts.insert(s(c, "host"));
    if (s(c, "verdict") == "drift") drifted.insert(s(c, "address") + " " + std::to_string(c["port"].get<int>()));
    if (s(c, "verdict") == "absent") {
      EXPECT_EQ(s(c, "reason"), "no-response") << c.dump();
    }
  }
  ASSERT_EQ(hosts.size(), 64U) << "the /26 expands to 64 hosts";
  EXPECT_EQ(drifted, (std::set<std::string>{"198.18.4.20 21003", "198.18.4.40 21001", "198.18.4.40 21002",
                                            "198.18.4.40 21003"}));
  EXPECT_EQ(r.doc["summary"]["absent"], 60);
  EXPECT_EQ(r.doc["summary"]["drift_critical"], 4);
  ASSERT_EQ(r.doc["absent"].size(), 60U);
  std::set<std::string> absent;
  for (const auto& a : r.doc["absent"]) {
    absent.insert(s(a, "address"));
    EXPECT_EQ(s(a, "group"), "lan");
    EXPECT_EQ(s(a, "severity"), "warning");
  }
  for (const char* present : {"198.18.4.10", "198.18.4.11", "198.18.4.20", "198.18.4.40"}) {
    EXPECT_EQ(absent.count(present), 0U) << present;
  }
  for (const auto& c : r.doc["checks"]) {
    if (s(c, "address") == "198.18.4.10" || s(c, "address") == "198.18.4.11") {
      EXPECT_EQ(s(c, "verdict"), "ok") << c.dump();
    }
  }

  // The text: the status line counts them and perfdata carries them; one line for the group's absent addresses.
  const auto t = check(topo, {"--concurrency", "256", "--per-host", "4", "--max-rate", "0"}, false);
  EXPECT_EQ(t.exit_code, 2) << describe(t);
  const auto status = t.out.substr(0, t.out.find('\n'));
  EXPECT_TRUE(contains(status, "; 60 addresses absent")) << status;
  EXPECT_TRUE(contains(status, "'absent'=60;")) << status;
  EXPECT_TRUE(contains(t.out, "\nWARNING: lan: 60 of 64 addresses absent (no answer to any probe); first: ")) << t.out;
  EXPECT_TRUE(contains(t.out, "lan/198.18.4.20 198.18.4.20 tcp/21003 expected open, observed filtered")) << t.out;
}

// A name with an A and an AAAA record, served by dnsmasq in the bed. Both
// addresses listen; the IPv6 one drops the port. portdrift probes both:
// exactly one drift, labelled with the IPv6 address, saying what the IPv4
// address showed.
TEST_F(Estate, EveryAddressOfADualStackNameIsProbed) {
  if (!have_dnsmasq()) GTEST_SKIP() << "dnsmasq or ss missing";
  dual_stack_bed();
  const auto topo = file("dual.yaml", R"(defaults: {timeout_ms: 300, retries: 1}
hosts:
  - name: web
    address: web.estate.test
    checks:
      - {name: https, protocol: tcp, port: 21001, expect: open}
)");
  const auto r = check(topo, {});
  ASSERT_EQ(r.exit_code, 2) << describe(r);
  ASSERT_EQ(r.doc["checks"].size(), 2U) << r.out;
  const auto& v4 = r.doc["checks"][0];
  const auto& v6 = r.doc["checks"][1];
  EXPECT_EQ(s(v4, "address"), "198.18.1.80");
  EXPECT_EQ(s(v4, "verdict"), "ok");
  EXPECT_EQ(s(v6, "address"), "2001:2::1:80");
  EXPECT_EQ(s(v6, "target"), "web.estate.test");
  EXPECT_EQ(s(v6, "verdict"), "drift");
  EXPECT_EQ(s(v6, "observed"), "filtered");
  EXPECT_EQ(s(v6, "reason"), "no-response");
  EXPECT_EQ(s(v6, "note"), "other addresses of web.estate.test: open on 198.18.1.80");
  EXPECT_EQ(r.doc["summary"]["drift_critical"], 1);

  const auto t = check(topo, {}, false);
  EXPECT_TRUE(contains(t.out, "\nCRITICAL: web 2001:2::1:80 (web.estate.test) tcp/21001 expected open, observed "
                              "filtered (no-response)"))
      << t.out;
  EXPECT_TRUE(contains(t.out, "; other addresses of web.estate.test: open on 198.18.1.80")) << t.out;
}

// address_family narrows a name to one family: only its IPv4 address is
// probed, and it is fine; asking for IPv6 of a name without AAAA is an error result.
TEST_F(Estate, AddressFamilyNarrowsTheAddressesOfAName) {
  if (!have_dnsmasq()) GTEST_SKIP() << "dnsmasq or ss missing";
  dual_stack_bed();
  const auto v4only = file("v4.yaml", R"(defaults: {timeout_ms: 300, retries: 1}
hosts:
  - name: web
    address: web.estate.test
    address_family: ipv4
    checks:
      - {name: https, protocol: tcp, port: 21001, expect: open}
)");
  const auto f = check(v4only, {});
  EXPECT_EQ(f.exit_code, 0) << describe(f);
  ASSERT_EQ(f.doc["checks"].size(), 1U) << f.out;
  EXPECT_EQ(s(f.doc["checks"][0], "address"), "198.18.1.80");

  const auto v6only = file("v6.yaml", R"(defaults: {timeout_ms: 300, retries: 1}
hosts:
  - name: v4
    address: v4.estate.test
    address_family: ipv6
    checks:
      - {name: https, protocol: tcp, port: 21001, expect: open}
)");
  const auto g = check(v6only, {});
  EXPECT_EQ(g.exit_code, 2) << describe(g);
  ASSERT_EQ(g.doc["checks"].size(), 1U) << g.out;
  EXPECT_EQ(s(g.doc["checks"][0], "verdict"), "error");
  EXPECT_EQ(s(g.doc["checks"][0], "detail"),
            "v4.estate.test has no IPv6 address (address_family: ipv6; it has 198.18.1.80)");
}

// The scanner has a second address. The target accepts the port only from
// that address (and drops it from the scanner's first one), so an `open`
// proves the probe left from the chosen source. A source that is not on the
// machine stops the run before any packet: the target's counter stays at 0.
TEST_F(Estate, ProbesLeaveFromTheChosenSource) {
  auto& b = bed({{"target", {"198.18.1.1"}}});
  // The scanner's link: the interface that holds 198.18.0.1.
  const auto link = b.exec(b.scanner(), {"ip", "-o", "-4", "addr", "show", "to", "198.18.0.1/32"});
  std::stringstream ss(link.out);
  std::string index, ifname;
  ss >> index >> ifname;
  ifname = ifname.substr(0, ifname.find('@'));
  ASSERT_FALSE(ifname.empty()) << link.out;
  b.exec(b.scanner(), {"ip", "addr", "add", "198.18.0.2/16", "dev", ifname});
  b.listen("target", kPdListen, {tb::endpoint("198.18.1.1", 21001)});
  b.load_nft("target", R"(table inet pdtest {
  counter chosen {}
  counter other {}
  counter total {}
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 21001 counter name "total"
    ip saddr 198.18.0.2 tcp dport 21001 counter name "chosen" accept
    tcp dport 21001 counter name "other" drop
  }
})");
  const auto topo = file("src.yaml", R"(defaults: {timeout_ms: 300, retries: 0}
hosts:
  - name: target
    address: 198.18.1.1
    checks:
      - {name: only from .2, protocol: tcp, port: 21001, expect: open}
)");
  // A source that does not exist: UNKNOWN, a diagnostic naming the flag, and not one packet.
  const auto bad = check(topo, {"--source", "198.18.0.99"}, false);
  EXPECT_EQ(bad.exit_code, 3) << describe(bad);
  EXPECT_TRUE(contains(bad.out, "PORTDRIFT UNKNOWN - 1 source is not on this machine; nothing probed")) << bad.out;
  EXPECT_TRUE(contains(bad.out, "--source: source address 198.18.0.99 is not assigned to any interface")) << bad.out;
  const auto noif = check(topo, {"--source", "pdnosuch0"}, false);
  EXPECT_EQ(noif.exit_code, 3) << describe(noif);
  EXPECT_EQ(nft_counter("target", "total"), 0U) << "no packet before the diagnostic";

  const auto chosen = check(topo, {"--source", "198.18.0.2"});
  EXPECT_EQ(chosen.exit_code, 0) << describe(chosen);
  EXPECT_GE(nft_counter("target", "chosen"), 1U);
  EXPECT_EQ(nft_counter("target", "other"), 0U);

  // The same from the topology: a host's `source:`, and one that is not here (file:line, key, exit 3).
  const auto from_file = file("src-file.yaml", R"(defaults: {timeout_ms: 300, retries: 0}
hosts:
  - name: target
    address: 198.18.1.1
    source: 198.18.0.2
    checks:
      - {name: only from .2, protocol: tcp, port: 21001, expect: open}
)");
  const auto chosen_before = nft_counter("target", "chosen");
  const auto by_file = check(from_file, {});
  EXPECT_EQ(by_file.exit_code, 0) << describe(by_file);
  EXPECT_GT(nft_counter("target", "chosen"), chosen_before);
  const auto bad_file = file("src-bad.yaml", R"(defaults: {timeout_ms: 300, retries: 0, source: 198.18.0.77}
hosts:
  - name: target
    address: 198.18.1.1
    checks:
      - {name: only from .2, protocol: tcp, port: 21001, expect: open}
)");
  const auto total_before = nft_counter("target", "total");
  const auto bf = check(bad_file, {}, false);
  EXPECT_EQ(bf.exit_code, 3) << describe(bf);
  EXPECT_TRUE(contains(bf.out, bad_file.string() + ":1:")) << bf.out;
  EXPECT_TRUE(contains(bf.out, "defaults.source: source address 198.18.0.77 is not assigned")) << bf.out;
  EXPECT_EQ(nft_counter("target", "total"), total_before) << "no packet before the diagnostic";
  EXPECT_EQ(nft_counter("target", "other"), 0U);

  // Without it the kernel picks 198.18.0.1, which the target drops: proof that the rule tells them apart.
  const auto plain = check(topo, {});
  EXPECT_EQ(plain.exit_code, 2) << describe(plain);
  EXPECT_GE(nft_counter("target", "other"), 1U);
}

}  // namespace
