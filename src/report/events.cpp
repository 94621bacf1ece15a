#include "portdrift/report/events.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace portdrift::report {
namespace {

// journalctl MESSAGE_ID= per event kind, so that `journalctl MESSAGE_ID=...` finds every drift.
constexpr std::string_view kDriftId = "3f6b1d2c8e7a4b59a0c1d2e3f4a5b6c7";
constexpr std::string_view kResolvedId = "9c2e4a6b8d0f4e1aa3b5c7d9e1f3a5b7";
constexpr std::string_view kFlappingId = "5d7f9b1c3e5a4c6e8a0b2d4f6a8c0e2f";
constexpr std::string_view kFlappingStoppedId = "1b3d5f7a9c1e4b3d5f7a9c1e3b5d7f9a";

std::string join_ids(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

}  // namespace

std::string iso_time(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", std::chrono::time_point_cast<std::chrono::seconds>(t));
}

std::string human_duration(std::chrono::seconds d) {
  auto s = d.count();
  if (s < 0) s = 0;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

std::string instance_suffix(const plan::Instance& i) {
  if (i.vantage.empty() && i.shard.empty()) return {};
  if (i.shard.empty()) return fmt::format(" (vantage {})", i.vantage);
  if (i.vantage.empty()) return fmt::format(" (shard {})", i.shard);
  return fmt::format(" (vantage {}, shard {})", i.vantage, i.shard);
}

std::string event_where(const plan::Check& c, std::string_view address) {
  if (address.empty() || address == c.target) {
    return fmt::format("{} {} {}/{}", c.host, c.target, to_string(c.protocol), c.port);
  }
  return fmt::format("{} {} ({}) {}/{}", c.host, address, c.target, to_string(c.protocol), c.port);
}

EventLine event_line(const EventView& e) {
  const auto& c = *e.check;
  const std::string ids = c.catalog_ids.empty() ? std::string(c.label.empty() ? "explicit check" : c.label)
                                                : join_ids(c.catalog_ids);
  const std::string where = event_where(c, e.address);
  const std::string observed = fmt::format("{} ({})", to_string(e.observed), to_string(e.reason));
  EventLine line;
  std::string_view kind;
  std::string_view message_id;
  switch (e.kind) {
    case EventKind::drift:
      kind = "drift";
      message_id = kDriftId;
      line.text = fmt::format("DRIFT {}: expected {}, observed {} since {}, confirmed by {} consecutive results [{}]",
                              where, to_string(c.expect), observed, iso_time(e.since), e.results, ids);
      break;
    case EventKind::resolved:
      kind = "resolved";
      message_id = kResolvedId;
      line.text = fmt::format("RESOLVED {}: expected {}, observed {} again; had drifted since {} ({}) [{}]", where,
                              to_string(c.expect), observed, iso_time(e.since),
                              human_duration(std::chrono::duration_cast<std::chrono::seconds>(e.now - e.since)), ids);
      break;
    case EventKind::flapping:
      kind = "flapping";
      message_id = kFlappingId;
      line.text = fmt::format("FLAPPING {}: expected {}, last observed {}; {}% of the last {} results changed state; "
                              "its drift and resolved lines are held back until it settles [{}]",
                              where, to_string(c.expect), observed, e.flap_percent, e.flap_window, ids);
      break;
    case EventKind::flapping_stopped:
      kind = "flapping-stopped";
      message_id = kFlappingStoppedId;
      line.text = fmt::format("FLAPPING STOPPED {}: settled as {}: expected {}, observed {} [{}]", where,
                              e.settled_as_drift ? "drift" : "ok", to_string(c.expect), observed, ids);
      break;
  }
  line.fields = {
      {"MESSAGE_ID", std::string(message_id)},
      {"PORTDRIFT_EVENT", std::string(kind)},
      {"PORTDRIFT_HOST", std::string(c.host)},
      {"PORTDRIFT_TARGET", std::string(c.target)},
      {"PORTDRIFT_ADDRESS", std::string(e.address.empty() ? c.target : e.address)},
      {"PORTDRIFT_PROTOCOL", std::string(to_string(c.protocol))},
      {"PORTDRIFT_PORT", std::to_string(c.port)},
      {"PORTDRIFT_EXPECTED", std::string(to_string(c.expect))},
      {"PORTDRIFT_OBSERVED", std::string(to_string(e.observed))},
      {"PORTDRIFT_REASON", std::string(to_string(e.reason))},
      {"PORTDRIFT_SINCE", iso_time(e.since)},
      {"PORTDRIFT_SEVERITY", std::string(to_string(e.severity))},
      {"PORTDRIFT_CATALOG_IDS", join_ids(c.catalog_ids)},
  };
  if (e.instance != nullptr) {
    line.text += instance_suffix(*e.instance);
    if (!e.instance->vantage.empty()) line.fields.emplace_back("PORTDRIFT_VANTAGE", e.instance->vantage);
    if (!e.instance->shard.empty()) line.fields.emplace_back("PORTDRIFT_SHARD", e.instance->shard);
  }
  return line;
}

}  // namespace portdrift::report
