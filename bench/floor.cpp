// pd-floor: what the kernel alone needs for a set of TCP connects, as the
// benchmark's reference ("the floor").
//
// Reads "ADDRESS PORT" lines (IPv4) from --targets FILE and connects to each with a
// non-blocking socket, up to --window at a time, on one epoll set; when a
// socket is writable or has failed it reads SO_ERROR and closes it. Nothing
// else: no timeouts (give it only ports that answer), no retries, no
// classification beyond counting. Prints one line:
//   connects N open N refused N other N wall_s S
//
// Safety: it refuses any address outside 198.18.0.0/15 (the benchmarking
// range, used inside the benchmark's namespaces) and 127.0.0.0/8, and gives
// up after --max-seconds (default 120).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

bool allowed(in_addr_t a) {
  const auto h = ntohl(a);
  return (h & 0xfffe0000U) == 0xc6120000U   // 198.18.0.0/15
         || (h & 0xff000000U) == 0x7f000000U;  // 127.0.0.0/8
}

[[noreturn]] void die(const std::string& what) {
  std::cerr << "pd-floor: " << what << "\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t window = 1000;
  double max_seconds = 120;
  std::string file;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--window" && i + 1 < argc) window = std::strtoul(argv[++i], nullptr, 10);
    else if (arg == "--max-seconds" && i + 1 < argc) max_seconds = std::strtod(argv[++i], nullptr);
    else if (arg == "--targets" && i + 1 < argc) file = argv[++i];
    else die("usage: pd-floor --targets FILE (ADDRESS PORT per line) [--window N] [--max-seconds S]");
  }
  std::ifstream in(file);
  if (!in) die("cannot read --targets " + file);
  if (window == 0) die("--window must be at least 1");

  std::vector<sockaddr_in> targets;
  std::string addr;
  unsigned port = 0;
  while (in >> addr >> port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    if (::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1 || port == 0 || port > 65535) die("bad target: " + addr);
    if (!allowed(sa.sin_addr.s_addr)) die("refusing " + addr + ": only 198.18.0.0/15 and 127.0.0.0/8");
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    targets.push_back(sa);
  }

  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur > 64 && window > lim.rlim_cur - 64) window = lim.rlim_cur - 64;

  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die(std::string("epoll_create1: ") + std::strerror(errno));
  const auto start = std::chrono::steady_clock::now();
  std::size_t next = 0, inflight = 0, open = 0, refused = 0, other = 0;
  std::vector<epoll_event> events(256);
  while (next < targets.size() || inflight > 0) {
    while (inflight < window && next < targets.size()) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
      const auto& sa = targets[next++];
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
        ++other;
        ::close(fd);
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.fd = fd;
      if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die(std::string("epoll_ctl: ") + std::strerror(errno));
      ++inflight;
    }
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    if (n < 0 && errno != EINTR) die(std::string("epoll_wait: ") + std::strerror(errno));
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) ++open;
      else if (err == ECONNREFUSED) ++refused;
      else ++other;
      ::close(fd);
      --inflight;
    }
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > max_seconds) {
      die("gave up after --max-seconds with " + std::to_string(inflight) + " connects unanswered");
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("connects %zu open %zu refused %zu other %zu wall_s %.3f\n", targets.size(), open, refused, other, wall);
  return 0;
}
