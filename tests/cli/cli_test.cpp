// The command line as a user runs it, in process: modes, exit codes, output.
// Probes go to loopback only.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "portdrift/cli/cli.hpp"

namespace portdrift::cli {
namespace {

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result cli(std::vector<std::string> words) {
  words.insert(words.begin(), "portdrift");
  std::vector<std::string_view> args(words.begin(), words.end());
  std::ostringstream out;
  std::ostringstream err;
  const int code = run(args, out, err);
  return {code, out.str(), err.str()};
}

std::string write(const std::string& name, const std::string& text) {
  const auto path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Cli, HelpVersionAndUsageErrors) {
  auto help = cli({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--check"), std::string::npos);
  EXPECT_EQ(cli({"--version"}).out.rfind("portdrift ", 0), 0U);
  auto bad = cli({"--frobnicate"});
  EXPECT_EQ(bad.code, 3);
  EXPECT_NE(bad.err.find("unknown option '--frobnicate'"), std::string::npos);
  EXPECT_EQ(cli({"--check"}).code, 3);
  EXPECT_EQ(cli({"--check", "-c", "x", "--timeout", "0"}).code, 3);
  EXPECT_EQ(cli({"--check", "--validate", "-c", "x"}).code, 3);
  EXPECT_EQ(cli({}).code, 3);
}

// Every usage error the parser (CLI11) finds exits 3 UNKNOWN, never with CLI11's own codes,
// and names the flag; --help anywhere exits 0.
TEST(Cli, ParserErrorsExitUnknownAndHelpExitsZero) {
  for (const std::vector<std::string>& words :
       {std::vector<std::string>{"--check", "-c", "x", "--timeout"}, {"--catalog", "--format", "xml"},
        {"--check", "-c", "x", "--retries", "eleven"}, {"--check", "-c", "x", "--max-rate", "-1"},
        {"--check", "-c", "x", "stray"}, {"--check", "policy", "-c", "x", "--out", "d"},
        {"-c", "x", "--log-target", "syslog"}, {"-c", "x", "--metrics-listen", "nowhere"},
        {"explain", "-c", "x", "h", "1", "2"}, {"policy", "--out"}, {"matrix", "-o"}}) {
    const auto r = cli(words);
    EXPECT_EQ(r.code, 3) << fmt::format("{}", fmt::join(words, " ")) << ": " << r.err;
    EXPECT_FALSE(r.err.empty()) << fmt::format("{}", fmt::join(words, " "));
  }
  EXPECT_NE(cli({"--catalog", "--format", "xml"}).err.find("--format: takes text, json, junit or tap, not 'xml'"),
            std::string::npos);
  EXPECT_NE(cli({"--check", "-c", "x", "stray"}).err.find("unknown option 'stray'"), std::string::npos);
  const auto timing = cli({"--check", "-c", "x", "--timing", "fast"});
  EXPECT_EQ(timing.code, 3);
  EXPECT_NE(timing.err.find("--timing: takes fixed or adaptive, not 'fast'"), std::string::npos) << timing.err;
  for (const auto* sub : {"policy", "explain", "matrix"}) {
    const auto help = cli({sub, "--help"});
    EXPECT_EQ(help.code, 0) << sub;
    EXPECT_NE(help.out.find(std::string("Usage: portdrift ") + sub), std::string::npos) << help.out;
  }
  EXPECT_EQ(cli({"--check", "-c", "x", "--help"}).code, 0);
  // --flag=value, and a flag given twice keeps the last value, as before.
  auto r = cli({"--catalog", "--format=text", "--format=json", "--catalog-dir=" + std::string(PORTDRIFT_CATALOG_DIR)});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out).is_array());
}

TEST(Cli, OptionNamesComeFromTheParser) {
  const auto names = option_names();
  for (const auto* n : {"--check", "-c", "--config", "--web.config.file", "--shard", "-h", "policy --out",
                        "policy --check-against", "explain --default", "matrix -o", "matrix --output"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  EXPECT_EQ(std::find(names.begin(), names.end(), "--out"), names.end());  // policy's, not the modes'
}

TEST(Cli, ValidateReportsEveryProblemWithPositions) {
  const auto path = write("bad-topology.yaml", R"(products: [itms-8]
vantage: {roles: [agent]}
hosts:
  - name: ns1
    address: 198.18.1.1
    roles: [notification-server, notification-sever]
    checks:
      - {protocol: tcp, port: 99999}
)");
  auto r = cli({"--validate", "-c", path});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.out.find(path + ":8:31: hosts[0].checks[0].port: '99999' is not a port"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(path + ":6:34: hosts[0].roles[1]: unknown role 'notification-sever'"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("2 configuration problems"), std::string::npos) << r.out;
  auto check = cli({"--check", "-c", path});
  EXPECT_EQ(check.code, 3);
  EXPECT_EQ(check.out.rfind("PORTDRIFT UNKNOWN - 2 configuration problems", 0), 0U) << check.out;
  auto json = nlohmann::json::parse(cli({"--check", "-c", path, "--format", "json"}).out);
  EXPECT_EQ(json["exit_code"], 3);
  EXPECT_EQ(json["diagnostics"].size(), 2U);
  auto missing = cli({"--validate", "-c", "/nonexistent/portdrift.yaml"});
  EXPECT_EQ(missing.code, 3);
  EXPECT_NE(missing.out.find("/nonexistent/portdrift.yaml: cannot open file"), std::string::npos);
}

TEST(Cli, ShippedExampleTopologyValidates) {
  auto r = cli({"--validate", "-c", std::string(PORTDRIFT_CONFIG_DIR) + "/example-topology.yaml", "--catalog-dir",
                PORTDRIFT_CATALOG_DIR});
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST(Cli, ValidateVerboseSaysWhichCheckWonAndCountsGroupHosts) {
  const auto path = write("groups-topology.yaml", R"(products: [itms-8, sep-14]
vantage: {roles: [agent, sep-client]}
groups:
  - name: hq
    members: [198.18.20.0/30]
    roles: [agent, sep-client]
    checks:
      - {protocol: tcp, port: 56118, expect: blocked}
)");
  auto quiet = cli({"--validate", "-c", path, "--catalog-dir", PORTDRIFT_CATALOG_DIR});
  EXPECT_EQ(quiet.code, 0) << quiet.out;
  EXPECT_EQ(quiet.out.find("note:"), std::string::npos) << quiet.out;
  EXPECT_NE(quiet.out.find("OK: 4 hosts, 12 checks"), std::string::npos) << quiet.out;
  auto verbose = cli({"--validate", "-v", "-c", path, "--catalog-dir", PORTDRIFT_CATALOG_DIR});
  EXPECT_EQ(verbose.code, 0) << verbose.out;
  EXPECT_NE(verbose.out.find("note: " + path + ":8:9: groups[0].checks[0]: group hq tcp/56118: the group's check "
                             "groups[0].checks[0] (line 8, expects blocked) wins over catalog flow itms-agent-p2p-tcp "
                             "(expects open)"),
            std::string::npos)
      << verbose.out;
}

TEST(Cli, CatalogListsJsonAndText) {
  auto r = cli({"--catalog", "--format", "json", "--catalog-dir", PORTDRIFT_CATALOG_DIR});
  ASSERT_EQ(r.code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_TRUE(doc.is_array());
  EXPECT_GT(doc.size(), 200U);
  EXPECT_EQ(cli({"--catalog", "--catalog-dir", "/nonexistent"}).code, 3);
  EXPECT_NE(cli({"--catalog", "--catalog-dir", PORTDRIFT_CATALOG_DIR}).out.find("sep-14"), std::string::npos);
}

TEST(Cli, DefaultCatalogIsFoundFromTheBuildTree) {
  EXPECT_TRUE(std::filesystem::exists(default_catalog_dir() / "itms-8.yaml")) << default_catalog_dir();
}

TEST(Cli, CheckExitCodesOnLoopback) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor open(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = std::to_string(open.local_endpoint().port());
  std::uint16_t closed = 0;
  {
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    closed = a.local_endpoint().port();
  }
  const auto cport = std::to_string(closed);
  const auto ok = write("ok.yaml", "hosts:\n  - name: lo\n    address: 127.0.0.1\n    checks:\n"
                                   "      - {protocol: tcp, port: " + port + "}\n"
                                   "      - {protocol: tcp, port: " + cport + ", expect: blocked}\n");
  auto r = cli({"--check", "-c", ok});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("PORTDRIFT OK - 2 checks as documented |", 0), 0U) << r.out;

  const auto warn = write("warn.yaml", "hosts:\n  - name: lo\n    address: 127.0.0.1\n    checks:\n"
                                       "      - {protocol: tcp, port: " + port + ", expect: closed, severity: warning}\n");
  r = cli({"--check", "-c", warn});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(r.out.rfind("PORTDRIFT WARNING - 1 of 1 checks drifted (0 critical, 1 warning)", 0), 0U) << r.out;

  const auto crit = write("crit.yaml", "hosts:\n  - name: lo\n    address: 127.0.0.1\n    checks:\n"
                                       "      - {protocol: tcp, port: " + cport + "}\n");
  r = cli({"--check", "-c", crit, "--format", "json"});
  EXPECT_EQ(r.code, 2);
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["status"], "CRITICAL");
  EXPECT_EQ(doc["checks"][0]["observed"], "closed");
  EXPECT_EQ(doc["checks"][0]["reason"], "conn-refused");
}

// A fleet: one topology, a vantage per instance (flag or PORTDRIFT_VANTAGE), shards.
TEST(Cli, ValidateNamesVantageShardAndCoverageGaps) {
  const std::string fleet = std::string(PORTDRIFT_TEST_DATA_DIR) + "/fleet-topology.yaml";
  ::unsetenv("PORTDRIFT_VANTAGE");
  auto whole = cli({"--validate", "-c", fleet, "--catalog-dir", PORTDRIFT_CATALOG_DIR});
  EXPECT_EQ(whole.code, 0) << whole.out;
  EXPECT_NE(whole.out.find("warning: " + fleet + ":7:3: vantages: nobody checks tcp/52030 package-server -> agent (flow "
                           "itms-ps-multicast-tcp; declared vantages: agents, ns, sepm)\n"),
            std::string::npos)
      << whole.out;
  EXPECT_NE(whole.out.find(" warnings\n"), std::string::npos) << whole.out;
  auto shard = cli({"--validate", "-c", fleet, "--catalog-dir", PORTDRIFT_CATALOG_DIR, "--vantage", "ns", "--shard",
                    "2/3"});
  EXPECT_EQ(shard.code, 0) << shard.out;
  EXPECT_NE(shard.out.find("checks from vantage ns (shard 2/3: "), std::string::npos) << shard.out;
  // The environment picks a vantage for one unit file everywhere; the flag wins over it.
  ::setenv("PORTDRIFT_VANTAGE", "sepm", 1);
  auto env = cli({"--validate", "-c", fleet, "--catalog-dir", PORTDRIFT_CATALOG_DIR});
  auto flag = cli({"--validate", "-c", fleet, "--catalog-dir", PORTDRIFT_CATALOG_DIR, "--vantage", "agents"});
  ::setenv("PORTDRIFT_VANTAGE", "dmz", 1);
  auto unknown = cli({"--validate", "-c", fleet, "--catalog-dir", PORTDRIFT_CATALOG_DIR});
  ::unsetenv("PORTDRIFT_VANTAGE");
  EXPECT_NE(env.out.find("checks from vantage sepm,"), std::string::npos) << env.out;
  EXPECT_NE(flag.out.find("checks from vantage agents,"), std::string::npos) << flag.out;
  EXPECT_EQ(unknown.code, 3);
  EXPECT_NE(unknown.out.find("unknown vantage 'dmz' (declared: agents, ns, sepm)"), std::string::npos) << unknown.out;
  // --check must know where it stands.
  auto check = cli({"--check", "-c", fleet, "--catalog-dir", PORTDRIFT_CATALOG_DIR});
  EXPECT_EQ(check.code, 3);
  EXPECT_NE(check.out.find("pick one with --vantage NAME or PORTDRIFT_VANTAGE"), std::string::npos) << check.out;
  EXPECT_EQ(cli({"--catalog", "--vantage", "ns"}).code, 3);
  auto bad = cli({"--validate", "-c", fleet, "--shard", "4/3"});
  EXPECT_EQ(bad.code, 3);
  EXPECT_NE(bad.err.find("--shard: '4/3' is not K/N"), std::string::npos) << bad.err;
}

TEST(Cli, CheckJsonNamesTheVantageShardAndRoles) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor listener(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto path = write("fleet-loopback.yaml", fmt::format(R"(products: [sep-14]
vantages:
  here: {{roles: [sep-client]}}
defaults: {{timeout_ms: 300, retries: 0}}
hosts:
  - name: manager
    address: 127.0.0.1
    roles: [sepm]
    checks:
      - {{protocol: tcp, port: {}, expect: open, name: listener}}
)", listener.local_endpoint().port()));
  auto r = cli({"--check", "--format", "json", "-c", path, "--catalog-dir", PORTDRIFT_CATALOG_DIR, "--vantage", "here",
                "--shard", "1/1"});
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["vantage"], "here");
  EXPECT_EQ(j["shard"], "1/1");
  bool explicit_seen = false;
  bool flow_seen = false;
  for (const auto& c : j["checks"]) {
    if (c["label"] == "listener") {
      explicit_seen = true;
      EXPECT_FALSE(c.contains("from_role"));
    } else {
      flow_seen = flow_seen || c["from_role"] == "sep-client";
      EXPECT_TRUE(c["from_role"] == "sep-client" || c["from_role"] == "any") << c.dump();  // `any`: e.g. blocked launchers
      EXPECT_EQ(c["to_role"], "sepm");
    }
  }
  EXPECT_TRUE(explicit_seen && flow_seen) << r.out;
}

}  // namespace
}  // namespace portdrift::cli
