#include "portdrift/daemon/scheduler.hpp"

#include <algorithm>
#include <map>

namespace portdrift::daemon {

void Scheduler::assign(const std::vector<Slot>& slots, SteadyClock::time_point now) {
  std::unordered_map<std::string, Entry> next;
  next.reserve(slots.size());
  std::map<std::chrono::milliseconds, std::vector<const Slot*>> fresh;  // by interval
  for (const auto& s : slots) {
    auto it = entries_.find(s.key);
    if (it != entries_.end() && it->second.interval == s.interval) {
      next.emplace(s.key, it->second);
    } else {
      fresh[s.interval].push_back(&s);
    }
  }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (const auto& [interval, group] : fresh) {
    const auto n = static_cast<double>(group.size());
    for (std::size_t i = 0; i < group.size(); ++i) {
      // Slice i of n, at a random point inside it.
      const double at = (static_cast<double>(i) + unit(rng_)) / n;
      const auto offset = std::chrono::duration_cast<SteadyClock::duration>(
          std::chrono::duration<double, std::milli>(static_cast<double>(interval.count()) * at));
      next.emplace(group[i]->key, Entry{interval, now + offset, false});
    }
  }
  entries_ = std::move(next);
}

std::vector<Due> Scheduler::take_due(SteadyClock::time_point now) {
  std::vector<std::pair<SteadyClock::time_point, const std::string*>> due;
  for (const auto& [key, e] : entries_) {
    if (!e.in_flight && e.due <= now + slack_) due.emplace_back(e.due, &key);
  }
  std::sort(due.begin(), due.end());
  std::vector<Due> out;
  out.reserve(due.size());
  for (const auto& [when, key] : due) {
    entries_.at(*key).in_flight = true;
    const auto lag = when < now ? std::chrono::duration_cast<std::chrono::microseconds>(now - when)
                                : std::chrono::microseconds(0);
    out.push_back(Due{*key, lag});
  }
  return out;
}

void Scheduler::done(const std::string& key, SteadyClock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  e.in_flight = false;
  e.due += e.interval;
  if (e.due + e.interval <= now) {
    // More than an interval behind: run once now rather than catching up.
    ++skipped_;
    e.due = now;
  }
}

std::optional<SteadyClock::time_point> Scheduler::next_due() const {
  std::optional<SteadyClock::time_point> best;
  for (const auto& [key, e] : entries_) {
    if (!e.in_flight && (!best || e.due < *best)) best = e.due;
  }
  return best;
}

std::optional<SteadyClock::time_point> Scheduler::due_of(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.due;
}

}  // namespace portdrift::daemon
