#pragma once
// When each check runs. Every check has an interval; a new check's first run
// is placed at a random point of its own slice of the interval (n checks with
// the same interval get n equal slices), so a large estate is probed evenly
// and never as one burst. After a run the next one is due one interval after
// the previous due time (fixed rate, so the spread holds); a run that is more
// than an interval late is moved to now rather than run twice.
//
// Pure bookkeeping on time points the caller passes in; it never sleeps and
// never reads a clock. Checks are identified by key, so a reload keeps the due
// times of checks that did not change.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace portdrift::daemon {

using SteadyClock = std::chrono::steady_clock;

struct Slot {
  std::string key;
  std::chrono::milliseconds interval{60000};
};

struct Due {
  std::string key;
  std::chrono::microseconds lag{0};  // how late it is taken
};

class Scheduler {
 public:
  explicit Scheduler(std::uint64_t seed, std::chrono::milliseconds batch_slack = std::chrono::milliseconds(20))
      : rng_(seed), slack_(batch_slack) {}

  // Replaces the set of checks. A key that stays with the same interval keeps
  // its due time (and its in-flight mark); others are spread over their interval from `now`.
  void assign(const std::vector<Slot>& slots, SteadyClock::time_point now);

  // The checks due by now (or within the batch slack of it) that are not in
  // flight, earliest first; they are marked in flight.
  std::vector<Due> take_due(SteadyClock::time_point now);
  // A check taken by take_due has run; unknown keys (dropped by a reload) are ignored.
  void done(const std::string& key, SteadyClock::time_point now);

  // The earliest due time of a check not in flight.
  [[nodiscard]] std::optional<SteadyClock::time_point> next_due() const;
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] std::optional<SteadyClock::time_point> due_of(const std::string& key) const;
  // Runs moved to now because they were more than an interval late.
  [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_; }

 private:
  struct Entry {
    std::chrono::milliseconds interval{0};
    SteadyClock::time_point due{};
    bool in_flight = false;
  };
  std::mt19937_64 rng_;
  std::chrono::milliseconds slack_;
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t skipped_ = 0;
};

}  // namespace portdrift::daemon
