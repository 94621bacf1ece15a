// The main() of every namespace test binary: GoogleTest, the test beds torn
// down on SIGINT/SIGTERM as well as at exit, and (as root) the namespaces and
// links a crashed earlier run left behind swept first.

#include <unistd.h>

#include <cstdio>

#include <gtest/gtest.h>

#include "testbed.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  portdrift::testbed::install_signal_cleanup();
  if (::geteuid() == 0 && !GTEST_FLAG_GET(list_tests)) {
    for (const auto& line : portdrift::testbed::sweep_stale()) std::fprintf(stderr, "swept: %s\n", line.c_str());
  }
  return RUN_ALL_TESTS();
}
