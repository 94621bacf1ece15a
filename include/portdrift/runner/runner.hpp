#pragma once
// One pass over a plan: resolve the names it targets, probe every check at
// each selected address of its target, and judge each observation (the
// absent rule included). Shared by `--check` and the daemon's scheduled batches.

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include <boost/asio/awaitable.hpp>

#include "portdrift/plan/plan.hpp"
#include "portdrift/probe/engine.hpp"
#include "portdrift/verdict/verdict.hpp"

namespace portdrift::runner {

struct Options {
  probe::Settings probe;
  std::chrono::milliseconds dns_timeout{5000};
  // Where every probe leaves from (--source), over the checks' own `source`;
  // empty: each check's. Check it with probe::find_source before the run.
  std::string source;
};

// Which of a name's addresses (in resolve_all's order) a check probes, by index:
// all of them, the first (`any`), or those of one family (possibly none).
std::vector<std::size_t> select_addresses(std::span<const boost::asio::ip::address> addresses,
                                          AddressFamily family);

struct Pass {
  // In plan order (or the order of `indices`); a check has one result per
  // address it probed, consecutive, in the name's address order; a check
  // that could not be probed (no address) has one error result.
  std::vector<verdict::CheckResult> results;
  probe::RunStats stats;
  std::chrono::microseconds duration{0};
  // The awaiting coroutine was cancelled (terminal) during the pass: the
  // results of checks that had not finished carry Reason::not_probed (state
  // unknown, outcome error). They are no observation: do not record them.
  bool cancelled = false;
};

boost::asio::awaitable<Pass> run_pass(const plan::Plan& plan, Options options);

// A pass over some of the plan's checks (the daemon's scheduler runs the ones
// that are due): results come back in the order of `indices`, each pointing
// at its plan.checks entry, one per address probed. Names are resolved once
// per call, and the absent rule sees only this call's results. Honours the
// awaiting coroutine's cancellation slot: on terminal cancellation the
// resolver's wait and the probes in flight end promptly, and the pass returns
// with `cancelled` set (see Pass).
boost::asio::awaitable<Pass> run_checks(const plan::Plan& plan, std::vector<std::size_t> indices, Options options);

}  // namespace portdrift::runner
