#include "portdrift/runner/runner.hpp"

#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include "portdrift/probe/resolve.hpp"
#include "portdrift/probe/source.hpp"

namespace portdrift::runner {

std::vector<std::size_t> select_addresses(std::span<const boost::asio::ip::address> addresses,
                                          AddressFamily family) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const bool v4 = addresses[i].is_v4();
    switch (family) {
      case AddressFamily::all: out.push_back(i); break;
      case AddressFamily::any: if (out.empty()) out.push_back(i); break;
      case AddressFamily::ipv4: if (v4) out.push_back(i); break;
      case AddressFamily::ipv6: if (!v4) out.push_back(i); break;
    }
  }
  return out;
}

boost::asio::awaitable<Pass> run_pass(const plan::Plan& plan, Options options) {
  std::vector<std::size_t> all(plan.checks.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  co_return co_await run_checks(plan, std::move(all), options);
}

namespace {

void fail(verdict::CheckResult& r, Reason reason, std::string detail) {
  r.observation.state = PortState::unknown;
  r.observation.reason = reason;
  r.observation.detail = std::move(detail);
  r.outcome = verdict::Outcome::error;
}

std::string family_error(std::string_view name, AddressFamily family, const probe::Resolution& res) {
  std::string has;
  for (const auto& t : res.texts) has += fmt::format("{}{}", has.empty() ? "" : ", ", t);
  return fmt::format("{} has no {} address (address_family: {}; it has {})", name,
                     family == AddressFamily::ipv4 ? "IPv4" : "IPv6", to_string(family), has);
}

}  // namespace

boost::asio::awaitable<Pass> run_checks(const plan::Plan& plan, std::vector<std::size_t> indices, Options options) {
  const auto start = std::chrono::steady_clock::now();
  Pass pass;

  std::vector<std::string> names;  // each distinct target once: a host's checks share it
  // Each distinct source once; node-based, so the Targets may point into it.
  std::unordered_map<std::string_view, probe::SourceResult> sources;
  {
    std::unordered_set<std::string_view> seen;
    for (const auto i : indices) {
      const auto& c = plan.checks.at(i);
      if (seen.insert(c.target).second) names.emplace_back(c.target);
      const std::string_view src = options.source.empty() ? c.source : std::string_view(options.source);
      if (!src.empty() && !sources.contains(src)) sources.emplace(src, probe::find_source(src));
    }
  }
  const auto resolved = co_await probe::resolve_all(std::move(names), options.dns_timeout);
  const auto state = co_await boost::asio::this_coro::cancellation_state;
  if (state.cancelled() != boost::asio::cancellation_type::none) {  // cancelled while resolving: probe nothing
    pass.cancelled = true;
    pass.results.resize(indices.size());
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
  std::vector<std::size_t> target_of;  // targets[t] probes pass.results[target_of[t]]
  pass.results.reserve(indices.size());
  targets.reserve(indices.size());
  target_of.reserve(indices.size());
  for (const auto i : indices) {
    const auto& c = plan.checks[i];
    const auto& res = resolved.at(std::string(c.target));
    const std::string_view src = options.source.empty() ? c.source : std::string_view(options.source);
    const probe::SourceResult* source = src.empty() ? nullptr : &sources.at(src);
    const auto chosen = select_addresses(res.addresses, c.family);
    if (chosen.empty() || (source != nullptr && !source->ok())) {
      auto& r = pass.results.emplace_back();
      r.check = &c;
      if (res.addresses.empty()) fail(r, Reason::resolve_failed, res.error);
      else if (chosen.empty()) fail(r, Reason::resolve_failed, family_error(c.target, c.family, res));
      else fail(r, Reason::local_error, source->error);
      continue;
    }
    for (const auto k : chosen) {
      auto& r = pass.results.emplace_back();
      r.check = &c;
      r.observation.address = res.texts[k];
      auto& target = targets.emplace_back(res.addresses[k], c.port, c.protocol);
      target.payload = c.payload.get();
      target.echo_count = c.echo_count;
      target.icmp_ratelimit = std::chrono::milliseconds(c.icmp_ratelimit_ms);
      target.confirm_silence = c.expect != Expect::blocked;  // closed or silent: both meet it
      target.silence_expected =
          c.expect == Expect::filtered || c.expect == Expect::blocked || c.expect == Expect::unreachable;
      if (source != nullptr) target.source = &source->source;
      target_of.push_back(pass.results.size() - 1);
    }
  }

  // Each observation goes straight to its result as its probe ends.
  co_await probe::probe_all(
      targets, options.probe,
      [&](std::size_t t, Observation&& o) {
        auto& r = pass.results[target_of[t]];
        auto address = std::move(r.observation.address);
        r.observation = std::move(o);
        r.observation.address = std::move(address);
        r.outcome = r.observation.reason == Reason::not_probed
                        ? verdict::Outcome::error
                        : verdict::judge(r.check->expect, r.observation, r.check->silence);
      },
      &pass.stats);
  pass.cancelled = pass.stats.not_probed > 0;
  verdict::mark_absent(pass.results);
  verdict::note_disagreements(pass.results);
  pass.duration =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  co_return pass;
}

}  // namespace portdrift::runner
