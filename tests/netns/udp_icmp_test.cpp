// Real UDP services and ICMP echo in network namespaces: the real portdrift
// binary, run in a scanner namespace with no default route, against real
// dnsmasq (DNS, DHCP), chronyd (NTP), snmpd and snmptrapd (SNMPv3) and
// in.tftpd (TFTP) started by this test in a target namespace with their own
// configuration, pid and state files under a temporary directory, plus
// closed ports answered by the kernel, nftables drops and rejects, and a
// host that drops echo requests. One test keeps the target's ICMP error rate
// limit at Linux's default and still gets every closed port right.
//
// Nothing leaves the test bed: targets are in 198.18.0.0/15 or 2001:2::/48 on
// the bed's own segment; dnsmasq has no upstream (--no-resolv) and serves
// only what it is told. Every process is stopped by its pid (tb::Process).
// Without root/ip/nft or the service binaries the tests skip (fail when CI=true).

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
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
constexpr const char* kCatalog = NETNS_FIXTURE_CATALOG_DIR;
constexpr const char* kTarget = "198.18.1.1";
constexpr const char* kTarget6 = "2001:2::1:1";

struct CheckRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  json doc;
  double wall_s = 0;
};

std::string describe(const CheckRun& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// The check of `doc` for this protocol/port/address (port 0 = the icmp check).
json row(const json& doc, const std::string& proto, int port, const std::string& address) {
  for (const auto& c : doc.value("checks", json::array())) {
    if (c.value("protocol", "") != proto || c.value("address", "") != address) continue;
    if (proto == "icmp" || (c.contains("port") && c["port"].is_number() && c["port"].get<int>() == port)) return c;
  }
  ADD_FAILURE() << "no " << proto << "/" << port << " check for " << address << " in " << doc.dump();
  return json::object();
}

std::string s(const json& c, const char* key) {
  return c.contains(key) && c[key].is_string() ? c[key].get<std::string>() : std::string("<absent>");
}

class UdpIcmp : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& pre = tb::prerequisites();
    if (!pre.ok) {
      if (tb::in_ci()) FAIL() << "CI=true but the real-network tests cannot run: " << pre.reason;
      GTEST_SKIP() << pre.reason;
    }
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("pdtb-udp-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    services_.clear();  // stopped by pid before their namespaces go
    bed_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // Skips (or fails in CI) when a service binary is not installed (.ci/deps installs them).
  bool have(const std::vector<std::string>& tools) {
    for (const auto& t : tools) {
      if (!tb::find_tool(t)) {
        if (tb::in_ci()) ADD_FAILURE() << t << " is not installed (.ci/deps installs it)";
        missing_ = t;
        return false;
      }
    }
    return true;
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

  // Starts a foreground service in a host's namespace; stopped by pid in TearDown.
  void service(const std::string& host, std::vector<std::string> argv) {
    std::vector<std::string> full{"ip", "netns", "exec", bed_->ns(host)};
    full.insert(full.end(), argv.begin(), argv.end());
    services_.push_back(std::make_unique<tb::Process>(full));
  }

  // Waits until every UDP port is bound in the host's namespace.
  void wait_bound(const std::string& host, const std::vector<int>& ports) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      const auto r = bed_->exec(bed_->ns(host), {"ss", "-Hlun"});
      std::string missing;
      for (int p : ports) {
        if (r.out.find(":" + std::to_string(p) + " ") == std::string::npos) missing += " " + std::to_string(p);
      }
      if (missing.empty()) return;
      if (std::chrono::steady_clock::now() > deadline) {
        std::string errs;
        for (auto& sv : services_) errs += sv->command() + ": " + sv->error_output() + "\n";
        FAIL() << "udp ports not bound after 10 s:" << missing << "\n" << r.out << errs;
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  CheckRun check(const fs::path& topo, const std::vector<std::string>& args = {},
            const std::vector<std::string>& wrapper = {}) {
    std::vector<std::string> argv = wrapper;
    argv.insert(argv.end(), {kPortdrift, "--check", "-c", topo.string(), "--catalog-dir", kCatalog, "--format", "json"});
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = bed_->exec(bed_->scanner(), argv, tb::RunOptions{}.within(60s).keep_status());
    CheckRun run{r.exit_code, r.out, r.err, json(), static_cast<double>(r.wall.count()) / 1e6};
    try {
      run.doc = json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << describe(run);
    }
    return run;
  }

  void sysctl(const std::string& node, const std::string& setting) {
    bed_->exec(bed_->ns(node), {"sysctl", "-q", "-w", setting});
  }

  std::unique_ptr<tb::Testbed> bed_;
  std::vector<std::unique_ptr<tb::Process>> services_;
  fs::path dir_;
  std::string missing_;
};

// ---- real services ----------------------------------------------------------------

TEST_F(UdpIcmp, RealServicesAnswerTheirPayloadsAndOtherPortsShowTheirState) {
  if (!have({"dnsmasq", "chronyd", "snmpd", "snmptrapd", "in.tftpd", "ss"})) GTEST_SKIP() << missing_ << " missing";
  auto& b = bed({{"target", {kTarget, kTarget6}}});
  const auto d = dir_.string();
  fs::create_directories(dir_ / "tftp");
  // DNS (local records only, no upstream) and DHCP on the target's own subnet.
  service("target", {"dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
                     "--conf-file=/dev/null", "--user=root", "--pid-file=" + d + "/dnsmasq.pid",
                     "--listen-address=198.18.1.1", "--listen-address=2001:2::1:1", "--bind-interfaces",
                     "--address=/probe.test/198.18.1.1", "--dhcp-range=198.18.200.1,198.18.200.9,255.255.0.0",
                     "--dhcp-leasefile=" + d + "/dnsmasq.leases", "--log-facility=" + d + "/dnsmasq.log"});
  // NTP: serves its local clock at stratum 8, never touches this machine's clock (-x).
  const auto chrony = file("chrony.conf", "allow all\nlocal stratum 8\ncmdport 0\npidfile " + d +
                                              "/chronyd.pid\ndriftfile " + d + "/chrony.drift\n");
  service("target", {"chronyd", "-f", chrony.string(), "-d", "-x", "-u", "root"});
  // SNMPv3 agent and trap receiver; no community is ever sent to them.
  const auto snmpd = file("snmpd.conf", "rocommunity portdrift-never-used 127.0.0.1\n");
  service("target", {"env", "MIBS=", "snmpd", "-f", "-Lf", d + "/snmpd.log", "-C", "-c", snmpd.string(), "-p",
                     d + "/snmpd.pid", "--persistentDir=" + d + "/snmpd-state", "udp:198.18.1.1:161",
                     "udp6:[2001:2::1:1]:161"});
  const auto trapd = file("snmptrapd.conf", "disableAuthorization yes\n");
  service("target", {"env", "MIBS=", "snmptrapd", "-f", "-Lf", d + "/snmptrapd.log", "-C", "-c", trapd.string(),
                     "-p", d + "/snmptrapd.pid", "--persistentDir=" + d + "/snmptrapd-state", "udp:198.18.1.1:162"});
  service("target", {"in.tftpd", "--foreground", "--address", "198.18.1.1:69", "--secure", d + "/tftp"});
  wait_bound("target", {53, 67, 69, 123, 161, 162});
  b.load_nft("target", R"(table inet pdtest {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport { 2967, 2968 } drop
    meta nfproto ipv4 udp dport 38293 reject with icmp type admin-prohibited
    meta nfproto ipv6 udp dport 38293 reject with icmpv6 type admin-prohibited
  }
})");
  const auto topo = file("real.yaml", R"(defaults: {timeout_ms: 500, retries: 1}
hosts:
  - name: target
    addresses: [198.18.1.1, "2001:2::1:1"]
    checks:
      - {protocol: udp, port: 53}
      - {protocol: udp, port: 123}
      - {protocol: udp, port: 161}
      - {protocol: udp, port: 162}
      - {protocol: udp, port: 69}
      - {protocol: udp, port: 67}
      - {protocol: udp, port: 514, name: "nothing bound"}
      - {protocol: udp, port: 2967, name: "dropped, silence not accepted"}
      - {protocol: udp, port: 2968, name: "dropped, silence accepted", silence: ok}
      - {protocol: udp, port: 38293, name: "rejected admin-prohibited", expect: filtered}
      - {protocol: icmp}
)");
  const auto r = check(topo);
  // (address, port) -> state, reason, verdict, what the reply must say.
  struct Want {
    const char* address;
    int port;
    const char* state;
    const char* reason;
    const char* verdict;
    const char* reply;
  };
  const std::vector<Want> want{
      {kTarget, 53, "open", "udp-response", "ok", "DNS response, rcode 5 (REFUSED)"},
      {kTarget6, 53, "open", "udp-response", "ok", "DNS response"},
      {kTarget, 123, "open", "udp-response", "ok", "NTP server reply, version 4, stratum 8"},
      {kTarget6, 123, "open", "udp-response", "ok", "NTP server reply"},
      {kTarget, 161, "open", "udp-response", "ok", "SNMPv3 report, engine ID 80001f88"},
      {kTarget6, 161, "open", "udp-response", "ok", "SNMPv3 report"},
      {kTarget, 162, "open", "udp-response", "ok", "SNMPv3 report"},
      {kTarget6, 162, "closed", "port-unreach", "drift", ""},
      {kTarget, 69, "open", "udp-response", "ok", "TFTP error 1: File not found"},
      {kTarget6, 69, "closed", "port-unreach", "drift", ""},
      {kTarget, 67, "open", "udp-response", "ok", "DHCPACK from server 198.18.1.1"},
      {kTarget, 514, "closed", "port-unreach", "drift", ""},
      {kTarget6, 514, "closed", "port-unreach", "drift", ""},
      {kTarget, 2967, "open|filtered", "no-response", "unconfirmed", ""},
      {kTarget6, 2967, "open|filtered", "no-response", "unconfirmed", ""},
      {kTarget, 2968, "open|filtered", "no-response", "ok", ""},
      {kTarget, 38293, "filtered", "admin-prohibited", "ok", ""},
      {kTarget6, 38293, "filtered", "admin-prohibited", "ok", ""},
  };
  for (const auto& w : want) {
    SCOPED_TRACE(std::string(w.address) + " udp/" + std::to_string(w.port));
    const auto c = row(r.doc, "udp", w.port, w.address);
    EXPECT_EQ(s(c, "observed"), w.state) << c.dump();
    EXPECT_EQ(s(c, "reason"), w.reason) << c.dump();
    EXPECT_EQ(s(c, "verdict"), w.verdict) << c.dump();
    if (*w.reply != '\0') {
      EXPECT_EQ(s(c, "reply").rfind(w.reply, 0), 0U) << c.dump();
    }
    if (std::string(w.reason) == "no-response") {
      EXPECT_EQ(c.value("attempts", 0), 2) << "silence is retried";
    } else {
      EXPECT_EQ(c.value("attempts", 0), 1) << "an answer is final";
    }
  }
  // DHCP is IPv4 only: to an IPv6 address port 67 gets an empty datagram, and nothing listens there.
  EXPECT_EQ(s(row(r.doc, "udp", 67, kTarget6), "observed"), "closed");
  for (const char* a : {kTarget, kTarget6}) {
    const auto e = row(r.doc, "icmp", 0, a);
    EXPECT_EQ(s(e, "observed"), "up");
    EXPECT_EQ(s(e, "reason"), "echo-reply");
    EXPECT_EQ(e["echo"].value("received", 0), 3);
  }
  // The silent port expected open is a WARNING, never OK; the closed ones are critical drifts.
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.doc["summary"].value("unconfirmed", 0), 2);
  EXPECT_EQ(s(row(r.doc, "udp", 2967, kTarget), "severity"), "warning");
  // The TFTP server was asked for a file that does not exist, and nothing was written anywhere.
  EXPECT_TRUE(fs::is_empty(dir_ / "tftp"));
}

