#include "shared_icmp_limiter.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include "icmp_error_budget.hpp"
#include "portdrift/core/deadline.hpp"

namespace portdrift::probe::detail {
namespace asio = boost::asio;

IcmpBucket::IcmpBucket(Clock::duration spacing, std::uint32_t burst, double level, Clock::time_point at) noexcept
    : spacing_(spacing), burst_(static_cast<double>(std::max<std::uint32_t>(burst, 1))), level_(level), at_(at) {}

double IcmpBucket::level(Clock::time_point at) const noexcept {
  if (at <= at_) return level_;
  const double refilled = std::chrono::duration<double>(at - at_) / std::chrono::duration<double>(spacing_);
  return std::min(burst_, level_ + refilled);
}

void IcmpBucket::spend(Clock::time_point at) noexcept {
  at = std::max(at, at_);
  level_ = std::max(0.0, level(at) - 1.0);
  at_ = at;
}

SharedIcmpLimiter::SharedIcmpLimiter(asio::any_io_executor ex, Clock::duration interval, std::uint32_t burst,
                                     const std::uint32_t* outside, Clock::time_point start)
    // The history is unknown: the bucket starts empty.
    : bucket_(icmp_spacing(interval), burst, 0.0, start),
      outside_(outside),
      changed_(std::move(ex), asio::steady_timer::time_point::max()) {}

std::uint32_t SharedIcmpLimiter::held(Clock::time_point at) const noexcept {
  std::uint32_t n = outside_ != nullptr ? *outside_ : 0U;
  for (const auto& [t, end] : holds_) n += end > at ? 1U : 0U;
  return n;
}

asio::awaitable<std::uint64_t> SharedIcmpLimiter::acquire(Clock::duration hold, Clock::time_point give_up) {
  for (;;) {
    const auto now = Clock::now();
    std::erase_if(holds_, [&](const auto& e) { return e.second <= now; });
    const double held_now = static_cast<double>(held(now));
    if (level(now) - held_now >= 1.0) {
      const auto ticket = next_ticket_++;
      holds_.emplace(ticket, now + hold);
      co_return ticket;
    }
    if (now >= give_up) co_return 0;
    // The next whole token for this attempt, if the bucket can hold it with the others in flight,
    // or the end of the first hold, whichever comes first; a settle() wakes it sooner.
    auto next = Clock::time_point::max();
    const double needed = held_now + 1.0;
    if (needed <= bucket_.burst()) {
      const double short_by = needed - level(now);
      next = now + std::chrono::duration_cast<Clock::duration>(bucket_.spacing() * short_by) +
             std::chrono::microseconds(1);
    }
    for (const auto& [t, end] : holds_) next = std::min(next, end);
    co_await until(std::min(next, give_up), changed_.async_wait(asio::as_tuple(asio::deferred)));
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
      throw boost::system::system_error(asio::error::operation_aborted);
    }
  }
}

void SharedIcmpLimiter::settle(std::uint64_t ticket, bool icmp, Clock::time_point at) {
  holds_.erase(ticket);
  settle_outside(icmp, at);
}

void SharedIcmpLimiter::settle_outside(bool icmp, Clock::time_point at) {
  if (icmp) bucket_.spend(at);
  changed_.cancel();  // a reservation came free (a spent token only ever delays; waking is harmless)
}

void SharedIcmpLimiter::note_icmp(Clock::time_point at) { bucket_.spend(at); }

}  // namespace portdrift::probe::detail
