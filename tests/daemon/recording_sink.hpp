#pragma once
// A test sink (after spdlog's tests/test_sink.h) that records every line and
// the structured fields of event lines, so tests assert on what the daemon logs.

#include <mutex>
#include <string>
#include <vector>

#include "portdrift/daemon/log.hpp"

namespace portdrift::daemon::testing {

struct Record {
  spdlog::level::level_enum level;
  std::string text;
  std::vector<std::pair<std::string, std::string>> fields;
  [[nodiscard]] std::string field(std::string_view name) const {
    for (const auto& [k, v] : fields) {
      if (k == name) return v;
    }
    return {};
  }
};

class RecordingSink final : public StructuredSink {
 public:
  std::vector<Record> records() {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_;
  }
  // Lines that start with `prefix` ("DRIFT ", "RESOLVED ").
  std::vector<Record> starting(std::string_view prefix) {
    std::vector<Record> out;
    for (auto& r : records()) {
      if (r.text.starts_with(prefix)) out.push_back(r);
    }
    return out;
  }
  std::size_t count_containing(std::string_view needle) {
    std::size_t n = 0;
    for (auto& r : records()) n += r.text.find(needle) != std::string::npos ? 1U : 0U;
    return n;
  }
  std::string dump() {
    std::string out;
    for (auto& r : records()) out += r.text + "\n";
    return out;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override { sink_fields(msg, {}); }
  void sink_fields(const spdlog::details::log_msg& msg, std::span<const Field> fields) override {
    Record r{msg.level, std::string(msg.payload.data(), msg.payload.size()), {}};
    for (const auto& f : fields) r.fields.emplace_back(std::string(f.name), f.value);
    records_.push_back(std::move(r));
  }
  void flush_() override {}

 private:
  std::vector<Record> records_;
};

}  // namespace portdrift::daemon::testing
