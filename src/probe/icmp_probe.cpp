// ICMP echo checks.
//
// States of the actor: opening a socket (datagram, else raw, else a clear
// error) -> sending `count` echo requests `interval` apart while listening ->
// listening until `timeout` after the last request (or until every request
// is answered) -> summarised. One socket per check. Waiting is one
// readable wait per step under until() (portdrift/core/deadline.hpp), up to
// the next send time or the deadline, so both are explicit; a cancelled
// check ends at once as not probed (not_probed()).
//
// Matching replies to requests:
//   - identifier: a datagram socket's identifier is its local "port", chosen
//     by the kernel, which hands each socket only the replies carrying it; a
//     raw socket sees every ICMP message of the namespace, so it uses a
//     random identifier and drops replies that do not carry it;
//   - sequence: the request's index; a second reply to it is a duplicate and
//     is not counted;
//   - payload: 16 random bytes per check, which the reply must echo.
// An ICMP error about our request (host unreachable from a router, an
// administratively prohibited filter) is read from the error queue on a
// datagram socket (IP_RECVERR) and from the quoted header inside the error
// on a raw socket; it makes the host `down` with that reason unless a reply
// came too.

#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <span>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "errqueue.hpp"
#include "portdrift/core/deadline.hpp"
#include "portdrift/probe/engine.hpp"
#include "portdrift/probe/icmp.hpp"

namespace portdrift::probe {
namespace asio = boost::asio;

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint8_t kEchoRequest4 = 8;
constexpr std::uint8_t kEchoReply4 = 0;
constexpr std::uint8_t kEchoRequest6 = 128;
constexpr std::uint8_t kEchoReply6 = 129;
constexpr std::size_t kCookie = 16;

enum class Kind { datagram, raw };

struct Opened {
  int fd = -1;
  Kind kind = Kind::datagram;
  std::string error;  // when fd < 0
};

std::string ping_group_range() {
  std::ifstream f("/proc/sys/net/ipv4/ping_group_range");
  std::string lo;
  std::string hi;
  if (!(f >> lo >> hi)) return "unreadable";
  return lo + " " + hi;
}

Opened open_socket(bool v6, EchoSocket mode) {
  const int family = v6 ? AF_INET6 : AF_INET;
  const int proto = v6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP);
  int dgram_errno = 0;
  if (mode != EchoSocket::raw) {
    const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd >= 0) return {fd, Kind::datagram, {}};
    dgram_errno = errno;
  }
  int raw_errno = 0;
  if (mode != EchoSocket::datagram) {
    const int fd = ::socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd >= 0) return {fd, Kind::raw, {}};
    raw_errno = errno;
  }
  Opened o;
  if (mode == EchoSocket::raw) {
    o.error = fmt::format("cannot open a raw ICMP socket: {} (it needs CAP_NET_RAW)", std::strerror(raw_errno));
  } else if (mode == EchoSocket::datagram) {
    o.error = fmt::format("cannot open an ICMP datagram socket: {} (net.ipv4.ping_group_range is \"{}\", gid {})",
                          std::strerror(dgram_errno), ping_group_range(), ::getgid());
  } else {
    o.error = fmt::format(
        "cannot send ICMP echo requests: an unprivileged ICMP socket is not allowed ({}: group {} is not in "
        "net.ipv4.ping_group_range \"{}\") and a raw socket needs CAP_NET_RAW ({}); grant one of them: "
        "sysctl -w net.ipv4.ping_group_range=\"{} {}\", or CAP_NET_RAW (AmbientCapabilities=CAP_NET_RAW)",
        std::strerror(dgram_errno), ::getgid(), ping_group_range(), std::strerror(raw_errno), ::getgid(),
        ::getgid());
  }
  return o;
}