// ---- ICMP error rate limits ------------------------------------------------------------

TEST_F(UdpIcmp, EveryClosedPortIsSeenClosedUnderLinuxDefaultIcmpRateLimits) {
  auto& b = bed({{"target", {kTarget, kTarget6}}});
  // The test bed turns rate limits off; put Linux's defaults back on the target: one ICMP error per
  // second per destination, from a bucket of six.
  sysctl("target", "net.ipv4.icmp_ratelimit=1000");
  sysctl("target", "net.ipv6.icmp.ratelimit=1000");
  b.listen("target", PD_LISTEN_PATH, {"udp:198.18.1.1:40000", "udp:[2001:2::1:1]:40000"});
  std::string yaml = "defaults: {timeout_ms: 400, retries: 1}\nhosts:\n  - name: target\n"
                     "    addresses: [198.18.1.1, \"2001:2::1:1\"]\n    checks:\n"
                     "      - {protocol: udp, port: 40000}\n      - {protocol: udp, port: \"40001-40010\"}\n";
  const auto paced = file("paced.yaml", yaml);
  const auto unpaced = file("unpaced.yaml", "defaults: {timeout_ms: 400, retries: 0, icmp_ratelimit_ms: 0}\n" +
                                                yaml.substr(yaml.find("hosts:")));
  auto closed_right = [](const CheckRun& r, const char* address) {
    int n = 0;
    for (int p = 40001; p <= 40010; ++p) {
      const auto c = row(r.doc, "udp", p, address);
      if (s(c, "observed") == "closed" && s(c, "reason") == "port-unreach") ++n;
    }
    return n;
  };
  // 1. A fresh bucket: six answers at once, then one a second; every closed port is closed.
  const auto first = check(paced);
  EXPECT_EQ(closed_right(first, kTarget), 10) << describe(first);
  EXPECT_EQ(closed_right(first, kTarget6), 10) << describe(first);
  EXPECT_EQ(s(row(first.doc, "udp", 40000, kTarget), "observed"), "open");
  // 2. What a scanner that ignores the limit sees right after: the bucket is empty, closed ports fall
  //    silent and pass for open|filtered. (This is the test bed being realistic, not portdrift.)
  const auto naive = check(unpaced);
  EXPECT_LE(closed_right(naive, kTarget), 7) << "the kernel did not rate-limit: the test proves nothing\n"
                                             << describe(naive);
  // 3. Paced again, starting from that drained bucket: still every closed port right.
  const auto again = check(paced);
  EXPECT_EQ(closed_right(again, kTarget), 10) << describe(again);
  EXPECT_EQ(closed_right(again, kTarget6), 10) << describe(again);
  for (const auto* r : {&first, &again}) {
    EXPECT_EQ(r->exit_code, 2);  // the closed ports were expected open
    EXPECT_EQ(r->doc["summary"].value("unconfirmed", 0), 0) << "no closed port may be taken for silence";
  }
  // The price: about one second per closed port beyond the burst, per address (addresses in parallel).
  EXPECT_LT(again.wall_s, 16.0);
  std::printf("rate-limited run: fresh bucket %.1f s, unpaced %.1f s (%d of 10 closed ports right), "
              "drained bucket %.1f s\n",
              first.wall_s, naive.wall_s, closed_right(naive, kTarget), again.wall_s);
}

