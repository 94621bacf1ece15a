#include "portdrift/runner/runner.hpp"

#include "portdrift/probe/resolve.hpp"

namespace portdrift::runner {

boost::asio::awaitable<Pass> run_pass(const plan::Plan& plan, Options options) {
  const auto start = std::chrono::steady_clock::now();
  Pass pass;
  pass.results.resize(plan.checks.size());

  std::vector<std::string> names;
  names.reserve(plan.checks.size());
  for (const auto& c : plan.checks) names.push_back(c.target);
  const auto resolved = co_await probe::resolve_all(std::move(names), options.dns_timeout);

  std::vector<probe::Target> targets;
  std::vector<std::size_t> target_of;  // targets[i] probes plan.checks[target_of[i]]
  targets.reserve(plan.checks.size());
  target_of.reserve(plan.checks.size());
  for (std::size_t i = 0; i < plan.checks.size(); ++i) {
    const auto& c = plan.checks[i];
    auto& r = pass.results[i];
    r.check = &c;
    const auto& res = resolved.at(c.target);
    if (!res.address) {
      r.observation.state = PortState::unknown;
      r.observation.reason = Reason::resolve_failed;
      r.observation.detail = res.error;
      r.outcome = verdict::Outcome::error;
      continue;
    }
    targets.push_back(probe::Target{*res.address, c.port, c.protocol});
    target_of.push_back(i);
  }

  auto observations = co_await probe::probe_all(targets, options.probe, &pass.stats);
  for (std::size_t t = 0; t < observations.size(); ++t) {
    auto& r = pass.results[target_of[t]];
    r.observation = std::move(observations[t]);
    r.outcome = verdict::judge(r.check->expect, r.observation);
  }
  pass.duration =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  co_return pass;
}

}  // namespace portdrift::runner
