#include "portdrift/verdict/verdict.hpp"

namespace portdrift::verdict {

std::string_view to_string(Outcome o) noexcept {
  switch (o) {
    case Outcome::ok: return "ok";
    case Outcome::drift: return "drift";
    case Outcome::error: return "error";
    case Outcome::unconfirmed: return "unconfirmed";
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
    case Expect::filtered: return observed == PortState::filtered || observed == PortState::open_filtered;
    case Expect::blocked:
      return observed == PortState::closed || observed == PortState::filtered ||
             observed == PortState::open_filtered;
    case Expect::reachable: return observed == PortState::up;
    case Expect::unreachable: return observed == PortState::down;
  }
  return false;
}

Outcome judge(Expect expected, const Observation& observed, Silence silence) noexcept {
  if (observed.state == PortState::unknown) return Outcome::error;
  if (satisfies(expected, observed.state)) return Outcome::ok;
  if (expected == Expect::open && observed.state == PortState::open_filtered) {
    return silence == Silence::ok ? Outcome::ok : Outcome::unconfirmed;
  }
  return Outcome::drift;
}

Severity severity_of(const CheckResult& r) noexcept {
  if (r.outcome == Outcome::unconfirmed) {
    return r.check->silence == Silence::critical ? Severity::critical : Severity::warning;
  }
  return r.check->severity;
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
    const bool is_critical = severity_of(r) == Severity::critical;
    if (r.outcome == Outcome::error) {
      ++s.errors;
    } else if (r.outcome == Outcome::unconfirmed) {
      ++s.unconfirmed;
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