// Many addresses of one kernel spend one ICMP error bucket (Linux keeps it per destination: the
// scanner). 8 addresses, 5 UDP ports each, 16 of them closed (the kernel answers port unreachable
// when its one bucket holds a token) and the rest dropped (silence). Paced address by address,
// closed ports fall silent and pass for open|filtered; portdrift finds the shared limiter and paces
// them together. With a time budget, whatever it could not confirm says so (icmp-ratelimited).
TEST_F(UdpIcmp, AddressesThatShareOneIcmpLimiterArePacedTogether) {
  constexpr int kAddresses = 8;
  constexpr int kPorts = 5;
  std::vector<std::string> addresses;
  for (int h = 0; h < kAddresses; ++h) addresses.push_back("198.18.1." + std::to_string(h + 1));
  auto& b = bed({{"pool", addresses}});
  sysctl("pool", "net.ipv4.icmp_ratelimit=1000");
  std::string drops;
  std::string yaml = "defaults: {timeout_ms: 400, retries: 1}\nhosts:\n";
  std::map<std::pair<std::string, int>, std::string> truth;  // (address, port) -> state
  int closed = 0;
  for (int h = 0; h < kAddresses; ++h) {
    const auto& address = addresses[static_cast<std::size_t>(h)];
    yaml += "  - name: p" + std::to_string(h) + "\n    address: " + address + "\n    checks:\n";
    for (int i = 0; i < kPorts; ++i) {
      const int port = 30001 + i;
      const bool is_closed = (h * 7 + i * 3) % 5 < 2;
      closed += is_closed ? 1 : 0;
      truth[{address, port}] = is_closed ? "closed" : "open|filtered";
      yaml += "      - {protocol: udp, port: " + std::to_string(port) + ", expect: " +
              (is_closed ? "closed" : "filtered") + "}\n";
      if (!is_closed) drops += (drops.empty() ? "" : ", ") + address + " . " + std::to_string(port);
    }
  }
  ASSERT_EQ(closed, 16);
  b.load_nft("pool", "table ip pdtest {\n  chain input {\n    type filter hook input priority 0; policy accept;\n"
                     "    ip daddr . udp dport { " + drops + " } drop\n  }\n}\n");
  const auto topo = file("pool.yaml", yaml);

  // 1. No budget: every port right, however long the limiter takes (about a second per closed port
  //    after the burst of six).
  const auto all = check(topo, {"-v"});
  EXPECT_EQ(all.exit_code, 0) << describe(all);
  int right = 0;
  for (const auto& c : all.doc.value("checks", json::array())) {
    const auto want = truth.at({s(c, "address"), c.value("port", 0)});
    EXPECT_EQ(s(c, "observed"), want) << c.dump();
    right += s(c, "observed") == want ? 1 : 0;
  }
  EXPECT_EQ(right, kAddresses * kPorts);
  EXPECT_EQ(all.doc["summary"].value("unconfirmed", -1), 0);
  EXPECT_NE(all.err.find("addresses share one limiter with others"), std::string::npos) << all.err;
  EXPECT_GE(all.wall_s, (closed - 6) * 0.9) << "faster than the kernel's limiter allows: it was not shared";

  // 2. A 2 s budget, from a drained bucket: what is confirmed is right; every port left is labelled.
  const auto budget = check(topo, {"--time-budget", "2"});
  int labelled = 0;
  for (const auto& c : budget.doc.value("checks", json::array())) {
    SCOPED_TRACE(c.dump());
    const auto want = truth.at({s(c, "address"), c.value("port", 0)});
    if (s(c, "reason") == "icmp-ratelimited") {
      ++labelled;
      EXPECT_EQ(s(c, "observed"), "open|filtered");
      EXPECT_EQ(s(c, "verdict"), "unconfirmed");
      EXPECT_NE(s(c, "detail").find("ICMP error rate limit"), std::string::npos);
    } else {
      EXPECT_EQ(s(c, "observed"), want);
      EXPECT_EQ(s(c, "verdict"), "ok");
    }
  }
  EXPECT_GT(labelled, 0) << "2 s cannot confirm 16 closed ports behind one limiter: " << describe(budget);
  EXPECT_EQ(budget.doc["summary"].value("unconfirmed", -1), labelled);
  EXPECT_EQ(budget.exit_code, 1) << "unconfirmed is a warning, not a drift: " << describe(budget);
  EXPECT_LT(budget.wall_s, 2.0 + 3 * 0.4 + 1.0) << "the budget, then at most one attempt's wait";
  std::printf("shared limiter: %d of %d right in %.1f s (limiter floor %d s); with a 2 s budget %.1f s, %d labelled "
              "icmp-ratelimited\n",
              right, kAddresses * kPorts, all.wall_s, closed - 6, budget.wall_s, labelled);
}

