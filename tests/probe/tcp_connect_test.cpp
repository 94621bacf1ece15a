// One connect, its classification, and recycling its socket, on loopback.

#include <gtest/gtest.h>

#include <poll.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "probe/tcp_connect.hpp"

namespace portdrift::probe::detail {
namespace {
namespace asio = boost::asio;
using asio::ip::tcp;

Observation wait_and_finish(int fd, const tcp::endpoint& ep) {
  pollfd p{fd, POLLOUT, 0};
  EXPECT_EQ(::poll(&p, 1, 2000), 1);
  return finish_connect(fd, ep, std::chrono::microseconds(1));
}

// A socket refused by an RST is recycled and connects again, and its next
// result is its own (no error left over from the refusal); a completed
// handshake is never recycled, so the service sees an orderly close.
TEST(TcpConnect, RefusedSocketsAreRecycledOpenOnesAreNot) {
  asio::io_context io;
  tcp::acceptor open(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  open.listen(16);
  tcp::acceptor gone(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const tcp::endpoint closed_ep = gone.local_endpoint();
  gone.close();
  const tcp::endpoint open_ep = open.local_endpoint();

  auto first = start_connect(closed_ep);
  ASSERT_FALSE(first.done);
  const int fd = first.fd;
  auto refused = wait_and_finish(fd, closed_ep);
  EXPECT_EQ(refused.reason, Reason::conn_refused);
  ASSERT_TRUE(recycle(fd, refused));

  for (int round = 0; round < 3; ++round) {
    auto again = start_connect(closed_ep, fd);
    ASSERT_FALSE(again.done);
    EXPECT_EQ(again.fd, fd) << "the recycled socket is used";
    auto o = wait_and_finish(fd, closed_ep);
    EXPECT_EQ(o.reason, Reason::conn_refused);
    ASSERT_TRUE(recycle(fd, o));
  }
  auto to_open = start_connect(open_ep, fd);
  ASSERT_FALSE(to_open.done);
  auto o = wait_and_finish(fd, open_ep);
  EXPECT_EQ(o.state, PortState::open);
  EXPECT_EQ(o.reason, Reason::syn_ack);
  EXPECT_FALSE(recycle(fd, o));
  ::close(fd);
}

// Silence ends with the socket recycled while its SYN is unanswered; the
// next connect on it must not inherit that attempt's reset.
TEST(TcpConnect, ASocketRecycledBeforeAnyAnswerStartsClean) {
  asio::io_context io;
  tcp::acceptor open(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  open.listen(16);
  const tcp::endpoint open_ep = open.local_endpoint();
  auto first = start_connect(open_ep);
  ASSERT_FALSE(first.done);
  // Abandoned without reading its answer, as a deadline does.
  ASSERT_TRUE(recycle(first.fd, silent_connect()));
  auto again = start_connect(open_ep, first.fd);
  ASSERT_FALSE(again.done);
  auto o = wait_and_finish(again.fd, open_ep);
  EXPECT_EQ(o.state, PortState::open) << o.detail;
  ::close(again.fd);
}

}  // namespace
}  // namespace portdrift::probe::detail
