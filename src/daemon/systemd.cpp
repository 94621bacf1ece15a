#include "portdrift/daemon/systemd.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace portdrift::daemon {
namespace {

template <typename T>
std::optional<T> number(std::string_view s) noexcept {
  T v{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::error_code send_datagram(std::string_view path, std::string_view payload) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) return std::make_error_code(std::errc::invalid_argument);
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path.front() == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path.front() == '@' ? 0 : 1));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {errno, std::generic_category()};
  std::error_code ec;
  ssize_t n = 0;
  do {
    // Never block the event loop: a full receiver queue loses this datagram instead.
    n = ::sendto(fd, payload.data(), payload.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&addr), len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ec = {errno, std::generic_category()};
  ::close(fd);
  return ec;
}

std::error_code Notifier::notify(std::string_view state) const {
  if (!enabled()) return {};
  return send_datagram(socket_, state);
}

std::optional<std::chrono::microseconds> watchdog_interval(const char* usec, const char* pid, pid_t self) noexcept {
  if (usec == nullptr) return std::nullopt;
  const auto us = number<std::uint64_t>(usec);
  if (!us || *us == 0) return std::nullopt;
  if (pid != nullptr) {
    const auto p = number<pid_t>(pid);
    if (!p || *p != self) return std::nullopt;
  }
  return std::chrono::microseconds(static_cast<std::int64_t>(*us / 2));
}

bool stderr_is_journal(const char* journal_stream) noexcept {
  if (journal_stream == nullptr) return false;
  const std::string_view s(journal_stream);
  const auto colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  const auto dev = number<std::uint64_t>(s.substr(0, colon));
  const auto ino = number<std::uint64_t>(s.substr(colon + 1));
  struct stat st {};
  if (!dev || !ino || ::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<std::uint64_t>(st.st_dev) == *dev && static_cast<std::uint64_t>(st.st_ino) == *ino;
}

std::string journal_entry(std::span<const Field> fields) {
  std::string out;
  for (const auto& f : fields) {
    out += f.name;
    if (f.value.find('\n') == std::string::npos) {
      out += '=';
      out += f.value;
    } else {
      out += '\n';
      auto size = static_cast<std::uint64_t>(f.value.size());
      for (int i = 0; i < 8; ++i) {  // little-endian 64-bit length
        out += static_cast<char>(size & 0xFFU);
        size >>= 8U;
      }
      out += f.value;
    }
    out += '\n';
  }
  return out;
}

}  // namespace portdrift::daemon
