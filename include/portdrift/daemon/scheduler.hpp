#pragma once
// When each scheduling unit runs. A unit is what runs together: all the
// checks of one host target (the daemon builds them from the plan), so that
// the checks of one address always share a batch. Every unit has an interval;
// a new unit's first run is placed at a random point of its own slice of the
// interval (n units with the same interval get n equal slices), so a large
// estate is probed evenly and never as one burst. After a run the next one is
// due one interval after the previous due time (fixed rate, so the spread
// holds); a run that is more than an interval late is moved to now rather than
// run twice.
//
// Units are integers (positions in the caller's list); the due units sit in a
// binary heap keyed by due time, so finding the next due unit is O(1) and
// taking or re-queueing one is O(log n): the work of a batch depends on the
// units in it, never on the units that are not due (`touched()` counts it, and
// a test holds it to that).
//
// Pure bookkeeping on time points the caller passes in; it never sleeps and
// never reads a clock.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

namespace portdrift::daemon {

using SteadyClock = std::chrono::steady_clock;

struct UnitSpec {
  std::chrono::milliseconds interval{60000};
  // Keep this due time (a unit that a reload did not change); nullopt: place it fresh.
  std::optional<SteadyClock::time_point> due;
};

struct Due {
  std::uint32_t unit = 0;
  std::chrono::microseconds lag{0};  // how late it is taken
};

class Scheduler {
 public:
  explicit Scheduler(std::uint64_t seed, std::chrono::milliseconds batch_slack = std::chrono::milliseconds(20))
      : rng_(seed), slack_(batch_slack) {}

  // Replaces the set of units (none is in flight afterwards). Units with a
  // kept due time keep it; the others are spread over their interval from `now`.
  void assign(std::span<const UnitSpec> units, SteadyClock::time_point now);

  // The units due by now (or within the batch slack of it) that are not in
  // flight, earliest first; they are marked in flight.
  std::vector<Due> take_due(SteadyClock::time_point now);
  // A unit taken by take_due has run: it is due one interval after its previous due time.
  void done(std::uint32_t unit, SteadyClock::time_point now);
  // A unit taken by take_due did not run (its batch was cancelled): due again at its old due time.
  void release(std::uint32_t unit);

  // The earliest due time of a unit not in flight.
  [[nodiscard]] std::optional<SteadyClock::time_point> next_due() const;
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] SteadyClock::time_point due_of(std::uint32_t unit) const { return entries_.at(unit).due; }
  [[nodiscard]] bool in_flight(std::uint32_t unit) const { return entries_.at(unit).in_flight; }
  // Runs moved to now because they were more than an interval late.
  [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_; }
  // Heap entries visited by take_due, done, release and next_due since start:
  // grows with the units that run, not with the estate.
  [[nodiscard]] std::uint64_t touched() const noexcept { return touched_; }

 private:
  struct Entry {
    std::chrono::milliseconds interval{0};
    SteadyClock::time_point due{};
    bool in_flight = false;
  };
  void push(std::uint32_t unit);
  // The heap's order: the unit due later (ties by number) sinks.
  [[nodiscard]] auto later() const {
    return [this](std::uint32_t a, std::uint32_t b) {
      return entries_[a].due != entries_[b].due ? entries_[a].due > entries_[b].due : a > b;
    };
  }

  std::mt19937_64 rng_;
  std::chrono::milliseconds slack_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> heap_;  // the units not in flight, a min-heap on (due, unit)
  std::uint64_t skipped_ = 0;
  std::uint64_t touched_ = 0;
};

}  // namespace portdrift::daemon
