#include "icmp_error_budget.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include "portdrift/core/deadline.hpp"

namespace portdrift::probe::detail {
namespace asio = boost::asio;

std::chrono::steady_clock::duration icmp_spacing(std::chrono::steady_clock::duration interval) noexcept {
  if (interval == std::chrono::steady_clock::duration::zero()) return interval;
  return interval + interval / 50 + std::chrono::milliseconds(5);
}

IcmpErrorBudget::IcmpErrorBudget(asio::any_io_executor ex, Clock::duration interval, std::uint32_t burst,
                                 Clock::time_point start)
    : spacing_(icmp_spacing(interval)), burst_left_(burst), floor_(start),
      changed_(std::move(ex), asio::steady_timer::time_point::max()) {}

IcmpErrorBudget::Clock::time_point IcmpErrorBudget::gate() const {
  auto last = floor_;
  for (const auto& [id, at] : sends_) last = std::max(last, at);
  return last + spacing_;
}

asio::awaitable<IcmpErrorBudget::Ticket> IcmpErrorBudget::acquire(bool may_burst, Clock::time_point give_up) {
  if (spacing_ == Clock::duration::zero()) co_return Ticket{0, true};
  for (;;) {
    const auto now = Clock::now();
    // Sends older than one spacing no longer hold the gate back.
    std::erase_if(sends_, [&](const auto& e) { return e.second + spacing_ <= now; });
    const auto g = gate();
    const bool guaranteed = now >= g;
    if (guaranteed || (may_burst && burst_left_ > 0)) {
      if (!guaranteed) --burst_left_;
      const auto id = next_id_++;
      sends_.emplace(id, now);
      co_return Ticket{id, guaranteed};
    }
    if (now >= give_up) co_return Ticket{0, false, true};
    co_await until(std::min(g, give_up), changed_.async_wait(asio::as_tuple(asio::deferred)));  // or woken earlier
    // Cancelled (the run is stopping): no ticket; the attempt ends as not probed.
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
      throw boost::system::system_error(asio::error::operation_aborted);
    }
  }
}

void IcmpErrorBudget::settle(const Ticket& t, bool no_icmp) {
  if (t.id == 0 || !no_icmp) return;
  if (!t.guaranteed) ++burst_left_;  // the target's bucket did not pay for this one either
  if (sends_.erase(t.id) > 0) wake_all();
}

void IcmpErrorBudget::note_icmp(Clock::time_point at) {
  if (spacing_ == Clock::duration::zero()) return;
  sends_.emplace(next_id_++, at);
}

void IcmpErrorBudget::wake_all() { changed_.cancel(); }

}  // namespace portdrift::probe::detail
