// sd_notify and the journal's native protocol, asserted through real unix
// datagram sockets that the tests bind themselves.

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>

#include <spdlog/logger.h>

#include "datagram_socket.hpp"
#include "portdrift/daemon/log.hpp"
#include "portdrift/daemon/systemd.hpp"

namespace portdrift::daemon {
namespace {

using testing::DatagramSocket;

std::string temp_socket(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / (name + std::to_string(::getpid()) + ".sock")).string();
}

TEST(Notify, SendsStatesToTheSocketItIsGiven) {
  DatagramSocket sock(temp_socket("notify"));
  Notifier n(sock.path());
  ASSERT_TRUE(n.enabled());
  EXPECT_FALSE(n.notify("READY=1\nSTATUS=3 checks, 0 drifting"));
  EXPECT_EQ(sock.receive(), "READY=1\nSTATUS=3 checks, 0 drifting");
  EXPECT_FALSE(n.notify("STOPPING=1"));
  EXPECT_EQ(sock.receive(), "STOPPING=1");
}

TEST(Notify, AbstractNamespaceSocket) {
  DatagramSocket sock("@portdrift-test-" + std::to_string(::getpid()));
  Notifier n(sock.path());
  EXPECT_FALSE(n.notify("WATCHDOG=1"));
  EXPECT_EQ(sock.receive(), "WATCHDOG=1");
}

TEST(Notify, DisabledIsANoOpAndAMissingSocketIsAnError) {
  EXPECT_FALSE(Notifier{}.enabled());
  EXPECT_FALSE(Notifier{}.notify("READY=1"));
  EXPECT_TRUE(Notifier(temp_socket("nobody-listens")).notify("READY=1"));
}

TEST(Notify, AReceiverThatNeverReadsCannotBlockTheSender) {
  DatagramSocket sock(temp_socket("stalled"));
  Notifier n(sock.path());
  const auto t0 = std::chrono::steady_clock::now();
  int refused = 0;
  for (int i = 0; i < 200; ++i) refused += n.notify("WATCHDOG=1") ? 1 : 0;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_GT(refused, 0);  // the queue filled (net.unix.max_dgram_qlen), and the sends failed rather than waited
  EXPECT_EQ(sock.receive(), "WATCHDOG=1");
}

TEST(Notify, WatchdogIntervalIsHalfTheTimeoutForThisPidOnly) {
  EXPECT_EQ(watchdog_interval("30000000", nullptr, 42), std::chrono::seconds(15));
  EXPECT_EQ(watchdog_interval("30000000", "42", 42), std::chrono::seconds(15));
  EXPECT_FALSE(watchdog_interval("30000000", "43", 42));
  EXPECT_FALSE(watchdog_interval(nullptr, "42", 42));
  EXPECT_FALSE(watchdog_interval("0", nullptr, 42));
  EXPECT_FALSE(watchdog_interval("30s", nullptr, 42));
}

TEST(Journal, EntrySerialization) {
  const Field plain[] = {{"MESSAGE", "hello"}, {"PORTDRIFT_PORT", "443"}};
  EXPECT_EQ(journal_entry(plain), "MESSAGE=hello\nPORTDRIFT_PORT=443\n");
  const Field multi[] = {{"MESSAGE", "a\nb"}};
  EXPECT_EQ(journal_entry(multi), std::string("MESSAGE\n\x03\0\0\0\0\0\0\0a\nb\n", 20));
}

std::map<std::string, std::string> parse_entry(const std::string& datagram) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos < datagram.size()) {
    const auto nl = datagram.find('\n', pos);
    const auto line = datagram.substr(pos, nl - pos);
    const auto eq = line.find('=');
    out[line.substr(0, eq)] = line.substr(eq + 1);
    pos = nl + 1;
  }
  return out;
}

TEST(Journal, EventsCarryStructuredFields) {
  DatagramSocket sock(temp_socket("journal"));
  auto sink = std::make_shared<JournalSink>(sock.path(), "portdrift-test");
  spdlog::logger log("portdrift", sink);
  const Field fields[] = {{"PORTDRIFT_HOST", "ns1"}, {"PORTDRIFT_PORT", "443"}, {"PORTDRIFT_OBSERVED", "filtered"}};
  log_event(log, spdlog::level::err, "DRIFT ns1 198.18.1.1 tcp/443: expected open, observed filtered", fields);
  auto e = parse_entry(sock.receive());
  EXPECT_EQ(e["MESSAGE"], "DRIFT ns1 198.18.1.1 tcp/443: expected open, observed filtered");
  EXPECT_EQ(e["PRIORITY"], "3");
  EXPECT_EQ(e["SYSLOG_IDENTIFIER"], "portdrift-test");
  EXPECT_EQ(e["PORTDRIFT_HOST"], "ns1");
  EXPECT_EQ(e["PORTDRIFT_PORT"], "443");
  EXPECT_EQ(e["PORTDRIFT_OBSERVED"], "filtered");
  // An ordinary line: message and priority only.
  log.info("summary: 2 checks, 0 drifting");
  e = parse_entry(sock.receive());
  EXPECT_EQ(e["MESSAGE"], "summary: 2 checks, 0 drifting");
  EXPECT_EQ(e["PRIORITY"], "6");
  EXPECT_EQ(e.count("PORTDRIFT_HOST"), 0U);
  // Below the level: nothing is sent.
  log.set_level(spdlog::level::info);
  log_event(log, spdlog::level::debug, "probe ...", fields);
  log.info("next");
  EXPECT_EQ(parse_entry(sock.receive())["MESSAGE"], "next");
}

TEST(Journal, StderrIsJournalOnlyWhenDeviceAndInodeMatch) {
  EXPECT_FALSE(stderr_is_journal(nullptr));
  EXPECT_FALSE(stderr_is_journal("garbage"));
  EXPECT_FALSE(stderr_is_journal("1:1"));
}

}  // namespace
}  // namespace portdrift::daemon
