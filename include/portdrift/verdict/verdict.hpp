#pragma once
// Verdicts: expected state vs observed state -> ok, drift, unconfirmed or
// error; and a run's overall status on the Nagios scale. No I/O, no formatting.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "portdrift/core/observation.hpp"
#include "portdrift/core/types.hpp"
#include "portdrift/plan/plan.hpp"

namespace portdrift::verdict {

// `unconfirmed`: a UDP port expected open stayed silent (open|filtered). It may
// be open with a service that ignored the probe, or dropped by a firewall; it
// is reported at the check's `silence` severity (warning by default), never
// as ok unless the check says silence is acceptable.
enum class Outcome : std::uint8_t { ok, drift, error, unconfirmed };

// Nagios plugin return codes.
enum class Status : std::uint8_t { ok = 0, warning = 1, critical = 2, unknown = 3 };

std::string_view to_string(Outcome o) noexcept;
std::string_view to_string(Status s) noexcept;  // "OK", "WARNING", "CRITICAL", "UNKNOWN"

// Does an observed state meet an expectation? open|filtered never proves
// `open`; `filtered` is met by filtered and open|filtered (a UDP drop looks
// like that); `blocked` by closed, filtered and open|filtered; `reachable`
// by a host that is up, `unreachable` by one that is down.
bool satisfies(Expect expected, PortState observed) noexcept;
Outcome judge(Expect expected, const Observation& observed, Silence silence = Silence::warning) noexcept;

struct CheckResult {
  const plan::Check* check = nullptr;
  Observation observation;
  Outcome outcome = Outcome::error;
};

struct Summary {
  std::size_t checks = 0;
  std::size_t ok = 0;
  std::size_t drift_critical = 0;
  std::size_t drift_warning = 0;
  std::size_t errors = 0;  // could not be probed; counted under their severity in the status
  std::size_t unconfirmed = 0;  // silent UDP ports expected open; counted under their `silence` severity
  Status status = Status::unknown;
  [[nodiscard]] std::size_t drifted() const noexcept { return drift_critical + drift_warning; }
};

// The severity a result counts at: its check's, or for `unconfirmed` its check's `silence`.
Severity severity_of(const CheckResult& r) noexcept;

// CRITICAL if a critical check drifted or could not be probed, WARNING if only
// warning-severity ones did, OK otherwise; UNKNOWN for an empty run.
Summary summarize(std::span<const CheckResult> results) noexcept;

}  // namespace portdrift::verdict
