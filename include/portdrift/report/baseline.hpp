#pragma once
// What changed since an earlier run (`--check --baseline PREVIOUS.json`), the
// way nmap's ndiff compares two scans. Both runs are read in their JSON form
// (`--format json`), so a baseline written by any earlier run, on any machine,
// compares the same way as the run just made. Pure: no file I/O (the CLI reads
// the file), no probing.
//
// A check is identified by host, address, protocol, port and expectation; a
// check whose expectation changed is one removed and one added (the topology
// or catalog changed). A check is a *problem* when its verdict is not `ok`.
//
// Exit rule (docs/pipelines.md), on the Nagios scale so a monitoring system can
// run it as a service and CI can tell "changed" from "newly broken":
//   0 OK        nothing changed
//   1 WARNING   something changed, but no check became a critical problem
//               (cleared drifts, observed state or reason changed, checks
//               added or removed, new warning-severity problems)
//   2 CRITICAL  a check became a critical-severity problem that was not one
//               in the baseline (a new drift, or an added check that drifts)
//   3 UNKNOWN   the baseline could not be read or is not a result (the CLI)

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portdrift/verdict/verdict.hpp"

namespace portdrift::report {

// One check of a run as its JSON carries it.
struct RunCheck {
  std::string host, address, protocol;
  int port = -1;  // -1: icmp
  std::string expected, observed, reason, verdict, severity, catalog;

  [[nodiscard]] bool problem() const noexcept { return verdict != "ok"; }
};

struct RunRecord {
  std::string status;   // OK, WARNING, CRITICAL
  std::string vantage;  // empty: the topology's own vantage
  std::string topology_hash;
  std::vector<RunCheck> checks;
};

struct RunRecordResult {
  std::optional<RunRecord> record;
  std::string error;  // why the text is not a run's result, when record is empty
};

// Reads a `--check --format json` document, or a `--baseline --format json`
// diff document (its "run"). A run that probed nothing (UNKNOWN) is an error.
RunRecordResult parse_run(std::string_view json_text);

enum class ChangeKind { new_problem, cleared, changed, added, removed };
std::string_view to_string(ChangeKind k) noexcept;  // "new", "cleared", "changed", "added", "removed"

struct Change {
  ChangeKind kind = ChangeKind::changed;
  std::optional<RunCheck> before;  // empty for added
  std::optional<RunCheck> after;   // empty for removed
};

struct BaselineDiff {
  std::vector<Change> changes;  // in the current run's order, then removed checks in the baseline's
  std::size_t new_problems = 0, new_critical = 0, cleared = 0, changed = 0, added = 0, removed = 0;
  bool topology_changed = false;  // the topology file's hash differs
  verdict::Status status = verdict::Status::ok;  // the exit rule above
};

// Refuses (error text) to compare runs from different vantages: their flows differ by design.
struct BaselineDiffResult {
  std::optional<BaselineDiff> diff;
  std::string error;
};
BaselineDiffResult compare(const RunRecord& before, const RunRecord& after);

// First line a Nagios status line ("PORTDRIFT CRITICAL - since FILE: ..."), then one
// line per change, ndiff style: "+" new problem or added, "-" cleared or removed, "~" changed.
std::string diff_text(const BaselineDiff& diff, std::string_view baseline_file);
// {"status", "exit_code", "baseline", "summary", "changes": [...], "run": RUN}; run_json is the run's document.
std::string diff_json(const BaselineDiff& diff, std::string_view baseline_file, std::string_view run_json);

}  // namespace portdrift::report
