#include "portdrift/daemon/log.hpp"

#include <cstdio>

#include <spdlog/sinks/stdout_sinks.h>

namespace portdrift::daemon {

void StructuredSink::log_fields(const spdlog::details::log_msg& msg, std::span<const Field> fields) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!should_log(msg.level)) return;
  sink_fields(msg, fields);
}

int syslog_priority(spdlog::level::level_enum level) noexcept {
  switch (level) {
    case spdlog::level::critical: return 2;
    case spdlog::level::err: return 3;
    case spdlog::level::warn: return 4;
    case spdlog::level::info: return 6;
    default: return 7;
  }
}

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) { sink_fields(msg, {}); }

void JournalSink::sink_fields(const spdlog::details::log_msg& msg, std::span<const Field> fields) {
  std::vector<Field> all;
  all.reserve(fields.size() + 3);
  all.push_back(Field{"MESSAGE", std::string(msg.payload.data(), msg.payload.size())});
  all.push_back(Field{"PRIORITY", std::to_string(syslog_priority(msg.level))});
  all.push_back(Field{"SYSLOG_IDENTIFIER", identifier_});
  all.insert(all.end(), fields.begin(), fields.end());
  if (send_datagram(socket_, journal_entry(all))) {
    std::fprintf(stderr, "%s: %.*s\n", identifier_.c_str(), static_cast<int>(msg.payload.size()), msg.payload.data());
  }
}

std::shared_ptr<spdlog::logger> make_logger(LogTarget target, spdlog::level::level_enum level,
                                            bool stderr_is_journal) {
  const bool journal = target == LogTarget::journal || (target == LogTarget::automatic && stderr_is_journal);
  std::shared_ptr<spdlog::logger> log;
  if (journal) {
    log = std::make_shared<spdlog::logger>("portdrift", std::make_shared<JournalSink>());
  } else {
    log = std::make_shared<spdlog::logger>("portdrift", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    log->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l: %v");
  }
  log->set_level(level);
  log->flush_on(spdlog::level::trace);
  return log;
}

void log_event(spdlog::logger& log, spdlog::level::level_enum level, std::string_view text,
               std::span<const Field> fields) {
  if (!log.should_log(level)) return;
  const spdlog::details::log_msg msg(log.name(), level, spdlog::string_view_t(text.data(), text.size()));
  for (const auto& sink : log.sinks()) {
    if (!sink->should_log(level)) continue;
    if (auto* structured = dynamic_cast<StructuredSink*>(sink.get())) {
      structured->log_fields(msg, fields);
    } else {
      sink->log(msg);
    }
    sink->flush();
  }
}

}  // namespace portdrift::daemon