std::uint16_t checksum(std::span<const std::uint8_t> data) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < data.size(); i += 2) sum += static_cast<std::uint32_t>((data[i] << 8) | data[i + 1]);
  if (data.size() % 2 != 0) sum += static_cast<std::uint32_t>(data.back() << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::uint16_t get16(std::span<const std::uint8_t> v, std::size_t at) {
  return static_cast<std::uint16_t>((v[at] << 8) | v[at + 1]);
}

class Echo {
 public:
  Echo(int fd, Kind kind, const asio::ip::address& target, const EchoOptions& opt)
      : fd_(fd), kind_(kind), target_(target), v6_(target.is_v6()), opt_(opt), sent_at_(opt.count),
        answered_(opt.count, false) {
    std::random_device rd;
    for (auto& b : cookie_) b = static_cast<std::uint8_t>(rd());
    id_ = static_cast<std::uint16_t>(rd());
    if (kind_ == Kind::datagram) {
      // The kernel puts the socket's identifier ("port") into our requests; bind picks one now.
      sockaddr_storage ss{};
      socklen_t len = 0;
      if (v6_) {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
        s6->sin6_family = AF_INET6;
        len = sizeof(sockaddr_in6);
      } else {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
        s4->sin_family = AF_INET;
        len = sizeof(sockaddr_in);
      }
      ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len);
      len = sizeof ss;
      if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        id_ = ntohs(v6_ ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
      }
      detail::enable_recverr(fd_, v6_);
    } else if (v6_) {
      icmp6_filter filter;
      ICMP6_FILTER_SETBLOCKALL(&filter);
      ICMP6_FILTER_SETPASS(kEchoReply6, &filter);
      ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filter);
      ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &filter);
      ::setsockopt(fd_, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
    }
  }

  bool send(std::uint32_t seq, std::string& error) {
    std::vector<std::uint8_t> pkt{static_cast<std::uint8_t>(v6_ ? kEchoRequest6 : kEchoRequest4), 0, 0, 0};
    pkt.push_back(static_cast<std::uint8_t>(id_ >> 8));
    pkt.push_back(static_cast<std::uint8_t>(id_ & 0xff));
    pkt.push_back(static_cast<std::uint8_t>((seq >> 8) & 0xff));
    pkt.push_back(static_cast<std::uint8_t>(seq & 0xff));
    pkt.insert(pkt.end(), cookie_.begin(), cookie_.end());
    if (kind_ == Kind::raw && !v6_) {  // the kernel fills in the checksum for the other three kinds
      const auto sum = checksum(pkt);
      pkt[2] = static_cast<std::uint8_t>(sum >> 8);
      pkt[3] = static_cast<std::uint8_t>(sum & 0xff);
    }
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6_) {
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
      s6->sin6_family = AF_INET6;
      const auto b = target_.to_v6().to_bytes();
      std::memcpy(&s6->sin6_addr, b.data(), b.size());
      s6->sin6_scope_id = static_cast<std::uint32_t>(target_.to_v6().scope_id());
      len = sizeof(sockaddr_in6);
    } else {
      auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
      s4->sin_family = AF_INET;
      const auto b = target_.to_v4().to_bytes();
      std::memcpy(&s4->sin_addr, b.data(), b.size());
      len = sizeof(sockaddr_in);
    }
    sent_at_[seq] = Clock::now();
    if (::sendto(fd_, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      const int e = errno;
      if (e == ENETUNREACH || e == EHOSTUNREACH) {  // no route here: an answer of sorts, about the host
        error_reason_ = e == ENETUNREACH ? Reason::net_unreach : Reason::host_unreach;
        return true;
      }
      if (e == ECONNREFUSED || e == EAGAIN) return true;  // a queued error reported early, or a full buffer: lost
      error = fmt::format("cannot send an ICMP echo request: {}", std::strerror(e));
      return false;
    }
    return true;
  }

  // Reads everything waiting on the socket.
  void drain() {
    while (auto e = detail::pop_error(fd_)) {
      if (e->icmp) {
        PortState ignored;
        Reason r;
        detail::classify_icmp(*e->icmp, ignored, r);
        error_reason_ = r;
      } else if (e->errno_value == EHOSTUNREACH) {
        error_reason_ = Reason::host_unreach;
      } else if (e->errno_value == ENETUNREACH) {
        error_reason_ = Reason::net_unreach;
      }
    }
    std::array<std::uint8_t, 1500> buf{};
    for (;;) {
      sockaddr_storage from{};
      socklen_t len = sizeof from;
      const auto n = ::recvfrom(fd_, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN, or a pending error already taken from the queue above
      }
      const auto now = Clock::now();
      std::span<const std::uint8_t> pkt(buf.data(), static_cast<std::size_t>(n));
      if (!from_target(from)) {
        if (kind_ == Kind::raw) raw_error(pkt, from);
        continue;
      }
      if (kind_ == Kind::raw && !v6_) {  // a raw IPv4 socket hands us the IP header too
        if (pkt.empty()) continue;
        const std::size_t ihl = static_cast<std::size_t>(pkt[0] & 0x0f) * 4;
        if (ihl < 20 || pkt.size() < ihl) continue;
        pkt = pkt.subspan(ihl);
      }
      if (pkt.size() < 8) continue;
      if (pkt[0] != static_cast<std::uint8_t>(v6_ ? kEchoReply6 : kEchoReply4)) {
        if (kind_ == Kind::raw) raw_error(pkt, from, true);
        continue;
      }
      if (get16(pkt, 4) != id_) continue;
      const std::uint32_t seq = get16(pkt, 6);
      if (seq >= sent_ || answered_[seq]) continue;  // not ours, or a duplicate
      if (pkt.size() < 8 + kCookie || std::memcmp(pkt.data() + 8, cookie_.data(), kCookie) != 0) continue;
      answered_[seq] = true;
      rtts_.push_back(std::chrono::duration_cast<std::chrono::microseconds>(now - sent_at_[seq]));
    }
  }

  void mark_sent(std::uint32_t n) { sent_ = n; }
  [[nodiscard]] std::size_t received() const noexcept { return rtts_.size(); }

  Observation result() const {
    Observation o;
    o.address = target_.to_string();
    o.attempts = sent_;
    EchoStats s;
    s.sent = sent_;
    s.received = static_cast<std::uint32_t>(rtts_.size());
    if (!rtts_.empty()) {
      std::chrono::microseconds total{0};
      s.rtt_min = rtts_.front();
      s.rtt_max = rtts_.front();
      for (auto r : rtts_) {
        total += r;
        s.rtt_min = std::min(s.rtt_min, r);
        s.rtt_max = std::max(s.rtt_max, r);
      }
      s.rtt_avg = total / static_cast<std::int64_t>(rtts_.size());
      o.state = PortState::up;
      o.reason = Reason::echo_reply;
      o.rtt = s.rtt_avg;
    } else {
      o.state = PortState::down;
      o.reason = error_reason_.value_or(Reason::no_response);
    }
    o.echo = s;
    o.reply = fmt::format("{} of {} echo requests answered, sent from {}", s.received, s.sent,
                          kind_ == Kind::datagram ? "an unprivileged ICMP socket" : "a raw socket (CAP_NET_RAW)");
    return o;
  }

 private:
  bool from_target(const sockaddr_storage& from) const {
    if (v6_) {
      if (from.ss_family != AF_INET6) return false;
      const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&from);
      return std::memcmp(&s6->sin6_addr, target_.to_v6().to_bytes().data(), 16) == 0;
    }
    if (from.ss_family != AF_INET) return false;
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&from);
    return std::memcmp(&s4->sin_addr, target_.to_v4().to_bytes().data(), 4) == 0;
  }

  // A raw socket sees ICMP errors as packets: destination unreachable or time
  // exceeded quoting our echo request (to our target, with our identifier).
  void raw_error(std::span<const std::uint8_t> pkt, const sockaddr_storage& /*from*/, bool stripped = false) {
    if (!v6_ && !stripped) {
      if (pkt.empty()) return;
      const std::size_t ihl = static_cast<std::size_t>(pkt[0] & 0x0f) * 4;
      if (ihl < 20 || pkt.size() < ihl) return;
      pkt = pkt.subspan(ihl);
    }
    if (pkt.size() < 8) return;
    const std::uint8_t type = pkt[0];
    const std::uint8_t code = pkt[1];
    const auto quoted = pkt.subspan(8);
    if (v6_) {
      if (type != ICMP6_DST_UNREACH && type != ICMP6_TIME_EXCEEDED) return;
      if (quoted.size() < 40 + 8 || quoted[6] != IPPROTO_ICMPV6) return;
      if (std::memcmp(quoted.data() + 24, target_.to_v6().to_bytes().data(), 16) != 0) return;
      const auto echo = quoted.subspan(40);
      if (echo[0] != kEchoRequest6 || get16(echo, 4) != id_) return;
    } else {
      if (type != 3 && type != 11) return;
      if (quoted.size() < 20) return;
      const std::size_t ihl = static_cast<std::size_t>(quoted[0] & 0x0f) * 4;
      if (ihl < 20 || quoted.size() < ihl + 8 || quoted[9] != IPPROTO_ICMP) return;
      if (std::memcmp(quoted.data() + 16, target_.to_v4().to_bytes().data(), 4) != 0) return;
      const auto echo = quoted.subspan(ihl);
      if (echo[0] != kEchoRequest4 || get16(echo, 4) != id_) return;
    }
    PortState ignored;
    Reason r;
    detail::classify_icmp(detail::IcmpError{v6_, type, code}, ignored, r);
    error_reason_ = r;
  }

  int fd_;
  Kind kind_;
  asio::ip::address target_;
  bool v6_;
  EchoOptions opt_;
  std::array<std::uint8_t, kCookie> cookie_{};
  std::uint16_t id_ = 0;
  std::vector<Clock::time_point> sent_at_;
  std::vector<bool> answered_;
  std::uint32_t sent_ = 0;
  std::vector<std::chrono::microseconds> rtts_;
  std::optional<Reason> error_reason_;
};

}  // namespace

