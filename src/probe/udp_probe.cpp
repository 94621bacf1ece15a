// One UDP attempt.
//
// States of the actor: opening (socket, IP_RECVERR, connect) -> sending the
// request -> listening until the deadline -> classified. Each receive waits
// through until() (portdrift/core/deadline.hpp) under the attempt's one
// deadline: a receive the expiry cut short is silence; a datagram that came
// in the same loop pass as the expiry is still read; a cancelled attempt is
// not probed (not_probed()). While listening:
//   - a datagram the payload's parser accepts ends the attempt: open,
//     udp-response (then, for TFTP, an ERROR politely ends the transfer);
//   - a datagram it rejects (another ID, not the protocol) is remembered and
//     we go on listening: a stale or stray answer must not stand for ours;
//   - a receive error means the kernel matched an ICMP error to our datagram:
//     the error queue says which (type/code), classify_icmp turns it into
//     closed/port-unreach or filtered/<reason>.
// The connected socket only ever hears from the target's address and port,
// and it alone receives that port's ICMP errors. The TFTP socket is not
// connected (the server answers from a new port), so it checks the source
// address of each datagram and the destination of each queued error itself.

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "errqueue.hpp"
#include "portdrift/core/deadline.hpp"
#include "portdrift/probe/engine.hpp"
#include "portdrift/probe/udp.hpp"

namespace portdrift::probe {
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::microseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t);
}

// A failure of our own socket calls (connect, send) that is not an answer from the network.
void classify_local(const boost::system::error_code& ec, Observation& o, std::string_view what) {
  switch (ec.value()) {
    case ENETUNREACH: o.state = PortState::filtered; o.reason = Reason::net_unreach; return;
    case EHOSTUNREACH: o.state = PortState::filtered; o.reason = Reason::host_unreach; return;
    case ECONNREFUSED: o.state = PortState::closed; o.reason = Reason::port_unreach; return;
    default:
      o.state = PortState::unknown;
      o.reason = Reason::local_error;
      o.detail = fmt::format("{} failed on this host: {}", what, ec.message());
  }
}

// After a receive error: the ICMP error queued for the socket, if it is about our target.
bool classify_queued(int fd, const udp::endpoint& target, bool connected, Observation& o) {
  while (auto e = detail::pop_error(fd)) {
    if (!connected && (e->destination != target.address() || e->destination_port != target.port())) continue;
    if (e->icmp) {
      detail::classify_icmp(*e->icmp, o.state, o.reason);
      return true;
    }
    if (e->errno_value != 0) {
      classify_local(boost::system::error_code(e->errno_value, boost::system::system_category()), o, "receive");
      return o.state != PortState::unknown;
    }
  }
  return false;
}

payloads::Context context_for(const udp::socket& sock, const udp::endpoint& target, std::uint64_t seed) {
  payloads::Context ctx;
  ctx.v6 = target.address().is_v6();
  ctx.seed = seed;
  boost::system::error_code ec;
  const auto local = sock.local_endpoint(ec);
  if (!ec) {
    ctx.local_port = local.port();
    if (local.address().is_v4()) {
      const auto b = local.address().to_v4().to_bytes();
      std::copy(b.begin(), b.end(), ctx.local.begin());
    } else {
      const auto b = local.address().to_v6().to_bytes();
      std::copy(b.begin(), b.end(), ctx.local.begin());
    }
  }
  return ctx;
}

}  // namespace

