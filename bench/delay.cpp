// pd-delay: a queueing delay for the benchmark's delayed hosts, where the
// kernel has no netem and no fq (this one has neither).
//
//   pd-delay --dev NAME [--delay-ms 20] [--jitter-ms 10] [--max-seconds 900]
//
// Creates the TUN device NAME in its network namespace and holds every IPv4
// packet the kernel routes into it for delay +/- jitter ms (uniform, per
// packet), then hands it back to the kernel through the same device, which
// routes it on as a packet received there (the namespace needs ip_forward, and
// accept_local on NAME when the packets' sources are its own addresses). The
// packets leave in order of their release times, so jitter may reorder them,
// as a real queue with varying service times may. Prints "ready" once the
// device exists; stops on SIGTERM/SIGINT or after --max-seconds.
//
// Safety: it forwards only packets whose source and destination are both in
// 198.18.0.0/15 (the benchmarking range, inside the benchmark's namespaces);
// anything else is dropped and counted.

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;  // set by the signal handler only
extern "C" void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "pd-delay: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

bool bench_range(const std::uint8_t* a) { return a[0] == 198 && (a[1] & 0xfe) == 18; }

struct Held {
  Clock::time_point release;
  std::uint64_t seq;  // ties keep arrival order
  std::vector<std::uint8_t> packet;
  bool operator>(const Held& o) const { return release != o.release ? release > o.release : seq > o.seq; }
};

}  // namespace

int main(int argc, char** argv) {
  std::string dev;
  long delay_ms = 20, jitter_ms = 10, max_seconds = 900;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--dev") dev = argv[i + 1];
    else if (k == "--delay-ms") delay_ms = std::strtol(argv[i + 1], nullptr, 10);
    else if (k == "--jitter-ms") jitter_ms = std::strtol(argv[i + 1], nullptr, 10);
    else if (k == "--max-seconds") max_seconds = std::strtol(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "pd-delay: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (dev.empty() || dev.size() >= IFNAMSIZ || jitter_ms < 0 || jitter_ms > delay_ms) {
    std::fprintf(stderr, "usage: pd-delay --dev NAME [--delay-ms D] [--jitter-ms J<=D] [--max-seconds S]\n");
    return 2;
  }
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die("open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, dev.c_str(), dev.size());
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF " + dev);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::printf("ready\n");
  std::fflush(stdout);

  std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<long> us(1000 * (delay_ms - jitter_ms), 1000 * (delay_ms + jitter_ms));
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held;
  std::uint64_t seq = 0, forwarded = 0, refused = 0;
  std::array<std::uint8_t, 65536> buf{};
  const auto end = Clock::now() + std::chrono::seconds(max_seconds);
  while (g_stop == 0 && Clock::now() < end) {
    int wait_ms = 200;
    if (!held.empty()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(held.top().release - Clock::now()).count();
      wait_ms = static_cast<int>(std::max<long>(0, std::min<long>(left, 200)));
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) < 0 && errno != EINTR) die("poll");
    for (;;) {
      const auto n = ::read(fd, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        die("read");
      }
      // IPv4 only, both ends in the benchmarking range.
      if (n < 20 || (buf[0] >> 4) != 4 || !bench_range(&buf[12]) || !bench_range(&buf[16])) {
        ++refused;
        continue;
      }
      held.push(Held{Clock::now() + std::chrono::microseconds(us(rng)), seq++,
                     std::vector<std::uint8_t>(buf.begin(), buf.begin() + n)});
    }
    const auto now = Clock::now();
    while (!held.empty() && held.top().release <= now) {
      const auto& h = held.top();
      if (::write(fd, h.packet.data(), h.packet.size()) >= 0) ++forwarded;
      held.pop();
    }
  }
  std::fprintf(stderr, "pd-delay: %llu packets delayed, %llu refused\n", static_cast<unsigned long long>(forwarded),
               static_cast<unsigned long long>(refused));
  return 0;
}
