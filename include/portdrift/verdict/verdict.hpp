#pragma once
// Verdicts: expected state vs observed state -> ok, drift, unconfirmed or
// error; and a run's overall status on the Nagios scale. No I/O, no formatting.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "portdrift/core/observation.hpp"
#include "portdrift/core/types.hpp"
#include "portdrift/plan/plan.hpp"

namespace portdrift::verdict {

// `unconfirmed`: a UDP port expected open stayed silent (open|filtered). It may
// be open with a service that ignored the probe, or dropped by a firewall; it
// is reported at the check's `silence` severity (warning by default), never
// as ok unless the check says silence is acceptable. Also a silent UDP port
// that the time budget left unconfirmed (reason icmp-ratelimited: a closed
// port would have looked the same), whatever was expected, unless closed and
// silent would both do (`blocked`).
//
// `absent`: the address belongs to a group block (its check's `absent` is not
// `drift`) and no probe of the pass got any answer from it; see mark_absent.
enum class Outcome : std::uint8_t { ok, drift, error, unconfirmed, absent };

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

// A plan check probed at one address. A check whose target is a DNS name has
// one result per address probed (observation.address tells them apart).
struct CheckResult {
  const plan::Check* check = nullptr;
  Observation observation;
  Outcome outcome = Outcome::error;
  std::string note{};  // a finding beside the verdict, e.g. the other addresses of the name disagree
};

struct Summary {
  std::size_t checks = 0;
  std::size_t ok = 0;
  std::size_t drift_critical = 0;
  std::size_t drift_warning = 0;
  std::size_t errors = 0;  // could not be probed; counted under their severity in the status
  std::size_t unconfirmed = 0;  // silent UDP ports expected open; counted under their `silence` severity
  std::size_t absent = 0;           // addresses found absent (each once, however many checks it has)
  std::size_t absent_critical = 0;  // of those, at the group's `absent: critical`
  std::size_t absent_warning = 0;   // of those, at `absent: warning` (the rest are `ok`: counted only)
  Status status = Status::unknown;
  [[nodiscard]] std::size_t drifted() const noexcept { return drift_critical + drift_warning; }
};

// The severity a result counts at: its check's, for `unconfirmed` its check's
// `silence`, for `absent` its check's `absent` (`ok` reads as warning here, but
// never counts towards the status).
Severity severity_of(const CheckResult& r) noexcept;

// Did the probe get no answer of any kind: no SYN-ACK, no RST, no ICMP error
// (not even host-unreach), no UDP reply, no echo reply? A local error is not
// silence: nothing was learnt about the address.
bool silent(const Observation& o) noexcept;
// Silence, or a host unreachable: what an address with no computer on it gives.
// A router that cannot resolve the address sends ICMP host unreachable, and
// on a directly connected LAN this machine's own neighbour resolution fails
// (EHOSTUNREACH) after about 3 s; both say "nobody there", not "a firewall".
// Every other ICMP error (admin-prohibited, port unreachable, ...) is an answer.
bool nobody_there(const Observation& o) noexcept;

// The absent rule. Results are grouped by address (host and observation.address);
// only results whose check has `absent` other than `drift` (members of a group
// block) take part. An address whose every such result is nobody_there() is absent:
// those results get the outcome `absent`, instead of one drift per port.
// Returns how many addresses were found absent.
std::size_t mark_absent(std::span<CheckResult> results);

// A name whose addresses disagree: in each run of consecutive results of one
// check (one per address of its target), a result that drifted while another
// address met the expectation gets a note naming what the others saw
// ("other addresses of NAME: open on 198.18.0.1").
void note_disagreements(std::span<CheckResult> results);

// CRITICAL if a critical check drifted or could not be probed (or an address of
// an `absent: critical` group was absent), WARNING if only warning-severity ones
// did, OK otherwise; UNKNOWN for an empty run.
Summary summarize(std::span<const CheckResult> results);

}  // namespace portdrift::verdict
