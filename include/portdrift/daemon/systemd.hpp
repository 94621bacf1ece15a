#pragma once
// The two small systemd protocols the daemon speaks, written here rather than
// taken from libsystemd (see docs/daemon.md): libsystemd's sd_notify() and
// sd_journal_send() block once the reader's queue is full (measured by
// bench/notify_block.cpp), and a blocked send would stall the event loop:
//  - sd_notify: "READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1",
//    "STATUS=..." datagrams to $NOTIFY_SOCKET (a path, or "@name" for the
//    abstract namespace);
//  - the journal's native protocol: one datagram of KEY=value fields to
//    /run/systemd/journal/socket, so that drift lines carry PORTDRIFT_HOST=,
//    PORTDRIFT_PORT=, ... as structured fields.
// Both are best effort: a failed send is returned, never thrown.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace portdrift::daemon {

// Sends one datagram to a unix socket at `path` ("@name": abstract namespace).
// Never blocks: when the receiver's queue is full the datagram is dropped and
// the error (EAGAIN) returned, so a stalled reader cannot stall the daemon.
std::error_code send_datagram(std::string_view path, std::string_view payload);

class Notifier {
 public:
  Notifier() = default;
  explicit Notifier(std::string socket) : socket_(std::move(socket)) {}
  [[nodiscard]] bool enabled() const noexcept { return !socket_.empty(); }
  // No-op (success) when disabled.
  std::error_code notify(std::string_view state) const;

 private:
  std::string socket_;
};

// The watchdog ping interval from $WATCHDOG_USEC / $WATCHDOG_PID: half the
// timeout systemd enforces, or nullopt when the watchdog is off or meant for another pid.
std::optional<std::chrono::microseconds> watchdog_interval(const char* usec, const char* pid, pid_t self) noexcept;

// Is stderr the journal? True when $JOURNAL_STREAM ("DEVICE:INODE") names fd 2.
bool stderr_is_journal(const char* journal_stream) noexcept;

inline constexpr std::string_view kJournalSocket = "/run/systemd/journal/socket";

struct Field {
  std::string_view name;  // upper case, digits and '_', not starting with '_'
  std::string value;
};

// One journal entry in the native protocol's serialization (values holding a
// newline use the length-prefixed form).
std::string journal_entry(std::span<const Field> fields);

}  // namespace portdrift::daemon
