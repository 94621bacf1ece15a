#pragma once
// One pass over a plan: resolve the names it targets, probe every check, and
// judge each observation. Shared by `--check` and (later) the daemon's cycles.

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
};

boost::asio::awaitable<Pass> run_pass(const plan::Plan& plan, Options options);

}  // namespace portdrift::runner
