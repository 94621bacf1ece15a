// pd-notify-block: does a notify or journal send block when the reader stops
// reading? The measured reason portdrift speaks sd_notify and the journal's
// native protocol itself instead of calling libsystemd (docs/daemon.md).
//
//   sudo build/pd-notify-block
//
// A unix datagram socket that is never read stands in for systemd's notify
// socket and for journald's /run/systemd/journal/socket (in a private mount
// namespace with a tmpfs on /run/systemd, so the machine's journal is never
// touched). Each sender sends 2,000 datagrams from its own thread; the main
// thread waits up to 2 s for it. A stuck reader (a journald under load, a
// systemd busy elsewhere) fills the socket's queue after
// net.unix.max_dgram_qlen datagrams; a blocking sender then stops there, and
// in the daemon that would be the event loop, the watchdog and the scrapes.
// Prints, per sender: datagrams sent, refused (EAGAIN), and whether it blocked.

#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "portdrift/daemon/systemd.hpp"

namespace {

using namespace std::chrono_literals;
constexpr int kSends = 2000;

int bound_socket(const std::string& path) {
  ::unlink(path.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
  if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    std::perror(("bind " + path).c_str());
    std::exit(1);
  }
  return fd;
}

void drain(int fd) {
  char buf[65536];
  while (::recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
  }
}

// Runs `send` kSends times on a thread; returns after it finished or 2 s.
void measure(const char* name, int reader, const std::function<int()>& send) {
  std::atomic<int> sent{0}, refused{0};
  std::atomic<bool> done{false};
  std::thread t([&] {
    for (int i = 0; i < kSends; ++i) {
      const int r = send();
      if (r >= 0) ++sent;
      else ++refused;
    }
    done = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  while (!done && std::chrono::steady_clock::now() - t0 < 2s) std::this_thread::sleep_for(10ms);
  const bool blocked = !done;
  const int at = sent.load();
  // Unblock a stuck sender by reading, so the thread can end.
  while (!done) {
    drain(reader);
    std::this_thread::sleep_for(1ms);
  }
  t.join();
  drain(reader);
  if (blocked) {
    std::printf("%-44s BLOCKED after %d datagrams (the reader's queue was full; the call did not return in 2 s)\n",
                name, at);
  } else {
    std::printf("%-44s never blocked: %d sent, %d refused with EAGAIN (dropped, the caller goes on)\n", name,
                sent.load(), refused.load());
  }
}

}  // namespace

int main() {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "pd-notify-block: needs root (a private mount namespace with a tmpfs on /run/systemd)\n");
    return 2;
  }
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("unshare/mount");
    return 1;
  }
  ::mkdir("/run/systemd", 0755);
  if (::mount("tmpfs", "/run/systemd", "tmpfs", 0, "size=1m") != 0) {
    std::perror("mount tmpfs /run/systemd");
    return 1;
  }
  ::mkdir("/run/systemd/journal", 0755);

  std::FILE* q = std::fopen("/proc/sys/net/unix/max_dgram_qlen", "r");
  int qlen = 0;
  if (q != nullptr) {
    if (std::fscanf(q, "%d", &qlen) != 1) qlen = 0;
    std::fclose(q);
  }
  std::printf("net.unix.max_dgram_qlen = %d; %d sends each, the reader never reads\n", qlen, kSends);

  const std::string notify_path = "/run/systemd/notify-test";
  const int notify = bound_socket(notify_path);
  ::setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
  measure("libsystemd sd_notify(\"WATCHDOG=1\")", notify, [] { return ::sd_notify(0, "WATCHDOG=1"); });
  measure("portdrift Notifier::notify(\"WATCHDOG=1\")", notify, [&] {
    return portdrift::daemon::Notifier(notify_path).notify("WATCHDOG=1") ? -1 : 0;
  });

  const int journal = bound_socket(std::string(portdrift::daemon::kJournalSocket));
  measure("libsystemd sd_journal_send(MESSAGE=...)", journal, [] {
    return ::sd_journal_send("MESSAGE=DRIFT h 198.18.1.1 tcp/443", "PRIORITY=3", "PORTDRIFT_PORT=443", nullptr);
  });
  measure("portdrift journal_entry + send_datagram", journal, [] {
    const portdrift::daemon::Field f[] = {{"MESSAGE", "DRIFT h 198.18.1.1 tcp/443"}, {"PRIORITY", "3"},
                                          {"PORTDRIFT_PORT", "443"}};
    return portdrift::daemon::send_datagram(portdrift::daemon::kJournalSocket, portdrift::daemon::journal_entry(f))
               ? -1
               : 0;
  });
  ::close(notify);
  ::close(journal);
  return 0;
}
