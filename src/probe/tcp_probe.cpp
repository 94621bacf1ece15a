// One TCP connect attempt.
//
// States of the actor: opening the socket -> connecting (non-blocking
// connect, then waiting for writability under until(), the one deadline of
// portdrift/core/deadline.hpp) -> classified. A wait the expiry cut short is
// silence; a cancelled attempt is not probed (not_probed()). A connect that
// fails at once (no route) is classified without waiting. A completed handshake is `open` (syn-ack). A failed connect is
// classified from the ICMP error the kernel queued for the socket
// (IP_RECVERR/IPV6_RECVERR): that is how port-unreach, admin-prohibited,
// host-unreach and net-unreach are told apart, which errno alone cannot do.
// A refusal with nothing queued was a TCP RST (conn-refused).

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "errqueue.hpp"
#include "portdrift/core/deadline.hpp"
#include "icmp_codes.hpp"
#include "tcp_connect.hpp"
#include "portdrift/probe/engine.hpp"

namespace portdrift::probe {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

using detail::IcmpError;

// The ICMP error queued on `fd` for a packet to `ep`, if any. Entries about
// other destinations (a recycled socket's earlier connect) are skipped.
std::optional<IcmpError> queued_icmp(int fd, const tcp::endpoint& ep) {
  for (int i = 0; i < 8; ++i) {
    auto e = detail::pop_error(fd);
    if (!e) return std::nullopt;
    const bool ours = !e->destination || (*e->destination == ep.address() && e->destination_port == ep.port());
    if (ours && e->icmp) return e->icmp;
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

namespace detail {

ConnectStart start_connect(const tcp::endpoint& ep, int idle_fd, const Source* source) {
  ConnectStart out;
  // Non-blocking at birth and connected here rather than through
  // async_connect, which would add an ioctl and a poll per probe.
  int fd = idle_fd;
  if (fd < 0) {
    fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      out.done.emplace();
      out.done->attempts = 1;
      out.done->detail = fmt::format("cannot open a socket: {}", std::strerror(errno));
      return out;
    }
    detail::enable_recverr(fd, !ep.address().is_v4());
    if (source != nullptr) {
      if (auto error = bind_source(fd, *source, !ep.address().is_v4())) {
        ::close(fd);
        out.done.emplace();
        out.done->attempts = 1;
        out.done->detail = std::move(*error);
        return out;
      }
    }
  }
  if (::connect(fd, ep.data(), static_cast<socklen_t>(ep.size())) == 0 || errno == EINPROGRESS) {
    out.fd = fd;
    return out;
  }
  Observation o;
  o.attempts = 1;
  classify_errno(boost::system::error_code(errno, boost::system::system_category()), o);  // e.g. no route
  if (o.state != PortState::unknown) o.rtt = std::chrono::microseconds(0);
  ::close(fd);
  out.done = std::move(o);
  return out;
}

Observation finish_connect(int fd, const tcp::endpoint& ep, std::chrono::microseconds elapsed) {
  Observation o;
  o.attempts = 1;
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) {
    o.state = PortState::open;
    o.reason = Reason::syn_ack;
  } else if (auto icmp = queued_icmp(fd, ep)) {
    classify_icmp(*icmp, o.state, o.reason);
  } else {
    classify_errno(boost::system::error_code(err, boost::system::system_category()), o);
  }
  if (o.state != PortState::unknown) o.rtt = elapsed;
  return o;
}

bool recycle(int fd, const Observation& o) noexcept {
  const bool clean = o.reason == Reason::conn_refused || o.reason == Reason::no_response;
  if (!clean) return false;
  // connect(AF_UNSPEC) is Linux's disconnect: back to CLOSE, local port released.
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  return ::connect(fd, &unspec, sizeof unspec) == 0;
}

Observation silent_connect() {
  Observation o;
  o.attempts = 1;
  o.state = PortState::filtered;
  o.reason = Reason::no_response;
  return o;
}

}  // namespace detail

asio::awaitable<Observation> tcp_attempt(asio::ip::address address, std::uint16_t port,
                                         std::chrono::milliseconds timeout, const Source* source) {
  const auto start = std::chrono::steady_clock::now();
  auto begun = detail::start_connect(tcp::endpoint(address, port), -1, source);
  if (begun.done) co_return std::move(*begun.done);
  tcp::socket sock(co_await asio::this_coro::executor);
  boost::system::error_code ec;
  sock.assign(address.is_v4() ? tcp::v4() : tcp::v6(), begun.fd, ec);
  if (ec) {
    ::close(begun.fd);
    Observation o;
    o.attempts = 1;
    o.detail = fmt::format("cannot watch the socket: {}", ec.message());
    co_return o;
  }
  auto [waited, expired] =
      co_await until(start + timeout, sock.async_wait(tcp::socket::wait_write, asio::as_tuple(asio::deferred)));
  auto [wec] = waited;
  if (wec == asio::error::operation_aborted) {
    if (expired) co_return detail::silent_connect();
    co_return not_probed(address.to_string());
  }
  auto o = detail::finish_connect(
      begun.fd, tcp::endpoint(address, port),
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start));
  sock.close(ec);
  co_return o;
}

}  // namespace portdrift::probe
