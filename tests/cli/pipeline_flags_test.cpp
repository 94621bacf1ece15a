// --format junit|tap and --baseline on the command line: where they are
// accepted, and a baseline that cannot be used stops the run (exit 3, naming
// the file) before anything is probed. Runs in process; nothing is probed.

#include <gtest/gtest.h>

#include "cli/run_cli.hpp"
#include "test_support.hpp"

namespace portdrift::cli {
namespace {

using test::run_cli;

constexpr const char* kExample = PORTDRIFT_CONFIG_DIR "/example-topology.yaml";

TEST(CliPipelines, FormatsAndBaselineAreForCheck) {
  auto r = run_cli({"--validate", "-c", kExample, "--format", "junit"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("--format junit and tap are for --check"), std::string::npos) << r.err;
  r = run_cli({"--catalog", "--baseline", "x.json"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("--baseline is for --check"), std::string::npos) << r.err;
  r = run_cli({"--check", "-c", kExample, "--baseline", "x.json", "--format", "tap"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("--baseline writes text or json, not junit or tap"), std::string::npos) << r.err;
  r = run_cli({"--check", "-c", kExample, "--format", "xml"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("--format: takes text, json, junit or tap, not 'xml'"), std::string::npos) << r.err;
  r = run_cli({"--help"});
  EXPECT_NE(r.out.find("--baseline FILE"), std::string::npos);
  EXPECT_NE(r.out.find("junit"), std::string::npos);
}

TEST(CliPipelines, AMissingOrBadBaselineIsUnknownAndNamesTheFile) {
  test_support::TempDir dir;
  const auto missing = dir.file("missing.json");
  auto r = run_cli({"--check", "-c", kExample, "--baseline", missing});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out, "PORTDRIFT UNKNOWN - cannot read baseline " + missing + ": No such file or directory\n");
  const auto bad = dir.write("bad.json", "{\"status\": \"UNKNOWN\", \"checks\": []}");
  r = run_cli({"--check", "-c", kExample, "--baseline", bad});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out, "PORTDRIFT UNKNOWN - baseline " + bad +
                       " is not a portdrift --check --format json result: a run that probed nothing (UNKNOWN)\n");
  EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
}

TEST(CliPipelines, ABadTopologyIsAnErrorCaseInJunitAndABailOutInTap) {
  test_support::TempDir dir;
  const auto topo = dir.write("bad.yaml", "hosts: 3\n");
  auto r = run_cli({"--check", "-c", topo, "--format", "junit"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out.rfind("<?xml", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("<error type=\"unknown\""), std::string::npos) << r.out;
  r = run_cli({"--check", "-c", topo, "--format", "tap"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.out.find("\nBail out! "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace portdrift::cli
