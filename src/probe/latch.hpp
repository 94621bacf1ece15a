#pragma once
// A count-down latch for coroutines on one io_context: wait() returns true
// once count_down() was called `count` times, or false as soon as the
// awaiting coroutine is cancelled (its owner then decides what to cancel and
// waits again, after reset_cancellation_state). Built on a timer that never
// expires by itself, cancelled when the count reaches zero.

#include <cstddef>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace portdrift::probe::detail {

class Latch {
 public:
  Latch(const boost::asio::any_io_executor& ex, std::size_t count)
      : timer_(ex, boost::asio::steady_timer::time_point::max()), count_(count) {}
  void count_down() {
    if (count_ > 0 && --count_ == 0) timer_.cancel();
  }
  boost::asio::awaitable<bool> wait() {
    while (count_ > 0) {
      co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      const auto state = co_await boost::asio::this_coro::cancellation_state;
      if (state.cancelled() != boost::asio::cancellation_type::none) co_return false;
    }
    co_return true;
  }

 private:
  boost::asio::steady_timer timer_;
  std::size_t count_;
};

}  // namespace portdrift::probe::detail
