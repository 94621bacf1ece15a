// The flow matrix over results the report module itself wrote (report::json),
// so the parser reads exactly what `portdrift --check --format json` prints.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "portdrift/report/matrix.hpp"
#include "portdrift/report/report.hpp"
#include "test_support.hpp"

namespace portdrift::report {
namespace {

plan::Check make_check(std::string_view host, std::string_view target, std::uint16_t port, Expect expect,
                       std::uint16_t roles, std::vector<std::string> ids) {
  plan::Check c;
  c.host = host;
  c.target = target;
  c.protocol = Protocol::tcp;
  c.port = port;
  c.expect = expect;
  c.severity = Severity::critical;
  c.catalog_ids = std::move(ids);
  c.roles = roles;
  c.label = "l";
  return c;
}

using test_support::observed;

// One vantage's run: an agent->ns flow that is ok, one that drifted (its host
// name carries markup, to be escaped), and an explicit check that is ok.
struct VantageRun {
  plan::Plan plan;
  std::vector<verdict::CheckResult> results;
  VantageRun() {
    plan.roles.push_back({"agent", "notification-server"});
    plan.checks.push_back(make_check("ns01", "198.18.1.1", 443, Expect::open, 1, {"itms-agent-ns-https"}));
    plan.checks.push_back(make_check("<ns&02>", "198.18.1.2", 4949, Expect::open, 1, {"itms-agent-ns-4949"}));
    plan.checks.push_back(make_check("sql01", "198.18.1.3", 1433, Expect::blocked, 0, {}));
    results = {{&plan.checks[0], observed(PortState::open, Reason::syn_ack, "198.18.1.1"), verdict::Outcome::ok},
               {&plan.checks[1], observed(PortState::closed, Reason::conn_refused, "198.18.1.2"), verdict::Outcome::drift},
               {&plan.checks[2], observed(PortState::closed, Reason::conn_refused, "198.18.1.3"), verdict::Outcome::ok}};
  }
  std::string json_as(std::string vantage, std::string shard = "", std::string hash = "00000000000000aa") const {
    const RunView view{results, plan, verdict::summarize(results), std::chrono::microseconds(1000),
                       {std::move(vantage), std::move(shard)}, {"estate.yaml", std::move(hash)}};
    return json(view);
  }
};

TEST(Matrix, TheJsonReportNamesItsTopology) {
  const VantageRun run;
  const auto doc = nlohmann::json::parse(run.json_as("agents"));
  EXPECT_EQ(doc.at("topology"), nlohmann::json::parse(R"({"file": "estate.yaml", "hash": "00000000000000aa"})"));
}

TEST(Matrix, MergesVantagesIntoRowsOfVantageAndRole) {
  const VantageRun run;
  const std::vector<MatrixInput> in{{"a.json", run.json_as("agents")}, {"b.json", run.json_as("ns")}};
  const auto r = build_matrix(in);
  ASSERT_TRUE(r.ok()) << r.error;
  const auto& m = r.matrix;
  EXPECT_EQ(m.rows, (std::vector<std::string>{"agents/agent", "agents/explicit", "ns/agent", "ns/explicit"}));
  EXPECT_EQ(m.columns, (std::vector<std::string>{"notification-server", "sql01"}));
  const auto& cell = m.cells.at({"agents/agent", "notification-server"});
  EXPECT_EQ(cell.checks, 2u);
  EXPECT_EQ(cell.ok, 1u);
  EXPECT_EQ(cell.drifted, 1u);
  ASSERT_EQ(cell.problems.size(), 1u);
  EXPECT_EQ(cell.problems[0].host, "<ns&02>");
  EXPECT_EQ(cell.problems[0].port, "4949");
  EXPECT_EQ(cell.problems[0].observed, "closed");
  EXPECT_EQ(cell.problems[0].flow, "itms-agent-ns-4949");
  EXPECT_EQ(m.cells.at({"ns/explicit", "sql01"}).ok, 1u);
  EXPECT_EQ(m.exit_code, 2);
  EXPECT_EQ(m.checks, 6u);
  EXPECT_EQ(m.drifted, 2u);
}

TEST(Matrix, TextHasTheStatusLinePerfdataAndTheMatrix) {
  const VantageRun run;
  const std::vector<MatrixInput> in{{"a.json", run.json_as("agents")}};
  const auto text = matrix_text(build_matrix(in).matrix);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "PORTDRIFT CRITICAL - 1 result: 3 checks, 2 ok, 1 drifted | 'results'=1;;;0 'checks'=3;;;0 'ok'=2;;;0 "
            "'drift'=1;;1;0");
  EXPECT_NE(text.find("agents/agent                     1/1      -\n"), std::string::npos) << text;
  EXPECT_NE(text.find("agents/explicit                    -    1/0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("drift: agents/agent <ns&02> -> 198.18.1.2 tcp/4949"), std::string::npos) << text;
}

TEST(Matrix, HtmlIsSelfContainedEscapedAndAddressable) {
  const VantageRun run;
  const std::vector<MatrixInput> in{{"a.json", run.json_as("agents")}};
  const auto html = matrix_html(build_matrix(in).matrix);
  EXPECT_NE(html.find(R"(<td id="cell-0-0" class="drift" data-from="agents/agent" data-to="notification-server" )"
                      R"(data-checks="2" data-ok="1" data-drifted="1">)"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find(R"(<td id="cell-1-1" class="ok")"), std::string::npos);
  EXPECT_NE(html.find(R"(<td id="cell-0-1" class="none")"), std::string::npos);
  EXPECT_NE(html.find("<td>&lt;ns&amp;02&gt;</td>"), std::string::npos);
  EXPECT_EQ(html.find("<ns&02>"), std::string::npos);
  for (const auto* external : {"http:", "https:", "src=", "href=", "@import", "url("}) {
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  }
  EXPECT_EQ(html_escape(R"(<a href="x">'&'</a>)"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(Matrix, RefusesDifferentTopologiesDuplicatesAndNonResults) {
  const VantageRun run;
  const std::vector<MatrixInput> topo{{"a.json", run.json_as("agents")},
                                      {"b.json", run.json_as("ns", "", "00000000000000bb")}};
  EXPECT_EQ(build_matrix(topo).error,
            "a.json and b.json are results of different topologies: estate.yaml (00000000000000aa) vs "
            "estate.yaml (00000000000000bb)");
  const std::vector<MatrixInput> dup{{"a.json", run.json_as("ns", "1/2")}, {"b.json", run.json_as("ns", "2/2")},
                                     {"c.json", run.json_as("ns", "1/2")}};
  EXPECT_EQ(build_matrix(dup).error, "a.json and c.json are both results of vantage ns shard 1/2");
  const std::vector<MatrixInput> bad{{"a.json", run.json_as("ns")}, {"x.json", "{\"status\": "}};
  EXPECT_EQ(build_matrix(bad).error, "x.json: not a `portdrift --check --format json` result");
  const std::vector<MatrixInput> other{{"y.json", R"({"status": "OK", "checks": {}})"}};
  EXPECT_FALSE(build_matrix(other).ok());
}

TEST(Matrix, AResultThatCouldNotRunMakesItUnknown) {
  const VantageRun run;
  const std::vector<MatrixInput> in{{"a.json", run.json_as("agents")},
                                    {"u.json", json_unknown("1 problem in t.yaml", {})}};
  const auto r = build_matrix(in);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.matrix.exit_code, 3);
  EXPECT_EQ(r.matrix.unknown, (std::vector<std::string>{"u.json: 1 problem in t.yaml"}));
  EXPECT_TRUE(matrix_text(r.matrix).starts_with("PORTDRIFT UNKNOWN - 2 results: 3 checks, 2 ok, 1 drifted, 1 could not run"));
}

}  // namespace
}  // namespace portdrift::report
