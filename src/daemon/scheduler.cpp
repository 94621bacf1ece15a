#include "portdrift/daemon/scheduler.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace portdrift::daemon {

void Scheduler::assign(std::span<const UnitSpec> units, SteadyClock::time_point now) {
  entries_.assign(units.size(), Entry{});
  std::map<std::chrono::milliseconds, std::vector<std::uint32_t>> fresh;  // by interval
  for (std::uint32_t u = 0; u < units.size(); ++u) {
    entries_[u].interval = units[u].interval;
    if (units[u].due) {
      entries_[u].due = *units[u].due;
    } else {
      fresh[units[u].interval].push_back(u);
    }
  }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (const auto& [interval, group] : fresh) {
    const auto n = static_cast<double>(group.size());
    for (std::size_t i = 0; i < group.size(); ++i) {
      // Slice i of n, at a random point inside it.
      const double at = (static_cast<double>(i) + unit(rng_)) / n;
      entries_[group[i]].due = now + std::chrono::duration_cast<SteadyClock::duration>(
                                         std::chrono::duration<double, std::milli>(
                                             static_cast<double>(interval.count()) * at));
    }
  }
  heap_.resize(entries_.size());
  for (std::uint32_t u = 0; u < entries_.size(); ++u) heap_[u] = u;
  std::make_heap(heap_.begin(), heap_.end(), later());
}

void Scheduler::push(std::uint32_t unit) {
  ++touched_;
  heap_.push_back(unit);
  std::push_heap(heap_.begin(), heap_.end(), later());
}

std::vector<Due> Scheduler::take_due(SteadyClock::time_point now) {
  std::vector<Due> out;
  while (!heap_.empty()) {
    ++touched_;
    const auto u = heap_.front();
    Entry& e = entries_[u];
    if (e.due > now + slack_) break;
    std::pop_heap(heap_.begin(), heap_.end(), later());
    heap_.pop_back();
    e.in_flight = true;
    const auto lag = e.due < now ? std::chrono::duration_cast<std::chrono::microseconds>(now - e.due)
                                 : std::chrono::microseconds(0);
    out.push_back(Due{u, lag});
  }
  return out;
}

void Scheduler::done(std::uint32_t unit, SteadyClock::time_point now) {
  if (unit >= entries_.size() || !entries_[unit].in_flight) return;
  Entry& e = entries_[unit];
  e.in_flight = false;
  e.due += e.interval;
  if (e.due + e.interval <= now) {
    // More than an interval behind: run once now rather than catching up.
    ++skipped_;
    e.due = now;
  }
  push(unit);
}

void Scheduler::release(std::uint32_t unit) {
  if (unit >= entries_.size() || !entries_[unit].in_flight) return;
  entries_[unit].in_flight = false;
  push(unit);
}

std::optional<SteadyClock::time_point> Scheduler::next_due() const {
  if (heap_.empty()) return std::nullopt;
  return entries_[heap_.front()].due;
}

}  // namespace portdrift::daemon