asio::awaitable<Observation> udp_attempt(asio::ip::address address, std::uint16_t port,
                                         const payloads::Choice& payload, std::chrono::milliseconds timeout,
                                         std::uint64_t seed, const Source* source) {
  Observation o;
  o.address = address.to_string();
  o.attempts = 1;
  const payloads::Choice choice =
      payload.builtin != nullptr || payload.bytes.has_value() ? payload : payloads::default_choice(port);
  const auto ex = co_await asio::this_coro::executor;
  const udp::endpoint target(address, port);
  udp::socket sock(ex);
  boost::system::error_code ec;
  sock.open(target.protocol(), ec);
  if (ec) {
    o.detail = fmt::format("cannot open a UDP socket: {}", ec.message());
    co_return o;
  }
  const int fd = sock.native_handle();
  detail::enable_recverr(fd, address.is_v6());
  const bool bound = source != nullptr && source->address.has_value();
  if (source != nullptr) {
    if (auto error = bind_source(fd, *source, address.is_v6())) {
      o.detail = std::move(*error);
      co_return o;
    }
  }

  const bool connected =
      choice.builtin == nullptr || choice.builtin->source == payloads::ReplySource::same_port;
  if (connected) {
    sock.connect(target, ec);
  } else if (!bound) {
    sock.bind(udp::endpoint(target.protocol(), 0), ec);
  }
  if (ec) {
    classify_local(ec, o, "connect");
    co_return o;
  }

  // The request. A built-in payload that does not apply here (DHCP over IPv6) falls back to an empty datagram.
  const payloads::Payload* parser = choice.builtin;
  payloads::Bytes request;
  if (parser != nullptr) {
    if (auto built = parser->build(context_for(sock, target, seed))) {
      request = std::move(*built);
    } else {
      parser = nullptr;
    }
  } else if (choice.bytes) {
    request = *choice.bytes;
  }

  const auto start = Clock::now();
  const auto deadline = start + timeout;
  auto [sec, sent] = connected ? co_await sock.async_send(asio::buffer(request), asio::as_tuple(asio::use_awaitable))
                               : co_await sock.async_send_to(asio::buffer(request), target,
                                                             asio::as_tuple(asio::use_awaitable));
  if (sec) {
    if (sec == asio::error::operation_aborted) co_return not_probed(o.address);
    if (!classify_queued(fd, target, connected, o)) classify_local(sec, o, "send");
    if (o.state != PortState::unknown) o.rtt = since(start);
    co_return o;
  }

  std::array<std::uint8_t, 2048> buf{};
  std::string rejected;  // what the first datagram the parser refused was
  for (;;) {
    udp::endpoint from;
    auto [received, expired] =
        connected ? co_await until(deadline, sock.async_receive(asio::buffer(buf), asio::as_tuple(asio::deferred)))
                  : co_await until(deadline, sock.async_receive_from(asio::buffer(buf), from,
                                                                     asio::as_tuple(asio::deferred)));
    auto [rec, n] = received;
    if (rec == asio::error::operation_aborted) {
      if (!expired) co_return not_probed(o.address);  // the attempt itself was cancelled
      break;                                         // the deadline passed: silence
    }
    if (rec) {
      if (!classify_queued(fd, target, connected, o)) {
        if (!connected) {  // an error about some other destination: not ours
          if (expired) break;
          continue;
        }
        classify_local(rec, o, "receive");
      }
      if (o.state != PortState::unknown) o.rtt = since(start);
      co_return o;
    }
    if (!connected && from.address() != address) {  // not from the target at all
      if (expired) break;
      continue;
    }
    const std::span<const std::uint8_t> datagram(buf.data(), n);
    if (parser == nullptr) {
      o.state = PortState::open;
      o.reason = Reason::udp_response;
      o.rtt = since(start);
      o.reply = fmt::format("{} bytes: \"{}\"", n, payloads::bytes_preview(datagram));
      co_return o;
    }
    const auto verdict = parser->check(request, datagram);
    if (verdict.valid) {
      o.state = PortState::open;
      o.reason = Reason::udp_response;
      o.rtt = since(start);
      o.reply = verdict.what;
      if (parser->farewell != nullptr) {
        if (auto bye = parser->farewell(datagram)) {
          boost::system::error_code ignored;
          if (connected) {
            sock.send(asio::buffer(*bye), 0, ignored);
          } else {
            sock.send_to(asio::buffer(*bye), from, 0, ignored);
          }
        }
      }
      co_return o;
    }
    if (rejected.empty()) rejected = fmt::format("{} ({} bytes)", verdict.what, n);
    if (expired) break;  // it came as the deadline passed: listen no longer
  }
  if (!rejected.empty()) {
    // Something listens on the port, just not what this payload expected.
    o.state = PortState::open;
    o.reason = Reason::udp_response;
    o.reply = "unexpected reply: " + rejected;
    co_return o;
  }
  o.state = PortState::open_filtered;
  o.reason = Reason::no_response;
  co_return o;
}

}  // namespace portdrift::probe
