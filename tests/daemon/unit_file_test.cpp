// systemd/portdrift.service: systemd's own security analysis of it, and the
// lines the daemon depends on. (tests/netns/daemon_test.cpp runs its
// ExecStart and ExecReload lines as written.)

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace {

const std::string kUnit = std::string(PORTDRIFT_SYSTEMD_DIR) + "/portdrift.service";

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string run(const std::string& command, int& status) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    status = -1;
    return out;
  }
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  status = ::pclose(p);
  return out;
}

TEST(UnitFile, SystemdAnalyzeSecurityScoresAtMostOnePointFive) {
  int status = 0;
  const auto where = run("command -v systemd-analyze", status);
  if (where.empty()) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") FAIL() << "systemd-analyze is missing (Debian package systemd)";
    GTEST_SKIP() << "systemd-analyze is not installed";
  }
  const auto out = run("systemd-analyze security --offline=true --no-pager '" + kUnit + "' 2>&1", status);
  const std::string marker = "Overall exposure level for portdrift.service: ";
  const auto at = out.find(marker);
  ASSERT_NE(at, std::string::npos) << out;
  const auto score_text = out.substr(at + marker.size(), out.find(' ', at + marker.size()) - at - marker.size());
  const double score = std::stod(score_text);
  RecordProperty("exposure", score_text);
  EXPECT_LE(score, 1.5) << out;
  // No complaints about the file itself (unknown keys, bad values).
  EXPECT_EQ(out.find("Unknown key"), std::string::npos) << out;
  EXPECT_EQ(out.find("Failed to parse"), std::string::npos) << out;
}

TEST(UnitFile, HasWhatTheDaemonRelies) {
  const auto unit = read(kUnit);
  for (const char* line :
       {"Type=notify\n", "NotifyAccess=main\n", "ExecReload=/bin/kill -HUP $MAINPID\n", "WatchdogSec=",
        "DynamicUser=yes\n", "ConfigurationDirectory=portdrift\n", "StateDirectory=portdrift\n",
        "AmbientCapabilities=CAP_NET_RAW\n", "CapabilityBoundingSet=CAP_NET_RAW\n",
        "ExecStart=/usr/bin/portdrift -c /etc/portdrift/topology.yaml\n"}) {
    EXPECT_NE(unit.find(line), std::string::npos) << line;
  }
  // The stop timeout leaves room for the daemon's one-second stop.
  const auto at = unit.find("\nTimeoutStopSec=");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoi(unit.substr(at + 16)), 2);
}

}  // namespace
