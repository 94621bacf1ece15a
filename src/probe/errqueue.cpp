#include "errqueue.hpp"

#include <time.h>  // linux/errqueue.h needs struct timespec
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace portdrift::probe::detail {

bool enable_recverr(int fd, bool v6) noexcept {
  const int on = 1;
  return v6 ? ::setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof on) == 0
            : ::setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof on) == 0;
}

std::optional<QueuedError> pop_error(int fd) noexcept {
  std::array<char, 512> control{};
  std::array<char, 64> data{};
  sockaddr_storage name{};
  iovec iov{data.data(), data.size()};
  msghdr msg{};
  msg.msg_name = &name;
  msg.msg_namelen = sizeof name;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return std::nullopt;
  QueuedError out;
  if (name.ss_family == AF_INET && msg.msg_namelen >= sizeof(sockaddr_in)) {
    sockaddr_in sin{};
    std::memcpy(&sin, &name, sizeof sin);
    boost::asio::ip::address_v4::bytes_type b{};
    std::memcpy(b.data(), &sin.sin_addr, 4);
    out.destination = boost::asio::ip::address_v4(b);
    out.destination_port = ntohs(sin.sin_port);
  } else if (name.ss_family == AF_INET6 && msg.msg_namelen >= sizeof(sockaddr_in6)) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, &name, sizeof sin6);
    boost::asio::ip::address_v6::bytes_type b{};
    std::memcpy(b.data(), &sin6.sin6_addr, 16);
    const boost::asio::ip::address_v6 a6(b);
    out.destination = a6.is_v4_mapped() ? boost::asio::ip::address(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a6))
                                        : boost::asio::ip::address(a6);
    out.destination_port = ntohs(sin6.sin6_port);
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    const bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
    const bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
    if (!v4 && !v6) continue;
    sock_extended_err ee{};
    std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
    out.errno_value = static_cast<int>(ee.ee_errno);
    if (ee.ee_origin == SO_EE_ORIGIN_ICMP) out.icmp = IcmpError{false, ee.ee_type, ee.ee_code};
    if (ee.ee_origin == SO_EE_ORIGIN_ICMP6) out.icmp = IcmpError{true, ee.ee_type, ee.ee_code};
    break;
  }
  return out;
}

}  // namespace portdrift::probe::detail
