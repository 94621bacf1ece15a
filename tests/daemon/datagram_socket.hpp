#pragma once
// A bound unix datagram socket for tests: stands in for systemd's notify
// socket and the journal socket.

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace portdrift::daemon::testing {

// A bound datagram socket; "@name" binds in the abstract namespace.
class DatagramSocket {
 public:
  explicit DatagramSocket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    if (path_[0] == '@') addr.sun_path[0] = '\0';
    else ::unlink(path_.c_str());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) throw std::runtime_error("bind");
  }
  ~DatagramSocket() {
    ::close(fd_);
    if (path_[0] != '@') ::unlink(path_.c_str());
  }
  // Waits up to `timeout_ms`; "<nothing>" on timeout.
  std::string receive(long timeout_ms = 2000) {
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string buf(65536, '\0');
    const auto n = ::recv(fd_, buf.data(), buf.size(), timeout_ms == 0 ? MSG_DONTWAIT : 0);
    if (n < 0) return "<nothing>";
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }
  // Every datagram already queued.
  std::vector<std::string> drain() {
    std::vector<std::string> out;
    for (;;) {
      auto d = receive(0);
      if (d == "<nothing>") return out;
      out.push_back(std::move(d));
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};


}  // namespace portdrift::daemon::testing
