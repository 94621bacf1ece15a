#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include "portdrift/probe/engine.hpp"
#include "portdrift/probe/resolve.hpp"
#include "portdrift/probe/source.hpp"

namespace portdrift::probe {
namespace {
namespace asio = boost::asio;

TEST(Source, AddressesAndInterfacesOfThisMachineOnly) {
  EXPECT_TRUE(find_source("").ok());
  EXPECT_TRUE(find_source("").source.empty());
  const auto lo = find_source("127.0.0.1");
  ASSERT_TRUE(lo.ok()) << lo.error;
  EXPECT_EQ(lo.source.address->to_string(), "127.0.0.1");
  EXPECT_TRUE(find_source("lo").ok());
  EXPECT_EQ(find_source("lo").source.interface, "lo");
  // 192.0.2.0/24 is TEST-NET-1: never assigned here (and never probed: this only asks getifaddrs).
  const auto absent = find_source("192.0.2.77");
  EXPECT_FALSE(absent.ok());
  EXPECT_NE(absent.error.find("not assigned to any interface"), std::string::npos) << absent.error;
  EXPECT_FALSE(find_source("nosuchif0").ok());
}

TEST(Source, FamilyMismatchIsAnErrorResultNotACrash) {
  const auto lo = find_source("127.0.0.1");
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const auto error = bind_source(fd, lo.source, true);
  ::close(fd);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("IPv4"), std::string::npos);

  asio::io_context io;
  asio::ip::tcp::acceptor v6(io, asio::ip::tcp::endpoint(asio::ip::make_address("::1"), 0));
  v6.listen();
  auto f = asio::co_spawn(io, tcp_attempt(asio::ip::make_address("::1"), v6.local_endpoint().port(),
                                          std::chrono::milliseconds(500), &lo.source),
                          asio::use_future);
  io.run();
  const auto o = f.get();
  EXPECT_EQ(o.state, PortState::unknown);
  EXPECT_EQ(o.reason, Reason::local_error);
}

TEST(Source, ProbesLeaveFromTheBoundAddress) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  acceptor.listen();
  // 127.0.0.1 is on lo; the probe binds it, and the listener sees it as the peer.
  const auto src = find_source("127.0.0.1");
  std::vector<Target> targets = {Target{asio::ip::make_address("127.0.0.1"), acceptor.local_endpoint().port()}};
  targets[0].source = &src.source;
  auto f = asio::co_spawn(io, probe_all(targets, Settings{}), asio::use_future);
  io.run();
  const auto obs = f.get();
  ASSERT_EQ(obs.size(), 1U);
  EXPECT_EQ(obs[0].state, PortState::open);
  asio::ip::tcp::socket peer(io);
  acceptor.accept(peer);
  EXPECT_EQ(peer.remote_endpoint().address().to_string(), "127.0.0.1");
}

TEST(Resolve, AddressesAreSortedAndDeduplicated) {
  Resolution r;
  for (const char* a : {"2001:2::2", "198.18.0.9", "2001:2::1", "198.18.0.1", "198.18.0.9"}) {
    r.addresses.push_back(asio::ip::make_address(a));
  }
  normalize(r);
  EXPECT_EQ(r.texts, (std::vector<std::string>{"198.18.0.1", "198.18.0.9", "2001:2::1", "2001:2::2"}));
}

}  // namespace
}  // namespace portdrift::probe
