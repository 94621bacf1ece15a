// The TCP fast path's own epoll set, on loopback sockets.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "probe/tcp_poller.hpp"

namespace portdrift::probe::detail {
namespace {
namespace asio = boost::asio;
using asio::ip::tcp;

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  return fd;
}

// Each watched socket is reported with its token once; a socket closed
// before the loop runs is not reported at all (close() takes it out of the
// set); nothing is reported twice although the poller is level-triggered,
// because the owner closes what it is told about.
TEST(TcpPoller, ReportsEachWatchedSocketOnceAndForgetsClosedOnes) {
  asio::io_context io;
  tcp::acceptor open(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  open.listen(1024);
  tcp::acceptor gone(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto closed_port = gone.local_endpoint().port();
  gone.close();

  TcpPoller poller(io.get_executor());
  constexpr std::uint64_t kSockets = 600;  // more than one epoll_wait batch
  std::vector<int> fds;
  for (std::uint64_t i = 0; i < kSockets; ++i) {
    fds.push_back(connect_to(i % 2 == 0 ? open.local_endpoint().port() : closed_port));
    ASSERT_FALSE(poller.watch(fds.back(), i << 32 | i)) << i;
  }
  for (std::uint64_t i = 0; i < kSockets; i += 3) {
    ::close(fds[i]);
    fds[i] = -1;
  }
  std::vector<int> seen(kSockets, 0);
  poller.start([&](std::uint64_t token) {
    const auto i = token & 0xffffffffU;
    ASSERT_EQ(token >> 32, i);
    ASSERT_NE(fds[i], -1) << "a closed socket was reported";
    ++seen[i];
    ::close(fds[i]);
    fds[i] = -1;
  });
  asio::steady_timer stop(io, std::chrono::milliseconds(300));
  stop.async_wait([&](const boost::system::error_code&) { poller.cancel(); });
  io.run();
  for (std::uint64_t i = 0; i < kSockets; ++i) EXPECT_EQ(seen[i], i % 3 == 0 ? 0 : 1) << i;
}

TEST(TcpPoller, WatchingSomethingThatIsNotOpenFails) {
  asio::io_context io;
  TcpPoller poller(io.get_executor());
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ::close(fd);
  EXPECT_TRUE(poller.watch(fd, 1));
}

}  // namespace
}  // namespace portdrift::probe::detail
