#include "portdrift/probe/source.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/ip/udp.hpp>
#include <fmt/format.h>

namespace portdrift::probe {
namespace asio = boost::asio;

namespace {

bool assigned_here(const asio::ip::address& a) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (const ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET && a.is_v4()) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      found = asio::ip::address_v4(ntohl(sin->sin_addr.s_addr)) == a.to_v4();
    } else if (i->ifa_addr->sa_family == AF_INET6 && a.is_v6()) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      found = std::memcmp(sin6->sin6_addr.s6_addr, a.to_v6().to_bytes().data(), 16) == 0;
    }
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace

SourceResult find_source(std::string_view text) {
  SourceResult r;
  if (text.empty()) return r;
  const std::string s(text);
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(s, ec);
  if (!ec) {
    if (!assigned_here(addr)) {
      r.error = fmt::format("source address {} is not assigned to any interface of this machine", s);
    } else {
      r.source.address = addr;
    }
    return r;
  }
  if (s.size() >= IFNAMSIZ || ::if_nametoindex(s.c_str()) == 0) {
    r.error = fmt::format("source '{}' is neither an address of this machine nor one of its interfaces", s);
    return r;
  }
  r.source.interface = s;
  return r;
}

std::optional<std::string> bind_source(int fd, const Source& source, bool target_is_v6) {
  if (source.address) {
    if (source.address->is_v6() != target_is_v6) {
      return fmt::format("source {} is {}, the target is {}", source.address->to_string(),
                         source.address->is_v6() ? "IPv6" : "IPv4", target_is_v6 ? "IPv6" : "IPv4");
    }
    const asio::ip::udp::endpoint ep(*source.address, 0);  // only the sockaddr is used
    if (::bind(fd, ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
      return fmt::format("cannot bind to source {}: {}", source.address->to_string(), std::strerror(errno));
    }
  } else if (!source.interface.empty()) {
    if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, source.interface.c_str(),
                     static_cast<socklen_t>(source.interface.size())) != 0) {
      return fmt::format("cannot bind to interface {} (SO_BINDTODEVICE needs CAP_NET_RAW): {}", source.interface,
                         std::strerror(errno));
    }
  }
  return std::nullopt;
}

}  // namespace portdrift::probe
