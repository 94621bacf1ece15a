#include "portdrift/runner/runner.hpp"

#include <string_view>
#include <unordered_set>

#include <boost/asio/this_coro.hpp>

#include "portdrift/probe/resolve.hpp"

namespace portdrift::runner {

boost::asio::awaitable<Pass> run_pass(const plan::Plan& plan, Options options) {
  std::vector<std::size_t> all(plan.checks.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  co_return co_await run_checks(plan, std::move(all), options);
}

boost::asio::awaitable<Pass> run_checks(const plan::Plan& plan, std::vector<std::size_t> indices, Options options) {
  const auto start = std::chrono::steady_clock::now();
  Pass pass;
  pass.results.resize(indices.size());

  std::vector<std::string> names;  // each distinct target once: a host's checks share it
  {
    std::unordered_set<std::string_view> seen;
    for (const auto i : indices) {
      if (seen.insert(plan.checks.at(i).target).second) names.emplace_back(plan.checks[i].target);
    }
  }
  const auto resolved = co_await probe::resolve_all(std::move(names), options.dns_timeout);
  const auto state = co_await boost::asio::this_coro::cancellation_state;
  if (state.cancelled() != boost::asio::cancellation_type::none) {  // cancelled while resolving: probe nothing
    pass.cancelled = true;
    for (std::size_t i = 0; i < indices.size(); ++i) {
      auto& r = pass.results[i];
      r.check = &plan.checks[indices[i]];
      r.observation = probe::not_probed();
      r.outcome = verdict::Outcome::error;
    }
    pass.stats.not_probed = indices.size();
    pass.duration =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
    co_return pass;
  }

  std::vector<probe::Target> targets;
  std::vector<std::size_t> target_of;  // targets[t] probes the check of pass.results[target_of[t]]
  targets.reserve(indices.size());
  target_of.reserve(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const auto& c = plan.checks[indices[i]];
    auto& r = pass.results[i];
    r.check = &c;
    const auto& res = resolved.at(std::string(c.target));
    if (!res.address) {
      r.observation.state = PortState::unknown;
      r.observation.reason = Reason::resolve_failed;
      r.observation.detail = res.error;
      r.outcome = verdict::Outcome::error;
      continue;
    }
    auto& target = targets.emplace_back(*res.address, c.port, c.protocol);
    target.payload = c.payload.get();
    target.echo_count = c.echo_count;
    target.icmp_ratelimit = std::chrono::milliseconds(c.icmp_ratelimit_ms);
    target_of.push_back(i);
  }

  // Each observation goes straight to its check's result as its probe ends.
  co_await probe::probe_all(
      targets, options.probe,
      [&](std::size_t t, Observation&& o) {
        auto& r = pass.results[target_of[t]];
        r.observation = std::move(o);
        r.observation.address = resolved.at(std::string(r.check->target)).text;
        r.outcome = r.observation.reason == Reason::not_probed
                        ? verdict::Outcome::error
                        : verdict::judge(r.check->expect, r.observation, r.check->silence);
      },
      &pass.stats);
  pass.cancelled = pass.stats.not_probed > 0;
  pass.duration =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  co_return pass;
}

}  // namespace portdrift::runner
