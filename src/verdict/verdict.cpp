#include "portdrift/verdict/verdict.hpp"

namespace portdrift::verdict {

std::string_view to_string(Outcome o) noexcept {
  switch (o) {
    case Outcome::ok: return "ok";
    case Outcome::drift: return "drift";
    case Outcome::error: return "error";
  }
  return "?";
}

std::string_view to_string(Status s) noexcept {
  switch (s) {
    case Status::ok: return "OK";
    case Status::warning: return "WARNING";
    case Status::critical: return "CRITICAL";
    case Status::unknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

bool satisfies(Expect expected, PortState observed) noexcept {
  switch (expected) {
    case Expect::open: return observed == PortState::open;
    case Expect::closed: return observed == PortState::closed;
    case Expect::filtered: return observed == PortState::filtered;
    case Expect::blocked:
      return observed == PortState::closed || observed == PortState::filtered ||
             observed == PortState::open_filtered;
  }
  return false;
}

Outcome judge(Expect expected, const Observation& observed) noexcept {
  if (observed.state == PortState::unknown) return Outcome::error;
  return satisfies(expected, observed.state) ? Outcome::ok : Outcome::drift;
}

Summary summarize(std::span<const CheckResult> results) noexcept {
  Summary s;
  s.checks = results.size();
  bool critical = false;
  bool warning = false;
  for (const auto& r : results) {
    if (r.outcome == Outcome::ok) {
      ++s.ok;
      continue;
    }
    const bool is_critical = r.check->severity == Severity::critical;
    if (r.outcome == Outcome::error) {
      ++s.errors;
    } else if (is_critical) {
      ++s.drift_critical;
    } else {
      ++s.drift_warning;
    }
    (is_critical ? critical : warning) = true;
  }
  if (s.checks == 0) s.status = Status::unknown;
  else if (critical) s.status = Status::critical;
  else if (warning) s.status = Status::warning;
  else s.status = Status::ok;
  return s;
}

}  // namespace portdrift::verdict
