// One TCP connect attempt.
//
// States of the actor: opening the socket -> connecting (a deadline timer
// armed beside it) -> classified. The timer cancels the connect when it
// fires; the connect's own completion then says "aborted", which we read as
// silence. A completed handshake is `open` (syn-ack). A failed connect is
// classified from the ICMP error the kernel queued for the socket
// (IP_RECVERR/IPV6_RECVERR): that is how port-unreach, admin-prohibited,
// host-unreach and net-unreach are told apart, which errno alone cannot do.
// A refusal with nothing queued was a TCP RST (conn-refused).

#include <time.h>  // linux/errqueue.h needs struct timespec
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "icmp_codes.hpp"
#include "portdrift/probe/engine.hpp"

namespace portdrift::probe {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Reads the first ICMP error queued on `fd`, if any.
std::optional<detail::IcmpError> queued_icmp(int fd) {
  std::array<char, 512> control{};
  std::array<char, 64> data{};
  iovec iov{data.data(), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return std::nullopt;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    const bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
    const bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
    if (!v4 && !v6) continue;
    sock_extended_err ee{};
    std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
    if (ee.ee_origin == SO_EE_ORIGIN_ICMP) return detail::IcmpError{false, ee.ee_type, ee.ee_code};
    if (ee.ee_origin == SO_EE_ORIGIN_ICMP6) return detail::IcmpError{true, ee.ee_type, ee.ee_code};
  }
  return std::nullopt;
}

void classify_errno(const boost::system::error_code& ec, Observation& o) {
  switch (ec.value()) {
    case ECONNREFUSED: o.state = PortState::closed; o.reason = Reason::conn_refused; return;
    case ENETUNREACH: o.state = PortState::filtered; o.reason = Reason::net_unreach; return;
    case EHOSTUNREACH: o.state = PortState::filtered; o.reason = Reason::host_unreach; return;
    case ETIMEDOUT: o.state = PortState::filtered; o.reason = Reason::no_response; return;
    default:
      o.state = PortState::unknown;
      o.reason = Reason::local_error;
      o.detail = fmt::format("connect failed on this host: {}", ec.message());
  }
}

}  // namespace

asio::awaitable<Observation> tcp_attempt(asio::ip::address address, std::uint16_t port,
                                         std::chrono::milliseconds timeout) {
  Observation o;
  o.address = address.to_string();
  o.attempts = 1;
  const auto ex = co_await asio::this_coro::executor;
  const tcp::endpoint ep(address, port);
  tcp::socket sock(ex);
  boost::system::error_code ec;
  sock.open(ep.protocol(), ec);
  if (ec) {
    o.detail = fmt::format("cannot open a socket: {}", ec.message());
    co_return o;
  }
  const int on = 1;
  const int fd = sock.native_handle();
  if (address.is_v4()) {
    ::setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof on);
  } else {
    ::setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
  }

  asio::steady_timer deadline(ex, timeout);
  bool timed_out = false;
  deadline.async_wait([&sock, &timed_out](const boost::system::error_code& e) {
    if (!e) {
      timed_out = true;
      boost::system::error_code ignored;
      sock.cancel(ignored);
    }
  });
  const auto start = std::chrono::steady_clock::now();
  auto [cec] = co_await sock.async_connect(ep, asio::as_tuple(asio::use_awaitable));
  const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  deadline.cancel();

  if (!cec) {
    o.state = PortState::open;
    o.reason = Reason::syn_ack;
    o.rtt = elapsed;
    sock.close(ec);
    co_return o;
  }
  if (timed_out || cec == asio::error::operation_aborted) {
    o.state = PortState::filtered;
    o.reason = Reason::no_response;
    co_return o;
  }
  if (auto icmp = queued_icmp(fd)) {
    detail::classify_icmp(*icmp, o.state, o.reason);
  } else {
    classify_errno(cec, o);
  }
  if (o.state != PortState::unknown) o.rtt = elapsed;
  co_return o;
}

}  // namespace portdrift::probe
