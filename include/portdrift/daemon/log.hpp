#pragma once
// The daemon's logging on top of spdlog. Ordinary lines go through an
// spdlog::logger; an event line (a drift, a resolution) also carries
// structured fields. Sinks that can keep fields (the journal sink, a test
// sink) derive from StructuredSink and receive them; every other sink gets
// the plain line. Under systemd the journal sink is used, elsewhere stderr.

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include "portdrift/daemon/systemd.hpp"

namespace portdrift::daemon {

class StructuredSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // A line with its fields, under the sink's lock and level.
  void log_fields(const spdlog::details::log_msg& msg, std::span<const Field> fields);

 protected:
  virtual void sink_fields(const spdlog::details::log_msg& msg, std::span<const Field> fields) = 0;
};

// Entries in the journal's native protocol: MESSAGE, PRIORITY,
// SYSLOG_IDENTIFIER, plus the event's fields. Falls back to stderr if the
// journal socket refuses a datagram.
class JournalSink final : public StructuredSink {
 public:
  explicit JournalSink(std::string socket = std::string(kJournalSocket), std::string identifier = "portdrift")
      : socket_(std::move(socket)), identifier_(std::move(identifier)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void sink_fields(const spdlog::details::log_msg& msg, std::span<const Field> fields) override;
  void flush_() override {}

 private:
  std::string socket_;
  std::string identifier_;
};

// syslog priority for an spdlog level.
int syslog_priority(spdlog::level::level_enum level) noexcept;

enum class LogTarget { automatic, stderr_only, journal };

// "portdrift" logger writing to the journal or to stderr ("TIME LEVEL: message").
std::shared_ptr<spdlog::logger> make_logger(LogTarget target, spdlog::level::level_enum level,
                                            bool stderr_is_journal);

// Logs `text` at `level`, passing `fields` to structured sinks.
void log_event(spdlog::logger& log, spdlog::level::level_enum level, std::string_view text,
               std::span<const Field> fields);

}  // namespace portdrift::daemon