asio::awaitable<Observation> icmp_echo(asio::ip::address address, EchoOptions options) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  options.count = std::clamp<std::uint32_t>(options.count, 1, 100);
  const auto ex = co_await asio::this_coro::executor;
  auto opened = open_socket(address.is_v6(), options.socket);
  if (opened.fd < 0) {
    Observation o;
    o.address = address.to_string();
    o.state = PortState::unknown;
    o.reason = Reason::local_error;
    o.detail = opened.error;
    co_return o;
  }
  asio::posix::stream_descriptor sock(ex, opened.fd);  // owns and closes the descriptor
  if (options.source != nullptr) {
    // Bound before Echo binds for its identifier: a datagram socket bound to
    // source:0 gets its identifier here, and Echo's own bind then just fails.
    if (auto error = bind_source(opened.fd, *options.source, address.is_v6())) {
      Observation o;
      o.address = address.to_string();
      o.detail = std::move(*error);
      co_return o;
    }
  }
  Echo echo(opened.fd, opened.kind, address, options);

  std::uint32_t sent = 0;
  auto next_send = Clock::now();
  Clock::time_point deadline = Clock::time_point::max();
  for (;;) {
    const auto now = Clock::now();
    if (sent < options.count && now >= next_send) {
      std::string error;
      echo.mark_sent(sent + 1);
      if (!echo.send(sent, error)) {
        Observation o;
        o.address = address.to_string();
        o.detail = error;
        co_return o;
      }
      ++sent;
      next_send += options.interval;
      if (sent == options.count) deadline = Clock::now() + options.timeout;
      continue;
    }
    if (sent == options.count && (echo.received() == sent || now >= deadline)) break;
    // Wait for a datagram, or until the next send or the deadline.
    auto [waited, expired] = co_await until(sent < options.count ? next_send : deadline,
                                            sock.async_wait(asio::posix::descriptor_base::wait_read,
                                                            asio::as_tuple(asio::deferred)));
    auto [wec] = waited;
    if (wec == asio::error::operation_aborted && !expired) co_return not_probed(address.to_string());
    if (!wec) echo.drain();
  }
  echo.drain();
  co_return echo.result();
}

}  // namespace portdrift::probe
