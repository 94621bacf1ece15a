#include "portdrift/daemon/tracking.hpp"

#include <unordered_map>

#include <fmt/format.h>

#include "portdrift/daemon/log.hpp"
#include "portdrift/daemon/metrics.hpp"
#include "portdrift/report/events.hpp"

namespace portdrift::daemon {

std::string check_key(const plan::Check& c) {
  return fmt::format("{}|{}|{}|{}|{}", c.host, c.target, to_string(c.protocol), c.port, to_string(c.expect));
}

std::string state_key(const plan::Check& c, std::string_view address) {
  if (address.empty() || address == c.target) return check_key(c);
  return fmt::format("{}|{}", check_key(c), address);
}

void Tracking::count(const Slot& s, int sign) noexcept {
  const auto add = [sign](std::size_t& n, bool yes) {
    if (yes) n = sign > 0 ? n + 1 : n - 1;
  };
  add(counts_.drifting, s.state.hard == Hard::drift);
  add(counts_.flapping, s.state.flapping);
  add(counts_.errors, s.has_result && s.outcome == verdict::Outcome::error);
}

void Tracking::recount() noexcept {
  counts_ = Counts{};
  counts_.checks = plan_ ? plan_->checks.size() : 0;
  for (const auto& s : slots_) count(s, +1);
}

void Tracking::adopt(const plan::Plan& plan, std::span<const std::uint32_t> previous, Thresholds thresholds) {
  std::vector<Slot> next(plan.checks.size());
  for (std::uint32_t i = 0; i < plan.checks.size(); ++i) {
    next[i].check = i;
    const auto j = i < previous.size() ? previous[i] : kNoIndex;
    if (j == kNoIndex || j >= slots_.size() || plan_ == nullptr || j >= plan_->checks.size()) continue;
    // The check's own slot, then its further addresses, relinked in the new vector.
    const auto further = slots_[j].next;
    next[i] = std::move(slots_[j]);
    next[i].check = i;
    next[i].next = kNoIndex;
    auto tail = i;
    for (auto k = further; k != kNoIndex; k = slots_[k].next) {
      const auto at = static_cast<std::uint32_t>(next.size());
      next.push_back(std::move(slots_[k]));
      next.back().check = i;
      next.back().next = kNoIndex;
      next[tail].next = at;
      tail = at;
    }
  }
  slots_ = std::move(next);
  plan_ = &plan;
  thresholds_ = thresholds;
  recount();
}

Tracking::Slot& Tracking::slot_for(std::uint32_t check, std::string_view address) {
  Slot& own = slots_[check];
  // A result without an address (the name did not resolve) counts against the check's own slot.
  if (address.empty() || own.address.empty() || own.address == address) {
    if (own.address.empty()) own.address = std::string(address);
    return own;
  }
  auto tail = check;
  for (auto k = own.next; k != kNoIndex; k = slots_[k].next) {
    if (slots_[k].address == address) return slots_[k];
    tail = k;
  }
  // An address not seen before: its entry is made now.
  const auto at = static_cast<std::uint32_t>(slots_.size());
  Slot fresh;
  fresh.address = std::string(address);
  fresh.check = check;
  slots_.push_back(std::move(fresh));
  slots_[tail].next = at;
  return slots_.back();
}

void Tracking::record(Slot& s, const verdict::CheckResult& r, double duration_s) noexcept {
  s.has_result = true;
  s.outcome = r.outcome;
  s.observed = r.observation.state;
  s.reason = r.observation.reason;
  s.duration_s = static_cast<float>(duration_s);
}

bool Tracking::on_result(std::uint32_t check, const verdict::CheckResult& r, double duration_s, WallTime now) {
  if (plan_ == nullptr || check >= plan_->checks.size()) return false;
  const auto& c = plan_->checks[check];
  Slot& s = slot_for(check, r.observation.address);
  s.ratelimited = r.observation.reason == Reason::icmp_ratelimited;
  if (s.ratelimited) {
    // Silence the target's ICMP limiter may have caused: nothing was learned. The check keeps its
    // state (and its last observation, if it had one) and is probed again on its next interval.
    ++events_.icmp_ratelimited;
    log_->debug("probe {}: unconfirmed (icmp-ratelimited), state kept", report::event_where(c, s.address));
    if (!s.has_result) {
      count(s, -1);
      record(s, r, duration_s);
      count(s, +1);
    }
    return false;
  }
  count(s, -1);
  record(s, r, duration_s);
  const Hard hard_before = s.state.hard;
  const bool flapping_before = s.state.flapping;
  // An empty address of a block (absent: every probe of its pass went
  // unanswered) is no drift where its group says `absent: ok`; at warning or
  // critical it counts against the check like any other mismatch.
  const bool accepted = r.outcome == verdict::Outcome::absent && c.absent == Absent::ok;
  const auto event = apply(s.state, accepted ? verdict::Outcome::ok : r.outcome, now, thresholds_);
  count(s, +1);
  if (log_->should_log(spdlog::level::debug)) {
    log_->debug("probe {}: {} ({}) in {:.1f} ms, {}; hard {}{}, {} against it", report::event_where(c, s.address),
                to_string(s.observed), to_string(s.reason), duration_s * 1e3, verdict::to_string(r.outcome),
                s.state.hard == Hard::drift ? "drift" : "ok", s.state.flapping ? " (flapping)" : "", s.state.streak);
  }
  if (event) announce(s, c, verdict::severity_of(r), *event, now);
  return s.state.hard != hard_before || s.state.flapping != flapping_before;
}

void Tracking::announce(const Slot& s, const plan::Check& c, Severity severity, const Event& e, WallTime now) {
  report::EventView v;
  v.check = &c;
  v.address = s.address;
  v.observed = s.observed;
  v.reason = s.reason;
  v.severity = severity;
  v.since = e.since;
  v.now = now;
  v.results = e.results;
  v.flap_percent = e.flap_percent;
  v.flap_window = kFlapWindow;
  v.settled_as_drift = e.hard == Hard::drift;
  v.instance = &instance_;
  auto level = spdlog::level::info;
  switch (e.kind) {
    case EventKind::drift:
      ++events_.drift;
      v.kind = report::EventKind::drift;
      level = severity == Severity::critical ? spdlog::level::err : spdlog::level::warn;
      break;
    case EventKind::resolved:
      ++events_.resolved;
      v.kind = report::EventKind::resolved;
      break;
    case EventKind::flapping:
      ++events_.flapping;
      v.kind = report::EventKind::flapping;
      level = spdlog::level::warn;
      break;
    case EventKind::flapping_stopped:
      v.kind = report::EventKind::flapping_stopped;
      level = e.hard == Hard::drift ? spdlog::level::warn : spdlog::level::info;
      break;
  }
  const auto line = report::event_line(v);
  std::vector<Field> fields;
  fields.reserve(line.fields.size());
  for (const auto& [name, value] : line.fields) fields.push_back(Field{name, value});
  log_event(*log_, level, line.text, fields);
}

Tracking::Restored Tracking::restore(const SavedState& saved) {
  Restored out;
  if (plan_ == nullptr) return out;
  std::unordered_map<std::string, std::uint32_t> by_key;
  by_key.reserve(plan_->checks.size());
  for (std::uint32_t i = 0; i < plan_->checks.size(); ++i) by_key.emplace(check_key(plan_->checks[i]), i);
  for (const auto& sc : saved.checks) {
    // The check's part of the key (the state key may add an address).
    const auto base = fmt::format("{}|{}|{}|{}|{}", sc.host, sc.target, to_string(sc.protocol), sc.port,
                                  to_string(sc.expect));
    auto it = by_key.find(sc.key == base || sc.key.starts_with(base + "|") ? base : sc.key);
    if (it == by_key.end()) continue;
    ++out.known;
    Slot& s = slot_for(it->second, sc.address == sc.target ? std::string_view() : std::string_view(sc.address));
    s.state.hard = sc.hard;
    s.state.announced = sc.hard;
    s.state.since = sc.since;
    s.state.flapping = sc.flapping;
    if (sc.hard == Hard::drift) {
      out.drifting.push_back(fmt::format("{} {} {}/{} since {}", sc.host, sc.address.empty() ? sc.target : sc.address,
                                         to_string(sc.protocol), sc.port, report::iso_time(sc.since)));
    }
  }
  recount();
  return out;
}

SavedState Tracking::save(WallTime now) const {
  SavedState out;
  out.written = now;
  if (plan_ == nullptr) return out;
  out.checks.reserve(slots_.size());
  for (const auto& s : slots_) {
    const auto& c = plan_->checks[s.check];
    SavedCheck sc;
    sc.key = state_key(c, s.address);
    sc.host = c.host;
    sc.target = c.target;
    sc.address = s.address;
    sc.protocol = c.protocol;
    sc.port = c.port;
    sc.expect = c.expect;
    sc.hard = s.state.hard;
    sc.since = s.state.since;
    sc.flapping = s.state.flapping;
    if (s.has_result) {
      sc.observed = std::string(to_string(s.observed));
      sc.reason = std::string(to_string(s.reason));
    }
    out.checks.push_back(std::move(sc));
  }
  return out;
}

void Tracking::render(Exposition& x) const {
  if (plan_ == nullptr) return;
  const auto labels = [this](const Slot& s, bool with_observed) {
    const auto& c = plan_->checks[s.check];
    Exposition::Labels l{{"host", std::string(c.host)},
                         {"address", s.address.empty() ? std::string(c.target) : s.address},
                         {"protocol", std::string(to_string(c.protocol))},
                         {"port", std::to_string(c.port)},
                         {"expected", std::string(to_string(c.expect))}};
    if (with_observed) l.emplace_back("observed", s.has_result ? std::string(to_string(s.observed)) : "none");
    // The flow matrix's coordinates: which documented flow(s), from which role to which.
    std::string flow;
    for (const auto& id : c.catalog_ids) flow += (flow.empty() ? "" : ",") + id;
    l.emplace_back("flow", std::move(flow));
    const auto& roles = plan_->roles_of(c);
    l.emplace_back("from_role", std::string(roles.from));
    l.emplace_back("to_role", std::string(roles.to));
    l.emplace_back("severity", std::string(to_string(c.severity)));  // as configured: alerts route on it
    return l;
  };
  x.family("portdrift_check_drifting", "gauge",
           "1 while the check is in a hard drift state; `observed` is the last observed state.");
  for (const auto& s : slots_) x.sample("portdrift_check_drifting", labels(s, true), s.state.hard == Hard::drift ? 1 : 0);
  x.family("portdrift_check_flapping", "gauge", "1 while the check is flapping.");
  for (const auto& s : slots_) x.sample("portdrift_check_flapping", labels(s, false), s.state.flapping ? 1 : 0);
  x.family("portdrift_check_icmp_ratelimited", "gauge",
           "1 while the check's last UDP probe was left unconfirmed by the batch's time budget: the "
           "target's ICMP error rate limit held no token (reason icmp-ratelimited); the state is the one before.");
  for (const auto& s : slots_) {
    if (plan_->checks[s.check].protocol == Protocol::udp) {
      x.sample("portdrift_check_icmp_ratelimited", labels(s, false), s.ratelimited ? 1 : 0);
    }
  }
  x.family("portdrift_check_probe_duration_seconds", "gauge",
           "The last probe: round-trip time of the deciding answer, or the time spent waiting on silence.");
  for (const auto& s : slots_) {
    if (s.has_result) x.sample("portdrift_check_probe_duration_seconds", labels(s, false), s.duration_s);
  }
}

}  // namespace portdrift::daemon
