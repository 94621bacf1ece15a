#pragma once
// One pass over a plan: resolve the names it targets, probe every check, and
// judge each observation. Shared by `--check` and the daemon's scheduled batches.

#include <chrono>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "portdrift/plan/plan.hpp"
#include "portdrift/probe/engine.hpp"
#include "portdrift/verdict/verdict.hpp"

namespace portdrift::runner {

struct Options {
  probe::Settings probe;
  std::chrono::milliseconds dns_timeout{5000};
};

struct Pass {
  std::vector<verdict::CheckResult> results;  // same order as plan.checks
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
// at its plan.checks entry. Names are resolved once per call. Honours the
// awaiting coroutine's cancellation slot: on terminal cancellation the
// resolver's wait and the probes in flight end promptly, and the pass returns
// with `cancelled` set (see Pass).
boost::asio::awaitable<Pass> run_checks(const plan::Plan& plan, std::vector<std::size_t> indices, Options options);

}  // namespace portdrift::runner
