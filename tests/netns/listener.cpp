// pd-listen: the "service" side of the real-network tests and the demo.
//
//   pd-listen [tcp:|udp:]ADDR:PORT ...       (IPv6 as [ADDR]:PORT; tcp is the default)
//
// Binds one socket per endpoint, prints "ready" on stdout once all of them
// are bound (so the harness knows the ports are up before it probes), then
// serves until SIGTERM or SIGINT and exits 0. A bad argument or a failed bind
// exits 2 with the reason on stderr, before "ready". States: binding -> ready
// (serving) -> stopping. A plain ppoll loop: the signal is only unblocked
// inside ppoll, so it cannot slip in between the flag test and the wait.
//
// TCP: accepts and closes at once; the handshake is the answer.
// UDP: answers every datagram from the bound address, so that a UDP probe
// sees a reply. An empty datagram gets "pd-listen\n"; any other gets its own
// bytes back with the DNS/NetBIOS header marked as a response, rcode 5
// (refused), which is a valid answer to a DNS or NetBIOS name query. Other
// protocols see an unexpected reply, which still proves the port open. Bind
// UDP endpoints to a specific address: a reply leaves from the bound one.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;  // set by the signal handler, read by the loop

extern "C" void on_signal(int /*sig*/) { g_stop = 1; }

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "pd-listen: %s\n", message.c_str());
  std::exit(2);
}

enum class Transport { tcp, udp };

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_UNSPEC;
  Transport transport = Transport::tcp;
};

Endpoint parse_endpoint(std::string_view full) {
  Transport transport = Transport::tcp;
  std::string_view text = full;
  if (text.starts_with("udp:")) {
    transport = Transport::udp;
    text.remove_prefix(4);
  } else if (text.starts_with("tcp:")) {
    text.remove_prefix(4);
  }
  std::string host;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) fail("'" + std::string(text) + "': IPv6 endpoints are written [ADDR]:PORT");
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) fail("'" + std::string(text) + "': expected ADDR:PORT");
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned long port = 0;
  {
    const std::string p(port_text);
    char* end = nullptr;
    errno = 0;
    port = std::strtoul(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || errno != 0 || port < 1 || port > 65535) {
      fail("'" + std::string(text) + "': the port must be 1-65535");
    }
  }
  Endpoint ep;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    ep.len = sizeof(sockaddr_in);
    ep.family = AF_INET;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    ep.len = sizeof(sockaddr_in6);
    ep.family = AF_INET6;
  } else {
    fail("'" + std::string(text) + "': '" + host + "' is not an IP address");
  }
  ep.transport = transport;
  return ep;
}

int bind_listener(const Endpoint& ep, std::string_view text) {
  const int type = ep.transport == Transport::udp ? SOCK_DGRAM : SOCK_STREAM;
  const int fd = ::socket(ep.family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket for " + std::string(text) + ": " + std::strerror(errno));
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (ep.family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) != 0) {
    fail("cannot bind " + std::string(text) + ": " + std::strerror(errno));
  }
  // A deep backlog (the kernel caps it at net.core.somaxconn): bench/run fires bursts at few ports.
  if (ep.transport == Transport::tcp && ::listen(fd, 65535) != 0) {
    fail("cannot listen on " + std::string(text) + ": " + std::strerror(errno));
  }
  return fd;
}

// Accepts and closes: the handshake already told the prober "open".
void serve_tcp(int fd) {
  for (;;) {
    const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    ::close(c);
  }
}

void serve_udp(int fd) {
  std::vector<unsigned char> buf(65536);
  for (;;) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;
    std::vector<unsigned char> reply(buf.begin(), buf.begin() + n);
    if (reply.empty()) {
      const std::string_view hello = "pd-listen\n";
      reply.assign(hello.begin(), hello.end());
    } else if (reply.size() >= 4) {
      reply[2] = static_cast<unsigned char>(reply[2] | 0x80U);           // QR: a response
      reply[3] = static_cast<unsigned char>((reply[3] & 0xf0U) | 0x05U);  // rcode 5: refused
    }
    ::sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<const sockaddr*>(&from), from_len);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pd-listen ADDR:PORT [ADDR:PORT ...]   (IPv6: [ADDR]:PORT)\n");
    return 2;
  }
  // Block the stop signals outside ppoll; install the handler before anything can fail slowly.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_set, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<pollfd> fds;
  std::vector<Transport> transports;
  for (int i = 1; i < argc; ++i) {
    const std::string_view text = argv[i];
    const Endpoint ep = parse_endpoint(text);
    fds.push_back(pollfd{bind_listener(ep, text), POLLIN, 0});
    transports.push_back(ep.transport);
  }
  std::fputs("ready\n", stdout);
  std::fflush(stdout);

  sigset_t wait_mask;
  sigprocmask(SIG_SETMASK, nullptr, &wait_mask);
  sigdelset(&wait_mask, SIGTERM);
  sigdelset(&wait_mask, SIGINT);
  while (g_stop == 0) {
    const int n = ::ppoll(fds.data(), fds.size(), nullptr, &wait_mask);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(std::string("poll: ") + std::strerror(errno));
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      if (transports[i] == Transport::udp) {
        serve_udp(fds[i].fd);
      } else {
        serve_tcp(fds[i].fd);
      }
    }
  }
  for (auto& p : fds) ::close(p.fd);
  return 0;
}
