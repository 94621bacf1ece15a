#pragma once
// Tracking and events: the soft/hard state (tracker.hpp) of every (check,
// address) pair of the running plan, fed one result at a time, with the
// DRIFT/RESOLVED/FLAPPING lines logged when a state changes (their wording is
// report/events.hpp's). States live in a vector indexed by plan position: the
// first address a check answers from takes the check's own slot, further
// addresses of a DNS target get slots of their own, created when their first
// result comes. No string key is built per result; keys (check_key) exist only
// when a reload is diffed and when the state file is read or written.
// Counts (drifting, flapping, errors) are kept as results come, so STATUS and
// the summary cost nothing per batch. Time is passed in: the tests drive
// confirm/clear/flapping/reload sequences without a clock or a sleep.
//
// It must not: read a clock, do I/O other than logging, or keep a pointer to
// a plan it was not given by adopt() (the owner keeps that plan alive).

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "portdrift/daemon/state_file.hpp"
#include "portdrift/daemon/tracker.hpp"
#include "portdrift/plan/fleet.hpp"
#include "portdrift/plan/plan.hpp"
#include "portdrift/verdict/verdict.hpp"

namespace portdrift::daemon {

class Exposition;

inline constexpr std::uint32_t kNoIndex = std::numeric_limits<std::uint32_t>::max();

// Identifies a check across reloads and restarts: host, target, protocol, port, expected state.
std::string check_key(const plan::Check& c);
// The state file's key of a (check, address) pair: check_key, plus "|ADDRESS"
// when the address is not the target itself (a DNS name's addresses).
std::string state_key(const plan::Check& c, std::string_view address);

struct Counts {
  std::size_t checks = 0, drifting = 0, flapping = 0, errors = 0;
};

struct EventCounts {
  std::uint64_t drift = 0, resolved = 0, flapping = 0;
  // Results a batch's time budget left unconfirmed (reason icmp-ratelimited): no observation, so
  // no step of the state machine; the check keeps its last state and is probed again next time.
  std::uint64_t icmp_ratelimited = 0;
};

class Tracking {
 public:
  // `instance`: the vantage and shard named in event lines and journal fields.
  explicit Tracking(std::shared_ptr<spdlog::logger> log, plan::Instance instance = {})
      : log_(std::move(log)), instance_(std::move(instance)) {}
  [[nodiscard]] const plan::Instance& instance() const noexcept { return instance_; }

  // Switches to `plan`. previous[i] is the position in the previous plan of
  // check i (kNoIndex for a new check): its states, every address, come along.
  void adopt(const plan::Plan& plan, std::span<const std::uint32_t> previous, Thresholds thresholds);

  // One result of check `check` (a position in the adopted plan). `duration_s`:
  // the RTT of the deciding answer or the time spent waiting on silence.
  // Returns true when a hard state or a flapping flag changed (the state file is due).
  bool on_result(std::uint32_t check, const verdict::CheckResult& r, double duration_s, WallTime now);

  // The state file, both ways. restore() returns the summary line's figures.
  struct Restored {
    std::size_t known = 0;
    std::vector<std::string> drifting;  // "host address proto/port since TIME"
  };
  Restored restore(const SavedState& saved);
  [[nodiscard]] SavedState save(WallTime now) const;

  [[nodiscard]] Counts counts() const noexcept { return counts_; }
  [[nodiscard]] const EventCounts& events() const noexcept { return events_; }
  [[nodiscard]] std::size_t slots() const noexcept { return slots_.size(); }
  // The per-check families (drifting, flapping, probe duration), rendered at scrape time.
  void render(Exposition& x) const;

 private:
  struct Slot {
    CheckState state;
    std::string address;  // empty until the first result that named one
    std::uint32_t check = 0;
    std::uint32_t next = kNoIndex;  // the same check's next address
    float duration_s = 0;
    PortState observed = PortState::unknown;
    Reason reason = Reason::local_error;
    verdict::Outcome outcome = verdict::Outcome::ok;
    bool has_result = false;
    bool ratelimited = false;  // the last probe was left unconfirmed (icmp-ratelimited)
  };
  Slot& slot_for(std::uint32_t check, std::string_view address);
  void count(const Slot& s, int sign) noexcept;
  static void record(Slot& s, const verdict::CheckResult& r, double duration_s) noexcept;
  void recount() noexcept;
  void announce(const Slot& s, const plan::Check& c, Severity severity, const Event& e, WallTime now);

  std::shared_ptr<spdlog::logger> log_;
  plan::Instance instance_;
  const plan::Plan* plan_ = nullptr;
  Thresholds thresholds_;
  std::vector<Slot> slots_;  // [0, checks): one per check; then further addresses
  Counts counts_;
  EventCounts events_;
};

}  // namespace portdrift::daemon
