#pragma once
// The one deadline for asynchronous work: until(at, op) runs one Asio
// operation and a timer side by side (an Asio parallel group, as the `||`
// operator of Asio's cpp20/coroutines/timeout.cpp does) and returns when both
// have completed. Every probe kind (TCP coroutine path, UDP, ICMP echo), the
// resolver's wait and the ICMP error budget wait through it.
//
// States of one call:
//   waiting    -> the operation and the timer are both pending;
//   completed  -> the operation finished first: the timer is cancelled and
//                 awaited, `expired` is false;
//   expired    -> the timer fired first: the operation is cancelled
//                 (terminal) and awaited; its own result says what happened
//                 (operation_aborted when the expiry cut it short);
//   cancelled  -> the awaiting coroutine was cancelled: both are cancelled
//                 and awaited, `expired` is false and the operation's result
//                 is (usually) operation_aborted.
// Safe when the expiry is already queued as the operation completes (both in
// one pass of the loop): the call returns only after both completions ran,
// no handler refers to the caller's frame after that, and the operation's
// result is kept, so an answer that arrived as time ran out is not lost
// (`expired` is then true as well: the caller reads the result first).
//
// `op` is a deferred operation whose completion takes one argument, made with
// boost::asio::as_tuple(boost::asio::deferred), e.g.
//   auto [r, expired] = co_await until(at, sock.async_receive(buf, as_tuple(deferred)));
//   auto [ec, n] = r;
//
// It must not: leave a handler pending when it returns, or drop a result the
// operation delivered.

#include <chrono>
#include <type_traits>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace portdrift {

template <typename T>
struct Timed {
  T value;               // what the operation completed with
  bool expired = false;  // the deadline passed before (or as) the operation completed
};

namespace detail {
template <typename Signature>
struct OnlyArgument;
template <typename T>
struct OnlyArgument<void(T)> {
  using type = std::decay_t<T>;
};
}  // namespace detail

template <typename Op>
boost::asio::awaitable<Timed<typename detail::OnlyArgument<typename boost::asio::completion_signature_of<Op>::type>::type>>
until(std::chrono::steady_clock::time_point at, Op op) {
  namespace asio = boost::asio;
  asio::steady_timer timer(co_await asio::this_coro::executor, at);
  auto [order, value, timer_ec] =
      co_await asio::experimental::make_parallel_group(std::move(op), timer.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  (void)order;
  co_return Timed<decltype(value)>{std::move(value), !timer_ec};
}

// The deadline `d` from now.
template <typename Op>
auto within(std::chrono::steady_clock::duration d, Op op) {
  return until(std::chrono::steady_clock::now() + d, std::move(op));
}

}  // namespace portdrift
