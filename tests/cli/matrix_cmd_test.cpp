// `portdrift matrix` as a user runs it, in process, on result files written
// by the report module (report::json), as `--check --format json` writes them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/run_cli.hpp"
#include "portdrift/report/report.hpp"

namespace portdrift::cli {
namespace {

namespace fs = std::filesystem;

using test::run_cli;

// A result of vantage `vantage` with one check, ok or drifted.
std::string result(const std::string& vantage, bool drift, const std::string& hash = "0123456789abcdef") {
  plan::Plan plan;
  plan.roles.push_back({"agent", "notification-server"});
  plan::Check c;
  c.host = "ns01";
  c.target = "127.0.0.1";
  c.protocol = Protocol::tcp;
  c.port = 443;
  c.expect = Expect::open;
  c.roles = 1;
  c.catalog_ids = {"itms-agent-ns-https"};
  plan.checks.push_back(c);
  Observation o;
  o.state = drift ? PortState::closed : PortState::open;
  o.reason = drift ? Reason::conn_refused : Reason::syn_ack;
  const std::vector<verdict::CheckResult> results{
      {&plan.checks[0], o, drift ? verdict::Outcome::drift : verdict::Outcome::ok}};
  const report::RunView view{results, plan, verdict::summarize(results), std::chrono::microseconds(1000),
                             {vantage, ""}, {"t.yaml", hash}};
  return report::json(view);
}

fs::path write(const std::string& name, const std::string& text) {
  const fs::path dir = fs::path(::testing::TempDir()) / "pd-matrix-cmd";
  fs::create_directories(dir);
  std::ofstream(dir / name) << text;
  return dir / name;
}

TEST(MatrixCommand, ExitsWithTheWorstStatusAndPrintsTheMatrix) {
  const auto a = write("a.json", result("agents", false)), b = write("b.json", result("ns", true));
  const auto r = run_cli({"matrix", a.string(), b.string()});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(r.out.starts_with("PORTDRIFT CRITICAL - 2 results: 2 checks, 1 ok, 1 drifted |")) << r.out;
  EXPECT_NE(r.out.find("ns/agent"), std::string::npos);
  EXPECT_EQ(run_cli({"matrix", a.string()}).code, 0);
}

TEST(MatrixCommand, WritesHtmlToAFile) {
  const auto a = write("a.json", result("agents", false)), b = write("b.json", result("ns", true));
  const auto html = fs::path(::testing::TempDir()) / "pd-matrix-cmd" / "m.html";
  const auto r = run_cli({"matrix", a.string(), b.string(), "--format", "html", "-o", html.string()});
  EXPECT_EQ(r.code, 2) << r.err;
  std::ifstream in(html);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_TRUE(text.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(text.find(R"(data-from="ns/agent" data-to="notification-server")"), std::string::npos);
}

TEST(MatrixCommand, BadInputsAreUnknownNamingTheFiles) {
  const auto a = write("a.json", result("agents", false));
  const auto other = write("other.json", result("ns", false, "fedcba9876543210"));
  const auto dup = write("dup.json", result("agents", true));
  const auto junk = write("junk.json", "not json");
  auto r = run_cli({"matrix", a.string(), other.string()});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("different topologies"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(other.string()), std::string::npos);
  r = run_cli({"matrix", a.string(), dup.string()});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(a.string() + " and " + dup.string() + " are both results of vantage agents"),
            std::string::npos)
      << r.err;
  r = run_cli({"matrix", junk.string()});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(junk.string()), std::string::npos);
  r = run_cli({"matrix", "/nonexistent/r.json"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("/nonexistent/r.json: cannot read"), std::string::npos) << r.err;
  EXPECT_EQ(run_cli({"matrix"}).code, 3);
  EXPECT_EQ(run_cli({"matrix", a.string(), "--format", "pdf"}).code, 3);
}

}  // namespace
}  // namespace portdrift::cli
