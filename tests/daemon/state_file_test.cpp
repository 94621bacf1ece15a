// The state file on a real file system: round trip, bad files, and a writer
// killed with SIGKILL in the middle of its writes.

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>

#include "portdrift/daemon/state_file.hpp"

namespace portdrift::daemon {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  auto dir = fs::path(::testing::TempDir()) / ("pd-state-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

SavedState sample(std::size_t n, Hard hard) {
  SavedState s;
  s.written = WallTime(std::chrono::seconds(1'700'000'000));
  for (std::size_t i = 0; i < n; ++i) {
    SavedCheck c;
    c.host = "host" + std::to_string(i % 50);
    c.target = "198.18.1." + std::to_string(i % 200);
    c.address = c.target;
    c.port = static_cast<std::uint16_t>(1000 + i);
    c.expect = i % 3 == 0 ? Expect::blocked : Expect::open;
    c.key = c.host + "|" + c.target + "|tcp|" + std::to_string(c.port) + "|" + std::string(to_string(c.expect));
    c.hard = hard;
    c.since = WallTime(std::chrono::seconds(1'699'999'000 + static_cast<std::int64_t>(i)));
    c.flapping = i % 7 == 0;
    c.observed = "filtered";
    c.reason = "no-response";
    s.checks.push_back(std::move(c));
  }
  return s;
}

TEST(StateFile, RoundTrip) {
  const auto dir = temp_dir("rt");
  const auto file = dir / "state.json";
  const auto s = sample(20, Hard::drift);
  ASSERT_FALSE(save_state(file, s));
  EXPECT_FALSE(fs::exists(dir / "state.json.tmp"));
  const auto r = load_state(file);
  ASSERT_EQ(r.status, LoadStatus::ok) << r.error;
  EXPECT_EQ(r.state.written, s.written);
  ASSERT_EQ(r.state.checks.size(), 20U);
  for (std::size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(r.state.checks[i].key, s.checks[i].key);
    EXPECT_EQ(r.state.checks[i].hard, Hard::drift);
    EXPECT_EQ(r.state.checks[i].since, s.checks[i].since);
    EXPECT_EQ(r.state.checks[i].flapping, s.checks[i].flapping);
    EXPECT_EQ(r.state.checks[i].expect, s.checks[i].expect);
    EXPECT_EQ(r.state.checks[i].port, s.checks[i].port);
  }
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::others_read, fs::perms::none);
  fs::remove_all(dir);
}

TEST(StateFile, MissingAndCorruptAreStatusesNotFailures) {
  const auto dir = temp_dir("bad");
  EXPECT_EQ(load_state(dir / "nope.json").status, LoadStatus::missing);
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "s.json", std::ios::trunc) << text;
    return load_state(dir / "s.json");
  };
  for (const std::string bad : {"", "garbage\x01\x02", "{\"format\": 1, \"written\": 5, \"checks\": [",
                                "{\"format\": 99, \"written\": 5, \"checks\": []}", "[1,2,3]",
                                "{\"format\": 1, \"written\": 5, \"checks\": [{\"key\": \"k\", \"hard\": \"maybe\", "
                                "\"since\": 1}]}",
                                "{\"format\": 1, \"written\": \"yesterday\", \"checks\": []}"}) {
    const auto r = write(bad);
    EXPECT_EQ(r.status, LoadStatus::corrupt) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
    EXPECT_TRUE(r.state.checks.empty()) << bad;
  }
  // A write replaces a corrupt file.
  ASSERT_FALSE(save_state(dir / "s.json", sample(2, Hard::ok)));
  EXPECT_EQ(load_state(dir / "s.json").status, LoadStatus::ok);
  fs::remove_all(dir);
}

TEST(StateFile, AWriteThatCannotHappenIsAnErrorCode) {
  EXPECT_TRUE(save_state("/nonexistent-dir/portdrift/state.json", sample(1, Hard::ok)));
}

// A child rewrites a large state file as fast as it can, alternating two
// versions; it is killed with SIGKILL at a random moment. Whatever moment,
// the file must be one of the two versions, whole.
TEST(StateFile, SurvivesKill9DuringWrites) {
  const auto dir = temp_dir("kill");
  const auto file = dir / "state.json";
  const auto a = sample(3000, Hard::ok);
  const auto b = sample(3000, Hard::drift);
  ASSERT_FALSE(save_state(file, a));
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay_us(2'000, 60'000);
  int writes_seen = 0;
  for (int round = 0; round < 12; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (std::uint64_t i = 0;; ++i) (void)save_state(file, i % 2 == 0 ? b : a);
    }
    ::usleep(static_cast<useconds_t>(delay_us(rng)));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    const auto r = load_state(file);
    ASSERT_EQ(r.status, LoadStatus::ok) << "round " << round << ": " << r.error;
    ASSERT_EQ(r.state.checks.size(), 3000U);
    const Hard h = r.state.checks.front().hard;
    for (const auto& c : r.state.checks) ASSERT_EQ(c.hard, h) << "a mix of two versions";
    writes_seen += h == Hard::drift ? 1 : 0;
  }
  // The kills landed at different points of the write sequence.
  RecordProperty("rounds_ending_on_version_b", writes_seen);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace portdrift::daemon
