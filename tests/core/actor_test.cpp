// spawn_actor: an actor that throws is reported with its name and cause; one
// that ends, or is cancelled, is not.

#include <gtest/gtest.h>

#include <stdexcept>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "portdrift/core/actor.hpp"

namespace portdrift {
namespace {
namespace asio = boost::asio;

asio::awaitable<void> throws() {
  throw std::runtime_error("epoll_create1: Too many open files");
  co_return;
}

asio::awaitable<void> ends(bool* ran) {
  *ran = true;
  co_return;
}

asio::awaitable<void> waits(asio::steady_timer* timer) {
  co_await timer->async_wait(asio::use_awaitable);  // throws operation_aborted when cancelled
}

struct Failures {
  std::vector<std::pair<std::string, std::string>> seen;
  ActorFailure handler() {
    return [this](std::string_view name, std::exception_ptr cause) { seen.emplace_back(name, describe(cause)); };
  }
};

TEST(Actor, AnActorThatThrowsIsReportedWithItsCause) {
  asio::io_context io;
  Failures f;
  spawn_actor(io.get_executor(), "scheduler", throws(), f.handler());
  io.run();
  ASSERT_EQ(f.seen.size(), 1U);
  EXPECT_EQ(f.seen[0].first, "scheduler");
  EXPECT_EQ(f.seen[0].second, "epoll_create1: Too many open files");
}

TEST(Actor, ANormalEndIsNotAFailure) {
  asio::io_context io;
  Failures f;
  bool ran = false;
  spawn_actor(io.get_executor(), "summary", ends(&ran), f.handler());
  io.run();
  EXPECT_TRUE(ran);
  EXPECT_TRUE(f.seen.empty());
}

TEST(Actor, CancellationThroughTheSlotIsNotAFailure) {
  asio::io_context io;
  Failures f;
  asio::cancellation_signal signal;
  asio::steady_timer timer(io, asio::steady_timer::time_point::max());
  spawn_actor(io.get_executor(), "watchdog", waits(&timer), f.handler(), signal.slot());
  io.poll();
  signal.emit(asio::cancellation_type::terminal);
  io.run();
  EXPECT_TRUE(f.seen.empty());
}

}  // namespace
}  // namespace portdrift
