#pragma once
// A fleet of instances sharing one topology: which named vantage this
// instance probes from (`--vantage NAME`), which flows no declared vantage
// can check (warnings for `--validate`), and which 1/N of the plan this
// instance runs (`--shard K/N`). A shard is decided by the check's target,
// through a hash that is the same on every machine and every build, so that
// N instances given K = 1..N cover each check exactly once and one target's
// ports (and its per-host cap) stay with one instance.
//
// Must not: read the environment (cli passes the name down) or probe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "portdrift/catalog/catalog.hpp"
#include "portdrift/config/topology.hpp"
#include "portdrift/core/diagnostic.hpp"
#include "portdrift/plan/plan.hpp"

namespace portdrift::plan {

// K/N: this instance is shard `index` (1-based) of `count`.
struct Shard {
  std::uint32_t index = 1;
  std::uint32_t count = 1;
};

// "2/3"; nullopt and `error` unless 1 <= K <= N.
std::optional<Shard> parse_shard(std::string_view text, std::string& error);
std::string to_string(Shard s);

// FNV-1a over the bytes, then a 64-bit finalizer (splitmix64) so that the low
// bits used for `% N` are well mixed. Never std::hash: that may differ between builds.
std::uint64_t stable_hash(std::string_view text) noexcept;
// The shard (1-based) of `count` that probes `target`.
std::uint32_t shard_of(std::string_view target, std::uint32_t count) noexcept;
// Keeps the checks of `shard`, in plan order.
void keep_shard(Plan& plan, Shard shard);

// Which instance of a fleet speaks, as reports, log lines, journal fields and
// metric labels name it: the vantage ("" for the topology's `vantage:`) and
// the shard ("2/3"; "" when the instance runs the whole plan).
struct Instance {
  std::string vantage;
  std::string shard;
};
Instance instance_of(std::string_view vantage, const std::optional<Shard>& shard);

// Makes the named vantage the topology's vantage: its host and roles replace
// `vantage:`, its `source` (if any) replaces defaults.source. An unknown name
// is one diagnostic that lists the declared ones. An empty name keeps
// `vantage:`; when the topology has only `vantages:` that is a diagnostic if
// `required` (--check, the daemon), and a plan from no vantage if not (--validate).
Diagnostics select_vantage(config::Topology& topology, std::string_view name, bool required);

// `vantages:` against the catalog: each vantage's host and roles must exist
// (errors); each catalog flow towards a role in the topology that no declared
// vantage (nor `vantage:`) initiates is one warning, "nobody checks tcp/1433
// sepm -> sql-server". Empty when the topology declares no `vantages:`.
struct Coverage {
  Diagnostics errors;
  Diagnostics warnings;
};
// `selected`: the vantage in use, whose host and roles the plan checks already.
Coverage vantage_coverage(const config::Topology& topology, const catalog::Catalog& catalog, std::string_view selected);

}  // namespace portdrift::plan