// ---- ICMP echo: both socket kinds, and the error --------------------------------------------

TEST_F(UdpIcmp, EchoUsesPingSocketsThenRawSocketsThenSaysWhatToGrant) {
  auto& b = bed({{"target", {kTarget, kTarget6}}, {"quiet", {"198.18.1.2", "2001:2::1:2"}}});
  b.load_nft("quiet", R"(table inet pdtest {
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request drop
    icmpv6 type echo-request drop
  }
})");
  const auto topo = file("echo.yaml", R"(defaults: {timeout_ms: 300}
hosts:
  - name: target
    addresses: [198.18.1.1, "2001:2::1:1"]
    checks:
      - {protocol: icmp, echoes: 4}
  - name: quiet
    addresses: [198.18.1.2, "2001:2::1:2"]
    checks:
      - {protocol: icmp, expect: unreachable}
)");
  auto verify = [](const CheckRun& r, const std::string& via) {
    for (const char* a : {kTarget, kTarget6}) {
      SCOPED_TRACE(a);
      const auto e = row(r.doc, "icmp", 0, a);
      EXPECT_EQ(s(e, "observed"), "up");
      EXPECT_EQ(s(e, "reason"), "echo-reply");
      EXPECT_EQ(s(e, "verdict"), "ok");
      EXPECT_TRUE(e["port"].is_null());
      EXPECT_EQ(e["echo"].value("sent", 0), 4);
      EXPECT_EQ(e["echo"].value("received", 0), 4);
      EXPECT_EQ(e["echo"].value("loss_percent", -1.0), 0.0);
      EXPECT_LE(e["echo"].value("rtt_min_ms", 1e9), e["echo"].value("rtt_avg_ms", 0.0));
      EXPECT_LE(e["echo"].value("rtt_avg_ms", 1e9), e["echo"].value("rtt_max_ms", 0.0));
      EXPECT_NE(s(e, "reply").find(via), std::string::npos) << e.dump();
    }
    for (const char* a : {"198.18.1.2", "2001:2::1:2"}) {
      const auto q = row(r.doc, "icmp", 0, a);
      EXPECT_EQ(s(q, "observed"), "down");
      EXPECT_EQ(s(q, "reason"), "no-response");
      EXPECT_EQ(s(q, "verdict"), "ok");
      EXPECT_EQ(q["echo"].value("loss_percent", 0.0), 100.0);
      EXPECT_TRUE(q["echo"]["rtt_avg_ms"].is_null());
    }
    EXPECT_EQ(r.exit_code, 0) << describe(r);
  };
  // ping_group_range is per network namespace: allow every group in the scanner's.
  sysctl("scanner", "net.ipv4.ping_group_range=0 2147483647");
  verify(check(topo), "an unprivileged ICMP socket");
  // Forbidden again (the kernel's default "1 0"): root falls back to a raw socket.
  sysctl("scanner", "net.ipv4.ping_group_range=1 0");
  verify(check(topo), "a raw socket (CAP_NET_RAW)");
  // Neither: no ping sockets and no CAP_NET_RAW. Each check fails on its own and says what to grant.
  if (!tb::find_tool("setpriv")) GTEST_SKIP() << "setpriv (util-linux) missing";
  const auto r = check(topo, {}, {"setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", "--"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_EQ(r.doc["summary"].value("errors", 0), 4);
  const auto e = row(r.doc, "icmp", 0, kTarget);
  EXPECT_EQ(s(e, "verdict"), "error");
  EXPECT_EQ(s(e, "reason"), "local-error");
  EXPECT_NE(s(e, "detail").find("net.ipv4.ping_group_range"), std::string::npos) << e.dump();
  EXPECT_NE(s(e, "detail").find("CAP_NET_RAW"), std::string::npos) << e.dump();
}

}  // namespace
