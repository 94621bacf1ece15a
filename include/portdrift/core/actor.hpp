#pragma once
// Long-lived actors: the coroutines that run as long as the program does (the
// daemon's scheduler, its summary and watchdog loops, the metrics accept
// loop). An actor started with asio::detached that throws is gone without a
// trace while the rest of the process carries on as if it were fine; an actor
// started with spawn_actor() cannot die unnoticed: an exception that escapes
// it reaches `on_failure` with the actor's name, and the owner decides (the
// daemon logs the cause and ends the process non-zero, so that systemd's
// Restart=on-failure brings it back). An actor that ends normally, or by
// cancellation (operation_aborted), is not a failure.
//
// It must not: swallow an exception, or call `on_failure` for a normal end.

#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/system/system_error.hpp>

namespace portdrift {

// The actor's name and the exception that ended it.
using ActorFailure = std::function<void(std::string_view actor, std::exception_ptr cause)>;

// "boost::system::system_error: epoll_create1: Too many open files", or "unknown exception".
inline std::string describe(std::exception_ptr cause) {
  try {
    if (cause) std::rethrow_exception(cause);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
  return "no exception";
}

inline bool is_cancellation(std::exception_ptr cause) {
  try {
    if (cause) std::rethrow_exception(cause);
  } catch (const boost::system::system_error& e) {
    return e.code() == boost::asio::error::operation_aborted;
  } catch (...) {
  }
  return false;
}

// Starts `body` on `ex`. `token` may bind a cancellation slot
// (boost::asio::bind_cancellation_slot) so the owner can stop the actor.
template <typename Executor>
void spawn_actor(const Executor& ex, std::string name, boost::asio::awaitable<void> body, ActorFailure on_failure) {
  boost::asio::co_spawn(ex, std::move(body),
                        [name = std::move(name), on_failure = std::move(on_failure)](std::exception_ptr cause) {
                          if (cause && !is_cancellation(cause)) on_failure(name, cause);
                        });
}

template <typename Executor, typename Slot>
void spawn_actor(const Executor& ex, std::string name, boost::asio::awaitable<void> body, ActorFailure on_failure,
                 Slot slot) {
  boost::asio::co_spawn(ex, std::move(body),
                        boost::asio::bind_cancellation_slot(
                            slot, [name = std::move(name), on_failure = std::move(on_failure)](std::exception_ptr cause) {
                              if (cause && !is_cancellation(cause)) on_failure(name, cause);
                            }));
}

}  // namespace portdrift
