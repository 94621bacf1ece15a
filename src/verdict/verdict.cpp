#include "portdrift/verdict/verdict.hpp"

#include <set>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

namespace portdrift::verdict {

std::string_view to_string(Outcome o) noexcept {
  switch (o) {
    case Outcome::ok: return "ok";
    case Outcome::drift: return "drift";
    case Outcome::error: return "error";
    case Outcome::unconfirmed: return "unconfirmed";
    case Outcome::absent: return "absent";
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
  if (observed.reason == Reason::icmp_ratelimited) {
    // Silence that a closed port would also have shown: fine only where either would be.
    if (satisfies(expected, PortState::closed) && satisfies(expected, PortState::open_filtered)) return Outcome::ok;
    return Outcome::unconfirmed;
  }
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
  if (r.outcome == Outcome::absent) {
    return r.check->absent == Absent::critical ? Severity::critical : Severity::warning;
  }
  return r.check->severity;
}

bool silent(const Observation& o) noexcept { return o.reason == Reason::no_response; }

bool nobody_there(const Observation& o) noexcept { return silent(o) || o.reason == Reason::host_unreach; }

namespace {

using AddressKey = std::pair<std::string_view, std::string_view>;  // host, address probed

struct AddressKeyHash {
  std::size_t operator()(const AddressKey& k) const noexcept {
    return std::hash<std::string_view>{}(k.first) * 31 + std::hash<std::string_view>{}(k.second);
  }
};

AddressKey key_of(const CheckResult& r) {
  return {r.check->host, r.observation.address.empty() ? r.check->target : std::string_view(r.observation.address)};
}

}  // namespace

std::size_t mark_absent(std::span<CheckResult> results) {
  std::unordered_map<AddressKey, bool, AddressKeyHash> all_silent;  // per address
  for (const auto& r : results) {
    if (r.check == nullptr || r.check->absent == Absent::drift) continue;
    auto [it, fresh] = all_silent.try_emplace(key_of(r), true);
    it->second = it->second && nobody_there(r.observation);
  }
  std::size_t absent = 0;
  for (const auto& [key, quiet] : all_silent) absent += quiet ? 1 : 0;
  if (absent == 0) return 0;
  for (auto& r : results) {
    if (r.check == nullptr || r.check->absent == Absent::drift) continue;
    if (all_silent.at(key_of(r))) r.outcome = Outcome::absent;
  }
  return absent;
}

void note_disagreements(std::span<CheckResult> results) {
  std::size_t begin = 0;
  while (begin < results.size()) {
    std::size_t end = begin + 1;
    while (end < results.size() && results[end].check == results[begin].check) ++end;
    const auto run = results.subspan(begin, end - begin);
    begin = end;
    if (run.size() < 2) continue;
    bool some_ok = false;
    for (const auto& r : run) some_ok = some_ok || r.outcome == Outcome::ok;
    if (!some_ok) continue;
    for (auto& r : run) {
      if (r.outcome != Outcome::drift) continue;
      std::string others;
      for (const auto& o : run) {
        if (&o == &r) continue;
        others += fmt::format("{}{} on {}", others.empty() ? "" : ", ", to_string(o.observation.state),
                              o.observation.address);
      }
      r.note = fmt::format("other addresses of {}: {}", r.check->target, others);
    }
  }
}

Summary summarize(std::span<const CheckResult> results) {
  Summary s;
  s.checks = results.size();
  bool critical = false;
  bool warning = false;
  std::set<AddressKey> absent;  // each absent address counts once
  for (const auto& r : results) {
    if (r.outcome == Outcome::ok) {
      ++s.ok;
      continue;
    }
    if (r.outcome == Outcome::absent) {
      if (!absent.insert(key_of(r)).second) continue;
      ++s.absent;
      if (r.check->absent == Absent::critical) {
        ++s.absent_critical;
        critical = true;
      } else if (r.check->absent == Absent::warning) {
        ++s.absent_warning;
        warning = true;
      }
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
